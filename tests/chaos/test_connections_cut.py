"""Chaos: the connections to Redis cut again and again, and slowed, under concurrent writers.

A command whose connection is cut may have run or not; the client retries it on a new connection, and the
append script's idempotency by event id must turn a batch that ran into a no-op, never a second copy."""

from __future__ import annotations

import asyncio
from pathlib import Path

from domain.catalog import REGISTRY
from infra.audit import verify_store
from infra.event_store import RedisEventStore
from infra.redis_conn import connect
from tests.chaos.faults import KillableValkey
from tests.chaos.proxy import FaultProxy
from tests.chaos.writers import Writer
from tests.integration.conftest import fresh_keys
from tests.support.cluster import free_port

WRITERS = 8
CUTS = 8
CUT_EVERY_S = 0.15
LATENCY_S = 0.02


async def test_cut_and_slowed_connections_lose_nothing_and_write_nothing_twice(servers_home: Path) -> None:
    valkey = KillableValkey(free_port(), servers_home / "chaos-cut", "always")
    valkey.start()
    proxy = FaultProxy(valkey.port)
    port = await proxy.start()
    redis = await connect(f"redis://127.0.0.1:{port}")
    store = RedisEventStore(redis, fresh_keys(), REGISTRY, wait_fsync_ms=None)
    writers = [Writer(store, f"w{n}") for n in range(WRITERS)]
    stop = asyncio.Event()
    try:
        running = [asyncio.create_task(writer.run(stop)) for writer in writers]
        for cut in range(CUTS):
            proxy.latency_s = LATENCY_S if cut % 2 else 0.0
            await asyncio.sleep(CUT_EVERY_S)
            proxy.reset_all()
        proxy.latency_s = 0.0
        await asyncio.sleep(CUT_EVERY_S)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*running), timeout=30)
        read = {w.name: await store.read_stream(w.stream) for w in writers}
        audit = await verify_store(store)
    finally:
        await redis.close()
        await proxy.stop()
        valkey.stop()

    acked = sum(len(w.acked) for w in writers)
    print(
        f"\n{CUTS} cuts ({proxy.resets} connections reset), {acked} events acknowledged,"
        f" {sum(w.failures for w in writers)} tries failed"
    )
    assert proxy.resets >= CUTS  # connections were open at each cut
    assert all(len(w.acked) >= 3 for w in writers)  # each wrote through the cuts, not only before them
    for w in writers:
        ids = [stored.envelope.id for stored in read[w.name]]
        versions = [stored.envelope.version for stored in read[w.name]]
        assert len(ids) == len(set(ids)), w.name  # nothing written twice
        assert versions == list(range(1, len(versions) + 1)), w.name
        assert ids[: len(w.acked)] == w.acked, w.name  # nothing acknowledged lost, in order
        assert w.diverged is None, w.diverged
    assert audit.problems == []
