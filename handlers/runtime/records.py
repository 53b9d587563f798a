"""Partition log entries as handlers see them: typed when they are ours, flagged when they are not."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from domain.envelope import Envelope
from domain.errors import MalformedEvent, UnknownEventType
from domain.registry import EventRegistry


class LogRecord(msgspec.Struct, frozen=True, kw_only=True):
    log_id: str
    raw: bytes | None
    envelope: Envelope | None = None
    error: str | None = None  # why it is not ours: the dead-letter reason


def to_records(
    registry: EventRegistry, ids: Sequence[bytes | str], entries: Sequence[dict[bytes, bytes]]
) -> list[LogRecord]:
    return [to_record(registry, i, e) for i, e in zip(ids, entries, strict=True)]


def to_record(registry: EventRegistry, log_id: bytes | str, fields: dict[bytes, bytes]) -> LogRecord:
    entry_id = log_id.decode() if isinstance(log_id, bytes) else log_id
    raw = fields.get(b"event")
    if raw is None:
        return LogRecord(log_id=entry_id, raw=None, error="no `event` field")
    try:
        return LogRecord(log_id=entry_id, raw=raw, envelope=registry.decode(raw))
    except (MalformedEvent, UnknownEventType) as exc:
        return LogRecord(log_id=entry_id, raw=raw, error=f"{type(exc).__name__}: {exc}")
