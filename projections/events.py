"""What a projection folds: a typed event with its place in the partition log."""

from __future__ import annotations

import msgspec

from domain.envelope import Envelope


class ProjectedEvent(msgspec.Struct, frozen=True, kw_only=True):
    partition: int
    log_id: str
    raw: bytes
    envelope: Envelope


def log_position(log_id: str) -> tuple[int, int]:
    """Stream entry ids order as (milliseconds, sequence), not as strings."""
    ms, _, seq = log_id.partition("-")
    return int(ms), int(seq or 0)


def aggregate_id(stream: str) -> str:
    """`conversation-<id>` → `<id>`."""
    return stream.partition("-")[2]
