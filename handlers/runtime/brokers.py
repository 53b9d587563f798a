"""FastStream brokers: one for a standalone Redis, one per node of a Redis Cluster.

FastStream's RedisBroker speaks to one server; on a Cluster, a partition log lives on the node that owns
its `{pN}` slot, so each partition's subscriber is attached to that node's broker.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faststream.redis import RedisBroker
from redis.asyncio import RedisCluster

from infra.redis_conn import RedisConnection
from infra.stopping import STOP_TIMEOUT_S, settle

# FastStream logs every message at INFO; ours are counted and logged where it matters.
_faststream_log = logging.getLogger("aiwf.faststream")
_faststream_log.setLevel(logging.WARNING)


class BrokerPool:
    def __init__(self, redis: RedisConnection, url: str) -> None:
        self._redis = redis
        self._url = url
        self._brokers: dict[str, RedisBroker] = {}
        self._starting = asyncio.Lock()

    async def broker_for(self, key: str) -> RedisBroker:
        # On a Cluster, the owning node's address with the URL's credentials and TLS.
        url = self._redis.node_url_for_key(key) if isinstance(self._redis.client, RedisCluster) else self._url
        async with self._starting:  # workers ask at once: one broker per node, none left unclosed
            return await self._started(url)

    async def _started(self, url: str) -> RedisBroker:
        if url not in self._brokers:
            # No dependency injection: the handler takes the raw batch (worker.py). With it, FastStream
            # resolved the handler's message parameter in a thread pool on every batch, a third of a
            # process manager's CPU.
            broker = RedisBroker(url, logger=_faststream_log, apply_types=False)
            await broker.start()
            client = await broker.connect()
            client.set_response_callback("XREADGROUP", entries_as_sent)
            self._brokers[url] = broker
        return self._brokers[url]

    async def close(self) -> None:
        for broker in self._brokers.values():
            await broker.stop()
        self._brokers.clear()


def entries_as_sent(response: Any, **_options: Any) -> list[list[Any]]:
    """An XREADGROUP reply as `[[stream, [[entry id, [name, value, ...]], ...]], ...]`, the shape redis-py
    gives, but with each entry's fields left as Redis sent them (`records.Fields`): redis-py made a dict
    of every entry, which the handlers only read one field of. FastStream takes the entries as they come
    and hands them to the handler (worker.py)."""
    if not response:
        return []
    if isinstance(response, dict):  # RESP3: a map of streams
        return [[stream, entries] for stream, entries in response.items()]
    return [[stream, entries] for stream, entries in response]


async def stop_subscriber(subscriber: Any) -> None:
    """Stop a subscriber and wait until its fetch loop has really ended.

    FastStream's `stop()` cancels the loop's task without awaiting it; a broker closed right after
    would cut the connection under a read still in flight ("Message fetch error ... closed by
    server"). Awaiting the tasks orders it: subscribers end, then connections close."""
    tasks: list[asyncio.Task[Any]] = list(subscriber.tasks)
    await subscriber.stop()
    await settle(tasks, STOP_TIMEOUT_S, "subscriber fetch loop")
