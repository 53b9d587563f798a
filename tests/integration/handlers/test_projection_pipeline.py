"""The whole read side: events appended → FastStream consumers → read models in PostgreSQL."""

from __future__ import annotations

import asyncpg

from handlers.app import HandlerRuntime
from infra.event_store import RedisEventStore
from projections.catalog import PROJECTORS
from tests.support.events import ORIGIN, batch, new, started


async def test_appended_conversations_show_up_in_every_read_model(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> None:
    store = standalone_store
    for n in range(5):
        await store.append(
            f"conversation-c{n}", [new(started(f"c{n}")), *batch(3)], expected_version=0, origin=ORIGIN
        )
    runtime = HandlerRuntime(store._redis, redis_url, store.keys, store.registry)
    runtime.add_projectors(pg_pool, PROJECTORS, poll_ms=20)
    await runtime.start()
    try:
        assert await runtime.wait_caught_up(timeout_s=20)
    finally:
        await runtime.stop()

    assert await pg_pool.fetchval("SELECT count(*) FROM conversations") == 5
    assert await pg_pool.fetchval("SELECT count(*) FROM messages") == 15
    assert await pg_pool.fetchval("SELECT count(*) FROM agent_state") == 5
    assert await pg_pool.fetchval("SELECT count(*) FROM event_archive") == 20
    row = await pg_pool.fetchrow("SELECT * FROM conversations WHERE conversation_id = 'c0'")
    assert (row["message_count"], row["last_version"], row["tenant"]) == (3, 4, "acme")
