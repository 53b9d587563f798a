"""Text that every store of ours can hold. PostgreSQL `text` and `jsonb` refuse U+0000: an event carrying
it would be accepted by the log and then dead-lettered by every projector, so it is refused up front."""

from __future__ import annotations

import re
from typing import Any

import msgspec

# The same rule as a JSON Schema pattern (ECMA and Python's `re` read `\u0000` alike), for the API's
# declared types: text without U+0000.
NO_NUL = r"^[^\u0000]*$"
NUL_MESSAGE = "the NUL character (U+0000) is not allowed in text"


def nul_fields(value: Any, path: str = "") -> list[str]:
    """Paths (`Type.field[2].key`) of the strings inside `value` that contain U+0000."""
    if isinstance(value, str):
        return [path or "value"] if "\x00" in value else []
    if isinstance(value, msgspec.Struct):
        prefix = path or type(value).__name__
        return [
            found
            for name in value.__struct_fields__
            for found in nul_fields(getattr(value, name), f"{prefix}.{name}")
        ]
    if isinstance(value, dict):
        return [
            found
            for key, item in value.items()
            for found in [*nul_fields(key, f"{path}[key]"), *nul_fields(item, f"{path}[{key!r}]")]
        ]
    if isinstance(value, list | tuple | set | frozenset):
        return [found for i, item in enumerate(value) for found in nul_fields(item, f"{path}[{i}]")]
    return []


_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def json_holds_nul(document: bytes) -> bool:
    """Whether JSON text encodes U+0000 (`\\u0000` not itself escaped, as in the text `\\\\u0000`)."""
    return b"u0000" in document and _ESCAPED_NUL.search(document) is not None
