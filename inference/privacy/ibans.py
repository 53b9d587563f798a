"""IBAN-like strings: 2 letters, 2 check digits, up to 30 letters and digits, ISO 13616 mod 97.

Algeria has no official IBAN, yet "DZ59 0079 9999 ..." is written on invoices: flagged all the same.
"""

from __future__ import annotations

import re

from inference.privacy.checksums import iban_valid
from inference.privacy.digits import DIGITS, D, only_digits, to_ascii
from inference.privacy.types import Confidence, Finding

_HEAD = re.compile(rf"[A-Z](?<![A-Za-z0-9].)[A-Z]{D}{{2}}")  # a letter first, so `re` can skip ahead
_BODY = re.compile(rf"(?:[ ]?[A-Z{DIGITS}]){{10,30}}")
_TOKEN = re.compile(f"[A-Z{DIGITS}]+")
_REACH = 30  # "GB82 WEST 1234": how far before a digit run its head may stand
_MIN_DIGITS = 8  # a BBAN is mostly digits; "AB12 CDEF GHIJ KLMN" is a product code
# ISO 13616 registry, plus DZ and MA which are used in practice without being registered.
_COUNTRIES = frozenset(
    "AD AE AL AT AZ BA BE BG BH BI BR BY CH CR CY CZ DE "  # noqa: SIM905 - 91 codes, not 91 lines
    "DJ DK DO EE EG ES FI FK FO FR GB GE GI GL GR GT HN "
    "HR HU IE IL IQ IS IT JO KW KZ LB LC LI LT LU LV LY "
    "MC MD ME MK MN MR MT MU NI NL NO OM PK PL PS PT QA "
    "RO RS RU SA SC SD SE SI SK SM SO ST SV TL TN TR UA "
    "VA VG XK YE DZ MA".split(" ")
)


def iban_near(text: str, start: int) -> Finding | None:
    """The IBAN-like string holding the digit run at `start`, when its head stands just before it.

    Every IBAN holds such a run ("DZ59 0079 ...", "GB82 WEST 1234 ..."), so the numeric scan asks
    here instead of a pass of its own over every capital letter of the text.
    """
    for head in _HEAD.finditer(text, max(0, start - _REACH), start + 4):
        body = _BODY.match(text, head.end())
        if body is None:
            continue
        finding = _judge(text, head.start(), list(_TOKEN.finditer(text, body.start(), body.end())))
        if finding is not None and finding.start <= start < finding.end:
            return finding
    return None


def _judge(text: str, start: int, tokens: list[re.Match[str]]) -> Finding | None:
    while tokens and not only_digits(tokens[-1].group()):
        tokens.pop()  # "... 7890 189 EUR": the currency is not part of it
    for size in range(len(tokens), 0, -1):  # the longest prefix that checks out, if any
        end = tokens[size - 1].end()
        if iban_valid(_compact(text, start, end)):
            return _finding(text, start, end, valid=True)
    if not tokens or len(only_digits(text[tokens[0].start() : tokens[-1].end()])) < _MIN_DIGITS:
        return None
    return _finding(text, start, tokens[-1].end(), valid=False)


def _compact(text: str, start: int, end: int) -> str:
    return to_ascii(text[start:end].replace(" ", ""))


def _finding(text: str, start: int, end: int, *, valid: bool) -> Finding | None:
    compact = _compact(text, start, end)
    if len(compact) < 14 or len(only_digits(compact[4:])) < _MIN_DIGITS:
        return None
    known = compact[:2] in _COUNTRIES
    confidence: Confidence = "high" if valid else "medium" if known else "low"
    outcome = "mod-97 check digits valid" if valid else "mod-97 check digits do not match"
    reason = f"IBAN-like string ({'known' if known else 'unknown'} country code), {outcome}"
    return Finding(
        kind="iban",
        start=start,
        end=end,
        text=text[start:end],
        checksum_valid=valid,
        confidence=confidence,
        reason=reason,
    )
