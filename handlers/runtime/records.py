"""Partition log entries as handlers see them: typed when they are ours, flagged when they are not."""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence

import msgspec

from domain.envelope import Envelope
from domain.errors import MalformedEvent, UnknownEventType
from domain.registry import EventRegistry

# What the decoded entries kept for the other groups of a process may weigh, counted in their events'
# bytes and `_ENTRY_BYTES` each: about 46,000 entries of 930 bytes, 135 MB with the records built from
# them. Reached only while the groups reading a log are far apart (a catch-up); entries every group has
# read are dropped at once, so a process that keeps up holds only what is in flight.
RECENT_BYTES = 64 * 2**20
_ENTRY_BYTES = 512  # counted for each entry besides its event's bytes: an entry with none weighs too


# gc=False: frozen, so it can be in no reference cycle; the collector need not track thousands of them.
class LogRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    log_id: str
    raw: bytes | None
    envelope: Envelope | None = None
    error: str | None = None  # why it is not ours: the dead-letter reason


# An entry's fields as Redis sends them, names and values in turn: [b"event", <the event's bytes>] for
# ours. Read as they come: a dict per entry per group cost 0.5 µs each (docs/benchmarks.md).
Fields = Sequence[bytes]


def event_of(fields: Fields) -> bytes | None:
    """The value of the entry's `event` field, if it has one."""
    if len(fields) >= 2 and fields[0] == b"event":
        return fields[1]
    for name, value in zip(fields[::2], fields[1::2], strict=False):
        if name == b"event":
            return value
    return None


def to_record(registry: EventRegistry, log_id: bytes | str, fields: Fields) -> LogRecord:
    entry_id = log_id.decode() if isinstance(log_id, bytes) else log_id
    raw = event_of(fields)
    if raw is None:
        return LogRecord(log_id=entry_id, raw=None, error="no `event` field")
    try:
        return LogRecord(log_id=entry_id, raw=raw, envelope=registry.decode(raw))
    except (MalformedEvent, UnknownEventType) as exc:
        return LogRecord(log_id=entry_id, raw=raw, error=f"{type(exc).__name__}: {exc}")


class _Kept(msgspec.Struct, gc=False):
    """A decoded record, what it counts for against the budget, and how many more of the log's readers
    are still to take it (None: unknown, kept until the oldest go). Mutable, so that a read counts down
    without allocating; untracked by the cycle collector like the record it holds (it refers to nothing
    that could refer back)."""

    record: LogRecord
    left: int | None
    weight: int


class SharedDecoding:
    """The records of recent entries, for every group of this process that reads the same logs.

    Each group reads a partition log on its own, so each used to decode every entry again (five
    projectors: five decodes of the same bytes). A record is a pure function of the entry's bytes, so
    the one a group built serves the others: they find it by (log, entry id) and take it only when its
    bytes are the same (a log deleted and written again reuses ids). Poison is judged by the same
    `to_record`, so what is dead-lettered does not change; each group still dead-letters, acknowledges
    and checkpoints on its own.

    A group says which log it reads (`reading`); an entry is then dropped once each group reading its
    log took it, and is not kept at all when one group alone reads it. Entries of a log nobody said it
    reads are kept until the oldest go. The oldest go first once the entries kept weigh more than
    `budget` bytes: a group far behind the others decodes again what they read long ago. A count can
    only be wrong by a redelivery (a group taking an entry twice): the entry is then dropped early and
    decoded again, never served for other bytes."""

    def __init__(self, registry: EventRegistry, budget: int = RECENT_BYTES) -> None:
        self._registry, self._budget = registry, budget
        self._recent: OrderedDict[tuple[str, bytes | str], _Kept] = OrderedDict()
        self._weight = 0  # of the entries in _recent
        self._readers: dict[str, int] = {}
        self.decoded = 0  # entries this process decoded (misses)
        self.shared = 0  # entries served already decoded (hits)

    @contextlib.contextmanager
    def reading(self, log: str) -> Iterator[None]:
        """While inside, one more group of this process reads `log`."""
        self._readers[log] = self._readers.get(log, 0) + 1
        try:
            yield
        finally:
            left = self._readers[log] - 1
            if left:
                self._readers[log] = left
            else:
                del self._readers[log]

    def readers(self, log: str) -> int:
        """The groups of this process that said they read `log` now."""
        return self._readers.get(log, 0)

    def kept(self, log: str) -> int:
        """Entries of `log` held decoded now."""
        return sum(1 for kept_log, _ in self._recent if kept_log == log)

    def records(self, log: str, ids: Sequence[bytes | str], entries: Sequence[Fields]) -> list[LogRecord]:
        recent, registry, out = self._recent, self._registry, []
        readers = self._readers.get(log)
        others = None if readers is None else readers - 1
        for log_id, fields in zip(ids, entries, strict=True):
            key = (log, log_id)
            kept = recent.get(key)
            if kept is None or kept.record.raw != event_of(fields):
                record = to_record(registry, log_id, fields)
                self.decoded += 1
                if kept is not None:
                    self._drop(key, kept)
                if others != 0:
                    weight = len(record.raw or b"") + _ENTRY_BYTES
                    recent[key] = _Kept(record=record, left=others, weight=weight)
                    self._weight += weight
            else:
                record = kept.record
                self.shared += 1
                if kept.left is not None:
                    kept.left -= 1
                    if kept.left <= 0:
                        self._drop(key, kept)
            out.append(record)
        while self._weight > self._budget:
            _, oldest = recent.popitem(last=False)
            self._weight -= oldest.weight
        return out

    def _drop(self, key: tuple[str, bytes | str], kept: _Kept) -> None:
        del self._recent[key]
        self._weight -= kept.weight


# Per registry: a process has one (domain.catalog.REGISTRY); one built for a test lives on with its entries.
_shared: dict[EventRegistry, SharedDecoding] = {}


def shared_decoding(registry: EventRegistry) -> SharedDecoding:
    """The one `SharedDecoding` of this process for `registry` (the workers of a runtime share one)."""
    decoding = _shared.get(registry)
    if decoding is None:
        decoding = _shared[registry] = SharedDecoding(registry)
    return decoding
