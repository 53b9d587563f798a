"""The whole read side: events appended → FastStream consumers → read models in PostgreSQL."""

from __future__ import annotations

import asyncio

import asyncpg

from domain.catalog import REGISTRY
from handlers.app import HandlerRuntime
from handlers.runtime.records import shared_decoding
from infra.event_store import RedisEventStore
from infra.redis_conn import RedisConnection
from projections.catalog import PROJECTORS
from tests.integration.conftest import fresh_keys
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


async def test_the_projectors_of_a_process_decode_each_entry_once_and_keep_none_once_all_took_it(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> None:
    store = standalone_store
    logs = [keys.log for keys in store.keys.all_partitions()]
    decoding = shared_decoding(store.registry)
    runtime = HandlerRuntime(store._redis, redis_url, store.keys, store.registry)
    runtime.add_projectors(pg_pool, PROJECTORS, poll_ms=20)
    await runtime.start()
    try:
        async with asyncio.timeout(20):
            while any(decoding.readers(log) < len(PROJECTORS) for log in logs):  # noqa: ASYNC110 - a count, no event
                await asyncio.sleep(0.02)
        assert all(decoding.readers(log) == len(PROJECTORS) for log in logs)
        decoded = decoding.decoded
        for n in range(8):
            await store.append(
                f"conversation-c{n}", [new(started(f"c{n}")), *batch(3)], expected_version=0, origin=ORIGIN
            )
        assert await runtime.wait_caught_up(timeout_s=20)
        assert decoding.decoded - decoded == 32
        assert [decoding.kept(log) for log in logs] == [0] * len(logs)
    finally:
        await runtime.stop()
    assert [decoding.readers(log) for log in logs] == [0] * len(logs)
    assert await pg_pool.fetchval("SELECT count(*) FROM event_archive") == 32


async def test_the_read_side_runs_unchanged_on_a_redis_cluster(
    clustered: RedisConnection, cluster_url: str, pg_pool: asyncpg.Pool
) -> None:
    """Each partition's subscriber is attached to the node that owns its slot."""
    store = RedisEventStore(clustered, fresh_keys(), REGISTRY, wait_fsync_ms=None)
    for n in range(6):
        await store.append(
            f"conversation-k{n}", [new(started(f"k{n}")), *batch(2)], expected_version=0, origin=ORIGIN
        )
    runtime = HandlerRuntime(clustered, cluster_url, store.keys, store.registry)
    runtime.add_projectors(pg_pool, PROJECTORS, poll_ms=20)
    await runtime.start()
    try:
        assert await runtime.wait_caught_up(timeout_s=30)
    finally:
        await runtime.stop()

    assert await pg_pool.fetchval("SELECT count(*) FROM conversations") == 6
    assert await pg_pool.fetchval("SELECT count(*) FROM event_archive") == 18
    nodes = {clustered.client.get_node_from_key(k.log).name for k in store.keys.all_partitions()}
    assert len(nodes) > 1  # the partitions really are spread over several nodes


async def test_an_event_id_reused_in_another_partition_is_archived_twice_not_dead_lettered(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> None:
    """Regression: the archive's unique index on the event id alone made such an entry poison. Two
    partitions cannot check each other atomically (two Cluster shards), so ids are unique per stream."""
    store = standalone_store
    names = [f"conversation-r{n}" for n in range(50)]
    first = names[0]
    other = next(
        s for s in names if store.keys.for_stream(s).partition != store.keys.for_stream(first).partition
    )
    reused = new(started("r"), event_id="reused-id")
    await store.append(first, [reused], expected_version=0, origin=ORIGIN)
    await store.append(other, [reused], expected_version=0, origin=ORIGIN)
    runtime = HandlerRuntime(store._redis, redis_url, store.keys, store.registry)
    runtime.add_projectors(pg_pool, PROJECTORS, poll_ms=20)
    await runtime.start()
    try:
        assert await runtime.wait_caught_up(timeout_s=20)
    finally:
        await runtime.stop()

    archived = await pg_pool.fetch("SELECT stream FROM event_archive WHERE event_id = 'reused-id' ORDER BY 1")
    assert [r["stream"] for r in archived] == sorted([first, other])
    assert sum(w.dead_lettered for w in runtime.workers) == 0
