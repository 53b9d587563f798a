"""Event store fixtures: one fresh key prefix per test, on standalone Redis and on a real Cluster."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from domain.catalog import REGISTRY
from infra.crypto.datakeys import DataKeys
from infra.crypto.events import EventCipher
from infra.crypto.keyring import Keyring, load_keyring
from infra.event_store import RedisEventStore
from infra.keys import KeySpace
from infra.postgres import create_pool, migrate
from infra.redis_conn import RedisConnection, connect


@pytest.fixture(scope="session")
async def standalone(redis_url: str) -> AsyncIterator[RedisConnection]:
    conn = await connect(redis_url)
    yield conn
    await conn.close()


@pytest.fixture(scope="session")
async def clustered(cluster_url: str) -> AsyncIterator[RedisConnection]:
    conn = await connect(cluster_url)
    yield conn
    await conn.close()


def fresh_keys(partitions: int = 4) -> KeySpace:
    return KeySpace(prefix=f"t{uuid.uuid4().hex[:12]}", partitions=partitions)


@pytest.fixture(params=["standalone", "cluster"])
def conn(request: pytest.FixtureRequest) -> RedisConnection:
    """Contract tests run once against each backend."""
    name = "standalone" if request.param == "standalone" else "clustered"
    connection: RedisConnection = request.getfixturevalue(name)
    return connection


@pytest.fixture(scope="session")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Keyring:
    """One keyring for the session, as `aiwf run` makes it on a first start."""
    return load_keyring(
        tmp_path_factory.mktemp("keyring") / "keyring.json", from_environment=None, create=True
    )


def sealing_store(conn: RedisConnection, keys: KeySpace, keyring: Keyring) -> RedisEventStore:
    """A store as the platform runs it: sensitive fields sealed on append, opened on reads."""
    cipher = EventCipher(DataKeys(conn.client, keys, keyring))
    return RedisEventStore(conn, keys, REGISTRY, wait_fsync_ms=None, cipher=cipher)


@pytest.fixture
async def store(conn: RedisConnection, keyring: Keyring) -> AsyncIterator[RedisEventStore]:
    keys = fresh_keys()
    yield sealing_store(conn, keys, keyring)
    await _drop(conn, keys)


async def _drop(conn: RedisConnection, keys: KeySpace) -> None:
    async for key in conn.client.scan_iter(match=f"{keys.prefix}:*", count=1000):
        await conn.client.delete(key)


@pytest.fixture
async def standalone_store(standalone: RedisConnection, keyring: Keyring) -> AsyncIterator[RedisEventStore]:
    keys = fresh_keys()
    yield sealing_store(standalone, keys, keyring)
    await _drop(standalone, keys)


@pytest.fixture
async def pg_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool whose tables live in a schema of their own, migrated, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    pool = await create_pool(database_url, schema=schema, max_size=8)
    await migrate(pool)
    yield pool
    await pool.close()
    conn = await asyncpg.connect(database_url)
    await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await conn.close()
