"""A batch that changes none of a projector's read models (a conversation's events, to the workflow
views) only moves its checkpoint, in one statement: announced as any commit is, counted once, and never
past a checkpoint that moved behind the projector's back (a rebuild, a newer lease holder)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import pytest

from handlers.projector import Projector, Seen
from handlers.runtime.lease import LeaseLost
from handlers.runtime.records import LogRecord, to_record
from infra.event_store import RedisEventStore
from infra.redis_cmds import xrange
from projections.catalog import projector_named
from projections.read_model import ProjectorSpec
from tests.integration.handlers.test_exactly_once import (
    conversations_on_one_partition,
    counts,
    publish,
)
from tests.support.tracing import captured_spans

WORKFLOWS = projector_named("workflow_views")
CONVERSATIONS = projector_named("conversation_views")
EPOCH = 1


class CountingProjector(Projector):
    """A real projector that counts the batches it folded in a transaction of their own."""

    def __init__(self, pool: asyncpg.Pool, spec: ProjectorSpec) -> None:
        super().__init__(pool, spec)
        self.folds = 0

    async def _fold(
        self, partition: int, records: Sequence[LogRecord], epoch: int, seen: Seen | None
    ) -> tuple[int, str]:
        self.folds += 1
        return await super()._fold(partition, records, epoch, seen)


async def log_records(store: RedisEventStore, partition: int) -> list[LogRecord]:
    entries = await xrange(store._redis.client, store.keys.partition(partition).log, "-", "+")
    return [
        to_record(store.registry, log_id, [item for pair in fields.items() for item in pair])
        for log_id, fields in entries
    ]


async def conversations_logged(store: RedisEventStore, count: int) -> tuple[int, list[LogRecord]]:
    """`count` conversations of one started event and two messages, all on one partition."""
    numbers = conversations_on_one_partition(store, count, first=500)
    for n in numbers:
        await publish(store, 1, 2, first=n)
    partition = store.keys.for_stream(f"conversation-c{numbers[0]}").partition
    return partition, await log_records(store, partition)


async def checkpoint(pool: asyncpg.Pool, projection: str, partition: int) -> tuple[str, int]:
    row = await pool.fetchrow(
        "SELECT position, events FROM projection_checkpoints WHERE projection = $1 AND partition = $2",
        projection,
        partition,
    )
    assert row is not None
    return row["position"], row["events"]


async def test_a_batch_no_read_model_reads_moves_the_checkpoint_and_announces_it(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, database_url: str
) -> None:
    partition, records = await conversations_logged(standalone_store, 2)
    projector = CountingProjector(pg_pool, WORKFLOWS)
    heard: list[str] = []
    listener = await asyncpg.connect(database_url)
    await listener.add_listener("aiwf_checkpoints", lambda *args: heard.append(args[-1]))
    try:
        await projector.on_acquired(partition, EPOCH)
        first = await projector.process(partition, records[:3], EPOCH)
        again = await projector.process(partition, records[:3], EPOCH)  # redelivered
        rest = await projector.process(partition, records[3:], EPOCH)
        for _ in range(100):
            if len(heard) >= 2:
                break
            await asyncio.sleep(0.02)
    finally:
        await listener.close()

    assert (first, again, rest) == (3, 0, 3)
    assert projector.folds == 0
    assert await checkpoint(pg_pool, WORKFLOWS.name, partition) == (records[-1].log_id, 6)
    assert [h for h in heard if h.startswith(f"{WORKFLOWS.name} {partition} ")] == [
        f"{WORKFLOWS.name} {partition} {records[2].log_id}",
        f"{WORKFLOWS.name} {partition} {records[-1].log_id}",
    ]
    assert await pg_pool.fetchval("SELECT count(*) FROM workflows") == 0


async def test_a_batch_a_read_model_reads_is_folded_in_a_transaction(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool
) -> None:
    partition, records = await conversations_logged(standalone_store, 2)
    projector = CountingProjector(pg_pool, CONVERSATIONS)

    await projector.on_acquired(partition, EPOCH)
    applied = [await projector.process(partition, records[i : i + 2], EPOCH) for i in (0, 2, 4)]

    assert applied == [2, 2, 2]
    assert projector.folds == 3
    assert await counts(pg_pool) == (2, 4, 4)
    assert await checkpoint(pg_pool, CONVERSATIONS.name, partition) == (records[-1].log_id, 6)


async def test_a_checkpoint_moved_behind_the_projectors_back_is_read_again_and_nothing_counts_twice(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool
) -> None:
    partition, records = await conversations_logged(standalone_store, 2)
    projector = CountingProjector(pg_pool, WORKFLOWS)
    await projector.on_acquired(partition, EPOCH)
    await projector.process(partition, records[:2], EPOCH)
    # What a rebuild does when its tables are ahead of the live projector (handlers/rebuild.py).
    await pg_pool.execute(
        "UPDATE projection_checkpoints SET position = $3, events = 4 "
        "WHERE projection = $1 AND partition = $2",
        WORKFLOWS.name,
        partition,
        records[3].log_id,
    )

    applied = await projector.process(partition, records[2:], EPOCH)
    after = await projector.process(partition, records[5:], EPOCH)  # redelivered, known again

    assert (applied, after) == (2, 0)
    assert projector.folds == 1  # the moved checkpoint was read under its lock
    assert await checkpoint(pg_pool, WORKFLOWS.name, partition) == (records[-1].log_id, 6)


async def test_a_newer_lease_holder_fences_a_batch_that_only_moves_the_checkpoint(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool
) -> None:
    partition, records = await conversations_logged(standalone_store, 1)
    former = CountingProjector(pg_pool, WORKFLOWS)
    await former.on_acquired(partition, EPOCH)
    await former.process(partition, records[:1], EPOCH)
    await CountingProjector(pg_pool, WORKFLOWS).on_acquired(partition, EPOCH + 1)

    with pytest.raises(LeaseLost):
        await former.process(partition, records[1:], EPOCH)

    assert await checkpoint(pg_pool, WORKFLOWS.name, partition) == (records[0].log_id, 1)


async def test_only_a_folded_batch_is_a_span_of_the_traces_it_carries(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool
) -> None:
    partition, records = await conversations_logged(standalone_store, 1)
    workflows, conversations = (
        CountingProjector(pg_pool, WORKFLOWS),
        CountingProjector(pg_pool, CONVERSATIONS),
    )
    for projector in (workflows, conversations):
        await projector.on_acquired(partition, EPOCH)

    with captured_spans() as exporter:
        await workflows.process(partition, records, EPOCH)  # a conversation's events: nothing to fold
        await conversations.process(partition, records, EPOCH)
        names = [s.name for s in exporter.get_finished_spans()]  # the exporter is emptied on leaving

    assert (workflows.folds, conversations.folds) == (0, 1)
    assert names == [f"project {CONVERSATIONS.name}"]
