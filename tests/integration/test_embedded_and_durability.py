"""The embedded default (no REDIS_URL, no DATABASE_URL) and the durability contract."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from domain.catalog import REGISTRY
from infra.event_store import DurabilityNotConfirmed, RedisEventStore
from infra.keys import KeySpace
from infra.redis_conn import connect
from infra.runtime import StartupError, check_partitions, open_infrastructure
from infra.settings import Settings
from tests.integration.conftest import fresh_keys
from tests.support.events import ORIGIN, batch


async def test_the_embedded_default_starts_both_servers_and_keeps_data_across_restarts(
    servers_home: Path,
) -> None:
    settings = Settings(data_dir=servers_home / "restart", partitions=4)
    events = batch(3)
    async with open_infrastructure(settings) as infra:
        assert any("embedded Valkey" in note for note in infra.notes)
        assert any("WAITAOF" in note for note in infra.notes)
        await infra.store.append("conversation-kept", events, expected_version=0, origin=ORIGIN)
        connection = await asyncpg.connect(infra.database_url)
        assert await connection.fetchval("SELECT 1") == 1
        await connection.close()

    async with open_infrastructure(settings) as infra:
        read = await infra.store.read_stream("conversation-kept")

    assert [e.envelope.id for e in read] == [e.id for e in events]


async def test_an_append_waits_for_the_fsync_and_says_so_when_it_cannot(aof_valkey_url: str) -> None:
    conn = await connect(aof_valkey_url)
    store = RedisEventStore(conn, fresh_keys(), REGISTRY, wait_fsync_ms=1000)
    events = batch(2)
    try:
        first = await store.append("conversation-d", batch(1), expected_version=0, origin=ORIGIN)
        await conn.client.config_set("appendonly", "no")
        with pytest.raises(DurabilityNotConfirmed):
            await store.append("conversation-d", events, expected_version=1, origin=ORIGIN)
        await conn.client.config_set("appendonly", "yes")

        retried = await store.append("conversation-d", events, expected_version=1, origin=ORIGIN)
    finally:
        await conn.client.config_set("appendonly", "yes")
        await conn.close()
    assert [p.version for p in first + retried] == [1, 2, 3]


async def test_a_different_partition_count_over_existing_data_refuses_to_start(redis_url: str) -> None:
    conn = await connect(redis_url)
    prefix = fresh_keys().prefix
    try:
        await check_partitions(conn, KeySpace(prefix=prefix, partitions=8))
        with pytest.raises(StartupError, match="AIWF_PARTITIONS=8"):
            await check_partitions(conn, KeySpace(prefix=prefix, partitions=16))
    finally:
        await conn.client.delete(KeySpace(prefix=prefix, partitions=8).meta)
        await conn.close()


def test_a_bad_setting_stops_the_cli_with_the_variable_named() -> None:
    env = {**os.environ, "AIWF_PARTITIONS": "lots"}
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli", "demo"], env=env, capture_output=True, text=True, check=False
    )

    assert result.returncode == 2
    assert "AIWF_PARTITIONS='lots' is not valid" in result.stderr
