"""The event store on Redis Streams: atomic compare-and-append, reads, heads (docs/adr/0002).

One Lua script checks the aggregate's version and head hash, appends the batch to the aggregate
stream and the partition log, records the ids and moves the head — all or nothing. Nothing here ever
trims a stream.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from importlib.resources import files
from typing import Any

import msgspec
from opentelemetry.trace import SpanKind
from redis.exceptions import NoScriptError, ResponseError

from commands.ports import StreamHead
from domain.canonical import content_digest, seal
from domain.envelope import (
    GENESIS_HASH,
    JSON_CONTENT_TYPE,
    SPEC_VERSION,
    DomainEvent,
    Envelope,
    EventOrigin,
    NewEvent,
    Position,
    StoredEvent,
    aggregate_id,
)
from domain.errors import (
    ChainBroken,
    ConcurrencyConflict,
    DuplicateEventId,
    EventIdTaken,
    InvalidInput,
    StreamOfAnotherTenant,
)
from domain.registry import EventRegistry, type_name
from domain.sealed_fields import own_subject, sealed_paths, subject_named_by
from domain.text import json_holds_nul, nul_fields
from infra import tracing
from infra.crypto.events import EventCipher, SealedEvent
from infra.dataschema import LOCAL_SCHEMAS, SchemaLocator
from infra.keys import KeySpace
from infra.main_job_metrics import count_appended
from infra.observability import APPENDS, CONFLICTS
from infra.redis_cmds import StreamEntry, hget, hgetall, xrange
from infra.redis_conn import RedisConnection

log = logging.getLogger(__name__)

_APPEND_LUA = files("infra").joinpath("append.lua").read_text()
_APPEND_SHA = hashlib.sha1(_APPEND_LUA.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1
READ_CHUNK = 1000
_SUBJECTS_KEPT = 10_000
# A snapshot is replaced only by a later one: two writers at different versions never regress it.
_SAVE_SNAPSHOT = """
local kept = redis.call('HGET', KEYS[1], 'v')
if kept and tonumber(kept) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'doc', ARGV[2])
return 1
"""


class DurabilityNotConfirmed(RuntimeError):
    """The append is stored but the local fsync was not confirmed in time; retrying is safe."""


class StoreCorrupted(RuntimeError):
    """The aggregate stream and its head disagree: someone wrote around the store. Run an audit."""


class Head(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    hash: str


class LogEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A partition log entry as any Redis client sees it; `raw` is None when the field is missing."""

    log_id: str
    raw: bytes | None


