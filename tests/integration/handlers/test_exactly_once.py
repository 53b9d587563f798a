"""Exactly-once read models on at-least-once delivery: crashes, dead consumers, poison, two processes."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import cast

import asyncpg
import pytest

from domain.envelope import Envelope
from handlers.app import HandlerRuntime
from handlers.managers.runner import ManagerProcessor
from handlers.managers.steps import ManagerDeps
from handlers.projector import Projector
from handlers.rebuild import replay
from handlers.runtime.lease import Lease
from handlers.runtime.records import LogRecord
from handlers.runtime.worker import WorkerConfig
from infra.event_store import RedisEventStore
from infra.redis_cmds import xrange
from projections.catalog import PROJECTORS, projector_named
from projections.read_model import ProjectorSpec
from tests.integration.conftest import fresh_keys
from tests.integration.handlers.conftest import FAST, FlakyProjector, runtime_for
from tests.support.events import ORIGIN, batch, new, started

VIEWS = projector_named("conversation_views")


async def publish(store: RedisEventStore, conversations: int, messages: int, *, first: int = 0) -> int:
    for n in range(first, first + conversations):
        events = [new(started(f"c{n}")), *batch(messages, text=f"c{n}")]
        await store.append(f"conversation-c{n}", events, expected_version=0, origin=ORIGIN)
    return conversations * (messages + 1)


async def counts(pool: asyncpg.Pool) -> tuple[int, int, int]:
    return (
        await pool.fetchval("SELECT count(*) FROM conversations"),
        await pool.fetchval("SELECT count(*) FROM messages"),
        await pool.fetchval("SELECT coalesce(sum(message_count), 0) FROM conversations"),
    )


async def checkpoint_events(pool: asyncpg.Pool, projection: str) -> int:
    return await pool.fetchval(
        "SELECT coalesce(sum(events), 0) FROM projection_checkpoints WHERE projection = $1", projection
    )


async def test_a_crash_between_commit_and_ack_changes_nothing_on_redelivery(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> None:
    published = await publish(standalone_store, 6, 4)
    projector = FlakyProjector(pg_pool, VIEWS, crash_after_commit=3)
    runtime = runtime_for(standalone_store, redis_url)
    runtime.add(projector, WorkerConfig(group=projector.group, ordered=True, **FAST))
    await runtime.start()
    try:
        assert await runtime.wait_caught_up(timeout_s=20)
    finally:
        await runtime.stop()

    assert projector.crashes_left == 0  # three batches were committed, then "crashed", then redelivered
    assert await counts(pg_pool) == (6, 24, 24)
    assert await checkpoint_events(pg_pool, VIEWS.name) == published


async def test_a_dead_lease_holders_pending_entries_go_to_its_successor(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> None:
    store = standalone_store
    await publish(store, 4, 3)
    group = f"projection.{VIEWS.name}"
    for keys in store.keys.all_partitions():  # a consumer takes the lease, reads everything, and dies
        dead = Lease(store._redis, keys, group, "dead-consumer", ttl_ms=500)
        assert await dead.acquire()
        await store._redis.client.xgroup_create(keys.log, group, "0", mkstream=True)
        await store._redis.client.xreadgroup(group, "dead-consumer", {keys.log: ">"}, count=100)

    runtime = runtime_for(store, redis_url, consumer="successor")
    runtime.add_projectors(pg_pool, [VIEWS], **FAST)
    await runtime.start()
    try:
        assert await runtime.wait_caught_up(timeout_s=20)
    finally:
        await runtime.stop()

    assert await counts(pg_pool) == (4, 12, 12)


async def test_a_poison_entry_is_dead_lettered_after_its_tries_and_nothing_is_lost(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> None:
    store = standalone_store
    published = await publish(store, 5, 2)
    await store.append("conversation-poison", [new(started("poison"))], expected_version=0, origin=ORIGIN)
    keys = store.keys.for_stream("conversation-c0")
    await store._redis.client.xadd(keys.log, {"event": b"{not json"})  # a foreign producer's garbage
    published += 2
    projector = FlakyProjector(pg_pool, VIEWS, poison=lambda r: b'"poison"' in (r.raw or b""))
    runtime = runtime_for(store, redis_url)
    runtime.add(projector, WorkerConfig(group=projector.group, ordered=True, **FAST))
    await runtime.start()
    try:
        assert await runtime.wait_caught_up(timeout_s=30)
    finally:
        await runtime.stop()

    processed = sum(w.processed for w in runtime.workers)
    dead = sum(w.dead_lettered for w in runtime.workers)
    letters = [
        fields
        for k in store.keys.all_partitions()
        for _, fields in await xrange(store._redis.client, k.dlq, "-")
    ]
    assert (processed, dead) == (published - 2, 2)
    assert processed + dead == published
    assert sorted(f[b"reason"].split(b":")[0] for f in letters) == [b"MalformedEvent", b"failed 3 times"]
    assert all(f[b"group"] == b"projection.conversation_views" and f[b"original_id"] for f in letters)
    assert await counts(pg_pool) == (5, 10, 10)


async def test_two_projector_processes_end_with_the_tables_of_a_single_fold(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> None:
    store = standalone_store
    runtimes = [runtime_for(store, redis_url, consumer=f"process-{n}") for n in range(2)]
    for runtime in runtimes:
        runtime.add_projectors(pg_pool, PROJECTORS, **FAST)
        await runtime.start()
    try:
        published = 0
        for wave in range(4):  # appends keep coming while both run; one of them stops half-way
            published += await publish(store, 5, 3, first=wave * 5)
            if wave == 2:
                await runtimes[0].stop()
            await asyncio.sleep(0.1)
        assert await runtimes[1].wait_caught_up(timeout_s=30)
    finally:
        for runtime in runtimes:
            await runtime.stop()

    assert await counts(pg_pool) == (20, 60, 60)
    assert await pg_pool.fetchval("SELECT count(*) FROM event_archive") == published
    for spec in PROJECTORS:
        assert (await replay(pg_pool, store, spec, "verify")).differences == []


class GatedProjector(Projector):
    """Holds its batch until the gate opens: the window in which a former holder reads behind our back."""

    def __init__(self, pool: asyncpg.Pool, spec: ProjectorSpec) -> None:
        super().__init__(pool, spec)
        self.gate = asyncio.Event()
        self.gate.set()
        self.holding = asyncio.Event()

    async def process(self, partition: int, records: Sequence[LogRecord], epoch: int) -> int:
        if not self.gate.is_set():
            self.holding.set()
            await self.gate.wait()
        return await super().process(partition, records, epoch)


def conversations_on_one_partition(store: RedisEventStore, count: int, first: int) -> list[int]:
    """Conversation numbers whose streams share a partition (ordering only matters within one)."""
    partition = store.keys.for_stream(f"conversation-c{first}").partition
    numbers = (n for n in range(first, first + 10_000))
    same = (n for n in numbers if store.keys.for_stream(f"conversation-c{n}").partition == partition)
    return [next(same) for _ in range(count)]


async def test_a_batch_read_by_a_former_holder_is_redone_before_anything_after_it(
    standalone_store: RedisEventStore,
    pg_pool: asyncpg.Pool,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Regression (a CI run lost this race): a holder whose lease expired read one more batch before it
    noticed; the entries stayed pending under its name while the new holder committed later ones, so
    they were never projected (and, redone later, would have been skipped as below the checkpoint)."""
    store = standalone_store
    a, b, c = conversations_on_one_partition(store, 3, first=100)
    keys = store.keys.for_stream(f"conversation-c{a}")
    projector = GatedProjector(pg_pool, VIEWS)
    runtime = runtime_for(store, redis_url, consumer="holder")
    runtime.add(projector, WorkerConfig(group=projector.group, ordered=True, **FAST))
    await runtime.start()
    try:
        published = await publish(store, 2, 2)
        assert await runtime.wait_caught_up(timeout_s=20)
        projector.gate.clear()
        published += await publish(store, 1, 2, first=a)  # the holder reads it and waits at the gate
        await asyncio.wait_for(projector.holding.wait(), timeout=10)
        published += await publish(store, 1, 2, first=b)
        stale = await store._redis.client.xreadgroup(
            projector.group, "former-holder", {keys.log: ">"}, count=100
        )
        assert len(stale[0][1]) == 3  # b's three entries, now pending under the former holder
        published += await publish(store, 1, 2, first=c)  # what the holder reads next, after b
        projector.gate.set()
        assert await runtime.wait_caught_up(timeout_s=20)
    finally:
        projector.gate.set()
        await runtime.stop()

    assert await counts(pg_pool) == (5, 10, 10)
    assert await checkpoint_events(pg_pool, VIEWS.name) == published
    assert (await replay(pg_pool, store, VIEWS, "verify")).differences == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []  # no retry loop


