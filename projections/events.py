"""What a projection folds: a typed event with its place in the partition log."""

from __future__ import annotations

import msgspec

from domain.envelope import Envelope, aggregate_id

__all__ = ["ProjectedEvent", "aggregate_id", "log_position"]


# gc=False: frozen, so in no reference cycle; a batch makes hundreds that the collector need not track.
class ProjectedEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    partition: int
    log_id: str
    raw: bytes
    envelope: Envelope


def log_position(log_id: str) -> tuple[int, int]:
    """Stream entry ids order as (milliseconds, sequence), not as strings."""
    ms, _, seq = log_id.partition("-")
    return int(ms), int(seq or 0)
