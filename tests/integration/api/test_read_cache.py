"""Conversation reads are cached per process and never outlive what the projector's notifications say."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import pytest

from api import consistency
from handlers.rebuild import replay
from projections.catalog import projector_named
from tests.integration.api.conftest import Stack
from tests.integration.api.test_commands_and_reads import start


async def read(stack: Stack, conversation_id: str, token: str | None = None) -> dict[str, object]:
    headers = {"X-Consistency-Token": token} if token else {}
    async with stack.client() as http:
        response = await http.get(f"/v1/conversations/{conversation_id}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_repeated_read_is_served_without_a_query_and_a_write_is_seen_at_once(stack: Stack) -> None:
    started = await start(stack)
    cid, cache = str(started["conversation_id"]), stack.deps.caches.conversations
    await read(stack, cid, str(started["consistency_token"]))
    hits = cache.hits
    assert (await read(stack, cid))["message_count"] == 0
    assert cache.hits == hits + 1

    async with stack.client() as http:
        sent = await http.post(f"/v1/conversations/{cid}/messages", json={"text": "Bonjour"})
    assert sent.status_code == 202
    fresh = await read(stack, cid, sent.json()["consistency_token"])  # read-your-writes, through the cache
    assert fresh["message_count"] == 1


async def test_another_tenant_never_gets_a_cached_row(stack: Stack) -> None:
    started = await start(stack)
    cid = str(started["conversation_id"])
    await read(stack, cid, str(started["consistency_token"]))
    async with stack.client("globex-member") as http:
        assert (await http.get(f"/v1/conversations/{cid}")).status_code == 404


async def test_a_rebuild_swap_drops_what_was_cached_from_the_old_tables(stack: Stack) -> None:
    started = await start(stack, title="Ventes")
    cid = str(started["conversation_id"])
    await read(stack, cid, str(started["consistency_token"]))
    await stack.pool.execute("UPDATE conversations SET title = 'tampered' WHERE conversation_id = $1", cid)
    stack.deps.caches.conversations = type(stack.deps.caches.conversations)(
        stack.deps.waiter, "conversation_views", lambda r: r.last_version
    )  # start cold, so the tampered row is what gets cached
    assert (await read(stack, cid))["title"] == "tampered"
    assert (await read(stack, cid))["title"] == "tampered"  # cached

    report = await replay(stack.pool, stack.store, projector_named("conversation_views"), "rebuild")
    assert report.swapped
    for _ in range(100):  # the swap's notification arrives at commit, asynchronously
        if (await read(stack, cid))["title"] == "Ventes":
            break
        await asyncio.sleep(0.02)
    assert (await read(stack, cid))["title"] == "Ventes"


async def test_while_the_listen_connection_is_down_nothing_is_cached_and_it_comes_back(
    stack: Stack, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consistency, "RELISTEN_FIRST_S", 3.0)  # long enough to observe the deaf reads
    started = await start(stack)
    cid, cache, waiter = str(started["conversation_id"]), stack.deps.caches.conversations, stack.deps.waiter
    await read(stack, cid, str(started["consistency_token"]))
    await read(stack, cid)  # cached now
    admin = await asyncpg.connect(database_url)
    try:
        # Only this waiter's: another suite on the same server keeps its own LISTEN connection.
        killed = await admin.fetchval("SELECT pg_terminate_backend($1)", waiter.listener_pid)
    finally:
        await admin.close()
    assert killed is True
    await until(lambda: not waiter.listening)

    hits = cache.hits
    async with stack.client() as http:  # committed while deaf: its notification is lost
        sent = await http.post(f"/v1/conversations/{cid}/messages", json={"text": "Bonjour"})
    assert sent.status_code == 202
    for _ in range(3):  # deaf: every read queries PostgreSQL
        await read(stack, cid)
    assert cache.hits == hits

    await until(lambda: waiter.listening)  # re-opened with backoff
    assert (await read(stack, cid, sent.json()["consistency_token"]))["message_count"] == 1
    assert (await read(stack, cid))["message_count"] == 1
    assert cache.hits > hits  # cached again


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")