class GatedManager(ManagerProcessor):
    """A process manager that handles user messages only, in the order it is given them; its handler
    waits at the gate while the gate is closed."""

    def __init__(self) -> None:
        super().__init__("gated", cast(ManagerDeps, None), self.is_message, self.record)
        self.handled: list[str] = []
        self.batches: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.holding = asyncio.Event()

    @staticmethod
    def is_message(envelope: Envelope) -> bool:
        return envelope.type.endswith("user_message_received.v1")

    async def record(self, _deps: ManagerDeps, envelope: Envelope) -> None:
        if not self.gate.is_set():
            self.holding.set()
            await self.gate.wait()
        self.handled.append(envelope.stream)

    async def process(self, partition: int, records: Sequence[LogRecord], epoch: int) -> int:
        self.batches.append([r.log_id for r in records])
        return await super().process(partition, records, epoch)


async def pending_of(store: RedisEventStore, log: str, group: str) -> dict[str, int]:
    summary = await store._redis.client.xpending(log, group)
    return {owner["name"].decode(): int(owner["pending"]) for owner in summary.get("consumers") or []}


async def test_a_manager_applies_a_batch_of_nothing_it_handles_at_once_and_still_takes_older_events_first(
    standalone_store: RedisEventStore, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A batch of events a process manager does not handle is acknowledged without first asking whether
    a former lease holder holds older entries (nothing it does depends on them); its next batch of
    events it handles still has the former holder's handled first, in log order."""
    caplog.set_level(logging.INFO, logger="handlers.runtime.worker")
    store = standalone_store
    a, x, b, u, c = conversations_on_one_partition(store, 5, first=300)
    log = store.keys.for_stream(f"conversation-c{a}").log
    manager = GatedManager()
    runtime = runtime_for(store, redis_url, consumer="holder")
    # No lease renewal (and so no check of its own) during the test: only batches ask.
    config = {**FAST, "lease_ttl_ms": 120_000}
    runtime.add(manager, WorkerConfig(group=manager.group, ordered=True, **config))
    await runtime.start()
    try:
        await publish(store, 1, 1, first=a)
        assert await runtime.wait_caught_up(timeout_s=20)
        manager.gate.clear()
        await publish(store, 1, 1, first=x)  # the holder reads it and waits at the gate
        await asyncio.wait_for(manager.holding.wait(), timeout=10)
        await publish(store, 1, 1, first=b)
        stale = await store._redis.client.xreadgroup(manager.group, "former-holder", {log: ">"}, count=100)
        assert len(stale[0][1]) == 2  # b's start and message, now pending under the former holder
        unhandled = await publish(store, 1, 0, first=u)  # a start only: nothing the manager handles
        last_unhandled = (await xrange(store._redis.client, log, "-", "+", count=1000))[-1][0].decode()
        manager.gate.set()
        for _ in range(200):
            if any(last_unhandled in batch for batch in manager.batches) and (
                await pending_of(store, log, manager.group)
            ) == {"former-holder": 2}:  # XPENDING names only consumers holding some
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"the unhandled batch was not acknowledged: {manager.batches}")
        assert unhandled == 1
        assert not any("former holder" in r.getMessage() for r in caplog.records)
        await publish(store, 1, 1, first=c)  # handled: the former holder's entries go first
        assert await runtime.wait_caught_up(timeout_s=20)
    finally:
        manager.gate.set()
        await runtime.stop()

    assert manager.handled == [f"conversation-c{n}" for n in (a, x, b, c)]
    assert any("pending with a former holder" in r.getMessage() for r in caplog.records)


