"""Commands read an aggregate from its newest snapshot and the events after it, never its whole history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from commands.context import CommandContext
from commands.conversations import CONVERSATIONS, send_message, start_conversation, stream_of
from commands.execute import load
from domain.conversation import Open
from domain.envelope import EventOrigin, NewEvent, Position, StoredEvent
from domain.errors import NotFound
from infra.event_store import RedisEventStore

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EVERY = CONVERSATIONS.snapshot_every


def context(tenant: str = "acme", key: str | None = None) -> CommandContext:
    return CommandContext(tenant=tenant, actor="k1", now=NOW, idempotency_key=key)


class Reads:
    """The real store, remembering where each command started reading its stream."""

    def __init__(self, store: RedisEventStore) -> None:
        self.store = store
        self.starts: list[int] = []

    async def read_stream(self, stream: str, from_version: int = 1) -> list[StoredEvent]:
        self.starts.append(from_version)
        return await self.store.read_stream(stream, from_version)

    async def append(
        self, stream: str, events: Sequence[NewEvent], expected_version: int, origin: EventOrigin
    ) -> list[Position]:
        return await self.store.append(stream, events, expected_version, origin)

    async def positions_of(self, stream: str, event_ids: Sequence[str]) -> list[Position | None]:
        return await self.store.positions_of(stream, event_ids)

    async def load_snapshot(self, stream: str, name: str) -> bytes | None:
        return await self.store.load_snapshot(stream, name)

    async def save_snapshot(
        self, stream: str, name: str, version: int, snapshot: bytes, *, tenant: str = ""
    ) -> None:
        await self.store.save_snapshot(stream, name, version, snapshot, tenant=tenant)


async def conversation_with(store: Any, messages: int) -> str:
    cid = (await start_conversation(store, context(), title=None, language=None)).stream.split("-", 1)[1]
    for n in range(messages):
        await send_message(store, context(key=f"m{n}"), cid, f"message {n}")
    return cid


async def test_a_long_conversation_is_loaded_from_its_snapshot_and_the_events_after_it(
    standalone_store: RedisEventStore,
) -> None:
    reads = Reads(standalone_store)
    cid = await conversation_with(reads, 2 * EVERY + 30)
    reads.starts.clear()

    loaded = await load(reads, CONVERSATIONS, stream_of(cid))

    everything = await standalone_store.read_stream(stream_of(cid))
    assert loaded.state == CONVERSATIONS.fold((e.envelope.data for e in everything), CONVERSATIONS.initial)
    assert loaded.version == len(everything)
    assert len(everything) - reads.starts[0] < EVERY  # read only what came after the newest snapshot
    assert isinstance(loaded.state, Open)
    assert len(loaded.state.message_ids) == 2 * EVERY + 30


async def test_a_message_sent_again_under_its_key_is_still_recognised_past_a_snapshot(
    standalone_store: RedisEventStore,
) -> None:
    cid = await conversation_with(standalone_store, EVERY + 5)

    again = await send_message(standalone_store, context(key="m0"), cid, "message 0")

    first = (await standalone_store.read_stream(stream_of(cid)))[1]  # after the start: message 0
    assert again.event_ids == (first.envelope.id,)  # answered with what it appended then (ADR 0031)
    assert again.version == 2
    assert (await standalone_store.head(stream_of(cid))).version == EVERY + 6


async def test_another_tenant_cannot_reach_a_snapshotted_conversation(
    standalone_store: RedisEventStore,
) -> None:
    cid = await conversation_with(standalone_store, EVERY + 1)
    assert await standalone_store.load_snapshot(stream_of(cid), "conversation") is not None

    with pytest.raises(NotFound):
        await send_message(standalone_store, context(tenant="globex"), cid, "hello")


@pytest.mark.parametrize(
    "snapshot",
    [
        b"{not json",
        b'{"schema": "conversation.0", "version": 3, "tenant": "acme", "state": {"type": "open"}}',
    ],
    ids=["garbage", "another-schema"],
)
async def test_a_snapshot_that_cannot_be_used_is_ignored_and_the_stream_folded_from_its_start(
    standalone_store: RedisEventStore, snapshot: bytes
) -> None:
    cid = await conversation_with(standalone_store, 3)
    key = standalone_store.keys.for_stream(stream_of(cid)).snapshot(stream_of(cid), "conversation")
    await standalone_store.redis.client.hset(key, mapping={"v": 3, "doc": snapshot})

    loaded = await load(standalone_store, CONVERSATIONS, stream_of(cid))

    assert loaded.version == 4
    assert isinstance(loaded.state, Open)
    assert len(loaded.state.message_ids) == 3


async def test_an_older_snapshot_never_replaces_a_newer_one(standalone_store: RedisEventStore) -> None:
    await standalone_store.save_snapshot("conversation-x", "conversation", 200, b"newer")
    await standalone_store.save_snapshot("conversation-x", "conversation", 100, b"older")

    assert await standalone_store.load_snapshot("conversation-x", "conversation") == b"newer"


async def test_the_tenant_of_a_stream_is_read_from_its_first_event_alone(
    standalone_store: RedisEventStore,
) -> None:
    cid = await conversation_with(standalone_store, 2)

    assert await standalone_store.tenant_of(stream_of(cid)) == "acme"
    assert await standalone_store.tenant_of("conversation-none") is None
    assert len(await standalone_store.read_stream(stream_of(cid), limit=2)) == 2


def test_a_snapshot_round_trips_every_conversation_state() -> None:
    from commands.snapshots import Snapshot
    from domain.conversation import Closed, NotStarted

    for state in (
        NotStarted(),
        Open(conversation_id="c", message_ids=frozenset({"a"})),
        Closed(conversation_id="c"),
    ):
        snapshot = Snapshot(schema="conversation.1", version=1, tenant="acme", state=state)
        raw = msgspec.json.encode(snapshot)
        assert msgspec.json.decode(raw, type=Snapshot[CONVERSATIONS.state_type]) == snapshot
