"""20-digit RIB/RIP, 15-digit NIF/NIS, and labelled numbers of the wrong length."""

from __future__ import annotations

from inference.privacy.checksums import RIP_PREFIX, rib_valid
from inference.privacy.numeric import Hit, Run
from inference.privacy.types import Confidence, Kind

_ACCOUNT_LABELS = ("rib", "rip", "ccp")
# Labelled but a digit or two off (a typo is still someone's number): still flagged, low. Kept narrow
# so that the numeric scan can pass over other lengths (18-digit ids) without reading labels.
LABELLED_SIZES = {
    "nif": (13, 14, 16, 17, 19, 21),
    "nis": (13, 14, 16, 17),
    "rib": (19, 21),
    "rip": (19, 21),
    "rc": tuple(range(5, 11)),  # the serial alone, "RC : 0123456"
}


def rib_at(run: Run, i: int) -> Hit | None:
    """20 digits: a RIP when they start 007 99999, else a RIB (or a 20-digit NIF when so labelled)."""
    last = run.exact(i, 20)
    if last is None:
        return None
    digits, label = run.digits(i, last), run.label_at(i)
    if label == "nif":
        reason = "20-digit NIF (newer form) after its label"
        return run.hit("nif", i, last, checksum=None, confidence="high", reason=reason)
    valid, is_rip = rib_valid(digits), digits.startswith(RIP_PREFIX)
    # Spaced groups of 20 digits can be a list of numbers; Algerian bank codes all start with 0.
    if not (i == last or is_rip or valid or label in _ACCOUNT_LABELS or digits[0] == "0"):
        return None
    kind: Kind = "rip" if is_rip else "rib"
    name = "RIP (Algérie Poste 007 99999 + CCP account)" if is_rip else "RIB (bank, agency, account)"
    confidence: Confidence = "high" if valid else "medium" if is_rip or label else "low"
    key = "mod-97 key valid" if valid else "mod-97 key does not match (typo or altered digits)"
    return run.hit(kind, i, last, checksum=valid, confidence=confidence, reason=f"20-digit {name}, {key}")


def nif_at(run: Run, i: int) -> Hit | None:
    """15 digits: NIF or NIS by their label; unlabelled only when written in one piece."""
    last = run.exact(i, 15)
    label = run.label_at(i)
    if last is None or label in _ACCOUNT_LABELS:
        return None
    if label in ("nif", "nis"):
        kind: Kind = "nis" if label == "nis" else "nif"
        reason = f"15-digit {kind.upper()} after its label"
        return run.hit(kind, i, last, checksum=None, confidence="high", reason=reason)
    if i != last:
        return None
    reason = "unlabelled 15-digit number, the shape of a NIF or NIS"
    return run.hit("nif", i, last, checksum=None, confidence="low", reason=reason)


def labelled_at(run: Run, i: int) -> Hit | None:
    """A labelled NIF, NIS, RIB, RIP or RC whose digits do not have the expected count."""
    label = run.label_at(i)
    if label is None or label == "ccp":
        return None
    last = len(run.groups) - 1
    size = len(run.digits(i, last))
    if size not in LABELLED_SIZES[label]:
        return None
    if label == "rc":
        reason = "number after an RC (registre de commerce) label"
        return run.hit("rc", i, last, checksum=None, confidence="medium", reason=reason)
    checksum = None if label in ("nif", "nis") else False
    reason = f"{size} digits after a {label.upper()} label (unexpected length)"
    return run.hit(label, i, last, checksum=checksum, confidence="low", reason=reason)
