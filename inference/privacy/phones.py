"""Algerian phone numbers: +213 / 00213 / 0, then 5, 6 or 7 and 8 digits (mobile) or a 2-digit area
code starting 2, 3 or 4 and 6 digits (landline)."""

from __future__ import annotations

import re

from inference.privacy.digits import D, to_ascii
from inference.privacy.numeric import Hit, Run
from inference.privacy.types import Confidence, Finding

# The country code written before the run, when a bracket or "(0)" splits it off: "(+213) 555 ...".
_INTL_BEFORE = re.compile(r"(?:\(\s*)?(?:\+|00)\s?213\s?\)?[ .\-]?(?:\(0\)\s?)?\Z")
_PLUS_BEFORE = re.compile(r"\(?\+\s?\Z")
_MOBILE, _LANDLINE = "567", "234"
# The everyday shape, "0555 12 34 56" or "021 23 45 67", recognised in one call without groups.
_NATIONAL = re.compile(rf"0(?:[567](?:[ .\-]?{D}){{8}}|[234](?:[ .\-]?{D}){{7}})")
_DATE = re.compile(rf"{D}{{2}}[ .\-]{D}{{2}}[ .\-]{D}{{4}}")


def national_phone(text: str, start: int, end: int) -> Finding | None:
    """The run `start:end` when it is exactly a national number (and not a date such as 07-12-2024 15)."""
    if _NATIONAL.fullmatch(text, start, end) is None or _DATE.match(text, start, end):
        return None
    operator = to_ascii(text[start + 1])
    mobile = operator in _MOBILE
    return Finding(
        kind="phone",
        start=start,
        end=end,
        text=text[start:end],
        checksum_valid=None,
        confidence="high" if mobile else "medium",
        reason=_reason(operator, mobile=mobile),
    )


def phone_at(run: Run, i: int) -> Hit | None:
    if _date_like(run, i):
        return None
    digits = run.digits(i, len(run.groups) - 1)
    start = run.groups[i].start
    if digits.startswith(("00213", "213")):
        prefix = 5 if digits.startswith("00213") else 3
        prefix += digits[prefix : prefix + 1] == "0"  # "+213 0555 ..." carries a stray trunk 0
        return _national(run, i, digits, prefix, start=_with_plus(run.text, start))
    if digits.startswith("0"):
        return _national(run, i, digits, 1, start=start)
    before = _INTL_BEFORE.search(run.text, max(0, start - 16), start)
    return None if before is None else _national(run, i, digits, 0, start=before.start())


def _national(run: Run, i: int, digits: str, prefix: int, *, start: int) -> Hit | None:
    operator = digits[prefix : prefix + 1]
    if operator not in (*_MOBILE, *_LANDLINE):  # a tuple, so "" is not in it
        return None
    mobile = operator in _MOBILE
    last = run.exact(i, prefix + (9 if mobile else 8))
    if last is None:
        return None
    confidence: Confidence = "high" if mobile else "medium"
    reason = _reason(operator, mobile=mobile)
    return run.hit("phone", i, last, checksum=None, confidence=confidence, reason=reason, start=start)


def _reason(operator: str, *, mobile: bool) -> str:
    if mobile:
        return f"Algerian mobile number (operator digit {operator})"
    return f"Algerian landline number (area code {operator}x)"


def _date_like(run: Run, i: int) -> bool:
    """A date such as "07-12-2024 15" has ten digits after a 0 but is a date: groups of 2, 2 and 4."""
    sizes = [len(group.digits) for group in run.groups[i : i + 3]]
    return sizes == [2, 2, 4]


def _with_plus(text: str, start: int) -> int:
    """Where "+213" really starts when the sign sits right before the digits."""
    plus = _PLUS_BEFORE.search(text, max(0, start - 3), start)
    return start if plus is None else plus.start()
