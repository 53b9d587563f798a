"""Dead letters: only an entry's own failure puts it there, only the lease holder moves it, and no
checkpoint passes an entry that is neither applied nor dead-lettered."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import pytest

from handlers.projector import Projector
from handlers.runtime.consumer_group import DeadLetter, acknowledge, dead_letter, ensure_group
from handlers.runtime.lease import Lease, LeaseLost
from handlers.runtime.records import LogRecord
from handlers.runtime.worker import WorkerConfig
from infra.event_store import RedisEventStore
from infra.redis_cmds import xrange
from tests.integration.handlers.conftest import FAST, runtime_for
from tests.integration.handlers.test_exactly_once import VIEWS, counts, publish

GROUP = f"projection.{VIEWS.name}"


async def letters_of(store: RedisEventStore) -> list[dict[bytes, bytes]]:
    return [
        fields
        for k in store.keys.all_partitions()
        for _, fields in await xrange(store._redis.client, k.dlq, "-")
    ]


async def run_until_caught_up(
    store: RedisEventStore, redis_url: str, projector: Projector, **config: int
) -> int:
    runtime = runtime_for(store, redis_url)
    runtime.add(projector, WorkerConfig(group=projector.group, ordered=True, **{**FAST, **config}))
    await runtime.start()
    try:
        assert await runtime.wait_caught_up(timeout_s=30)
    finally:
        await runtime.stop()
    return sum(w.dead_lettered for w in runtime.workers)


class FailsFor(Projector):
    """Fails with `error` on the entries of conversation c0 the first `times` times it sees them."""

    def __init__(self, pool: asyncpg.Pool, error: Exception, times: int) -> None:
        super().__init__(pool, VIEWS)
        self.error, self.left = error, times

    async def process(self, partition: int, records: Sequence[LogRecord], epoch: int) -> int:
        if self.left > 0 and any(b'"c0"' in (r.raw or b"") for r in records):
            self.left -= 1
            raise self.error
        return await super().process(partition, records, epoch)


@pytest.mark.parametrize(
    "error",
    [
        LeaseLost("fenced by a newer holder"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
        ConnectionError("Redis went away"),
    ],
    ids=["lease-lost", "postgres-shutdown", "serialization", "connection"],
)
async def test_infrastructure_failures_never_dead_letter_a_healthy_event(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str, error: Exception
) -> None:
    """Regression: once its delivery count reached max_deliveries, any failure counted as poison."""
    await publish(standalone_store, 3, 2)
    projector = FailsFor(pg_pool, error, times=3 * FAST["max_deliveries"])

    dead = await run_until_caught_up(standalone_store, redis_url, projector, retry_delay_s=0)  # type: ignore[arg-type]

    assert projector.left == 0
    assert dead == 0
    assert await letters_of(standalone_store) == []
    assert await counts(pg_pool) == (3, 6, 6)


async def test_deliveries_counted_by_reclaims_alone_do_not_make_an_entry_poison(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> None:
    """Every XAUTOCLAIM raises Redis's delivery count: it says nothing about the entry itself."""
    store = standalone_store
    await publish(store, 1, 2)
    keys = store.keys.for_stream("conversation-c0")
    await ensure_group(store._redis, keys, GROUP)
    await store._redis.client.xreadgroup(GROUP, "dead-consumer", {keys.log: ">"}, count=100)
    for n in range(2 * FAST["max_deliveries"]):
        await store._redis.client.xautoclaim(keys.log, GROUP, f"reclaimer-{n}", 0, "0-0", count=100)
    projector = FailsFor(pg_pool, RuntimeError("a bad moment for this event"), times=1)

    dead = await run_until_caught_up(store, redis_url, projector, retry_delay_s=0)  # type: ignore[arg-type]

    assert dead == 0
    assert await counts(pg_pool) == (1, 2, 2)


