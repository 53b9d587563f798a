"""External consumers on real servers (the machine's Redis and the embedded Valkey): the user a consumer
gets reads and acknowledges its group on the partition logs and is refused everything else."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis, RedisCluster
from redis.exceptions import AuthenticationError, ConnectionError, NoPermissionError, ResponseError

from domain.catalog import REGISTRY
from infra.consumers import (
    ConsumerError,
    create_consumer,
    foreign_consumers,
    list_consumers,
    revoke_consumer,
    user_of,
)
from infra.embedded import start_valkey
from infra.event_store import RedisEventStore
from infra.keys import KeySpace
from infra.redis_conn import RedisConnection, connect
from tests.support.events import ORIGIN, batch

STREAM = "conversation-read-from-outside"


@pytest.fixture(params=["redis", "embedded-valkey"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[tuple[RedisConnection, str]]:
    url: str = request.getfixturevalue("redis_url" if request.param == "redis" else "aof_valkey_url")
    conn = await connect(url)
    yield conn, url
    await conn.close()


@pytest.fixture
async def keys(server: tuple[RedisConnection, str]) -> AsyncIterator[KeySpace]:
    """A key prefix of the test's own; its users and keys are gone afterwards."""
    conn, _ = server
    space = KeySpace(prefix=f"t{uuid.uuid4().hex[:10]}", partitions=2)
    yield space
    for user in await conn.client.execute_command("ACL", "USERS"):
        if user.decode().startswith(f"{space.prefix}-consumer-"):
            await conn.client.execute_command("ACL", "DELUSER", user)
    async for key in conn.client.scan_iter(match=f"{space.prefix}:*"):
        await conn.client.delete(key)


async def filled(conn: RedisConnection, keys: KeySpace) -> RedisEventStore:
    store = RedisEventStore(conn, keys, REGISTRY, wait_fsync_ms=None)
    await store.append(STREAM, batch(3), expected_version=0, origin=ORIGIN)
    return store


async def test_the_consumer_reads_and_acknowledges_its_group_on_a_partition_log(
    server: tuple[RedisConnection, str], keys: KeySpace
) -> None:
    conn, url = server
    store = await filled(conn, keys)
    log = keys.for_stream(STREAM).log
    grant = await create_consumer(conn, keys, url, "analytics")
    consumer = Redis.from_url(grant.url)
    try:
        [[_, entries]] = await consumer.xreadgroup("analytics", "worker-1", {log: ">"}, count=10)
        acked = await consumer.xack(log, "analytics", *[entry_id for entry_id, _ in entries])
        pending = await consumer.xpending(log, "analytics")
        claimed = await consumer.xautoclaim(log, "analytics", "worker-2", 0, "0-0")
        length = await consumer.xlen(log)
        groups = await consumer.xinfo_groups(log)
    finally:
        await consumer.aclose()

    assert [fields[b"event"] for _, fields in entries] == [e.raw for e in await store.read_stream(STREAM)]
    assert (acked, pending["pending"], claimed[1], length) == (3, 0, [], 3)
    assert [g["name"] for g in groups] == [b"analytics"]
    assert grant.user == user_of(keys, "analytics")
    assert grant.persisted == bool((await conn.client.config_get("aclfile")).get("aclfile"))


