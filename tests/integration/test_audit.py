"""Tampering with the log is found by the audit; foreign entries are reported, never crashed on."""

from __future__ import annotations

import os
import subprocess
import sys

from infra.audit import AuditReport, verify_store
from infra.event_store import RedisEventStore
from infra.redis_cmds import xrange
from tests.support.events import ORIGIN, batch

STREAM = "conversation-audited"


async def filled(store: RedisEventStore) -> RedisEventStore:
    await store.append(STREAM, batch(3), expected_version=0, origin=ORIGIN)
    await store.append("workflow-w1", batch(2), expected_version=0, origin=ORIGIN)
    return store


async def audit(store: RedisEventStore) -> AuditReport:
    return await verify_store(store)


def kinds(report: AuditReport) -> set[str]:
    return {p.kind for p in report.problems}


async def rewrite_stream(store: RedisEventStore, version: int, old: bytes, new: bytes) -> None:
    """What an attacker with Redis access does: rebuild the stream with one entry edited."""
    key = store.keys.for_stream(STREAM).stream(STREAM)
    client = await store._redis.client_for_key(key)
    entries = await xrange(client, key, "-")
    await client.delete(key)
    for entry_id, fields in entries:
        raw = fields[b"event"]
        if entry_id == f"{version}-0".encode():
            raw = raw.replace(old, new)
        await client.execute_command("XADD", key, entry_id, "event", raw)


async def test_an_untouched_store_verifies(store: RedisEventStore) -> None:
    report = await audit(await filled(store))

    assert report.problems == []
    assert (report.streams, report.events, report.log_entries) == (2, 5, 5)


async def test_an_edited_payload_fails_the_audit_at_its_place(store: RedisEventStore) -> None:
    await filled(store)
    await rewrite_stream(store, 2, b"msg 1", b"msg X")

    report = await audit(store)

    assert {"hash", "missing_in_log", "log_mismatch"} <= kinds(report)
    assert report.problems[0].where == f"{STREAM}@2"


async def test_an_entry_deleted_from_the_log_fails_the_audit(store: RedisEventStore) -> None:
    await filled(store)
    keys = store.keys.for_stream(STREAM)
    client = await store._redis.client_for_key(keys.log)
    first = (await xrange(client, keys.log, "-"))[0][0]
    await client.execute_command("XDEL", keys.log, first)

    report = await audit(store)

    assert kinds(report) == {"missing_in_log"}


async def test_an_entry_deleted_from_an_aggregate_stream_fails_the_audit(store: RedisEventStore) -> None:
    await filled(store)
    key = store.keys.for_stream(STREAM).stream(STREAM)
    client = await store._redis.client_for_key(key)
    await client.execute_command("XDEL", key, "2-0")

    report = await audit(store)

    assert {"gap", "prevhash", "log_mismatch"} <= kinds(report)


async def test_garbage_from_a_foreign_producer_is_reported_not_crashed_on(store: RedisEventStore) -> None:
    await filled(store)
    keys = store.keys.for_stream(STREAM)
    client = await store._redis.client_for_key(keys.log)
    await client.execute_command("XADD", keys.log, "*", "event", b"\xff\x00 not json")
    await client.execute_command("XADD", keys.log, "*", "payload", "{}")
    await client.execute_command("XADD", keys.log, "*", "event", '{"hello": "world"}')

    report = await audit(store)

    assert report.problems == []
    assert [p.kind for p in report.foreign] == ["foreign", "foreign", "foreign"]
    assert report.log_entries == 8


def run_cli(
    store: RedisEventStore, redis_url: str, database_url: str, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "AIWF_KEY_PREFIX": store.keys.prefix,
        "AIWF_PARTITIONS": str(store.keys.partitions),
    }
    command = [sys.executable, "-m", "infra.cli", "audit", "verify", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


async def test_the_audit_command_exits_non_zero_naming_the_first_broken_place(
    standalone_store: RedisEventStore, redis_url: str, database_url: str
) -> None:
    store = await filled(standalone_store)
    assert run_cli(store, redis_url, database_url).returncode == 0
    await rewrite_stream(store, 3, b"msg 2", b"msg Z")

    result = run_cli(store, redis_url, database_url)

    assert result.returncode == 1
    assert f"first broken place: {STREAM}@3" in result.stderr


async def test_the_audit_command_fails_on_foreign_entries_unless_allowed(
    standalone_store: RedisEventStore, redis_url: str, database_url: str
) -> None:
    store = await filled(standalone_store)
    keys = store.keys.for_stream(STREAM)
    await store._redis.client.execute_command("XADD", keys.log, "*", "event", "garbage")

    assert run_cli(store, redis_url, database_url).returncode == 1
    allowed = run_cli(store, redis_url, database_url, "--allow-foreign")
    assert allowed.returncode == 0
    assert "1 foreign entries" in allowed.stdout
