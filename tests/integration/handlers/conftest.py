"""A handler runtime wired to a fresh store and schema, plus a tiny processor to inject faults."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

import asyncpg
import pytest

from handlers.app import HandlerRuntime
from handlers.projector import Projector
from handlers.runtime.records import LogRecord
from infra.event_store import RedisEventStore
from projections.catalog import PROJECTORS
from projections.read_model import ProjectorSpec

FAST = {"poll_ms": 20, "lease_ttl_ms": 600, "min_idle_ms": 200, "max_deliveries": 3}


def runtime_for(store: RedisEventStore, redis_url: str, consumer: str | None = None) -> HandlerRuntime:
    return HandlerRuntime(store._redis, redis_url, store.keys, store.registry, consumer=consumer)


@pytest.fixture
async def projecting(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> AsyncIterator[HandlerRuntime]:
    runtime = runtime_for(standalone_store, redis_url)
    runtime.add_projectors(pg_pool, PROJECTORS, **FAST)
    await runtime.start()
    yield runtime
    await runtime.stop()


class FlakyProjector(Projector):
    """A real projector that fails on purpose: after its commit (a crash before XACK), or on some events."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        spec: ProjectorSpec,
        *,
        crash_after_commit: int = 0,
        poison: Callable[[LogRecord], bool] | None = None,
    ) -> None:
        super().__init__(pool, spec)
        self.crashes_left = crash_after_commit
        self.poison = poison

    async def process(self, partition: int, records: Sequence[LogRecord], epoch: int) -> int:
        if self.poison is not None and any(self.poison(r) for r in records):
            raise RuntimeError("poisoned event")
        applied = await super().process(partition, records, epoch)
        if self.crashes_left > 0:
            self.crashes_left -= 1
            raise ConnectionError("crashed after commit, before XACK")
        return applied
