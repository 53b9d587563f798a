"""Placeholders for what the classifier found: ⟦CCP_1⟧, ⟦PHONE_2⟧ ...

`pseudonymise` lets `internal` text go to a cloud model with its entities replaced; `restore` puts them
back in the answer. The same characters get the same placeholder within one call, so the model can
still tell that two mentions are one value; differently written copies get their own, so restoring
gives back the exact original text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from inference.privacy.classifier import classify
from inference.privacy.types import Finding

_PLACEHOLDER = re.compile(r"⟦[A-Z]+_[0-9]+⟧")


def redact(text: str, findings: Iterable[Finding]) -> str:
    """`text` with every finding's span replaced by its placeholder (findings of this text only)."""
    return _substitute(text, findings)[0]


def pseudonymise(text: str) -> tuple[str, dict[str, str]]:
    """Classify, then redact; the mapping goes from placeholder to the original characters."""
    return _substitute(text, classify(text).findings)


def restore(text: str, mapping: Mapping[str, str]) -> str:
    """Put the originals back; placeholders not in `mapping` stay as they are."""
    return _PLACEHOLDER.sub(lambda match: mapping.get(match.group(), match.group()), text)


def _substitute(text: str, findings: Iterable[Finding]) -> tuple[str, dict[str, str]]:
    taken = set(_PLACEHOLDER.findall(text))  # a text may already hold "⟦CCP_1⟧": never reuse it
    names: dict[tuple[str, str], str] = {}
    counts: dict[str, int] = {}
    parts: list[str] = []
    pos = 0
    for finding in sorted(findings, key=lambda finding: (finding.start, -finding.end)):
        if finding.start < pos:
            continue  # inside a span already replaced, e.g. the NIF of a redacted invoice
        value = text[finding.start : finding.end]
        key = (finding.kind, value)
        if key not in names:
            names[key] = _next_name(finding.kind.upper(), counts, taken)
        parts += (text[pos : finding.start], names[key])
        pos = finding.end
    parts.append(text[pos:])
    return "".join(parts), {name: value for (_, value), name in names.items()}


def _next_name(kind: str, counts: dict[str, int], taken: set[str]) -> str:
    while True:
        counts[kind] = counts.get(kind, 0) + 1
        name = f"⟦{kind}_{counts[kind]}⟧"
        if name not in taken:
            return name
