"""Chaos, round one: Valkey killed with SIGKILL under concurrent writers and restarted from its AOF.

Every append the store acknowledged must be in the log afterwards, each stream's versions contiguous and
its hash chain intact, with `appendfsync always`, and with `everysec` where the store waits for the fsync
(WAITAOF). What it does not cover: SIGKILL leaves the page cache to the kernel, so an `everysec` AOF
written but not fsynced survives here where a power loss would lose it; WAITAOF is what makes that case
safe, and it is what the second case exercises."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from domain.catalog import REGISTRY
from infra.audit import verify_store
from infra.event_store import RedisEventStore
from infra.redis_conn import connect
from tests.chaos.faults import KillableValkey
from tests.chaos.writers import Writer
from tests.integration.conftest import fresh_keys
from tests.support.cluster import free_port

WRITERS = 8
RUN_S = 1.0  # of writing before the kill, and again after the restart
DOWN_S = 0.3


@pytest.mark.parametrize(("fsync", "wait_fsync_ms"), [("always", None), ("everysec", 1000)])
async def test_every_acknowledged_append_survives_a_kill_9_of_valkey(
    servers_home: Path, fsync: str, wait_fsync_ms: int | None
) -> None:
    valkey = KillableValkey(free_port(), servers_home / f"chaos-{fsync}", fsync)
    valkey.start()
    redis = await connect(valkey.url)
    store = RedisEventStore(redis, fresh_keys(), REGISTRY, wait_fsync_ms=wait_fsync_ms)
    writers = [Writer(store, f"w{n}") for n in range(WRITERS)]
    stop = asyncio.Event()
    try:
        running = [asyncio.create_task(writer.run(stop)) for writer in writers]
        await asyncio.sleep(RUN_S)
        before = sum(len(w.acked) for w in writers)
        valkey.kill9()
        await asyncio.sleep(DOWN_S)
        restart_s = valkey.restart()
        await asyncio.sleep(RUN_S)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*running), timeout=30)

        stored = {w.name: [s.envelope.id for s in await store.read_stream(w.stream)] for w in writers}
        versions = {w.name: [s.envelope.version for s in await store.read_stream(w.stream)] for w in writers}
        audit = await verify_store(store)
    finally:
        await redis.close()
        valkey.stop()

    acked = sum(len(w.acked) for w in writers)
    lost = {w.name: sorted(set(w.acked) - set(stored[w.name])) for w in writers}
    stalls = sorted(w.longest_s for w in writers)
    print(
        f"\nappendfsync {fsync}, WAITAOF {wait_fsync_ms}: {acked} events acknowledged"
        f" ({before} before the kill), {sum(len(v) for v in lost.values())} lost,"
        f" {sum(w.failures for w in writers)} tries failed, restart {restart_s:.2f} s,"
        f" longest wait for an acknowledgement {stalls[-1]:.2f} s"
    )
    assert before > 0
    assert acked > before  # writes went on on both sides of the kill
    assert all(stall >= DOWN_S / 2 for stall in stalls)  # every writer waited through the fault
    assert not any(lost.values()), lost
    assert [w.diverged for w in writers if w.diverged] == []
    for w in writers:
        assert versions[w.name] == list(range(1, len(versions[w.name]) + 1)), w.name  # contiguous, unique
        assert stored[w.name][: len(w.acked)] == w.acked, w.name  # in the order acknowledged
    assert audit.problems == []


async def test_the_checker_sees_what_a_kill_9_loses_when_nothing_is_on_disk(servers_home: Path) -> None:
    """The control: with no AOF the log is gone after the kill, and the acknowledged events are found lost
    (were the check blind, the round above would prove nothing)."""
    valkey = KillableValkey(free_port(), servers_home / "chaos-off", "off")
    valkey.start()
    redis = await connect(valkey.url)
    store = RedisEventStore(redis, fresh_keys(), REGISTRY, wait_fsync_ms=None)
    writer = Writer(store, "w0")
    stop = asyncio.Event()
    try:
        running = asyncio.create_task(writer.run(stop))
        await asyncio.sleep(RUN_S / 2)
        valkey.kill9()
        stop.set()
        valkey.restart()
        await asyncio.wait_for(running, timeout=30)
        stored = {s.envelope.id for s in await store.read_stream(writer.stream)}
    finally:
        await redis.close()
        valkey.stop()

    assert writer.acked
    assert set(writer.acked) - stored
    assert writer.diverged is None or "expected version" in writer.diverged
