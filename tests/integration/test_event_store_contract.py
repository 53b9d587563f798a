"""The event store contract, run against standalone Redis and a real three-node Redis Cluster."""

from __future__ import annotations

import asyncio
import json

import msgspec
import pytest
from redis.cluster import key_slot

from domain.errors import ConcurrencyConflict, DuplicateEventId, EventIdTaken, InvalidInput
from infra.event_store import RedisEventStore, StoreCorrupted
from infra.redis_cmds import xrange
from tests.support.events import NOW, ORIGIN, batch, message, new, started


async def test_appended_events_read_back_in_order_with_contiguous_versions(store: RedisEventStore) -> None:
    events = [new(started()), *batch(4)]
    positions = await store.append("conversation-a", events, expected_version=0, origin=ORIGIN)

    read = await store.read_stream("conversation-a")
    assert [p.version for p in positions] == [1, 2, 3, 4, 5]
    assert [e.envelope.id for e in read] == [e.id for e in events]
    assert [e.envelope.version for e in read] == [1, 2, 3, 4, 5]
    assert read[1].envelope.data == events[1].data
    assert (await store.head("conversation-a")).version == 5


async def test_each_event_chains_to_the_one_before(store: RedisEventStore) -> None:
    await store.append("conversation-a", batch(2), expected_version=0, origin=ORIGIN)
    await store.append("conversation-a", batch(2), expected_version=2, origin=ORIGIN)

    read = [e.envelope for e in await store.read_stream("conversation-a")]
    assert read[0].prevhash == "0" * 64
    assert [e.prevhash for e in read[1:]] == [e.hash for e in read[:-1]]
    assert (await store.head("conversation-a")).hash == read[-1].hash


async def test_a_second_append_with_a_stale_version_is_rejected(store: RedisEventStore) -> None:
    await store.append("conversation-a", batch(1), expected_version=0, origin=ORIGIN)

    with pytest.raises(ConcurrencyConflict) as caught:
        await store.append("conversation-a", batch(1), expected_version=0, origin=ORIGIN)
    assert (caught.value.expected, caught.value.actual) == (0, 1)


async def test_fifty_concurrent_single_shot_appenders_have_one_winner(store: RedisEventStore) -> None:
    async def attempt() -> str:
        try:
            await store.append("conversation-race", batch(1), expected_version=0, origin=ORIGIN)
        except ConcurrencyConflict as conflict:
            return f"conflict at {conflict.actual}"
        return "won"

    outcomes = await asyncio.gather(*(attempt() for _ in range(50)))
    assert outcomes.count("won") == 1
    assert outcomes.count("conflict at 1") == 49
    assert len(await store.read_stream("conversation-race")) == 1


async def test_fifty_concurrent_appenders_that_retry_end_with_versions_one_to_fifty(
    store: RedisEventStore,
) -> None:
    conflicts = 0

    async def append_one(n: int) -> None:
        nonlocal conflicts
        event = batch(1, text=f"writer {n}")
        while True:
            head = await store.head("conversation-race")
            try:
                await store.append("conversation-race", event, head.version, ORIGIN, head=head)
                return
            except ConcurrencyConflict:
                conflicts += 1

    await asyncio.gather(*(append_one(n) for n in range(50)))

    read = await store.read_stream("conversation-race")
    assert [e.envelope.version for e in read] == list(range(1, 51))
    assert len({e.envelope.id for e in read}) == 50
    assert conflicts > 0  # the losers were told, and retried


async def test_a_batch_at_a_wrong_version_writes_nothing(store: RedisEventStore) -> None:
    await store.append("conversation-a", batch(2), expected_version=0, origin=ORIGIN)

    with pytest.raises(ConcurrencyConflict):
        await store.append("conversation-a", batch(5), expected_version=1, origin=ORIGIN)

    keys = store.keys.for_stream("conversation-a")
    assert len(await store.read_stream("conversation-a")) == 2
    assert len(await store.read_log(keys.partition)) == 2


async def test_re_appending_a_stored_batch_returns_the_original_positions(store: RedisEventStore) -> None:
    events = batch(3)
    first = await store.append("conversation-a", events, expected_version=0, origin=ORIGIN)
    await store.append("conversation-a", batch(1), expected_version=3, origin=ORIGIN)

    again = await store.append("conversation-a", events, expected_version=0, origin=ORIGIN)

    assert again == first
    assert len(await store.read_stream("conversation-a")) == 4


async def test_a_batch_mixing_stored_and_new_ids_is_refused_whole(store: RedisEventStore) -> None:
    stored = batch(2)
    await store.append("conversation-a", stored, expected_version=0, origin=ORIGIN)

    with pytest.raises(DuplicateEventId):
        await store.append("conversation-a", [*batch(1), stored[0]], expected_version=2, origin=ORIGIN)
    assert len(await store.read_stream("conversation-a")) == 2


def _same_partition_streams(store: RedisEventStore, count: int) -> list[str]:
    names = (f"conversation-{n}" for n in range(10_000))
    first = next(names)
    partition = store.keys.for_stream(first).partition
    return [first, *[s for s in names if store.keys.for_stream(s).partition == partition][: count - 1]]


async def test_an_id_stored_for_one_stream_is_refused_for_another_of_its_partition(
    store: RedisEventStore,
) -> None:
    """Regression: the id index answered "duplicate" with stream A's positions for stream B's batch,
    so B's events were dropped while the caller was told they were stored."""
    stream_a, stream_b = _same_partition_streams(store, 2)
    events = batch(2)
    await store.append(stream_a, events, expected_version=0, origin=ORIGIN)

    with pytest.raises(EventIdTaken) as caught:
        await store.append(stream_b, events, expected_version=0, origin=ORIGIN)

    assert (caught.value.event_id, caught.value.stored_stream) == (events[0].id, stream_a)
    assert "already stored for stream" in str(caught.value)
    assert await store.read_stream(stream_b) == []


