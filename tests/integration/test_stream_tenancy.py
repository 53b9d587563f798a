"""Tenancy is a property of the store: the first event of a stream fixes its tenant, and nobody else may
append to it, on standalone Redis and on a real Cluster (docs/adr/0022)."""

from __future__ import annotations

import asyncio

import pytest
from redis.cluster import key_slot

from domain.envelope import EventOrigin
from domain.errors import ConcurrencyConflict, NotFound, StreamOfAnotherTenant
from infra.event_store import RedisEventStore, StoreCorrupted
from infra.redis_cmds import hget, xrange
from tests.support.events import ORIGIN, batch, new, started

GLOBEX = EventOrigin(tenant="globex", source="aiwf://tests")


async def test_another_tenant_cannot_append_to_a_stream_whose_first_event_fixed_its_tenant(
    store: RedisEventStore,
) -> None:
    await store.append("conversation-a", [new(started("a"))], expected_version=0, origin=ORIGIN)
    keys = store.keys.for_stream("conversation-a")

    with pytest.raises(StreamOfAnotherTenant) as caught:
        await store.append("conversation-a", batch(2), expected_version=1, origin=GLOBEX)

    assert isinstance(caught.value, NotFound)  # answered as a missing stream would be
    assert "acme" not in str(caught.value)  # the owner is never named to the caller
    assert [e.envelope.tenant for e in await store.read_stream("conversation-a")] == ["acme"]
    assert len(await store.read_log(keys.partition)) == 1
    assert (await store.head("conversation-a")).version == 1
    await store.append("conversation-a", batch(1), expected_version=1, origin=ORIGIN)  # its own: fine
    assert await store.tenant_of("conversation-a") == "acme"


async def test_a_stored_batch_re_sent_by_another_tenant_is_refused_not_answered_with_its_positions(
    store: RedisEventStore,
) -> None:
    events = batch(2)
    await store.append("conversation-a", events, expected_version=0, origin=ORIGIN)

    with pytest.raises(StreamOfAnotherTenant):
        await store.append("conversation-a", events, expected_version=0, origin=GLOBEX)


async def test_a_stream_written_before_tenants_were_recorded_is_fixed_by_its_first_event(
    store: RedisEventStore,
) -> None:
    await store.append("conversation-old", [new(started("old")), *batch(2)], 0, ORIGIN)
    keys = store.keys.for_stream("conversation-old")
    client = await store.redis.client_for_key(keys.tenants)
    await client.hdel(keys.tenants, "conversation-old")  # as the store left it before the record existed

    with pytest.raises(StreamOfAnotherTenant):
        await store.append("conversation-old", batch(1), expected_version=3, origin=GLOBEX)
    assert await hget(client, keys.tenants, "conversation-old") == b"acme"  # recorded on first sight
    await store.append("conversation-old", batch(1), expected_version=3, origin=ORIGIN)
    assert (await store.head("conversation-old")).version == 4


async def test_an_old_stream_whose_first_event_names_no_tenant_refuses_every_append(
    store: RedisEventStore,
) -> None:
    keys = store.keys.for_stream("conversation-odd")
    client = await store.redis.client_for_key(keys.log)
    await client.execute_command("XADD", keys.stream("conversation-odd"), "1-0", "event", '{"version": 1}')
    await client.hset(keys.heads, "conversation-odd", "1 " + "0" * 64)

    with pytest.raises(StoreCorrupted, match="names no tenant"):
        await store.append("conversation-odd", batch(1), expected_version=1, origin=ORIGIN)
    assert len(await xrange(client, keys.stream("conversation-odd"), "-")) == 1


async def test_two_tenants_racing_to_create_one_stream_leave_it_to_one_of_them(
    store: RedisEventStore,
) -> None:
    async def create(origin: EventOrigin) -> str:
        try:
            await store.append("conversation-race", [new(started("race"))], 0, origin)
        except (ConcurrencyConflict, StreamOfAnotherTenant) as refused:
            return type(refused).__name__
        return "won"

    outcomes = await asyncio.gather(*(create(o) for o in [ORIGIN, GLOBEX] * 10))

    assert outcomes.count("won") == 1
    owner = await store.tenant_of("conversation-race")
    loser = GLOBEX if owner == "acme" else ORIGIN
    with pytest.raises(StreamOfAnotherTenant):
        await store.append("conversation-race", batch(1), expected_version=1, origin=loser)
    assert {e.envelope.tenant for e in await store.read_stream("conversation-race")} == {owner}


async def test_the_tenants_record_lives_in_the_slot_of_its_partition(store: RedisEventStore) -> None:
    for keys in store.keys.all_partitions():
        assert key_slot(keys.tenants.encode()) == key_slot(keys.heads.encode())