class RedisEventStore:
    def __init__(
        self,
        redis: RedisConnection,
        keys: KeySpace,
        registry: EventRegistry,
        *,
        wait_fsync_ms: int | None,
        schemas: SchemaLocator = LOCAL_SCHEMAS,
        cipher: EventCipher | None = None,
    ) -> None:
        self._redis = redis
        self.cipher = cipher  # seals sensitive fields on append, opens them on reads (infra/crypto/)
        self.keys = keys
        self.registry = registry
        self.schemas = schemas  # where the `dataschema` of every appended event points (the API's)
        self._wait_fsync_ms = wait_fsync_ms
        self._subjects: dict[str, str | None] = {}

    @property
    def redis(self) -> RedisConnection:
        """The connection the store writes through (health checks and the live hub share it)."""
        return self._redis

    async def append(
        self,
        stream: str,
        events: Sequence[NewEvent],
        expected_version: int,
        origin: EventOrigin,
        *,
        head: StreamHead | None = None,
    ) -> list[Position]:
        """Append `events` if the stream is at `expected_version`; re-sending a stored batch is a no-op.
        The stream's first event fixes its tenant: an append by another one is `StreamOfAnotherTenant`."""
        if not events:
            return []
        if not tracing.enabled():
            return await self._append(stream, events, expected_version, origin, head)
        # A span per append, so what it costs counts: the first event's type in its name, two attributes.
        name = f"append {type_name(type(events[0].data))}"
        attributes: dict[str, str | int] = {
            "aiwf.stream": stream,
            "messaging.batch.message_count": len(events),
        }
        with tracing.tracer().start_as_current_span(name, kind=SpanKind.PRODUCER, attributes=attributes):
            return await self._append(stream, events, expected_version, origin, head)

    async def _append(
        self,
        stream: str,
        events: Sequence[NewEvent],
        expected_version: int,
        origin: EventOrigin,
        head: StreamHead | None,
    ) -> list[Position]:
        _refuse_repeated_ids(stream, events)
        keys = self.keys.for_stream(stream)
        if head is None or head.version != expected_version:
            head = await self.head(stream)
        prevhash = head.hash if head.version == expected_version else GENESIS_HASH
        protected = await self._protect(origin.tenant, stream, expected_version, events)
        sealed = _seal_batch(
            stream, protected, expected_version, prevhash, origin=origin, schemas=self.schemas
        )
        refused = [(env, new) for (env, raw), new in zip(sealed, events, strict=True) if json_holds_nul(raw)]
        if refused:  # the read models could not store it (domain/text.py)
            raise InvalidInput(
                [field for _, new in refused for field in nul_fields(new.data) or ["envelope"]],
                where=", ".join(f"{env.type} {env.id}" for env, _ in refused),
            )
        args: list[str | bytes] = [
            stream,
            str(expected_version),
            prevhash,
            sealed[-1][0].hash or "",
            origin.tenant,
        ]
        for (envelope, raw), event in zip(sealed, protected, strict=True):
            args += [envelope.id, event.digest, raw]
        reply = await self._run_append(
            [keys.stream(stream), keys.log, keys.heads, keys.ids, keys.tenants], args
        )
        try:
            positions = _positions(stream, keys.partition, expected_version, reply, origin.tenant)
        except ConcurrencyConflict:
            CONFLICTS.inc()
            raise
        if reply[0] == b"ok":
            APPENDS.inc(len(positions))
            count_appended(events)
        return positions

    async def _protect(
        self, tenant: str, stream: str, expected_version: int, events: Sequence[NewEvent]
    ) -> list[SealedEvent]:
        """Sensitive fields sealed (with a cipher), and the digest each id is stored with."""
        if self.cipher is None or not any(sealed_paths(e.data) for e in events):
            return [SealedEvent(event=e, digest=content_digest(e.data)) for e in events]
        first = events[0].data if expected_version == 0 else None
        subject = await self.subject_of(stream, first)
        return await self.cipher.seal(tenant, stream, subject, expected_version + 1, events)

    async def subject_of(self, stream: str, first: DomainEvent | None = None) -> str | None:
        """Whose data key seals the stream (domain/sealed_fields.py): its own, or the one its first event
        names, read once and remembered (a first event never changes)."""
        own = own_subject(stream)
        if own is not None:
            return own
        if stream in self._subjects:
            return self._subjects[stream]
        if first is None:
            stored = await self.read_stream(stream, limit=1)
            if not stored:
                return None
            first = stored[0].envelope.data
        subject = subject_named_by(first)
        if len(self._subjects) >= _SUBJECTS_KEPT:
            self._subjects.pop(next(iter(self._subjects)))
        self._subjects[stream] = subject
        return subject

    async def _run_append(self, keys: list[str], args: list[str | bytes]) -> list[bytes]:
        client = await self._redis.client_for_key(keys[0])
        for attempt in range(3):
            pipe = client.pipeline(transaction=False)
            pipe.evalsha(_APPEND_SHA, len(keys), *keys, *args)
            if self._wait_fsync_ms is not None:
                pipe.execute_command("WAITAOF", 1, 0, self._wait_fsync_ms)
            results = await pipe.execute(raise_on_error=False)
            reply = results[0]
            if isinstance(reply, NoScriptError):
                await client.script_load(_APPEND_LUA)
                continue
            if isinstance(reply, ResponseError) and str(reply).startswith("MOVED") and attempt < 2:
                await self._redis.refresh_slots()
                client = await self._redis.client_for_key(keys[0])
                continue
            if isinstance(reply, Exception):
                raise reply
            if self._wait_fsync_ms is not None:
                _check_fsync(results[1])
            return list(reply)
        raise RuntimeError("append script could not be run")

    async def head(self, stream: str) -> Head:
        keys = self.keys.for_stream(stream)
        return _head(await hget(self._redis.client, keys.heads, stream))

    async def read_stream(
        self, stream: str, from_version: int = 1, limit: int | None = None
    ) -> list[StoredEvent]:
        """The events of one aggregate from `from_version` (at most `limit`), in order, typed and upcast."""
        key = self.keys.for_stream(stream).stream(stream)
        out: list[StoredEvent] = []
        start = f"{from_version}-0"
        while True:
            count = READ_CHUNK if limit is None else min(READ_CHUNK, limit - len(out))
            entries = await xrange(self._redis.client, key, start, count=count)
            out += await self._decoded(entries)
            if len(entries) < count or (limit is not None and len(out) >= limit):
                return out
            start = "(" + entries[-1][0].decode()

    async def read_after(self, stream: str, version: int) -> tuple[list[StoredEvent], Head]:
        """The events after `version` and the stream's head, in one round trip: what a fold cached at
        `version` needs to be checked and brought up to date (commands/fold_cache.py). Not atomic: an
        append landing between the two reads shows as a head past the events, which the caller refuses."""
        keys = self.keys.for_stream(stream)
        pipe = self._redis.client.pipeline(transaction=False)
        pipe.execute_command("XRANGE", keys.stream(stream), f"{version + 1}-0", "+", "COUNT", READ_CHUNK)
        pipe.execute_command("HGET", keys.heads, stream)
        entries, stored = await pipe.execute()
        events = await self._decoded(entries or [])
        if len(events) == READ_CHUNK:  # a long tail: the rest, and the head after it
            events += await self.read_stream(stream, from_version=version + 1 + READ_CHUNK)
            return events, await self.head(stream)
        return events, _head(stored)

    async def _decoded(self, entries: list[StreamEntry]) -> list[StoredEvent]:
        out: list[StoredEvent] = []
        for _entry_id, fields in entries:
            raw = fields[b"event"]
            envelope = self.registry.decode(raw)
            if self.cipher is not None and envelope.keyid is not None:
                envelope = await self.cipher.open(envelope)  # the raw bytes stay as stored
            out.append(StoredEvent(raw=raw, envelope=envelope))
        return out

    async def positions_of(self, stream: str, event_ids: Sequence[str]) -> list[Position | None]:
        """Where each of these events landed in `stream` (None: not stored there), from the id index."""
        keys = self.keys.for_stream(stream)
        records: Any = await self._redis.client.hmget(keys.ids, list(event_ids))
        out: list[Position | None] = []
        for record in records:
            fields = record.decode().split(" ", 3) if record is not None else []
            owner = fields[3] if len(fields) > 3 else stream  # older records do not name their stream
            if len(fields) < 2 or owner != stream:
                out.append(None)
                continue
            out.append(
                Position(stream=stream, version=int(fields[0]), partition=keys.partition, log_id=fields[1])
            )
        return out

    async def tenant_of(self, stream: str) -> str | None:
        """Whose stream it is: as recorded by its first append, else (a stream older than the record)
        its first event's tenant; None when it is empty."""
        recorded = await hget(self._redis.client, self.keys.for_stream(stream).tenants, stream)
        if recorded is not None:
            return recorded.decode()
        first = await self.read_stream(stream, limit=1)
        return first[0].envelope.tenant if first else None

    async def load_snapshot(self, stream: str, name: str) -> bytes | None:
        stored = await hget(self._redis.client, self.keys.for_stream(stream).snapshot(stream, name), "doc")
        if stored is None or self.cipher is None:
            return stored
        return await self.cipher.open_snapshot(stream, name, stored)

    async def save_snapshot(
        self, stream: str, name: str, version: int, snapshot: bytes, *, tenant: str = ""
    ) -> None:
        """Sealed under the stream's subject key when it has one: a snapshot holds what its events said."""
        key = self.keys.for_stream(stream).snapshot(stream, name)
        if self.cipher is not None:
            subject = await self.subject_of(stream)
            snapshot = await self.cipher.seal_snapshot(tenant, stream, subject, name, snapshot)
        await self._redis.client.eval(_SAVE_SNAPSHOT, 1, key, version, snapshot)

    async def read_log(
        self, partition: int, after: str = "0-0", count: int = READ_CHUNK, until: str = "+"
    ) -> list[LogEntry]:
        """Raw entries of a partition log after a position (up to `until`); decoding is the caller's."""
        key = self.keys.partition(partition).log
        entries = await xrange(self._redis.client, key, f"({after}", until, count=count)
        return [LogEntry(log_id=entry_id.decode(), raw=fields.get(b"event")) for entry_id, fields in entries]

    async def log_end(self, partition: int) -> str:
        """Id of the last entry of a partition log ("0-0" when empty)."""
        reply: Any = await self._redis.client.execute_command(
            "XREVRANGE", self.keys.partition(partition).log, "+", "-", "COUNT", 1
        )
        return reply[0][0].decode() if reply else "0-0"

    async def log_ends(self) -> dict[int, str]:
        """The last entry id of every partition log, in one round trip."""
        keys = self.keys.all_partitions()
        pipe = self._redis.client.pipeline(transaction=False)
        for partition in keys:
            pipe.execute_command("XREVRANGE", partition.log, "+", "-", "COUNT", 1)
        replies: list[Any] = await pipe.execute()
        return {k.partition: (r[0][0].decode() if r else "0-0") for k, r in zip(keys, replies, strict=True)}

    async def streams(self, partition: int) -> dict[str, Head]:
        """Every aggregate stream of a partition with its head."""
        heads = await hgetall(self._redis.client, self.keys.partition(partition).heads)
        out: dict[str, Head] = {}
        for name, stored in heads.items():
            version, digest = stored.decode().split(" ", 1)
            out[name.decode()] = Head(version=int(version), hash=digest)
        return out