async def test_a_stored_id_re_sent_with_other_content_is_refused(store: RedisEventStore) -> None:
    stored = new(message("first words"))
    await store.append("conversation-a", [stored], expected_version=0, origin=ORIGIN)
    changed = msgspec.structs.replace(stored, data=message("other words"))

    with pytest.raises(EventIdTaken, match="with other content"):
        await store.append("conversation-a", [changed], expected_version=1, origin=ORIGIN)
    assert [e.envelope.data for e in await store.read_stream("conversation-a")] == [stored.data]


async def test_a_retry_with_another_delivery_time_and_trace_is_still_a_retry(store: RedisEventStore) -> None:
    stored = new(message("same words"))
    first = await store.append("conversation-a", [stored], expected_version=0, origin=ORIGIN)
    redelivered = msgspec.structs.replace(stored, time=NOW.replace(hour=10), traceparent="00-" + "1" * 32)

    assert await store.append("conversation-a", [redelivered], expected_version=1, origin=ORIGIN) == first


async def test_an_id_recorded_before_streams_were_recorded_still_answers_its_retry(
    store: RedisEventStore,
) -> None:
    stored = new(message())
    first = await store.append("conversation-a", [stored], expected_version=0, origin=ORIGIN)
    keys = store.keys.for_stream("conversation-a")
    await store.redis.client.hset(keys.ids, stored.id, f"1 {first[0].log_id}")  # the older record form

    assert await store.append("conversation-a", [stored], expected_version=1, origin=ORIGIN) == first


async def test_a_batch_that_repeats_an_id_is_refused_before_anything_is_written(
    store: RedisEventStore,
) -> None:
    event = new(message())

    with pytest.raises(DuplicateEventId, match="repeats event ids"):
        await store.append("conversation-a", [event, event], expected_version=0, origin=ORIGIN)
    assert await store.read_stream("conversation-a") == []


async def test_the_log_and_the_aggregate_streams_hold_the_same_bytes(store: RedisEventStore) -> None:
    streams = [f"conversation-{n}" for n in range(12)]
    for round_ in range(3):
        for stream in streams:
            await store.append(stream, batch(2), expected_version=2 * round_, origin=ORIGIN)

    aggregate_copies = {e.raw for s in streams for e in await store.read_stream(s)}
    log_copies: list[bytes] = []
    for keys in store.keys.all_partitions():
        log_copies += [entry.raw or b"" for entry in await store.read_log(keys.partition, count=10_000)]
    assert sorted(log_copies) == sorted(aggregate_copies)
    assert len(log_copies) == 72


async def test_the_log_keeps_each_aggregates_order(store: RedisEventStore) -> None:
    for version in range(5):
        await store.append("conversation-o", batch(1), expected_version=version, origin=ORIGIN)
    keys = store.keys.for_stream("conversation-o")

    versions = [json.loads(e.raw or b"{}")["version"] for e in await store.read_log(keys.partition)]
    assert versions == [1, 2, 3, 4, 5]


async def test_log_entries_are_plain_json_cloudevents(store: RedisEventStore) -> None:
    await store.append("conversation-a", [new(started())], expected_version=0, origin=ORIGIN)
    keys = store.keys.for_stream("conversation-a")

    [entry] = await store.read_log(keys.partition)
    document = json.loads(entry.raw or b"")
    assert document["specversion"] == "1.0"
    assert document["type"] == "aiwf.conversation.started.v1"
    assert document["stream"] == "conversation-a"
    assert document["tenant"] == "acme"
    assert document["data"]["conversation_id"] == "c1"
    assert keys.log.endswith(f":{{p{keys.partition}}}:log")


async def test_every_key_of_a_partition_hashes_to_one_cluster_slot(store: RedisEventStore) -> None:
    for keys in store.keys.all_partitions():
        slots = {key_slot(k.encode()) for k in (keys.log, keys.heads, keys.ids, keys.stream("workflow-x"))}
        assert len(slots) == 1


async def test_a_stream_that_disagrees_with_its_head_refuses_appends(store: RedisEventStore) -> None:
    await store.append("conversation-a", batch(1), expected_version=0, origin=ORIGIN)
    keys = store.keys.for_stream("conversation-a")
    client = await store._redis.client_for_key(keys.log)
    await client.execute_command("XADD", keys.stream("conversation-a"), "7-0", "event", "{}")

    with pytest.raises(StoreCorrupted):
        await store.append("conversation-a", batch(2), expected_version=1, origin=ORIGIN)
    assert len(await xrange(client, keys.log, "-")) == 1


async def test_an_event_holding_a_nul_character_is_refused_and_nothing_is_written(
    store: RedisEventStore,
) -> None:
    """Every producer, not only commands: the projectors could not store it (PostgreSQL refuses U+0000)."""
    with pytest.raises(InvalidInput, match=r"user_message_received\.v1 "):
        await store.append("conversation-nul", [new(started("nul")), new(message("a\x00b"))], 0, ORIGIN)
    assert await store.read_stream("conversation-nul") == []
    await store.append("conversation-nul", [new(started("nul")), new(message("a\\u0000b"))], 0, ORIGIN)
    assert len(await store.read_stream("conversation-nul")) == 2  # the six characters, as text, are fine
