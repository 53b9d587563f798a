"""Rate limits shared through Redis by several API processes (docs/adr/0033): together they never grant
more than one bucket does; one alone behaves as the process-local bucket did; concurrent requests of a key
make one Redis call at a time; with Redis out of reach each process limits on its own, and shares again
once Redis is back."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from redis.asyncio import Redis

from api import rate_limits
from api.auth import TokenBucket
from api.rate_limits import SharedBucket, chunk_of
from infra.keys import KeySpace
from infra.rate_buckets import Grant, lease_tokens
from infra.redis_conn import RedisConnection, ServerFacts
from tests.integration.conftest import fresh_keys
from tests.support.cluster import free_port


def bucket(redis: RedisConnection, keys: KeySpace, rate: float, burst: int) -> SharedBucket:
    return SharedBucket(redis, keys, "key", rate, burst)


async def test_one_process_alone_bursts_then_waits_as_the_local_bucket_did(
    standalone: RedisConnection,
) -> None:
    rate, burst = 5.0, 8
    shared, local = bucket(standalone, fresh_keys(), rate, burst), TokenBucket(rate, burst)

    shared_waits = [await shared.take("k1") for _ in range(burst + 1)]
    local_waits = [local.take("k1") for _ in range(burst + 1)]

    assert shared_waits[:burst] == local_waits[:burst] == [0.0] * burst
    assert 0 < shared_waits[burst] <= 1 / rate
    assert 0 < local_waits[burst] <= 1 / rate
    await asyncio.sleep(shared_waits[burst] + 0.02)
    assert await shared.take("k1") == 0.0  # the wait it announced was enough
    assert await shared.take("k2") == 0.0  # another key has its own bucket


async def test_two_processes_together_never_take_more_than_the_burst_and_the_rate(
    standalone: RedisConnection,
) -> None:
    rate, burst = 40.0, 20
    keys = fresh_keys()
    processes = [bucket(standalone, keys, rate, burst), bucket(standalone, keys, rate, burst)]
    admitted, began = 0, time.monotonic()
    while time.monotonic() - began < 1.0:
        for process in processes:
            admitted += await process.take("busy") == 0.0
        await asyncio.sleep(0.002)
    elapsed = time.monotonic() - began

    bound = burst + rate * elapsed
    assert admitted <= bound
    # Under-used by the tokens leased and unspent (both kept asking, so few expired): not by much.
    assert admitted >= bound - 2 * chunk_of(burst) - rate * 0.1


async def test_concurrent_requests_of_one_key_make_one_redis_call_at_a_time(
    standalone: RedisConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls, in_flight, most, asked = 0, 0, 0, []

    async def observed(redis: RedisConnection, key: str, rate: float, burst: int, want: int) -> Grant:
        nonlocal calls, in_flight, most
        calls, in_flight = calls + 1, in_flight + 1
        most = max(most, in_flight)
        asked.append(want)
        await asyncio.sleep(0.02)  # a slow round trip: every other request arrives meanwhile
        try:
            return await lease_tokens(redis, key, rate, burst, want)
        finally:
            in_flight -= 1

    monkeypatch.setattr(rate_limits, "lease_tokens", observed)
    # A loaded machine must not turn a slow grant into "Redis out of reach" (the local bucket then
    # answers), nor let a lease expire before its waiters run: what is asked for is what is tested.
    monkeypatch.setattr(rate_limits, "REDIS_WAIT_S", 10.0)
    keys = fresh_keys()
    shared = SharedBucket(standalone, keys, "key", 1.0, 100, lease_s=30.0)

    waits = await asyncio.gather(*(shared.take("k1") for _ in range(30)))
    left = await standalone.client.hget(keys.rate_bucket("key", "k1"), "t")  # type: ignore[misc]
    other = await asyncio.gather(*(shared.take("k2") for _ in range(5)))

    assert waits == [0.0] * 30
    assert other == [0.0] * 5
    assert most == 1
    # The first request leases a chunk; the second call asks for every request still waiting (20),
    # instead of a chunk at a time that wakes the rest only to wait again.
    assert asked == [shared.chunk, 30 - shared.chunk, shared.chunk]
    assert 70 <= float(left) < 71  # what was granted was spent: 30 tokens, and the refill of 0.04 s


async def test_a_refill_asks_for_the_waiting_requests_up_to_a_quarter_of_the_burst(
    standalone: RedisConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []

    async def observed(redis: RedisConnection, key: str, rate: float, burst: int, want: int) -> Grant:
        asked.append(want)
        await asyncio.sleep(0.01)
        return await lease_tokens(redis, key, rate, burst, want)

    monkeypatch.setattr(rate_limits, "lease_tokens", observed)
    # A loaded machine must not turn a slow grant into "Redis out of reach" (the local bucket then
    # answers), nor let a lease expire before its waiters run: what is asked for is what is tested.
    monkeypatch.setattr(rate_limits, "REDIS_WAIT_S", 10.0)
    shared = SharedBucket(standalone, fresh_keys(), "key", 1.0, 100, lease_s=30.0)

    waits = await asyncio.gather(*(shared.take("k1") for _ in range(64)))

    assert waits == [0.0] * 64
    # A chunk (10) first; then the requests waiting, at most a quarter of the burst (25), at least a chunk.
    assert asked == [10, 25, 25, 10]


async def test_a_lease_is_served_without_redis_and_expires(standalone: RedisConnection) -> None:
    keys = fresh_keys()
    shared = SharedBucket(standalone, keys, "key", 1.0, 40, lease_s=0.1)
    assert await shared.take("k1") == 0.0  # leases a chunk of 10
    left = await standalone.client.hget(keys.rate_bucket("key", "k1"), "t")  # type: ignore[misc]

    assert all(shared.leased("k1") for _ in range(shared.chunk - 1))
    assert not shared.leased("k1")  # spent
    assert float(left) < 40 - shared.chunk + 1  # Redis granted the chunk once
    assert await shared.take("k1") == 0.0
    await asyncio.sleep(0.12)
    assert not shared.leased("k1")  # what was left of the lease is dropped, not spent late


async def test_an_exhausted_bucket_is_answered_from_memory_until_it_has_a_token_again(
    standalone: RedisConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0

    async def counted(redis: RedisConnection, key: str, rate: float, burst: int, want: int) -> Grant:
        nonlocal calls
        calls += 1
        return await lease_tokens(redis, key, rate, burst, want)

    monkeypatch.setattr(rate_limits, "lease_tokens", counted)
    shared = bucket(standalone, fresh_keys(), 2.0, 1)
    assert await shared.take("k1") == 0.0
    waits = [await shared.take("k1") for _ in range(50)]

    assert all(0 < wait <= 0.5 for wait in waits)
    assert calls == 2  # one grant, one refusal: the other 49 refusals cost no round trip


def unreachable() -> RedisConnection:
    """A Redis nobody listens on: every command fails to connect."""
    facts = ServerFacts(product="redis", version="7.0.0", cluster=False, appendonly=False)
    return RedisConnection(client=Redis.from_url(f"redis://127.0.0.1:{free_port()}/0"), facts=facts)


async def test_without_redis_the_local_bucket_answers_and_redis_is_used_again_once_back(
    standalone: RedisConnection, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(rate_limits, "RETRY_REDIS_S", 0.1)
    keys, down = fresh_keys(), unreachable()
    shared = bucket(down, keys, 2.0, 3)

    with caplog.at_level(logging.INFO, logger=rate_limits.__name__):
        waits = [await shared.take("k1") for _ in range(20)]
        await asyncio.sleep(0.15)
        waits.append(await shared.take("k2"))  # Redis is tried again, and still fails
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]

        down.client = standalone.client  # Redis is back
        await asyncio.sleep(0.15)
        back = await shared.take("k3")

    assert waits[:3] == [0.0] * 3  # the process's own bucket: the burst, then waits
    assert all(wait > 0 for wait in waits[3:20])
    assert waits[20] == 0.0
    assert len(warnings) == 1  # once per outage, not per request
    assert back == 0.0
    assert await standalone.client.exists(keys.rate_bucket("key", "k3")) == 1
    assert any("answers again" in r.getMessage() for r in caplog.records)


async def test_the_lease_script_refills_by_the_servers_clock_and_expires_when_full_again(
    conn: RedisConnection,
) -> None:
    key = fresh_keys().rate_bucket("address", "2001:db8::/64")

    first = await lease_tokens(conn, key, 10.0, 5, 4)
    second = await lease_tokens(conn, key, 10.0, 5, 4)
    empty = await lease_tokens(conn, key, 10.0, 5, 4)
    await asyncio.sleep(0.25)
    refilled = await lease_tokens(conn, key, 10.0, 5, 4)
    ttl = await conn.client.pttl(key)

    assert (first.tokens, second.tokens, empty.tokens) == (4, 1, 0)
    assert 0 < empty.wait_s <= 0.1
    assert refilled.tokens == 2  # 0.25 s at 10/s
    assert 0 < ttl <= 1500  # gone once full again (0.5 s) and a second more
