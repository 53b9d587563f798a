"""The handler runtime: every projector and process manager on every partition, as tasks."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import uuid
from collections.abc import Sequence

import asyncpg

from domain.registry import EventRegistry
from handlers.managers import ManagerDeps, processors
from handlers.projector import Projector
from handlers.runtime.brokers import BrokerPool
from handlers.runtime.consumer_group import GroupLag, group_lag
from handlers.runtime.worker import BatchProcessor, PartitionWorker, WorkerConfig
from infra.keys import KeySpace
from infra.redis_conn import RedisConnection
from infra.stopping import bounded, settle
from projections.read_model import ProjectorSpec

log = logging.getLogger(__name__)


def consumer_name() -> str:
    """Unique per process: a restarted process must not inherit its predecessor's pending entries."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


_CONSUMER_NAME = re.compile(r"^.+-[0-9]+-[0-9a-f]{6}$")


def is_consumer_name(name: str) -> bool:
    """Whether `name` has the form `consumer_name` gives: `aiwf consumers list` flags the others it finds
    in our groups (someone else read them)."""
    return _CONSUMER_NAME.match(name) is not None


class HandlerRuntime:
    def __init__(
        self,
        redis: RedisConnection,
        redis_url: str,
        keys: KeySpace,
        registry: EventRegistry,
        *,
        consumer: str | None = None,
    ) -> None:
        self._redis, self._keys, self._registry = redis, keys, registry
        self._brokers = BrokerPool(redis, redis_url)
        self.consumer = consumer or consumer_name()
        self.workers: list[PartitionWorker] = []
        self._tasks: list[asyncio.Task[None]] = []

    def add(self, processor: BatchProcessor, config: WorkerConfig) -> None:
        for keys in self._keys.all_partitions():
            self.workers.append(
                PartitionWorker(
                    redis=self._redis,
                    brokers=self._brokers,
                    registry=self._registry,
                    keys=keys,
                    config=config,
                    processor=processor,
                    consumer=self.consumer,
                )
            )

    def add_managers(self, deps: ManagerDeps, **config: int) -> None:
        """The main job's process managers: each its own consumer group, ordered per partition."""
        for processor in processors(deps):
            self.add(processor, WorkerConfig(group=processor.group, ordered=True, **config))

    def add_projectors(self, pool: asyncpg.Pool, specs: Sequence[ProjectorSpec], **config: int) -> None:
        for spec in specs:
            projector = Projector(pool, spec)
            self.add(projector, WorkerConfig(group=projector.group, ordered=True, **config))

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(w.run(), name=f"{w.config.group}/p{w.partition}") for w in self.workers
        ]

    async def stop(self, timeout_s: float = 15.0) -> None:
        """Graceful, but bounded: a worker stuck past `timeout_s` is cancelled (its batch stays pending
        and is redone by the next holder), so a shutdown never hangs."""
        await bounded(
            asyncio.gather(*(worker.stop() for worker in self.workers)), timeout_s, "workers' batches"
        )
        await settle(self._tasks, timeout_s, "workers")
        await bounded(self._brokers.close(), timeout_s, "FastStream brokers")

    async def lag(self) -> list[GroupLag]:
        groups = sorted({w.config.group for w in self.workers})
        return [await group_lag(self._redis, keys, g) for g in groups for keys in self._keys.all_partitions()]

    async def wait_caught_up(self, timeout_s: float = 30.0) -> bool:
        """True once every group has read and acknowledged every entry of every partition log."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            if all(entry.lag == 0 and entry.pending == 0 for entry in await self.lag()):
                return True
            await asyncio.sleep(0.05)
        return False