async def delete_views_group(store: RedisEventStore) -> None:
    """The conversation views' consumer group gone from every partition, as a flush would leave it."""
    for keys in store.keys.all_partitions():
        await store._redis.client.xgroup_destroy(keys.log, f"projection.{VIEWS.name}")


async def test_a_deleted_group_is_recreated_and_nothing_is_lost_or_doubled(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, projecting: HandlerRuntime
) -> None:
    store = standalone_store
    await publish(store, 4, 2)
    assert await projecting.wait_caught_up(timeout_s=20)
    await delete_views_group(store)
    await publish(store, 4, 2, first=4)

    assert await projecting.wait_caught_up(timeout_s=30)
    assert await counts(pg_pool) == (8, 16, 16)
    assert await pg_pool.fetchval("SELECT count(*) FROM event_archive") == 24


async def test_a_deleted_group_is_noticed_at_once_not_at_the_next_lease_renewal(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> None:
    """The watch sleeps until the lease renewal (40 s here) unless a reading task ends first."""
    store = standalone_store
    runtime = runtime_for(store, redis_url)
    runtime.add_projectors(pg_pool, [VIEWS], **{**FAST, "lease_ttl_ms": 120_000})
    await runtime.start()
    try:
        await publish(store, 2, 1)
        assert await runtime.wait_caught_up(timeout_s=20)
        await delete_views_group(store)
        await publish(store, 2, 1, first=2)

        assert await runtime.wait_caught_up(timeout_s=15)
        assert (await counts(pg_pool))[:2] == (4, 4)
    finally:
        await runtime.stop()


class SlowProjector(FlakyProjector):
    """Blocks the event loop on every batch, as a CPU-heavy fold would."""

    async def process(self, partition: int, records: Sequence[LogRecord], epoch: int) -> int:
        time.sleep(0.2)  # noqa: ASYNC251 - the point: the loop cannot run the lease renewal meanwhile
        return await super().process(partition, records, epoch)


async def test_a_busy_event_loop_keeps_its_lease(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> None:
    """Regression: renewals were timed by counting sleeps, so a busy loop renewed too late."""
    store = standalone_store
    await publish(store, 1, 9)
    projector = SlowProjector(pg_pool, VIEWS)
    runtime = runtime_for(store, redis_url)
    config = {**FAST, "batch_size": 1}
    partition = store.keys.for_stream("conversation-c0").partition
    runtime.add(projector, WorkerConfig(group=projector.group, ordered=True, **config))
    await runtime.start()
    try:
        assert await runtime.wait_caught_up(timeout_s=30)
    finally:
        await runtime.stop()

    epoch = await store._redis.client.get(store.keys.partition(partition).epoch(projector.group))
    assert int(epoch) == 1  # acquired once, never lost
    assert await counts(pg_pool) == (1, 9, 9)


class Tally:
    """An idempotent side effect (a process manager's shape): remembers which entries it saw."""

    def __init__(self) -> None:
        self.seen: set[tuple[int, str]] = set()  # log ids repeat across partitions

    async def on_acquired(self, partition: int, epoch: int) -> int:
        return epoch

    def orders(self, records: Sequence[LogRecord]) -> bool:
        return True

    async def process(self, partition: int, records: Sequence[LogRecord], epoch: int) -> int:
        self.seen.update((partition, r.log_id) for r in records)
        return len(records)


async def test_competing_consumers_reclaim_what_a_dead_consumer_left_pending(
    standalone_store: RedisEventStore, redis_url: str
) -> None:
    store = standalone_store
    published = await publish(store, 4, 2)
    group = "manager.tally"
    for keys in store.keys.all_partitions():  # a consumer reads everything, then dies without acking
        await store._redis.client.xgroup_create(keys.log, group, "0", mkstream=True)
        await store._redis.client.xreadgroup(group, "dead-consumer", {keys.log: ">"}, count=100)
    tally = Tally()
    runtime = runtime_for(store, redis_url, consumer="survivor")
    runtime.add(tally, WorkerConfig(group=group, ordered=False, **FAST))
    await runtime.start()
    try:
        assert await runtime.wait_caught_up(timeout_s=20)
    finally:
        await runtime.stop()

    assert len(tally.seen) == published


async def test_two_worker_processes_end_with_the_tables_of_a_single_fold(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str, database_url: str
) -> None:
    """Two `aiwf worker` OS processes share the partitions by lease; the tables are one fold's."""
    store = standalone_store
    schema = await pg_pool.fetchval("SHOW search_path")
    separator = "&" if "?" in database_url else "?"
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"{database_url}{separator}search_path={schema}",
        "AIWF_KEY_PREFIX": store.keys.prefix,
        "AIWF_PARTITIONS": str(store.keys.partitions),
        "AIWF_DATA_DIR": tempfile.mkdtemp(prefix="aiwf-workers-"),
    }
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "infra.cli", "worker", "--handlers", "projectors", env=env
        )
        for _ in range(2)
    ]
    try:
        published = 0
        for wave in range(3):  # appends keep coming while both processes run
            published += await publish(store, 4, 3, first=wave * 4)
        probe = runtime_for(store, redis_url)
        probe.add_projectors(pg_pool, PROJECTORS)
        assert await probe.wait_caught_up(timeout_s=60)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        codes = [await worker.wait() for worker in workers]

    assert codes == [0, 0]  # both stopped gracefully: batch finished, leases released
    assert await counts(pg_pool) == (12, 36, 36)
    assert await pg_pool.fetchval("SELECT count(*) FROM event_archive") == published
    for spec in PROJECTORS:
        assert (await replay(pg_pool, store, spec, "verify")).differences == []


