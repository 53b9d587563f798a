"""A revoked key's open SSE streams are closed at the next key check (every `key_check_s`, at most the
revocation-cache period); the streams of other keys go on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from api.auth import KeyCache
from api.deps import Limits
from api.hub import StreamHub
from infra.api_keys import Principal, parse_token, revoke_key
from infra.event_store import RedisEventStore
from tests.integration.api.conftest import Stack, running_stack
from tests.integration.api.test_commands_and_reads import start
from tests.integration.api.test_read_cache import until
from tests.integration.api.test_streams_and_contracts import say

CHECK_S = 0.2


@pytest.fixture
async def checking(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, database_url: str, redis_url: str
) -> AsyncIterator[Stack]:
    limits = Limits(read_wait_s=5.0, key_check_s=CHECK_S)
    async with running_stack(standalone_store, pg_pool, database_url, redis_url, limits) as stack:
        yield stack


class Listener:
    """An SSE client that keeps every line, and knows when the server ended the stream."""

    def __init__(self, stack: Stack, who: str, path: str) -> None:
        self.lines: list[str] = []
        self.ended = asyncio.Event()
        self.task = asyncio.create_task(self._listen(stack, who, path))

    async def _listen(self, stack: Stack, who: str, path: str) -> None:
        async with stack.client(who) as http, http.stream("GET", path) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                self.lines.append(line)
        self.ended.set()

    def data(self) -> list[str]:
        return [line for line in self.lines if line.startswith("data:")]


@contextlib.asynccontextmanager
async def listening(stack: Stack, who: str, path: str) -> AsyncIterator[Listener]:
    listener = Listener(stack, who, path)
    try:
        yield listener
    finally:
        listener.task.cancel()
        await asyncio.gather(listener.task, return_exceptions=True)


async def test_a_revoked_keys_open_streams_are_closed_and_get_nothing_more(
    checking: Stack, pg_pool: asyncpg.Pool
) -> None:
    cid = (await start(checking, "acme-member"))["conversation_id"]
    own = (await start(checking, "globex-member"))["conversation_id"]
    async with (
        listening(checking, "acme-member", "/v1/stream") as tenant_stream,
        listening(checking, "acme-member", f"/v1/conversations/{cid}/stream") as conversation_stream,
        listening(checking, "globex-member", "/v1/stream") as untouched,
    ):
        await checking.subscribed(3)
        await say(checking, cid, "avant")
        await until(lambda: len(tenant_stream.data()) == 1 and len(conversation_stream.data()) == 2)

        [key_id, _] = parse_token(checking.keys["acme-member"]) or ["", ""]
        assert await revoke_key(pg_pool, key_id)
        async with asyncio.timeout(5 * CHECK_S + 2):
            await tenant_stream.ended.wait()
            await conversation_stream.ended.wait()
        async with checking.client("acme-admin") as admin:  # another key of the tenant writes on
            await admin.post(f"/v1/conversations/{cid}/messages", json={"text": "après"})
        async with checking.client("globex-member") as globex, checking.client("acme-member") as revoked:
            await globex.post(f"/v1/conversations/{own}/messages", json={"text": "toujours là"})
            again = await revoked.get("/v1/conversations")
        await asyncio.sleep(0.5)

    assert tenant_stream.lines[-2:] == [": closed: the API key was revoked", ""]
    assert conversation_stream.lines[-2:] == [": closed: the API key was revoked", ""]
    assert all("après" not in line for line in tenant_stream.lines + conversation_stream.lines)
    assert not untouched.ended.is_set()
    assert any("toujours l" in line for line in untouched.data())
    assert again.status_code == 401  # no coming back on the cached key


class FailingKeys:
    async def authenticate(self, token: str) -> Principal | None:
        raise ConnectionError("PostgreSQL is down")

    async def active(self, key_ids: Any) -> set[str]:
        raise ConnectionError("PostgreSQL is down")


async def test_streams_whose_key_cannot_be_checked_for_two_periods_are_closed() -> None:
    hub = StreamHub(SimpleNamespace(redis=None), key_check_s=0.05)  # type: ignore[arg-type]
    keys = KeyCache(FailingKeys())
    sub = hub.subscribe("acme", key_id="k1")
    anonymous = hub.subscribe("acme")  # no key to check (the hub's own tests)

    await hub.check_keys(keys)
    assert sub.is_open()  # one failed check: kept, retried
    await asyncio.sleep(0.11)
    await hub.check_keys(keys)

    assert sub.closed == "the API key could not be checked"
    assert anonymous.is_open()
    assert hub.subscribers == 1


async def test_a_stream_of_a_key_whose_revocation_was_just_heard_is_closed_as_it_subscribes() -> None:
    # Its request was authenticated before the revocation was heard; its subscription comes after.
    hub = StreamHub(SimpleNamespace(redis=None))  # type: ignore[arg-type]
    hub.on_key_revoked("k1")

    late = hub.subscribe("acme", key_id="k1")
    other = hub.subscribe("acme", key_id="k2")

    assert late.closed == "the API key was revoked"
    assert other.is_open()
    assert hub.subscribers == 1
