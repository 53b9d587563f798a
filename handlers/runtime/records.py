"""Partition log entries as handlers see them: typed when they are ours, flagged when they are not."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import msgspec

from domain.envelope import Envelope
from domain.errors import MalformedEvent, UnknownEventType
from domain.registry import EventRegistry

# Entries kept decoded for the other groups of the process: about 3 kB each with its bytes, 48 MB in all.
RECENT_ENTRIES = 16384


# gc=False: frozen, so it can be in no reference cycle; the collector need not track thousands of them.
class LogRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    log_id: str
    raw: bytes | None
    envelope: Envelope | None = None
    error: str | None = None  # why it is not ours: the dead-letter reason


def to_record(registry: EventRegistry, log_id: bytes | str, fields: dict[bytes, bytes]) -> LogRecord:
    entry_id = log_id.decode() if isinstance(log_id, bytes) else log_id
    raw = fields.get(b"event")
    if raw is None:
        return LogRecord(log_id=entry_id, raw=None, error="no `event` field")
    try:
        return LogRecord(log_id=entry_id, raw=raw, envelope=registry.decode(raw))
    except (MalformedEvent, UnknownEventType) as exc:
        return LogRecord(log_id=entry_id, raw=raw, error=f"{type(exc).__name__}: {exc}")


class SharedDecoding:
    """The records of recent entries, for every group of this process that reads the same logs.

    Each group reads a partition log on its own, so each used to decode every entry again (five
    projectors: five decodes of the same bytes). A record is a pure function of the entry's bytes, so
    the one a group built serves the others: they find it by (log, entry id) and take it only when its
    bytes are the same (a log deleted and written again reuses ids). Poison is judged by the same
    `to_record`, so what is dead-lettered does not change; each group still dead-letters, acknowledges
    and checkpoints on its own. The oldest entries go first once `capacity` is reached."""

    def __init__(self, registry: EventRegistry, capacity: int = RECENT_ENTRIES) -> None:
        self._registry, self._capacity = registry, capacity
        self._recent: OrderedDict[tuple[str, bytes | str], LogRecord] = OrderedDict()
        self.decoded = 0  # entries this process decoded (misses)
        self.shared = 0  # entries served already decoded (hits)

    def records(
        self, log: str, ids: Sequence[bytes | str], entries: Sequence[dict[bytes, bytes]]
    ) -> list[LogRecord]:
        recent, registry, out = self._recent, self._registry, []
        for log_id, fields in zip(ids, entries, strict=True):
            key = (log, log_id)
            record = recent.get(key)
            if record is None or record.raw != fields.get(b"event"):
                record = recent[key] = to_record(registry, log_id, fields)
                self.decoded += 1
            else:
                self.shared += 1
            out.append(record)
        while len(recent) > self._capacity:
            recent.popitem(last=False)
        return out


# Per registry: a process has one (domain.catalog.REGISTRY); one built for a test lives on with its entries.
_shared: dict[EventRegistry, SharedDecoding] = {}


def shared_decoding(registry: EventRegistry) -> SharedDecoding:
    """The one `SharedDecoding` of this process for `registry` (the workers of a runtime share one)."""
    decoding = _shared.get(registry)
    if decoding is None:
        decoding = _shared[registry] = SharedDecoding(registry)
    return decoding
