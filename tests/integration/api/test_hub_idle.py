"""The live hub reads nothing while nobody subscribes (api/hub.py): its readers wait while the hub notes
where the logs end, and the first subscriber wakes them without missing an event appended after it
subscribed, even one appended while the hub was noting the ends."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from api import hub as hub_module
from api.hub import Delivery, StreamHub, Subscription
from infra.event_store import RedisEventStore
from tests.support import events


async def started(store: RedisEventStore) -> str:
    """A new conversation's first event; its stream's name."""
    conversation = str(uuid.uuid4())
    stream = f"conversation-{conversation}"
    await store.append(stream, [events.new(events.started(conversation))], 0, events.ORIGIN)
    return stream


async def delivered(sub: Subscription, streams: set[str]) -> set[str]:
    """The streams of the deliveries `sub` got, until it got one of each of `streams`."""
    got: set[str] = set()
    async with asyncio.timeout(10):
        while not streams <= got:
            delivery = await sub.queue.get()
            if isinstance(delivery, Delivery):
                got.add(delivery.stream)
    return got


def counted_reads(hub: StreamHub) -> Callable[[], int]:
    client: Any = hub._redis.client
    xread, calls = client.xread, [0]

    async def counting(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return await xread(*args, **kwargs)

    client.xread = counting
    return lambda: calls[0]


async def test_nobody_subscribed_no_read_then_the_first_subscriber_gets_what_follows(
    standalone_store: RedisEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "IDLE_S", 0.05)
    hub = StreamHub(standalone_store)
    reads = counted_reads(hub)
    await hub.start()
    try:
        for _ in range(20):
            await started(standalone_store)
        await asyncio.sleep(0.3)  # several idle periods: the hub noted where the logs end
        assert reads() == 0

        sub = hub.subscribe("acme")
        streams = {await started(standalone_store) for _ in range(10)}
        assert streams <= await delivered(sub, streams)
        assert reads() > 0

        hub.unsubscribe(sub)
        assert hub.subscribers == 0
        await asyncio.sleep(1.2)  # a read blocked when the last one left returns within a second
        before = reads()
        for _ in range(10):
            await started(standalone_store)
        await asyncio.sleep(0.2)
        assert reads() == before
    finally:
        await hub.stop()


async def test_an_end_noted_while_someone_subscribed_is_not_used(
    standalone_store: RedisEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "IDLE_S", 0.05)
    hub = StreamHub(standalone_store)
    await hub.start()
    try:
        log_ends = standalone_store.log_ends
        subscribed: list[Subscription] = []
        appended: list[str] = []

        async def subscribing_meanwhile() -> dict[int, str]:
            """While the hub asks where the logs end, a client subscribes and an event is appended:
            the ends it gets are past that event, which the subscriber must still receive."""
            if not subscribed:
                subscribed.append(hub.subscribe("acme"))
                appended.append(await started(standalone_store))
            return await log_ends()

        ends: Callable[[], Awaitable[dict[int, str]]] = subscribing_meanwhile
        monkeypatch.setattr(standalone_store, "log_ends", ends)
        async with asyncio.timeout(5):
            while not appended:  # noqa: ASYNC110 - the next idle period does it
                await asyncio.sleep(0.01)

        assert set(appended) <= await delivered(subscribed[0], set(appended))
    finally:
        await hub.stop()