async def test_an_entry_that_fails_by_itself_is_dead_lettered_after_its_tries(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> None:
    await publish(standalone_store, 1, 0)
    await publish(standalone_store, 2, 1, first=1)
    projector = FailsFor(pg_pool, RuntimeError("cannot fold this one"), times=1000)

    dead = await run_until_caught_up(standalone_store, redis_url, projector, retry_delay_s=0)  # type: ignore[arg-type]

    [letter] = await letters_of(standalone_store)
    assert dead == 1
    assert (
        letter[b"reason"]
        == f"failed {FAST['max_deliveries']} times: RuntimeError: cannot fold this one".encode()
    )
    assert await counts(pg_pool) == (2, 2, 2)


class CrashesAfterCommittingForeign(Projector):
    """Commits a batch that holds a foreign entry, then dies before anything else happens."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool, VIEWS)
        self.crashed = False

    async def process(self, partition: int, records: Sequence[LogRecord], epoch: int) -> int:
        applied = await super().process(partition, records, epoch)
        if not self.crashed and any(r.envelope is None for r in records):
            self.crashed = True
            raise ConnectionError("crashed after the commit")
        return applied


async def test_a_crash_after_the_commit_that_passes_a_foreign_entry_keeps_its_dead_letter(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> None:
    """Regression: dead letters were written after the commit; a crash in between lost them, and the
    redelivery skipped the entry as below the checkpoint."""
    store = standalone_store
    await publish(store, 1, 1)
    keys = store.keys.for_stream("conversation-c0")
    garbage = (await store._redis.client.xadd(keys.log, {"event": b"{not json"})).decode()
    await publish(store, 1, 1, first=100)
    projector = CrashesAfterCommittingForeign(pg_pool)

    dead = await run_until_caught_up(store, redis_url, projector)

    assert projector.crashed
    assert dead == 1
    [letter] = await letters_of(store)
    assert letter[b"original_id"].decode() == garbage
    assert letter[b"reason"].startswith(b"MalformedEvent")


async def test_a_former_lease_holder_can_neither_dead_letter_nor_acknowledge(
    standalone_store: RedisEventStore,
) -> None:
    store = standalone_store
    await publish(store, 1, 1)
    keys = store.keys.for_stream("conversation-c0")
    await ensure_group(store._redis, keys, GROUP)
    read = await store._redis.client.xreadgroup(GROUP, "former", {keys.log: ">"}, count=10)
    entry_ids = [entry_id.decode() for entry_id, _ in read[0][1]]
    assert await Lease(store._redis, keys, GROUP, "successor", ttl_ms=10_000).acquire()

    with pytest.raises(LeaseLost):
        await dead_letter(
            store._redis,
            keys,
            GROUP,
            [DeadLetter(log_id=entry_ids[0], raw=None, reason="x")],
            holder="former",
        )
    assert not await acknowledge(store._redis, keys, GROUP, entry_ids, holder="former")

    assert await letters_of(store) == []
    assert (await store._redis.client.xpending(keys.log, GROUP))["pending"] == 2
    assert await acknowledge(store._redis, keys, GROUP, entry_ids, holder="successor")
    assert (await store._redis.client.xpending(keys.log, GROUP))["pending"] == 0


async def test_a_poison_entry_redelivered_is_dead_lettered_once(standalone_store: RedisEventStore) -> None:
    store = standalone_store
    keys = store.keys.partition(0)
    await ensure_group(store._redis, keys, GROUP)
    garbage = (await store._redis.client.xadd(keys.log, {"event": b"{not json"})).decode()
    await store._redis.client.xreadgroup(GROUP, "c1", {keys.log: ">"}, count=10)
    letter = DeadLetter(log_id=garbage, raw=b"{not json", reason="MalformedEvent")

    moved = [await dead_letter(store._redis, keys, GROUP, [letter]) for _ in range(2)]

    assert moved == [1, 0]
    assert len(await letters_of(store)) == 1


class SlowRecovery(Projector):
    """Each batch takes a quarter of a second, as a recovery of a big backlog would."""

    async def process(self, partition: int, records: Sequence[LogRecord], epoch: int) -> int:
        await asyncio.sleep(0.25)
        return await super().process(partition, records, epoch)


async def test_a_recovery_longer_than_the_lease_keeps_the_lease(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> None:
    """Regression: recovery never renewed the lease, so a long one handed the partition over midway."""
    store = standalone_store
    await publish(store, 1, 9)
    keys = store.keys.for_stream("conversation-c0")
    await ensure_group(store._redis, keys, GROUP)
    await store._redis.client.xreadgroup(GROUP, "dead-consumer", {keys.log: ">"}, count=100)
    runtime = runtime_for(store, redis_url, consumer="recovering")
    config = WorkerConfig(group=GROUP, ordered=True, **{**FAST, "batch_size": 1})  # type: ignore[arg-type]
    runtime.add(SlowRecovery(pg_pool, VIEWS), config)  # ten entries × 0.25 s: four lease lifetimes
    rival = Lease(store._redis, keys, GROUP, "rival", ttl_ms=FAST["lease_ttl_ms"])
    rival_won = False
    await runtime.start()
    try:
        while await store._redis.client.get(keys.lease(GROUP)) != b"recovering":  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        while not rival_won and (await store._redis.client.xpending(keys.log, GROUP))["pending"]:
            rival_won = await rival.acquire()
            await asyncio.sleep(0.05)
        assert await runtime.wait_caught_up(timeout_s=30)
    finally:
        await runtime.stop()

    assert not rival_won
    assert await counts(pg_pool) == (1, 9, 9)


async def test_a_group_deleted_and_recreated_does_not_dead_letter_an_entry_twice(
    standalone_store: RedisEventStore,
) -> None:
    """Found by the chaos suite: a recreated group reads the log from its start and met the poison entry
    again; the dead-letter stream then held it twice for one group (another group still letters it)."""
    store = standalone_store
    keys = store.keys.partition(0)
    garbage = (await store._redis.client.xadd(keys.log, {"event": b"{not json"})).decode()
    letter = DeadLetter(log_id=garbage, raw=b"{not json", reason="MalformedEvent")

    moved = []
    for group in (GROUP, GROUP, "manager.orchestrator"):
        await ensure_group(store._redis, keys, group)
        await store._redis.client.xreadgroup(group, "c1", {keys.log: ">"}, count=10)
        moved.append(await dead_letter(store._redis, keys, group, [letter]))
        if group == GROUP:
            await store._redis.client.xgroup_destroy(keys.log, group)

    assert moved == [1, 0, 1]
    assert sorted(fields[b"group"] for fields in await letters_of(store)) == sorted(
        [GROUP.encode(), b"manager.orchestrator"]
    )
