"""CCP accounts (compte courant postal): up to 10 digits and a 2-digit clé.

Written "CCP 12345678 45", "0012345678 clé 28", "1234567-89", or the account alone after a label.
"""

from __future__ import annotations

import re

from inference.privacy.checksums import ccp_key
from inference.privacy.digits import D, to_ascii
from inference.privacy.numeric import Hit, Run
from inference.privacy.types import Confidence

# "clé 28", "(clé: 28)", "key 28", "المفتاح ٢٨" right after an account number; only ever `.match`ed.
KEY_AFTER = re.compile(
    rf"\s*[(\[]?\s*(?:cl[ée]f?|key|(?:ال)?مفتاح)\s*(?:ccp\s*)?[:=]?\s*({D}{{2}})(?!{D})", re.I
)
_ACCOUNT = range(5, 11)
_DATE_STAMP = re.compile(r"(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])")  # "20241125-01"


def ccp_labelled_at(run: Run, i: int) -> Hit | None:
    """After a CCP/RIP label: the account, with its key as the next group, inline, or after "clé"."""
    if run.label_at(i) not in ("ccp", "rip"):
        return None
    account = run.groups[i].digits
    if not 5 <= len(account) <= 12:
        return None
    keyed = _with_key(run, i, labelled=True)
    if keyed is not None:
        return keyed
    if len(account) > 10:  # 11-12 digits: the key written without a space
        return _keyed(run, i, i, account[:-2], account[-2:], labelled=True)
    if len(account) >= 7 and ccp_key(account[:-2]) == int(account[-2:]):
        return _keyed(run, i, i, account[:-2], account[-2:], labelled=True)
    reason = "account number after a CCP label, no clé given"
    return run.hit("ccp", i, i, checksum=None, confidence="medium", reason=reason)


def ccp_keyed_at(run: Run, i: int) -> Hit | None:
    """No label: an account and a clé, "1234567-89" or "0012345678 clé 28"."""
    return _with_key(run, i, labelled=False)


def _with_key(run: Run, i: int, *, labelled: bool) -> Hit | None:
    account = run.groups[i].digits
    if len(account) not in _ACCOUNT:
        return None
    if i == len(run.groups) - 1:
        after = KEY_AFTER.match(run.text, run.groups[i].end)
        if after is None:
            return None
        return _keyed(run, i, i, account, to_ascii(after.group(1)), labelled=True, end=after.end())
    if i + 2 != len(run.groups) or len(run.groups[i + 1].digits) != 2:
        return None  # the key closes the run; more groups make it a list of numbers
    key, dashed = run.groups[i + 1].digits, "-" in run.gap(i)
    valid = ccp_key(account) == int(key)
    if not (labelled or valid or (dashed and not _DATE_STAMP.fullmatch(account))):
        return None  # "1234567 89" or a lot number "20241125-01" alone: only if the key checks out
    return _keyed(run, i, i + 1, account, key, labelled=labelled, dashed=dashed)


def _keyed(
    run: Run,
    i: int,
    last: int,
    account: str,
    key: str,
    *,
    labelled: bool,
    dashed: bool = False,
    end: int | None = None,
) -> Hit:
    valid = ccp_key(account) == int(key)
    if labelled:
        confidence: Confidence = "high" if valid else "medium"
    else:
        confidence = ("medium" if valid else "low") if dashed else "low"
    outcome = "clé valid (weighted sum mod 100)" if valid else "clé does not match (weighted sum mod 100)"
    how = "after a CCP label" if labelled else "dash-separated" if dashed else "unlabelled"
    reason = f"CCP account and clé ({how}), {outcome}"
    return run.hit("ccp", i, last, checksum=valid, confidence=confidence, reason=reason, end=end)
