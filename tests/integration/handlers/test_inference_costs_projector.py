"""The operations_views projector on real Redis and PostgreSQL: a new projector folds the calls recorded
before it first ran, partitions folding at once lose no call, and a rebuild equals the live table."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from domain.envelope import EventOrigin
from domain.ids import uuid7
from handlers.rebuild import replay
from infra.event_store import RedisEventStore
from projections.catalog import projector_named
from projections.queries import list_daily_costs
from tests.integration.handlers.conftest import FAST, runtime_for
from tests.support.events import NOW, decided, new, refused, started

OPERATIONS = projector_named("operations_views")
SINCE = NOW.date() - timedelta(days=30)


async def record_calls(store: RedisEventStore, conversations: int, tenant: str = "acme") -> None:
    """Conversations spread over every partition, each with two decided calls and one refused."""
    origin = EventOrigin(tenant=tenant, source="aiwf://tests")
    for _ in range(conversations):
        cid = uuid7()
        calls = [decided(cost_micro_usd=10), decided(model="claude", cost_micro_usd=1), refused()]
        await store.append(f"conversation-{cid}", [new(started(cid)), *map(new, calls)], 0, origin)


async def project(store: RedisEventStore, pool: asyncpg.Pool, redis_url: str) -> None:
    runtime = runtime_for(store, redis_url)
    runtime.add_projectors(pool, [OPERATIONS], **FAST)
    await runtime.start()
    try:
        assert await runtime.wait_caught_up(timeout_s=30)
    finally:
        await runtime.stop()


async def test_calls_recorded_before_the_projector_first_ran_are_folded_when_it_starts(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> None:
    await record_calls(standalone_store, 12)

    await project(standalone_store, pg_pool, redis_url)

    costs = await list_daily_costs(pg_pool, "acme", SINCE)
    assert [(c.provider, c.model, c.calls, c.refused, c.cost_micro_usd) for c in costs] == [
        ("none", "none", 0, 12, 0),
        ("offline", "claude", 12, 0, 12),
        ("offline", "offline-planner-1", 12, 0, 120),
    ]
    assert {c.day for c in costs} == {NOW.date()}
    partitions = await pg_pool.fetchval("SELECT count(DISTINCT partition) FROM inference_costs")
    assert partitions > 1  # the sums above were folded by several partitions at once


async def test_a_rebuild_of_the_costs_equals_the_live_table_and_verify_says_so(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> None:
    await record_calls(standalone_store, 5)
    await project(standalone_store, pg_pool, redis_url)
    before = await pg_pool.fetch("SELECT * FROM inference_costs ORDER BY bucket")

    verified = await replay(pg_pool, standalone_store, OPERATIONS, "verify")
    rebuilt = await replay(pg_pool, standalone_store, OPERATIONS, "rebuild")

    assert verified.differences == []
    assert rebuilt.swapped
    assert await pg_pool.fetch("SELECT * FROM inference_costs ORDER BY bucket") == before
    await pg_pool.execute("UPDATE inference_costs SET calls = calls + 1 WHERE provider = 'offline'")
    assert (await replay(pg_pool, standalone_store, OPERATIONS, "verify")).differences != []
