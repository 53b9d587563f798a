"""The code blocks of docs/consumers.md that tests run: each follows an HTML comment naming it."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "consumers.md"
_BLOCK = re.compile(r"<!-- (?:worked-)?example: (?P<name>[\w.-]+) -->\n```\w*\n(?P<body>.*?)\n```", re.S)


def blocks() -> dict[str, str]:
    return {match["name"]: match["body"] for match in _BLOCK.finditer(DOC.read_text(encoding="utf-8"))}
