"""A command starts from this process's fold of its stream only when a read of what came after proves
it current (commands/fold_cache.py, issue 15): another writer is always seen, a conflict is still
decided by the append's expected version, and what is sealed stays sealed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from commands.context import CommandContext
from commands.conversations import (
    CONVERSATIONS,
    close_conversation,
    send_message,
    start_conversation,
    stream_of,
)
from commands.execute import load
from commands.fold_cache import cache_of
from commands.ports import StreamHead
from domain.conversation import Closed, Open
from domain.envelope import EventOrigin, NewEvent, Position, StoredEvent
from domain.errors import ConcurrencyConflict, InvalidTransition
from infra.event_store import RedisEventStore
from infra.runtime import hearing_shreddings

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
RIP = "00799999002345678165"


def context(key: str | None = None) -> CommandContext:
    return CommandContext(tenant="acme", actor="k1", now=NOW, idempotency_key=key)


def another_process(store: RedisEventStore) -> RedisEventStore:
    """The same keys through another store object: another API process, with a cache of its own."""
    return RedisEventStore(store.redis, store.keys, store.registry, wait_fsync_ms=None, cipher=store.cipher)


async def started(store: RedisEventStore, messages: int = 0) -> str:
    cid = (await start_conversation(store, context(), title=None, language=None)).stream.split("-", 1)[1]
    for n in range(messages):
        await send_message(store, context(), cid, f"message {n}")
    return cid


class Interfering:
    """The real store; before each of its first `times` appends, another process appends a message."""

    def __init__(self, store: RedisEventStore, cid: str, times: int) -> None:
        self.store, self.cid, self.times = store, cid, times
        self.other = another_process(store)
        self.tails: list[int] = []

    async def read_after(self, stream: str, version: int) -> tuple[list[StoredEvent], StreamHead]:
        self.tails.append(version)
        return await self.store.read_after(stream, version)

    async def append(
        self,
        stream: str,
        events: Sequence[NewEvent],
        expected_version: int,
        origin: EventOrigin,
        *,
        head: StreamHead | None = None,
    ) -> list[Position]:
        if self.times > 0:
            self.times -= 1
            await send_message(self.other, context(), self.cid, "meanwhile, elsewhere")
        return await self.store.append(stream, events, expected_version, origin, head=head)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


async def test_a_second_command_reads_only_what_came_after_the_fold_it_kept(
    standalone_store: RedisEventStore,
) -> None:
    cid = await started(standalone_store, messages=3)
    kept = cache_of(standalone_store).get(CONVERSATIONS.schema, stream_of(cid))
    assert kept is not None
    spy = Interfering(standalone_store, cid, times=0)
    cache_of(spy).put(CONVERSATIONS.schema, stream_of(cid), kept)

    loaded = await load(spy, CONVERSATIONS, stream_of(cid))

    everything = await standalone_store.read_stream(stream_of(cid))
    assert spy.tails == [kept.version]
    assert loaded.version == len(everything)
    assert loaded.state == CONVERSATIONS.fold((e.envelope.data for e in everything), CONVERSATIONS.initial)


async def test_what_another_process_appended_after_the_kept_fold_is_seen_by_the_next_command(
    standalone_store: RedisEventStore,
) -> None:
    cid = await started(standalone_store, messages=2)
    await close_conversation(another_process(standalone_store), context(), cid, "done")

    with pytest.raises(InvalidTransition):
        await send_message(standalone_store, context(), cid, "one more")

    loaded = await load(standalone_store, CONVERSATIONS, stream_of(cid))
    assert isinstance(loaded.state, Closed)


async def test_a_writer_between_the_read_and_the_append_is_a_conflict_retried_from_a_fresh_read(
    standalone_store: RedisEventStore,
) -> None:
    cid = await started(standalone_store, messages=1)
    racing = Interfering(standalone_store, cid, times=1)

    result = await send_message(racing, context(), cid, "mine")

    everything = await standalone_store.read_stream(stream_of(cid))
    assert [e.envelope.data.text for e in everything[1:]] == ["message 0", "meanwhile, elsewhere", "mine"]  # type: ignore[attr-defined]
    assert result.version == len(everything)


async def test_a_writer_that_always_wins_still_ends_in_a_conflict(standalone_store: RedisEventStore) -> None:
    cid = await started(standalone_store, messages=1)
    racing = Interfering(standalone_store, cid, times=100)

    with pytest.raises(ConcurrencyConflict):
        await send_message(racing, context(), cid, "never")


async def test_a_kept_fold_longer_than_its_stream_is_never_used(standalone_store: RedisEventStore) -> None:
    """A stream written around the store (deleted, then made again under the same name)."""
    cid = await started(standalone_store, messages=3)
    keys = standalone_store.keys.for_stream(stream_of(cid))
    client = standalone_store.redis.client
    await client.delete(keys.stream(stream_of(cid)))
    await client.hdel(keys.heads, stream_of(cid))
    await client.hdel(keys.tenants, stream_of(cid))
    await start_conversation(
        another_process(standalone_store), context(), title=None, language=None, conversation_id=cid
    )

    loaded = await load(standalone_store, CONVERSATIONS, stream_of(cid))

    assert loaded.version == 1
    assert isinstance(loaded.state, Open)
    assert loaded.state.message_ids == frozenset()


async def test_a_fold_of_the_same_length_with_another_history_is_never_used(
    standalone_store: RedisEventStore,
) -> None:
    cid = await started(standalone_store, messages=1)
    keys = standalone_store.keys.for_stream(stream_of(cid))
    client = standalone_store.redis.client
    await client.delete(keys.stream(stream_of(cid)))
    await client.hdel(keys.heads, stream_of(cid))
    await client.hdel(keys.tenants, stream_of(cid))
    other = another_process(standalone_store)
    await start_conversation(other, context(), title=None, language=None, conversation_id=cid)
    await send_message(other, context(), cid, "another first message")

    loaded = await load(standalone_store, CONVERSATIONS, stream_of(cid))

    stored = await standalone_store.read_stream(stream_of(cid))
    assert loaded.state == CONVERSATIONS.fold((e.envelope.data for e in stored), CONVERSATIONS.initial)


async def test_a_sensitive_message_sent_on_a_kept_fold_is_sealed_in_the_log(store: RedisEventStore) -> None:
    cid = await started(store, messages=2)
    assert cache_of(store).get(CONVERSATIONS.schema, stream_of(cid)) is not None

    await send_message(store, context(), cid, f"pay the supplier from our RIP {RIP}")

    keys = store.keys.for_stream(stream_of(cid))
    raw = b"".join(f[b"event"] for _, f in await store.redis.client.xrange(keys.stream(stream_of(cid))))
    log = b"".join(e.raw or b"" for e in await store.read_log(keys.partition))
    assert RIP.encode() not in raw
    assert RIP.encode() not in log
    opened = await store.read_stream(stream_of(cid))
    assert RIP in opened[-1].envelope.data.text  # type: ignore[attr-defined]


async def test_a_snapshot_is_still_kept_every_hundred_events_on_the_cached_path(
    standalone_store: RedisEventStore,
) -> None:
    cid = await started(standalone_store, messages=CONVERSATIONS.snapshot_every + 2)

    assert await standalone_store.load_snapshot(stream_of(cid), CONVERSATIONS.name) is not None


async def test_a_shredding_heard_drops_the_tenants_kept_folds_and_only_theirs(
    standalone_store: RedisEventStore,
) -> None:
    """A kept fold may hold a conversation's turns in clear: crypto-shredding must leave none behind."""
    store = standalone_store
    cid = await started(store, messages=1)
    other = CommandContext(tenant="globex", actor="k2", now=NOW)
    theirs = (await start_conversation(store, other, title=None, language=None)).stream
    await send_message(store, other, theirs.split("-", 1)[1], "bonjour")  # a fold is kept from a load
    assert cache_of(store).get(CONVERSATIONS.schema, stream_of(cid)) is not None
    assert cache_of(store).get(CONVERSATIONS.schema, theirs) is not None
    assert store.cipher is not None

    async with hearing_shreddings(store.redis, store.keys, store.cipher.keys):
        await store.cipher.keys.shred("acme", cid)
        for _ in range(100):
            if cache_of(store).get(CONVERSATIONS.schema, stream_of(cid)) is None:
                break
            await asyncio.sleep(0.02)

    assert cache_of(store).get(CONVERSATIONS.schema, stream_of(cid)) is None
    assert cache_of(store).get(CONVERSATIONS.schema, theirs) is not None
