"""POST /v1/audit/verifications: an auditor verifies its own tenant's streams and the signed checkpoints
over HTTP, finds what was broken in them, and learns nothing of another tenant's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from api import verifications
from api.deps import Limits
from domain.envelope import EventOrigin
from infra.api_keys import create_key
from infra.checkpoints import Checkpointer
from infra.crypto.keyring import Keyring
from infra.event_store import RedisEventStore
from infra.redis_cmds import xrange
from tests.integration.api.conftest import Stack, running_stack
from tests.support.events import ORIGIN, batch

GLOBEX = EventOrigin(tenant="globex", source="aiwf://tests")
ACME_STREAMS = [f"conversation-acme{i}" for i in range(3)]
GLOBEX_STREAMS = [f"conversation-globex{i}" for i in range(3)]


@pytest.fixture
async def stack(
    standalone_store: RedisEventStore,
    pg_pool: asyncpg.Pool,
    database_url: str,
    redis_url: str,
    keyring: Keyring,
) -> AsyncIterator[Stack]:
    async with running_stack(
        standalone_store, pg_pool, database_url, redis_url, Limits(read_wait_s=5.0), keyring=keyring
    ) as running:
        running.keys["globex-auditor"], _ = await create_key(pg_pool, "globex", "auditor")
        yield running


async def filled(store: RedisEventStore) -> None:
    for stream in ACME_STREAMS:
        await store.append(stream, batch(3, stream), 0, ORIGIN)
    for stream in GLOBEX_STREAMS:
        await store.append(stream, batch(3, stream), 0, GLOBEX)


async def edit_stream(store: RedisEventStore, stream: str, version: int) -> None:
    """What an attacker with Redis access does: the stream rebuilt with one entry's text edited."""
    key = store.keys.for_stream(stream).stream(stream)
    client = await store.redis.client_for_key(key)
    entries = await xrange(client, key, "-")
    await client.delete(key)
    for entry_id, fields in entries:
        raw = fields[b"event"]
        if entry_id == f"{version}-0".encode():
            raw = raw.replace(f"{stream} {version - 1}".encode(), b"edited")
        await client.execute_command("XADD", key, entry_id, "event", raw)


async def test_an_untouched_tenant_verifies_with_every_signed_checkpoint(
    stack: Stack, keyring: Keyring
) -> None:
    await filled(stack.store)
    made = await Checkpointer(stack.store, stack.pool, keyring).checkpoint_all()

    async with stack.client("acme-auditor") as http:
        answer = await http.post("/v1/audit/verifications")

    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["ok"], report["problems"], report["problem_count"]) == (True, [], 0)
    assert (report["streams"], report["events"]) == (3, 9)  # the caller's own, not globex's
    assert (report["checkpoints"], report["signatures_checked"]) == (len(made), True)
    assert report["duration_ms"] >= 0


async def test_a_broken_chain_is_found_in_the_callers_own_stream_and_nothing_is_said_of_another_tenants(
    stack: Stack, keyring: Keyring
) -> None:
    await filled(stack.store)
    await Checkpointer(stack.store, stack.pool, keyring).checkpoint_all()
    await edit_stream(stack.store, ACME_STREAMS[1], 2)
    await edit_stream(stack.store, GLOBEX_STREAMS[0], 2)

    async with stack.client("acme-admin") as acme:
        mine = await acme.post("/v1/audit/verifications")
    async with stack.client("globex-auditor") as globex:
        theirs = await globex.post("/v1/audit/verifications")

    report = mine.json()
    assert report["ok"] is False
    assert {"hash", "missing_in_log", "log_mismatch"} <= {p["code"] for p in report["problems"]}
    assert (report["problems"][0]["stream"], report["problems"][0]["version"]) == (ACME_STREAMS[1], 2)
    assert {p["stream"] for p in report["problems"]} <= {ACME_STREAMS[1], None}
    assert "globex" not in mine.text
    assert {p["stream"] for p in theirs.json()["problems"]} <= {GLOBEX_STREAMS[0], None}
    assert "acme" not in theirs.text


async def test_a_rewritten_log_below_a_signed_checkpoint_is_found_without_saying_whose_entry_it_was(
    stack: Stack, keyring: Keyring
) -> None:
    await filled(stack.store)
    await Checkpointer(stack.store, stack.pool, keyring).checkpoint_all()
    log = stack.store.keys.for_stream(GLOBEX_STREAMS[0]).log
    first = (await xrange(stack.store.redis.client, log, "-"))[0][0]
    await stack.store.redis.client.execute_command("XDEL", log, first)

    async with stack.client("acme-auditor") as http:
        answer = await http.post("/v1/audit/verifications")

    codes = {p["code"] for p in answer.json()["problems"]}
    assert codes & {"checkpoint_root", "checkpoint_size"}
    assert all(p["stream"] is None for p in answer.json()["problems"])
    assert "globex" not in answer.text


async def test_a_second_verification_while_one_runs_is_told_to_retry(stack: Stack) -> None:
    async with stack.client("acme-auditor") as http, verifications.RUNNING:
        answer = await http.post("/v1/audit/verifications")

    assert (answer.status_code, answer.json()["type"]) == (
        429,
        "https://aiwf.dev/problems/verification-running",
    )
    assert answer.headers["retry-after"] == "5"


async def test_a_member_is_refused_a_verification(stack: Stack) -> None:
    async with stack.client("acme-member") as http:
        answer = await http.post("/v1/audit/verifications")

    assert (answer.status_code, answer.headers["content-type"]) == (403, "application/problem+json")


async def test_a_verification_past_its_cap_is_refused_with_a_problem_that_names_the_whole_audit(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, database_url: str, redis_url: str
) -> None:
    await filled(standalone_store)
    limits = Limits(read_wait_s=5.0, verify_max_entries=10)
    async with (
        running_stack(standalone_store, pg_pool, database_url, redis_url, limits) as small,
        small.client("acme-auditor") as http,
    ):
        answer = await http.post("/v1/audit/verifications")

    problem = answer.json()
    assert (answer.status_code, problem["type"]) == (422, "https://aiwf.dev/problems/verification-too-large")
    assert "18 entries" in problem["detail"]
    assert "aiwf audit verify" in problem["detail"]