def _head(stored: bytes | None) -> Head:
    if stored is None:
        return Head(version=0, hash=GENESIS_HASH)
    version, digest = stored.decode().split(" ", 1)
    return Head(version=int(version), hash=digest)


def _seal_batch(
    stream: str,
    events: Sequence[SealedEvent],
    expected_version: int,
    prevhash: str,
    *,
    origin: EventOrigin,
    schemas: SchemaLocator,
) -> list[tuple[Envelope, bytes]]:
    sealed: list[tuple[Envelope, bytes]] = []
    for version, protected in enumerate(events, start=expected_version + 1):
        envelope = envelope_for(
            stream,
            version,
            prevhash,
            protected.event,
            origin=origin,
            schemas=schemas,
            keyid=protected.keyid,
            encalg=protected.encalg,
        )
        envelope, raw = seal(envelope)
        sealed.append((envelope, raw))
        prevhash = envelope.hash or ""
    return sealed


def envelope_for(
    stream: str,
    version: int,
    prevhash: str,
    event: NewEvent,
    *,
    origin: EventOrigin,
    schemas: SchemaLocator,
    keyid: str | None = None,
    encalg: str | None = None,
) -> Envelope:
    """The one place that decides an appended event's attributes. `subject` is the aggregate id (the
    stream name after its category); `dataschema` is where the API serves the JSON Schema of its `data`.
    Events written before both existed lack them and still verify: the chain hashes what is stored."""
    event_type = type_name(type(event.data))
    return Envelope(
        specversion=SPEC_VERSION,
        id=event.id,
        source=origin.source,
        type=event_type,
        time=event.time,
        datacontenttype=JSON_CONTENT_TYPE,
        tenant=origin.tenant,
        stream=stream,
        version=version,
        prevhash=prevhash,
        subject=aggregate_id(stream),
        dataschema=schemas.data_url(event_type),
        correlationid=event.correlationid,
        causationid=event.causationid,
        traceparent=event.traceparent,
        keyid=keyid,
        encalg=encalg,
        data=event.data,
    )


