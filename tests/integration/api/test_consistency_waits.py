"""Read-your-writes waits (api/consistency.py): a checkpoint wakes the reads it satisfies and no other, a
lost notification is made up for by one query however many reads wait, and reads that give up leave
nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from api import consistency
from api.consistency import CHANNEL, ConsistencyWaiter


@contextlib.asynccontextmanager
async def waiter_of(pool: asyncpg.Pool, database_url: str) -> AsyncIterator[ConsistencyWaiter]:
    waiter = ConsistencyWaiter(pool, database_url)
    await waiter.start()
    try:
        yield waiter
    finally:
        await waiter.stop()


def projection() -> str:
    """A name of its own: the channel is shared by every schema, so other tests' checkpoints are heard."""
    return f"p{uuid.uuid4().hex[:10]}"


async def notify(pool: asyncpg.Pool, name: str, partition: int, log_id: str) -> None:
    await pool.execute("SELECT pg_notify($1, $2)", CHANNEL, f"{name} {partition} {log_id}")


async def settled(waiter: ConsistencyWaiter, name: str, partition: int, log_id: str) -> None:
    """Until the waiter has heard the notification (it arrives on its own connection)."""
    async with asyncio.timeout(5):
        while not waiter.reached(name, {partition: log_id}):  # noqa: ASYNC110 - no event to await
            await asyncio.sleep(0.005)


async def test_a_checkpoint_wakes_the_reads_it_satisfies_and_no_other(
    pg_pool: asyncpg.Pool, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consistency, "REFRESH_S", 30.0)  # only the notifications may wake them here
    name, other = projection(), projection()
    async with waiter_of(pg_pool, database_url) as waiter:
        done: list[int] = []

        async def read(n: int) -> None:
            assert await waiter.wait_for(name, {3: f"{n}-0"}, timeout_s=20)
            done.append(n)

        reads = [asyncio.create_task(read(n)) for n in range(1, 101)]
        await asyncio.sleep(0.05)
        await notify(pg_pool, other, 3, "100-0")  # another projection: nobody wakes
        await notify(pg_pool, name, 4, "100-0")  # another partition: nobody wakes
        await settled(waiter, name, 4, "100-0")
        await asyncio.sleep(0.05)
        assert done == []

        await notify(pg_pool, name, 3, "40-0")
        await settled(waiter, name, 3, "40-0")
        await asyncio.sleep(0.05)
        assert sorted(done) == list(range(1, 41))

        await notify(pg_pool, name, 3, "100-0")
        await asyncio.gather(*reads)
        assert sorted(done) == list(range(1, 101))
        assert waiter.waiting() == 0


async def test_a_token_of_several_partitions_waits_for_each(
    pg_pool: asyncpg.Pool, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consistency, "REFRESH_S", 30.0)
    name = projection()
    async with waiter_of(pg_pool, database_url) as waiter:
        read = asyncio.create_task(waiter.wait_for(name, {1: "5-0", 2: "7-3"}, timeout_s=20))
        await notify(pg_pool, name, 1, "5-0")
        await notify(pg_pool, name, 2, "7-2")
        await settled(waiter, name, 2, "7-2")
        await asyncio.sleep(0.05)
        assert not read.done()

        await notify(pg_pool, name, 2, "7-3")
        assert await asyncio.wait_for(read, 5)


async def test_a_lost_notification_is_made_up_for_by_one_query_for_every_read(
    pg_pool: asyncpg.Pool, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consistency, "REFRESH_S", 0.2)
    name = projection()
    async with waiter_of(pg_pool, database_url) as waiter:
        queries = 0
        refresh = waiter._refresh

        async def counted() -> None:
            nonlocal queries
            queries += 1
            await refresh()

        monkeypatch.setattr(waiter, "_refresh", counted)
        reads = [asyncio.create_task(waiter.wait_for(name, {0: "9-0"}, timeout_s=10)) for _ in range(200)]
        await asyncio.sleep(0.05)
        # Committed, but its notification never came.
        await pg_pool.execute(
            "INSERT INTO projection_checkpoints (projection, partition, position) VALUES ($1, 0, '9-0')", name
        )

        assert all(await asyncio.wait_for(asyncio.gather(*reads), 5))
        assert 1 <= queries <= 5  # one per refresh period, not one per read and period (200 or more)


async def test_reads_that_give_up_leave_nothing_behind(
    pg_pool: asyncpg.Pool, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consistency, "REFRESH_S", 0.05)
    name = projection()
    async with waiter_of(pg_pool, database_url) as waiter:
        timed_out = await asyncio.gather(
            *(waiter.wait_for(name, {0: f"{n}-0"}, timeout_s=0.3) for n in range(1, 301))
        )
        assert timed_out == [False] * 300
        assert waiter.waiting() <= 16  # swept once half of them are gone; the rest at the next sweep

        cancelled = asyncio.create_task(waiter.wait_for(name, {0: "1-0"}, timeout_s=10))
        await asyncio.sleep(0.05)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled

        await notify(pg_pool, name, 0, "1000-0")
        await settled(waiter, name, 0, "1000-0")
        assert waiter.waiting() == 0
