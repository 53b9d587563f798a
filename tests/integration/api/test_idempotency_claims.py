"""Idempotency-Key requests claim their key, run with no pool connection held, then store the answer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from api import idempotency
from api.idempotency import body_digest, once
from api.problems import ProblemError
from infra.postgres import create_pool, migrate

# The request's own time: records older than their TTL (a day) against the database's clock are expired,
# so a fixed date would turn these tests into others a day after it was written.
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def one_connection(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool of a single connection: a request that pins it starves everything else."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    pool = await create_pool(database_url, schema=schema, min_size=1, max_size=1)
    await migrate(pool)
    yield pool
    await pool.close()
    conn = await asyncpg.connect(database_url)
    await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await conn.close()


def request(now: datetime = NOW) -> dict[str, Any]:
    return {"tenant": "acme", "key": "k1", "scope": "POST /v1/x", "body": b"{}", "ttl_s": 86400.0, "now": now}


async def test_a_command_under_a_key_holds_no_pool_connection_while_it_runs(
    one_connection: asyncpg.Pool,
) -> None:
    """Regression: the whole append (with its retries) ran inside the key's transaction, so under load
    the pool starved. The command here needs the pool itself; holding a connection would deadlock."""

    async def command(_started_at: datetime) -> tuple[int, bytes]:
        async with asyncio.timeout(5):
            assert await one_connection.fetchval("SELECT 1") == 1
        return 202, b'{"ok": true}'

    assert await once(one_connection, **request(), run=command) == (202, b'{"ok": true}')


async def test_a_second_request_with_the_key_waits_for_the_first_answer_and_runs_nothing(
    pg_pool: asyncpg.Pool,
) -> None:
    gate, runs = asyncio.Event(), []

    async def command(started_at: datetime) -> tuple[int, bytes]:
        runs.append(started_at)
        await gate.wait()
        return 202, b'{"n": 1}'

    first = asyncio.create_task(once(pg_pool, **request(), run=command))
    await asyncio.sleep(0.1)
    second = asyncio.create_task(once(pg_pool, **request(), run=command))
    await asyncio.sleep(0.1)
    assert not second.done()  # waiting for the first, not running the command again
    gate.set()

    assert await first == await second == (202, b'{"n": 1}')
    assert runs == [NOW]


async def test_a_claim_whose_request_died_is_taken_over_with_the_first_runs_time(
    pg_pool: asyncpg.Pool,
) -> None:
    async def dies(_started_at: datetime) -> tuple[int, bytes]:
        raise asyncio.CancelledError  # the process is gone: nothing releases its claim

    await pg_pool.execute(
        "INSERT INTO idempotency_keys (tenant, key, scope, body_sha256, created_at, claim, claimed_until) "
        "VALUES ('acme', 'k1', 'POST /v1/x', $2, $1, 'dead', now() - interval '1 second')",
        NOW,
        body_digest(b"{}", b""),
    )
    seen: list[datetime] = []

    async def command(started_at: datetime) -> tuple[int, bytes]:
        seen.append(started_at)
        return 202, b"{}"

    later = NOW + timedelta(minutes=5)
    assert await once(pg_pool, **request(now=later), run=command) == (202, b"{}")
    assert seen == [NOW]  # the re-run decides with the first run's time: the same events, deduped


async def test_a_failed_command_stores_no_answer_and_the_next_request_runs_it(pg_pool: asyncpg.Pool) -> None:
    async def fails(_started_at: datetime) -> tuple[int, bytes]:
        raise ProblemError(409, "conflict", "Not possible in this state")

    async def works(_started_at: datetime) -> tuple[int, bytes]:
        return 202, b"{}"

    with pytest.raises(ProblemError):
        await once(pg_pool, **request(), run=fails)
    assert await pg_pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    assert await once(pg_pool, **request(), run=works) == (202, b"{}")


async def test_a_request_still_running_past_the_wait_is_answered_409_and_loses_nothing(
    pg_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idempotency, "IN_FLIGHT_WAIT_S", 0.2)
    gate = asyncio.Event()

    async def slow(_started_at: datetime) -> tuple[int, bytes]:
        await gate.wait()
        return 202, b'{"slow": 1}'

    first = asyncio.create_task(once(pg_pool, **request(), run=slow))
    await asyncio.sleep(0.05)
    with pytest.raises(ProblemError) as caught:
        await once(pg_pool, **request(), run=slow)
    gate.set()

    assert caught.value.status_code == 409
    assert await first == (202, b'{"slow": 1}')
    assert await once(pg_pool, **request(), run=slow) == (202, b'{"slow": 1}')


async def test_requests_racing_for_a_new_key_run_the_command_once_and_all_get_its_answer(
    pg_pool: asyncpg.Pool,
) -> None:
    """A new key is claimed by one INSERT without the advisory lock (issue 15); a request that took the
    locked path meanwhile must wait for the winner, never insert a second record or run again."""
    runs = []

    async def command(started_at: datetime) -> tuple[int, bytes]:
        runs.append(started_at)
        await asyncio.sleep(0.05)
        return 202, b'{"n": 1}'

    answers = await asyncio.gather(*(once(pg_pool, **request(), run=command) for _ in range(12)))

    assert answers == [(202, b'{"n": 1}')] * 12
    assert len(runs) == 1
    assert await pg_pool.fetchval("SELECT count(*) FROM idempotency_keys") == 1
