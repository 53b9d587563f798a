"""Live fan-out of the partition logs to SSE subscribers: one reader per partition, a bounded queue per
subscriber. A subscriber that cannot keep up is dropped (it resumes with Last-Event-ID), never waited on."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

import msgspec

from infra.event_store import RedisEventStore

log = logging.getLogger(__name__)


class _Route(msgspec.Struct, frozen=True):
    tenant: str
    stream: str
    version: int
    type: str


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    partition: int
    log_id: str
    stream: str
    version: int
    type: str
    data: str  # the event JSON, decoded once for every subscriber


class Subscription:
    def __init__(self, tenant: str, stream: str | None, size: int) -> None:
        self.tenant, self.stream = tenant, stream
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue(maxsize=size)
        self.dropped = False


_route = msgspec.json.Decoder(_Route)


class StreamHub:
    def __init__(self, store: RedisEventStore, queue_size: int = 1000) -> None:
        self._redis, self._store, self._queue_size = store.redis, store, queue_size
        self._subs: dict[str, set[Subscription]] = defaultdict(set)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for keys in self._store.keys.all_partitions():
            start = await self._store.log_end(keys.partition)
            self._tasks.append(
                asyncio.create_task(
                    self._read(keys.partition, keys.log, start), name=f"hub/p{keys.partition}"
                )
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def subscribe(self, tenant: str, stream: str | None = None) -> Subscription:
        sub = Subscription(tenant, stream, self._queue_size)
        self._subs[tenant].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs[sub.tenant].discard(sub)

    @property
    def subscribers(self) -> int:
        return sum(len(s) for s in self._subs.values())

    async def _read(self, partition: int, key: str, last_id: str) -> None:
        while True:
            try:
                reply: Any = await self._redis.client.xread({key: last_id}, count=500, block=1000)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("hub reader p%d: read failed; retrying", partition, exc_info=True)
                await asyncio.sleep(0.5)
                continue
            for _stream, entries in reply or []:
                for entry_id, fields in entries:
                    last_id = entry_id.decode()
                    self._dispatch(partition, last_id, fields.get(b"event"))

    def _dispatch(self, partition: int, log_id: str, raw: bytes | None) -> None:
        if raw is None:
            return
        try:
            route = _route.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return  # not ours: nothing to stream
        delivery = Delivery(
            partition=partition,
            log_id=log_id,
            stream=route.stream,
            version=route.version,
            type=route.type,
            data=raw.decode(),
        )
        for sub in list(self._subs.get(route.tenant, ())):
            if sub.stream is not None and sub.stream != route.stream:
                continue
            try:
                sub.queue.put_nowait(delivery)
            except asyncio.QueueFull:  # the reader ends that stream once its queue drains
                sub.dropped = True
                self.unsubscribe(sub)
