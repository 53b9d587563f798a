"""Registre de commerce numbers: "16/00-1234567 B 19", "99B0123456", "01B 0015609-16/00".

Wilaya and sub-register "16/00", a serial of up to 8 digits, the register letter (A: natural
person, B: company; أ / ب in Arabic) and a 2-digit year, in one of two orders.
"""

from __future__ import annotations

import re

from inference.privacy.digits import DIGITS
from inference.privacy.labels import label_before
from inference.privacy.types import Finding

_N = f"[{DIGITS}]"
_RC = re.compile(
    rf"(?<![{DIGITS}A-Za-z])"
    rf"(?:{_N}{{2}}\s?/\s?{_N}{{2}}\s?[-\s]\s?{_N}{{5,8}}\s?[ABabأب]\s?{_N}{{2}}"  # 16/00-1234567 B 19
    rf"|{_N}{{2}}\s?[ABabأب]\s?{_N}{{5,8}}(?:\s?-\s?{_N}{{2}}\s?/\s?{_N}{{2}})?)"  # 99B0123456[-16/00]
    rf"(?![{DIGITS}A-Za-z])"
)


def rc_near(text: str, start: int, end: int) -> Finding | None:
    """The RC number that contains the digit run `start:end` (asked when a letter or slash is next to it)."""
    match = _RC.search(text, max(0, start - 8), min(len(text), end + 12))
    if match is None or match.end() <= start or match.start() >= end:
        return None
    labelled = label_before(text, match.start()) == "rc"
    reason = "registre de commerce number" + (" after its label" if labelled else " (wilaya, serial, letter)")
    return Finding(
        kind="rc",
        start=match.start(),
        end=match.end(),
        text=match.group(),
        checksum_valid=None,
        confidence="high" if labelled else "medium",
        reason=reason,
    )
