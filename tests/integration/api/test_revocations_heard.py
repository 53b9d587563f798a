"""Several API processes agree at once (docs/adr/0033): a revocation made anywhere is heard by every
process through PostgreSQL's NOTIFY, drops the key from its cache and closes its open streams without
waiting for the cache period; a lost LISTEN connection forgets every cached key; and the rate limit of a
key is one limit for all the processes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from api.auth import KeyCache, PostgresKeys
from api.consistency import ConsistencyWaiter
from api.deps import Limits
from api.server import api_services, server
from infra.api_keys import KEY_REVOKED, create_key, parse_token, revoke_key
from infra.event_store import RedisEventStore
from infra.stopping import STOP_TIMEOUT_S, bounded
from tests.integration.api.conftest import Stack, running_stack
from tests.integration.api.test_commands_and_reads import PROBLEM
from tests.integration.api.test_stream_revocation import listening
from tests.support.cluster import free_port

HEARD_S = 2.0  # well under the 30 s of the cache and of the streams' key check


@contextlib.asynccontextmanager
async def api_process(
    pool: asyncpg.Pool, database_url: str, limits: Limits
) -> AsyncIterator[tuple[KeyCache, ConsistencyWaiter]]:
    """What an API process holds for its keys: a cache, and the LISTEN connection that feeds it."""
    keys = KeyCache(PostgresKeys(pool))
    waiter = ConsistencyWaiter(
        pool, database_url, heard={KEY_REVOKED: keys.forget_key}, on_listen=keys.forget_all
    )
    await waiter.start()
    try:
        yield keys, waiter
    finally:
        await waiter.stop()


@contextlib.asynccontextmanager
async def second_api(stack: Stack, database_url: str, redis_url: str, limits: Limits) -> AsyncIterator[Stack]:
    """Another API process beside the stack's: the same Redis and PostgreSQL, its own caches and port."""
    port = free_port()
    async with api_services(stack.store, stack.pool, database_url, limits, stack.runtime.lag) as deps:
        api = server(deps, redis_url, "127.0.0.1", port)
        task = asyncio.create_task(api.serve())
        while not api.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.01)
        try:
            yield Stack(
                url=f"http://127.0.0.1:{port}",
                store=stack.store,
                pool=stack.pool,
                runtime=stack.runtime,
                hub=deps.hub,
                deps=deps,
                keys=stack.keys,
            )
        finally:
            api.should_exit = True
            await bounded(task, 3 * STOP_TIMEOUT_S, "second API server")


async def eventually(check: Callable[[], bool], within_s: float = HEARD_S) -> None:
    async with asyncio.timeout(within_s):
        while not check():  # noqa: ASYNC110 - polls state the code under test exposes, not an event
            await asyncio.sleep(0.02)


async def test_a_revocation_is_heard_by_every_process_at_once(
    pg_pool: asyncpg.Pool, database_url: str
) -> None:
    token, principal = await create_key(pg_pool, "acme", "member")
    other, _ = await create_key(pg_pool, "acme", "member")
    async with (
        api_process(pg_pool, database_url, Limits()) as (first, _),
        api_process(pg_pool, database_url, Limits()) as (second, _),
    ):
        for keys in (first, second):
            assert await keys.principal(token) == principal
            assert await keys.principal(other) is not None

        assert await revoke_key(pg_pool, principal.key_id)
        await eventually(lambda: not first.was_good(token) and not second.was_good(token))

        assert await first.principal(token) is None
        assert await second.principal(token) is None
        assert second.fresh(other) is not None  # another key of the tenant is not touched
        assert not await revoke_key(pg_pool, principal.key_id)  # revoked once only


async def test_a_lost_listen_connection_forgets_every_cached_key(
    pg_pool: asyncpg.Pool, database_url: str
) -> None:
    token, _ = await create_key(pg_pool, "acme", "member")
    async with api_process(pg_pool, database_url, Limits()) as (keys, waiter):
        assert await keys.principal(token) is not None
        await pg_pool.execute("SELECT pg_terminate_backend($1)", waiter.listener_pid)
        await eventually(lambda: not waiter.listening)

        await eventually(lambda: waiter.listening, within_s=5.0)

        assert keys.fresh(token) is None  # a revocation may have gone unheard while it was away
        assert await keys.principal(token) is not None  # still good: asked again, and kept


@pytest.fixture
async def two_apis(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, database_url: str, redis_url: str
) -> AsyncIterator[tuple[Stack, Stack]]:
    limits = Limits(read_wait_s=5.0, rate_per_s=0.5, burst=4)  # key_check_s stays 30 s
    async with (
        running_stack(standalone_store, pg_pool, database_url, redis_url, limits) as first,
        second_api(first, database_url, redis_url, limits) as second,
    ):
        yield first, second


async def test_a_key_revoked_through_one_process_is_refused_and_its_streams_closed_by_another(
    two_apis: tuple[Stack, Stack], pg_pool: asyncpg.Pool
) -> None:
    first, second = two_apis
    async with first.client() as via_first, second.client() as via_second:
        assert (await via_first.get("/v1/conversations")).status_code == 200
        assert (await via_second.get("/v1/conversations")).status_code == 200
    async with (
        listening(second, "acme-member", "/v1/stream") as revoked_stream,
        listening(second, "globex-member", "/v1/stream") as untouched,
    ):
        await second.subscribed(2)
        [key_id, _] = parse_token(first.keys["acme-member"]) or ["", ""]

        assert await revoke_key(pg_pool, key_id)
        async with asyncio.timeout(HEARD_S):
            await revoked_stream.ended.wait()
        async with first.client() as via_first, second.client() as via_second:
            answers = [
                (await via_first.get("/v1/conversations")),
                (await via_second.get("/v1/conversations")),
            ]

        assert revoked_stream.lines[-2:] == [": closed: the API key was revoked", ""]
        assert not untouched.ended.is_set()
    assert [a.status_code for a in answers] == [401, 401]
    assert all(a.headers["www-authenticate"] for a in answers)


async def test_two_processes_share_one_rate_limit_per_key(two_apis: tuple[Stack, Stack]) -> None:
    first, second = two_apis
    async with first.client() as via_first, second.client() as via_second:
        answers = [await api.get("/v1/conversations") for _ in range(4) for api in (via_first, via_second)]
        unknown = await via_second.get("/v1/conversations", headers={"Authorization": "Bearer aiwf_x_y"})
    async with second.client("globex-member") as globex:
        other_key = await globex.get("/v1/conversations")

    statuses = [a.status_code for a in answers]
    assert statuses.count(200) <= 4 + 1  # the burst, and at most one more second at 0.5/s
    assert statuses[:4] == [200] * 4
    refused = answers[-1]
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["status"] == 429
    assert unknown.status_code == 401
    assert other_key.status_code == 200  # a key of its own, a bucket of its own