def refused_commands(keys: KeySpace) -> list[tuple[Any, ...]]:
    log, partition = keys.for_stream(STREAM).log, keys.for_stream(STREAM)
    return [
        ("XADD", log, "*", "event", "{}"),
        ("DEL", log),
        ("XDEL", log, "1-0"),
        ("XTRIM", log, "MAXLEN", "0"),
        ("XGROUP", "DESTROY", log, "analytics"),
        ("XGROUP", "CREATE", log, "mine", "0"),
        ("XGROUP", "SETID", log, "analytics", "0"),
        ("FLUSHALL",),
        ("XRANGE", partition.stream(STREAM), "-", "+"),  # an aggregate stream
        ("HGETALL", partition.ids),  # the event-id index the store deduplicates with
        ("HGETALL", partition.heads),
        ("HGETALL", keys.meta),
        ("XRANGE", partition.dlq, "-", "+"),
        ("GET", partition.lease("projection.conversations")),
        ("XRANGE", f"{keys.prefix}:{{p0}}:s:conversation-x:log", "-", "+"),  # shaped like a log, is not
        ("KEYS", "*"),
        ("SCAN", "0"),
        ("EVAL", "return redis.call('DEL', KEYS[1])", "1", log),
        ("CONFIG", "GET", "*"),
        ("ACL", "LIST"),
        ("PUBLISH", "aiwf", "x"),
        ("CLIENT", "KILL", "TYPE", "normal"),
    ]


async def test_the_consumer_is_refused_writes_other_keys_and_other_commands(
    server: tuple[RedisConnection, str], keys: KeySpace
) -> None:
    conn, url = server
    await filled(conn, keys)
    grant = await create_consumer(conn, keys, url, "analytics")
    consumer = Redis.from_url(grant.url)
    outcomes: dict[str, str] = {}
    try:
        for command in refused_commands(keys):
            try:
                await consumer.execute_command(*command)
                outcomes[" ".join(map(str, command[:2]))] = "allowed"
            except NoPermissionError:
                outcomes[" ".join(map(str, command[:2]))] = "NOPERM"
    finally:
        await consumer.aclose()

    assert set(outcomes.values()) == {"NOPERM"}, outcomes
    assert await conn.client.xlen(keys.for_stream(STREAM).log) == 3


async def test_revoking_closes_the_door_and_destroys_the_groups(
    server: tuple[RedisConnection, str], keys: KeySpace
) -> None:
    conn, url = server
    await filled(conn, keys)
    grant = await create_consumer(conn, keys, url, "analytics", from_start=False)
    listed = await list_consumers(conn, keys)
    connected = Redis.from_url(grant.url)
    await connected.ping()

    await revoke_consumer(conn, keys, "analytics")

    with pytest.raises((ConnectionError, AuthenticationError, ResponseError)):
        await connected.ping()  # the server closed it; the reconnection is refused
    await connected.aclose()
    with pytest.raises(ConsumerError, match="no consumer 'analytics'"):
        await revoke_consumer(conn, keys, "analytics")
    assert [(c.name, c.enabled) for c in listed] == [("analytics", True)]
    assert [(g.exists, g.lag, g.pending) for g in listed[0].groups] == [(True, 0, 0), (True, 0, 0)]
    assert await list_consumers(conn, keys) == []
    assert [await conn.client.xinfo_groups(p.log) for p in keys.all_partitions()] == [[], []]


async def test_a_consumer_can_read_one_of_our_groups_and_list_flags_it(
    server: tuple[RedisConnection, str], keys: KeySpace
) -> None:
    """Redis ACLs cannot restrict groups: this is the hole docs/consumers.md names, and what we see of it."""
    conn, url = server
    await filled(conn, keys)
    log = keys.for_stream(STREAM).log
    await conn.client.xgroup_create(log, "projection.conversations", "0")
    await conn.client.xreadgroup("projection.conversations", "host-42-a1b2c3", {log: ">"}, count=1)
    grant = await create_consumer(conn, keys, url, "nosy")
    consumer = Redis.from_url(grant.url)
    try:
        await consumer.xreadgroup("projection.conversations", "nosy-reader", {log: ">"}, count=1)
    finally:
        await consumer.aclose()

    found = await foreign_consumers(conn, keys, lambda name: name.startswith("host-"))

    assert [(f.group, f.consumer, f.pending) for f in found] == [
        ("projection.conversations", "nosy-reader", 1)
    ]


