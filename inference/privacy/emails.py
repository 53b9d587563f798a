"""E-mail addresses, found from their "@" (a cheap search) rather than by a regex over every word."""

from __future__ import annotations

import re
from collections.abc import Iterator

from inference.privacy.types import Finding

# The local part is read backwards from the "@": a forward search would retry at every start.
_LOCAL_REVERSED = re.compile(r"[A-Za-z0-9._%+\-]{1,64}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,24}}(?![A-Za-z0-9\-])")


def scan_emails(text: str) -> Iterator[Finding]:
    at = text.find("@")
    while at >= 0:
        start = _local_start(text, at)
        domain = _DOMAIN.match(text, at + 1)
        if start is None or domain is None:
            at = text.find("@", at + 1)
            continue
        yield Finding(
            kind="email",
            start=start,
            end=domain.end(),
            text=text[start : domain.end()],
            checksum_valid=None,
            confidence="high",
            reason="e-mail address",
        )
        at = text.find("@", domain.end())


def _local_start(text: str, at: int) -> int | None:
    local = _LOCAL_REVERSED.match(text[max(0, at - 64) : at][::-1])
    if local is None:
        return None
    size = len(local.group().rstrip("."))  # a local part does not start with a dot
    return at - size if size else None
