"""Sealed vs plain events, in the same run on the same Redis: appends of sensitive messages (each sealed
under its conversation's key) against the very same appends through a store without a cipher, and reads
that open them against plain reads. Conversations hold several messages, as in the main job, so a data
key is made once per conversation and then cached.

    python -m bench.sealing_bench [--conversations N] [--messages M]

Goal (issue 12): sealed appends at most 10 % slower than plain ones.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.report import Row, render, verdict
from domain.catalog import REGISTRY
from domain.conversation_events import UserMessageReceived
from domain.envelope import EventOrigin, NewEvent
from domain.ids import uuid7
from domain.types import Sensitivity
from infra.crypto.datakeys import DataKeys
from infra.crypto.events import EventCipher
from infra.crypto.keyring import load_keyring
from infra.event_store import RedisEventStore
from infra.keys import KeySpace
from infra.redis_conn import RedisConnection, connect

ORIGIN = EventOrigin(tenant="bench", source="aiwf://bench")
TEXT = "Virement reçu sur le RIP 00799999001234567845 de la SARL Atlas : 99960 DA, facture #2024-311."
GOAL = 1.10


def messages(count: int) -> list[NewEvent]:
    now = datetime.now(UTC)
    return [
        NewEvent(
            data=UserMessageReceived(
                message_id=uuid7(), text=TEXT, sensitivity=Sensitivity.SENSITIVE, received_at=now
            ),
            id=uuid7(),
            time=now,
        )
        for _ in range(count)
    ]


async def appends(store: RedisEventStore, conversations: int, per: int) -> float:
    """Seconds to append `per` messages, one at a time, to each of `conversations` streams, 16 at once."""
    streams = [f"conversation-{uuid.uuid4().hex}" for _ in range(conversations)]
    planned = {s: messages(per) for s in streams}
    slots = asyncio.Semaphore(16)

    async def one(stream: str) -> None:
        async with slots:
            for version, event in enumerate(planned[stream]):
                await store.append(stream, [event], version, ORIGIN)

    started = time.perf_counter()
    await asyncio.gather(*(one(s) for s in streams))
    elapsed = time.perf_counter() - started
    store.bench_streams = streams  # type: ignore[attr-defined]
    return elapsed


async def reads(store: RedisEventStore) -> float:
    streams: Sequence[str] = store.bench_streams  # type: ignore[attr-defined]
    started = time.perf_counter()
    for stream in streams:
        await store.read_stream(stream)
    return time.perf_counter() - started


async def best_of(runs: int, work: Callable[[], Awaitable[float]]) -> float:
    return min([await work() for _ in range(runs)])


async def main(conversations: int, per: int) -> None:
    conn: RedisConnection = await connect(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    keys = KeySpace(prefix=prefix, partitions=8)
    keyring = load_keyring(Path(tempfile.mkdtemp()) / "keyring.json", from_environment=None, create=True)
    plain = RedisEventStore(conn, keys, REGISTRY, wait_fsync_ms=None)
    sealed = RedisEventStore(
        conn, keys, REGISTRY, wait_fsync_ms=None, cipher=EventCipher(DataKeys(conn.client, keys, keyring))
    )
    try:
        await appends(plain, 20, 5)  # warm up the script cache and the connection pool
        events = conversations * per
        plain_s = await best_of(3, lambda: appends(plain, conversations, per))
        plain_read_s = await reads(plain)
        sealed_s = await best_of(3, lambda: appends(sealed, conversations, per))
        sealed_read_s = await reads(sealed)
    finally:
        async for key in conn.client.scan_iter(match=f"{prefix}:*", count=1000):
            await conn.client.delete(key)
        await conn.close()
    ratio = sealed_s / plain_s
    rows = [
        Row(
            measure=f"append, {events:,} sensitive messages in {conversations:,} conversations",
            result=f"{events / sealed_s:,.0f} ev/s sealed",
            baseline=f"{events / plain_s:,.0f} ev/s plain",
            ratio=ratio,
            goal=f"≤ {GOAL:.2f}x",
            verdict=verdict(ratio <= GOAL),
        ),
        Row(
            measure=f"read_stream of every conversation ({events:,} events)",
            result=f"{events / sealed_read_s:,.0f} ev/s opened",
            baseline=f"{events / plain_read_s:,.0f} ev/s plain",
            ratio=sealed_read_s / plain_read_s,
        ),
    ]
    print(render(rows))
    print(f"(best of 3 runs each; Redis at {conn.url or 'REDIS_URL'}; one data key per conversation)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--messages", type=int, default=10)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.conversations, arguments.messages))
