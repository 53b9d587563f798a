"""A tenant's audit (`verify_store(tenant=…)`): its own streams walked, the log entries that claim to be
its own reported, and nothing of another tenant's, whatever an entry says."""

from __future__ import annotations

import msgspec

from domain.envelope import EventOrigin
from infra.audit import verify_store
from infra.event_store import RedisEventStore
from tests.support.events import ORIGIN, batch

GLOBEX = EventOrigin(tenant="globex", source="aiwf://tests")


async def filled(store: RedisEventStore) -> None:
    await store.append("conversation-a1", batch(2), 0, ORIGIN)
    await store.append("conversation-a2", batch(3), 0, ORIGIN)
    await store.append("conversation-g1", batch(4), 0, GLOBEX)


async def forge(store: RedisEventStore, stream: str, tenant: str) -> None:
    """A log entry no event claims, in the partition `stream` hashes to."""
    document = {"id": "forged", "stream": stream, "version": 1, "tenant": tenant, "type": "x"}
    log = store.keys.for_stream(stream).log
    await store.redis.client.execute_command("XADD", log, "*", "event", msgspec.json.encode(document))


async def test_a_tenants_audit_walks_its_own_streams_only(store: RedisEventStore) -> None:
    await filled(store)

    acme = await verify_store(store, tenant="acme")
    globex = await verify_store(store, tenant="globex")
    everyone = await verify_store(store)

    assert (acme.streams, acme.events, acme.problems) == (2, 5, [])
    assert (globex.streams, globex.events, globex.problems) == (1, 4, [])
    assert (everyone.streams, everyone.events) == (3, 9)
    assert acme.log_entries == everyone.log_entries  # the whole log is read: the checkpoints cover it


async def test_an_entry_that_says_it_is_the_tenants_is_reported_to_it_alone(store: RedisEventStore) -> None:
    await filled(store)
    await forge(store, "conversation-ghost", "acme")

    acme = await verify_store(store, tenant="acme")
    globex = await verify_store(store, tenant="globex")

    assert [(p.kind, p.detail) for p in acme.problems] == [
        ("orphan", "stream 'conversation-ghost' has no head")
    ]
    assert globex.problems == []


async def test_an_entry_naming_another_tenants_stream_is_not_reported_to_the_tenant_it_names(
    store: RedisEventStore,
) -> None:
    await filled(store)
    await forge(store, "conversation-g1", "acme")  # says acme, names globex's stream

    acme = await verify_store(store, tenant="acme")

    assert acme.problems == []
    assert acme.foreign == []


async def test_a_stream_older_than_the_tenant_record_is_known_by_its_first_event(
    store: RedisEventStore,
) -> None:
    await filled(store)
    keys = store.keys.for_stream("conversation-a2")
    await store.redis.client.execute_command("HDEL", keys.tenants, "conversation-a2")

    acme = await verify_store(store, tenant="acme")

    assert (acme.streams, acme.events, acme.problems) == (2, 5, [])
