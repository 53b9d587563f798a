"""The numeric scan: one pass over the text finds runs of digits, the shapes then read each run.

A run is digits with single spaces, dots or dashes between them ("0555 12 34 56"). Business text
is full of numbers that are none of ours, so the run pattern itself leaves out what it can while
still in C: fewer than five characters ("1500", "#1023"), ISO and day-first dates, prices with
cents ("287635.00"), amounts in DA.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import accumulate

from inference.privacy.banks import LABELLED_SIZES, labelled_at, nif_at, rib_at
from inference.privacy.ccp import KEY_AFTER, ccp_keyed_at, ccp_labelled_at
from inference.privacy.digits import DIGITS, D, to_ascii
from inference.privacy.ibans import iban_near
from inference.privacy.labels import Label, label_before
from inference.privacy.numeric import Group, Hit, Run, Shape
from inference.privacy.phones import national_phone, phone_at
from inference.privacy.registry import rc_near
from inference.privacy.types import Finding

_SEP = "[ .\\-]"
_RUN = re.compile(
    rf"{D}"
    rf"(?<![{DIGITS}].)(?<![{DIGITS}]{_SEP}.)"  # starts a run, never inside one
    rf"(?!{D}{{3}}-{D}{{2}}-{D}{{2}}(?!{_SEP}?{D})|{D}?[-.]{D}{{2}}[-.]{D}{{4}}(?!{_SEP}?{D})"  # no dates
    rf"|{D}*\.{D}{{2}}(?!{_SEP}?{D}))"  # nor prices
    rf"[{DIGITS} .\-]{{3,}}{D}(?![{DIGITS}])"
    r"(?!\s?(?:DA|DZD|da|Da|دج|د\.ج)(?![A-Za-z]))"  # an amount, not an account
)
_GROUP = re.compile(f"{D}+")
_SHORT = 8  # below this many digits a run is only ours with a label or a clé after it
# Lengths of a one-piece number that some label can claim (CCP 5-12 digits, near-misses of NIF, NIS
# and RIB sizes); for the others (an 18-digit id) the words before it need not be read.
_LABELLED = frozenset((*range(5, 13), *(size for sizes in LABELLED_SIZES.values() for size in sizes), 15, 20))
# (shape, fewest digits it needs from group i, labels it needs or None): longest and most specific
# first, as a RIP holds a 10-digit CCP account and could hold a phone number.
_SHAPES: tuple[tuple[Shape, int, tuple[Label, ...] | None], ...] = (
    (rib_at, 20, None),
    (ccp_labelled_at, 5, ("ccp", "rip")),
    (phone_at, 8, None),
    (nif_at, 15, None),
    (ccp_keyed_at, 5, None),
    (labelled_at, 5, ("nif", "nis", "rib", "rip", "rc")),
)


def scan_numbers(text: str) -> list[Finding]:
    findings: list[Finding] = []
    for match in _RUN.finditer(text):
        findings += _scan_run(text, *match.span())
    return findings


def _scan_run(text: str, start: int, end: int) -> Sequence[Finding]:
    beside = _beside(text, start, end)
    if beside is not None:
        return beside
    raw = text[start:end]
    whole = raw.isdigit()  # one piece, no separators
    label = None if whole and len(raw) not in _LABELLED else label_before(text, start)
    if label is None and (_too_short(text, start, raw) or (whole and _unclaimed(text, start, raw))):
        return ()
    if label not in ("ccp", "rip"):  # after a CCP label, "0555123456" is an account
        phone = national_phone(text, start, end)
        if phone is not None:
            return (phone,)
    return _read(_run(text, start, end, label))


def _beside(text: str, start: int, end: int) -> Sequence[Finding] | None:
    """What the characters around the run decide: an RC number, an IBAN, or a run glued to a word."""
    before = text[start - 1] if start else " "
    near = text[start - 2] if before == " " and start > 1 else before  # the last thing before it
    after = text[end : end + 2].lstrip(" ")[:1]
    # A slash or a register letter next to it: "16/00-1234567 B 19", "99B0123456", "01B 0015609-16/00".
    if near in "/ABabأب" or (after and after in "/ABأب"):
        registered = rc_near(text, start, end)
        if registered is not None:
            return (registered,)
    if near.isascii() and near.isupper():  # "DZ59 0079 ...", "GB82 WEST 1234 ..."
        iban = iban_near(text, start)
        if iban is not None:
            return (iban,)
    if before.isascii() and before.isalpha():
        return ()  # glued to a word: a reference like "INV2024000123", not an identifier on its own
    return None


def _read(run: Run) -> list[Finding]:
    """Shapes claim groups from left to right; a run may hold several numbers."""
    findings: list[Finding] = []
    i = 0
    while i < len(run.groups):
        hit = _first_hit(run, i)
        if hit is None:
            i += 1
            continue
        findings.append(hit.finding)
        i = hit.last + 1
    return findings


def _too_short(text: str, start: int, raw: str) -> bool:
    """Few digits, no label: only "12345 clé 67" or "(+213) 21 23 45 67" could still be ours."""
    size = len(raw) - raw.count(" ") - raw.count(".") - raw.count("-")
    if size >= _SHORT:
        return False
    return not _key_follows(text, start + len(raw)) and "213" not in text[max(0, start - 12) : start]


def _key_follows(text: str, end: int) -> bool:
    """ "clé", "key" or "مفتاح" right after the number; the cheap test on one letter comes first."""
    head = text[end : end + 4].lstrip(" \t\n([")[:1]
    return bool(head) and head in "cCkKام" and KEY_AFTER.match(text, end) is not None


def _unclaimed(text: str, start: int, raw: str) -> bool:
    """An unlabelled number in one piece that no shape takes: an order id, a quantity, a zip code."""
    size, head = len(raw), to_ascii(raw[:5])
    if size in (15, 20) or (size in (9, 10) and head[0] == "0"):
        return False
    if 11 <= size <= 14 and head.startswith(("213", "00213")):
        return False
    return not (
        size <= 10 and (_key_follows(text, start + size) or "213" in text[max(0, start - 12) : start])
    )


def _run(text: str, start: int, end: int, label: Label | None) -> Run:
    raw = text[start:end]
    if raw.isdigit():  # one group, the common case
        return Run(
            text=text,
            groups=(Group(start=start, end=end, digits=to_ascii(raw)),),
            left=(len(raw),),
            label=label,
        )
    groups = tuple(
        Group(start=group.start(), end=group.end(), digits=to_ascii(group.group()))
        for group in _GROUP.finditer(text, start, end)
    )
    left = tuple(accumulate(len(group.digits) for group in reversed(groups)))[::-1]
    return Run(text=text, groups=groups, left=left, label=label)


def _first_hit(run: Run, i: int) -> Hit | None:
    left, label = run.left[i], run.label_at(i)
    for shape, fewest, labels in _SHAPES:
        if left >= fewest and (labels is None or label in labels):
            hit = shape(run, i)
            if hit is not None:
                return hit
    return None