async def test_a_consumer_of_the_embedded_valkey_outlives_its_restart(tmp_path: Path) -> None:
    keys = KeySpace(prefix="aiwf", partitions=2)
    valkey = start_valkey(tmp_path)
    try:
        conn = await connect(valkey.url)
        grant = await create_consumer(conn, keys, valkey.url, "kept")
        await conn.close()
    finally:
        valkey.stop()
    restarted = start_valkey(tmp_path)
    try:
        password = grant.url.split(":")[2].split("@")[0]
        port = restarted.url.rsplit(":", 1)[1]
        consumer = Redis.from_url(f"redis://{grant.user}:{password}@127.0.0.1:{port}/0")
        groups = await consumer.xinfo_groups(keys.partition(0).log)
        await consumer.aclose()
    finally:
        restarted.stop()

    assert grant.persisted
    assert [g["name"] for g in groups] == [b"kept"]


def aiwf_consumers(*args: str, redis_url: str, prefix: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": redis_url, "AIWF_KEY_PREFIX": prefix, "AIWF_PARTITIONS": "2"}
    env.pop("DATABASE_URL", None)  # the consumers commands never need PostgreSQL
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", "consumers", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_cli_creates_lists_and_revokes_with_clear_errors(
    server: tuple[RedisConnection, str], keys: KeySpace
) -> None:
    _, url = server
    run = lambda *args: aiwf_consumers(*args, redis_url=url, prefix=keys.prefix)  # noqa: E731
    bad_name = run("create", "Not.Valid")
    created = run("create", "bi-team", "--from-now")
    twice = run("create", "bi-team")
    listed = run("list")
    revoked = run("revoke", "bi-team")
    unknown = run("revoke", "bi-team")

    assert (bad_name.returncode, twice.returncode, unknown.returncode) == (2, 2, 2)
    assert "consumer name 'Not.Valid': expected 1 to 40 lower-case letters" in bad_name.stderr
    assert "consumer 'bi-team' exists" in twice.stderr
    assert "no consumer 'bi-team'" in unknown.stderr
    assert created.returncode == 0, created.stderr
    consumer_url = created.stdout.splitlines()[1]
    assert consumer_url.startswith(f"redis://{keys.prefix}-consumer-bi-team:")
    assert "shown once" in created.stderr
    assert listed.returncode == 0
    assert [line.split()[:3] for line in listed.stdout.splitlines()[1:]] == [
        ["bi-team", "yes", "0"],
        ["bi-team", "yes", "1"],
    ]
    assert revoked.returncode == 0, revoked.stderr
    assert "Traceback" not in bad_name.stderr + unknown.stderr


@pytest.mark.parametrize("command", [["consumers"], ["consumers", "create"], ["consumers", "list"]])
def test_the_consumers_commands_have_help(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli", *command, "--help"], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0
    assert "usage: aiwf consumers" in result.stdout


@pytest.mark.cluster
async def test_on_a_cluster_every_node_knows_the_consumer(
    clustered: RedisConnection, cluster_url: str
) -> None:
    keys = KeySpace(prefix=f"t{uuid.uuid4().hex[:10]}", partitions=4)
    await filled(clustered, keys)
    grant = await create_consumer(clustered, keys, cluster_url, "spread")
    consumer = RedisCluster.from_url(grant.url)
    try:
        read = [
            await consumer.xreadgroup("spread", "c1", {p.log: ">"}, count=10) for p in keys.all_partitions()
        ]
        with pytest.raises(NoPermissionError):
            await consumer.xadd(keys.for_stream(STREAM).log, {"event": "{}"})
    finally:
        await consumer.aclose()
        await revoke_consumer(clustered, keys, "spread")
        for partition in keys.all_partitions():
            await clustered.client.delete(partition.log, partition.heads, partition.ids)
        await clustered.client.delete(keys.for_stream(STREAM).stream(STREAM), keys.meta)

    assert sum(len(entries) for reply in read for _, entries in reply) == 3
