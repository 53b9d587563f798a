"""Live fan-out of the partition logs to SSE subscribers: one reader per partition, a bounded queue per
subscriber. A subscriber that cannot keep up is dropped (it resumes with Last-Event-ID), never waited on.

While nobody subscribes to this process, its readers read nothing: every `IDLE_S` one task notes where
all the logs end instead (one round trip), and the first subscriber wakes the readers. Each resumes from
the end noted for its log, before the subscription began, so no event appended after it is missed; the
few before it are skipped by the stream, which replays from the log what came before it subscribed
(api/streams.py).

A stream is authenticated once, when it opens. A revocation heard from PostgreSQL (`on_key_revoked`, a
NOTIFY, docs/adr/0033) closes the key's streams at once, and for at least one `key_check_s` period after it
closes a stream of that key as it subscribes (one authenticated just before the revocation was heard). In
case a revocation goes unheard, the hub checks the keys of every open stream every `key_check_s`
(api/auth.py CACHE_S) in one query, and closes the streams of revoked keys, and of keys it could not check
for two periods (fail closed)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from typing import Any

import msgspec

from api.auth import CACHE_S, KeyCache
from infra import tracing
from infra.event_store import RedisEventStore
from infra.stopping import STOP_TIMEOUT_S, settle
from projections.events import log_position

log = logging.getLogger(__name__)
IDLE_S = 1.0  # how often an idle hub notes where the logs end: the most a woken reader reads again


class _Route(msgspec.Struct, frozen=True):
    tenant: str
    stream: str
    version: int
    type: str
    traceparent: str | None = None


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    partition: int
    log_id: str
    stream: str
    version: int
    type: str
    data: str  # the event JSON, decoded once for every subscriber
    # The SSE frame after its `id:` line, encoded once for every subscriber; None when the event's text
    # has a line break (a foreign producer's pretty JSON), which only the line-by-line encoder frames.
    frame_tail: bytes | None = None


class Subscription:
    def __init__(self, tenant: str, stream: str | None, size: int, key_id: str | None = None) -> None:
        self.tenant, self.stream, self.key_id = tenant, stream, key_id
        self.queue: asyncio.Queue[Delivery | None] = asyncio.Queue(maxsize=size)  # None: keep-alive
        self.dropped = False
        self.closed: str | None = None  # why the hub ended the stream: nothing more is sent
        self.key_checked_at = time.monotonic()  # it was authenticated as it opened

    def is_open(self) -> bool:
        return self.closed is None


def frame_tail(event_type: str, raw: bytes) -> bytes | None:
    if b"\r" in raw or b"\n" in raw or "\r" in event_type or "\n" in event_type:
        return None
    return b"event: " + event_type.encode() + b"\r\ndata: " + raw + b"\r\n\r\n"


_route = msgspec.json.Decoder(_Route)


def _routed(raw: bytes | None) -> _Route | None:
    """Where an entry goes, decoded once for its span and its dispatch; None when it is not ours."""
    if raw is None:
        return None
    try:
        return _route.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


class StreamHub:
    def __init__(
        self,
        store: RedisEventStore,
        queue_size: int = 1000,
        keepalive_s: float = 15.0,
        *,
        keys: KeyCache | None = None,
        key_check_s: float = CACHE_S,
    ) -> None:
        self._redis, self._store, self._queue_size = store.redis, store, queue_size
        self._keepalive_s = keepalive_s
        self._keys, self._key_check_s = keys, key_check_s
        self._subs: dict[str, set[Subscription]] = defaultdict(set)
        self._count = 0  # subscriptions, of every tenant
        self._subscribed = 0  # subscriptions ever made: an end noted while one was made is not used
        self._someone = asyncio.Event()  # set while there is a subscription
        self._ends: dict[int, str] = {}  # where each log ended, noted while nobody subscribed
        self._revoked: dict[str, float] = {}  # key id → when its revocation was heard, for one period
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._ends = await self._store.log_ends()
        for keys in self._store.keys.all_partitions():
            start = self._ends[keys.partition]
            self._tasks.append(
                asyncio.create_task(
                    self._read(keys.partition, keys.log, start), name=f"hub/p{keys.partition}"
                )
            )
        self._tasks.append(asyncio.create_task(self._note_ends(), name="hub/ends"))
        self._tasks.append(asyncio.create_task(self._keep_alive(), name="hub/keep-alive"))
        if self._keys is not None:
            self._tasks.append(asyncio.create_task(self._watch_keys(self._keys), name="hub/keys"))

    async def stop(self) -> None:
        await settle(self._tasks, STOP_TIMEOUT_S, "live hub", cancel_first=True)

    def subscribe(self, tenant: str, stream: str | None = None, *, key_id: str | None = None) -> Subscription:
        sub = Subscription(tenant, stream, self._queue_size, key_id)
        self._subs[tenant].add(sub)
        self._count += 1
        self._subscribed += 1
        self._someone.set()
        if key_id is not None and key_id in self._revoked:
            self._close(sub, "the API key was revoked")
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.tenant)
        if subs is None or sub not in subs:
            return
        subs.remove(sub)
        if not subs:
            del self._subs[sub.tenant]
        self._count -= 1
        if not self._count:
            self._someone.clear()

    @property
    def subscribers(self) -> int:
        return self._count

    async def _read(self, partition: int, key: str, last_id: str) -> None:
        while True:
            if not self._count:
                await self._someone.wait()
                last_id = max(last_id, self._ends.get(partition, last_id), key=log_position)
                continue
            try:
                reply: Any = await self._redis.client.xread({key: last_id}, count=500, block=1000)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("hub reader p%d: read failed; retrying", partition, exc_info=True)
                await asyncio.sleep(0.5)
                continue
            for _stream, entries in reply or []:
                routed = [(entry_id.decode(), fields.get(b"event")) for entry_id, fields in entries]
                routes = [_routed(raw) for _, raw in routed]
                with self._delivery_span(partition, routes):
                    for (log_id, raw), route in zip(routed, routes, strict=True):
                        last_id = log_id
                        await self._dispatch(partition, log_id, raw, route)

    async def _note_ends(self) -> None:
        """While nobody subscribes, where every log ends, every `IDLE_S`; an end read while a
        subscription was made is not kept (it may be past the subscriber's first events)."""
        while True:
            await asyncio.sleep(IDLE_S)
            if self._count:
                continue
            made = self._subscribed
            try:
                ends = await self._store.log_ends()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("hub: where the logs end could not be read; retrying", exc_info=True)
                continue
            if made == self._subscribed and not self._count:
                self._ends = ends

    def _delivery_span(
        self, partition: int, routes: list[_Route | None]
    ) -> contextlib.AbstractContextManager[None]:
        """A span per batch delivered to someone, linked to the traces of the events of tenants that
        listen here (none when traces are off or nobody listens here)."""
        if not tracing.enabled() or not self._subs:
            return contextlib.nullcontext()
        carried = (r.traceparent for r in routes if r is not None and self._subs.get(r.tenant))
        return tracing.batch_span("sse deliver", carried, {"aiwf.partition": partition})

    async def _keep_alive(self) -> None:
        """One timer for every idle subscriber, instead of a timeout on every queue read (a timer
        armed and cancelled per delivery was a sixth of the fan-out's CPU)."""
        while True:
            await asyncio.sleep(self._keepalive_s)
            for subs in list(self._subs.values()):
                for sub in list(subs):
                    if sub.queue.empty():
                        sub.queue.put_nowait(None)

    async def _watch_keys(self, keys: KeyCache) -> None:
        while True:
            await asyncio.sleep(self._key_check_s)
            await self.check_keys(keys)

    async def check_keys(self, keys: KeyCache) -> None:
        """Close the open streams whose key is revoked, or could not be checked for two periods."""
        subs = [sub for subs in list(self._subs.values()) for sub in list(subs) if sub.key_id is not None]
        if not subs:
            return
        now = time.monotonic()
        try:
            revoked: set[str] | None = await keys.revoked_among({sub.key_id for sub in subs if sub.key_id})
        except Exception:
            log.warning("hub: the keys of open streams could not be checked; retrying", exc_info=True)
            revoked = None
        for sub in subs:
            if revoked is not None and sub.key_id in revoked:
                self._close(sub, "the API key was revoked")
            elif revoked is not None:
                sub.key_checked_at = now
            elif now - sub.key_checked_at > 2 * self._key_check_s:
                self._close(sub, "the API key could not be checked")

    def on_key_revoked(self, key_id: str) -> None:
        """A revocation heard: the key is forgotten by the cache, and its open streams end now."""
        if self._keys is not None:
            self._keys.forget_key(key_id)
        now = time.monotonic()
        # Past one period, the key check closes a stream that slipped through; the dict stays small.
        self._revoked = {k: at for k, at in self._revoked.items() if now - at < self._key_check_s}
        self._revoked[key_id] = now
        for subs in list(self._subs.values()):
            for sub in [sub for sub in subs if sub.key_id == key_id]:
                self._close(sub, "the API key was revoked")

    def _close(self, sub: Subscription, why: str) -> None:
        sub.closed = why
        self.unsubscribe(sub)
        with contextlib.suppress(asyncio.QueueFull):  # a full queue: its reader is awake anyway
            sub.queue.put_nowait(None)

    async def _dispatch(self, partition: int, log_id: str, raw: bytes | None, route: _Route | None) -> None:
        if raw is None or route is None:
            return  # not ours: nothing to stream
        if not self._subs.get(route.tenant):
            return  # nobody of that tenant listens here: nothing to open or encode
        if self._store.cipher is not None:  # sealed fields opened once, for every subscriber
            raw = await self._store.cipher.open_raw(self._store.registry, raw)
        delivery = Delivery(
            partition=partition,
            log_id=log_id,
            stream=route.stream,
            version=route.version,
            type=route.type,
            data=raw.decode(),
            frame_tail=frame_tail(route.type, raw),
        )
        for sub in list(self._subs.get(route.tenant, ())):
            if sub.stream is not None and sub.stream != route.stream:
                continue
            try:
                sub.queue.put_nowait(delivery)
            except asyncio.QueueFull:  # the reader ends that stream once its queue drains
                sub.dropped = True
                self.unsubscribe(sub)
