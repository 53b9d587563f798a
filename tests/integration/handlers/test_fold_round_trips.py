"""A projector batch that changes read models, from a checkpoint the process knows: BEGIN goes with the
checkpoint's lock and COMMIT with its move (projections/migrations/0011_checkpoint_functions.sql), and
the fence, the moved checkpoint and a failed read model behave as in the fold that reads it first."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence

import asyncpg
import pytest

from domain.conversation_events import UserMessageReceived
from handlers.projector import Projector
from handlers.runtime.lease import LeaseLost
from handlers.runtime.records import LogRecord
from infra.event_store import RedisEventStore
from infra.postgres import create_pool
from projections.events import ProjectedEvent
from projections.read_model import Conn, ProjectorSpec
from tests.integration.handlers.test_checkpoint_only_batches import (
    CONVERSATIONS,
    EPOCH,
    checkpoint,
    conversations_logged,
)


@pytest.fixture
async def one_connection(pg_pool: asyncpg.Pool, database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool of one connection on pg_pool's tables: what one batch left on it is what the next gets."""
    schema = await pg_pool.fetchval("SELECT current_schema()")
    pool = await create_pool(database_url, schema=schema, min_size=1, max_size=1)
    yield pool
    await pool.close()


async def statements_of(pool: asyncpg.Pool) -> list[str]:
    """Every statement the pool's one connection sends from now on, in order."""
    sent: list[str] = []
    async with pool.acquire() as conn:
        conn.add_query_logger(lambda record: sent.append(" ".join(record.query.split())))
    return sent


async def messages(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM messages")
    return count


async def assert_only_the_start_stayed(
    pg_pool: asyncpg.Pool, one_connection: asyncpg.Pool, partition: int, records: Sequence[LogRecord]
) -> None:
    """The conversation's start is folded, nothing of the failed batch is, and the connection that
    folded it holds no transaction."""
    assert await checkpoint(pg_pool, CONVERSATIONS.name, partition) == (records[0].log_id, 1)
    assert await messages(pg_pool) == 0
    async with one_connection.acquire() as conn:
        assert not conn.is_in_transaction()


async def test_a_batch_from_a_known_checkpoint_takes_two_round_trips_besides_its_read_models(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, one_connection: asyncpg.Pool
) -> None:
    partition, records = await conversations_logged(standalone_store, 1)
    projector = Projector(one_connection, CONVERSATIONS)
    await projector.on_acquired(partition, EPOCH)
    sent = await statements_of(one_connection)

    applied = await projector.process(partition, records, EPOCH)

    assert applied == 3
    assert sent[0].startswith(f"BEGIN; SELECT aiwf_lock_checkpoint('{CONVERSATIONS.name}', {partition}, ")
    assert sent[-1] == (
        f"SELECT aiwf_advance_checkpoint('{CONVERSATIONS.name}', {partition}, '{records[-1].log_id}', 3, "
        f"{EPOCH}); COMMIT"
    )
    assert not any(s.startswith(("BEGIN", "COMMIT")) or "FOR UPDATE" in s for s in sent[1:-1])
    assert await checkpoint(pg_pool, CONVERSATIONS.name, partition) == (records[-1].log_id, 3)
    assert await messages(pg_pool) == 2


async def test_a_newer_lease_holder_fences_the_batch_and_nothing_it_folded_stays(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, one_connection: asyncpg.Pool
) -> None:
    partition, records = await conversations_logged(standalone_store, 1)
    former = Projector(one_connection, CONVERSATIONS)
    await former.on_acquired(partition, EPOCH)
    await former.process(partition, records[:1], EPOCH)  # the conversation started: no message yet
    await Projector(pg_pool, CONVERSATIONS).on_acquired(partition, EPOCH + 1)

    with pytest.raises(LeaseLost):
        await former.process(partition, records[1:], EPOCH)

    await assert_only_the_start_stayed(pg_pool, one_connection, partition, records)


async def test_a_checkpoint_moved_behind_the_process_s_back_is_read_under_its_lock(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool
) -> None:
    partition, records = await conversations_logged(standalone_store, 1)
    projector = Projector(pg_pool, CONVERSATIONS)
    await projector.on_acquired(partition, EPOCH)
    await projector.process(partition, records[:1], EPOCH)
    # What a rebuild does when its tables are ahead of the live projector (handlers/rebuild.py): here
    # the rebuilt tables hold the first message too.
    await Projector(pg_pool, CONVERSATIONS)._fold_locked(partition, records[:2], EPOCH)

    applied = await projector.process(partition, records, EPOCH)  # from the checkpoint it last wrote

    assert applied == 1  # only the entry past the moved checkpoint
    assert await checkpoint(pg_pool, CONVERSATIONS.name, partition) == (records[-1].log_id, 3)
    assert await messages(pg_pool) == 2


class Broken(Exception):
    pass


class BreaksOnMessages:
    """A read model that fails once the batch holds a message, after the others wrote their rows."""

    tables: tuple[str, ...] = ()

    def touches(self, event: ProjectedEvent) -> bool:
        return True

    async def apply(self, conn: Conn, events: Sequence[ProjectedEvent], names: Mapping[str, str]) -> None:
        if any(isinstance(e.envelope.data, UserMessageReceived) for e in events):
            raise Broken("the read model refused the batch")


async def test_a_read_model_that_fails_rolls_the_batch_back_and_leaves_no_transaction_open(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, one_connection: asyncpg.Pool
) -> None:
    partition, records = await conversations_logged(standalone_store, 1)
    spec = ProjectorSpec(name=CONVERSATIONS.name, models=(*CONVERSATIONS.models, BreaksOnMessages()))
    projector = Projector(one_connection, spec)
    await projector.on_acquired(partition, EPOCH)
    await projector.process(partition, records[:1], EPOCH)

    with pytest.raises(Broken):
        await projector.process(partition, records[1:], EPOCH)

    await assert_only_the_start_stayed(pg_pool, one_connection, partition, records)