def _positions(stream: str, partition: int, expected: int, reply: list[bytes], tenant: str) -> list[Position]:
    status = reply[0].decode()
    if status == "ok":
        return [
            Position(stream=stream, version=expected + i, partition=partition, log_id=log_id.decode())
            for i, log_id in enumerate(reply[1:], start=1)
        ]
    if status == "dup":
        pairs = zip(reply[1::2], reply[2::2], strict=True)
        return [
            Position(stream=stream, version=int(v), partition=partition, log_id=log_id.decode())
            for v, log_id in pairs
        ]
    if status == "conflict":
        raise ConcurrencyConflict(stream, expected, int(reply[1]))
    if status == "chain":
        raise ChainBroken(stream, "", reply[2].decode())
    if status == "taken":
        raise EventIdTaken(reply[1].decode(), reply[2].decode(), reply[3].decode())
    if status == "tenant":
        raise StreamOfAnotherTenant(stream, tenant)
    if status == "unowned":
        raise StoreCorrupted(f"stream {stream!r}: its first event names no tenant; run `aiwf audit verify`")
    if status == "corrupt":
        raise StoreCorrupted(f"stream {stream!r}: head at version {int(reply[1])}, stream at {int(reply[2])}")
    raise DuplicateEventId(f"stream {stream!r}: event {reply[1].decode()} is stored, its batch is not")


def _refuse_repeated_ids(stream: str, events: Sequence[NewEvent]) -> None:
    """One id twice in a batch would leave the first event without its index record."""
    ids = [event.id for event in events]
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        raise DuplicateEventId(f"stream {stream!r}: the batch repeats event ids {', '.join(repeated)}")


def _check_fsync(reply: object) -> None:
    if isinstance(reply, Exception):
        raise DurabilityNotConfirmed(str(reply))
    if not isinstance(reply, list) or int(reply[0]) < 1:
        raise DurabilityNotConfirmed(f"WAITAOF answered {reply!r}")