# XADD and XREADGROUP at once: the entry is delivered to CONSUMER and the reply is thrown away, as when
# the connection dies after the server ran the read (or Valkey is killed and its AOF replays the read).
_READ_AND_LOSE = """
local id = redis.call('XADD', KEYS[1], '*', 'event', ARGV[3])
redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', 10, 'STREAMS', KEYS[1], '>')
return id
"""


async def test_entries_read_for_a_worker_whose_reply_was_lost_are_recovered(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> None:
    """Found by the chaos suite: after a Valkey restart, ten entries stayed pending with the lease holder
    for good; its subscriber reads only new entries (`>`) and nothing ever sent them again."""
    store = standalone_store
    projector = Projector(pg_pool, VIEWS)
    runtime = runtime_for(store, redis_url)
    runtime.add(projector, WorkerConfig(group=projector.group, ordered=True, **FAST))
    elsewhere = RedisEventStore(
        store._redis, fresh_keys(store.keys.partitions), store.registry, wait_fsync_ms=None
    )
    await runtime.start()
    try:
        await publish(store, 1, 1)
        assert await runtime.wait_caught_up(timeout_s=20)
        for n in (1, 2):  # the same events' bytes, from a store nobody consumes
            await elsewhere.append(f"conversation-c{n}", [new(started(f"c{n}"))], 0, ORIGIN)
            [stored] = await elsewhere.read_stream(f"conversation-c{n}")
            log = store.keys.for_stream(f"conversation-c{n}").log
            await store._redis.client.eval(
                _READ_AND_LOSE, 1, log, projector.group, runtime.consumer, stored.raw
            )

        assert await runtime.wait_caught_up(timeout_s=20)
    finally:
        await runtime.stop()

    assert await counts(pg_pool) == (3, 1, 1)
