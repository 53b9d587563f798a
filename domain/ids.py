"""Time-ordered identifiers (UUIDv7, RFC 9562): sortable like the log, unique without coordination."""

from __future__ import annotations

import os
import time
import uuid


def uuid7(unix_ms: int | None = None, rand: bytes | None = None) -> str:
    """A UUIDv7 string; pass `unix_ms` and 10 bytes of `rand` to make it deterministic in tests."""
    ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    tail = int.from_bytes(os.urandom(10) if rand is None else rand, "big")
    value = (ms & ((1 << 48) - 1)) << 80 | tail & ((1 << 80) - 1)
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 4122 variant
    text = f"{value:032x}"  # formatting directly: appends make one per event, uuid.UUID is slower
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def derived_id(namespace: str, *parts: str) -> str:
    """A stable id from its causes: a redelivered message derives the same event id (idempotence)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "aiwf:" + namespace + ":" + "\x1f".join(parts)))
