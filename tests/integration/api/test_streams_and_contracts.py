"""Live streams resume without gaps or duplicates; the published contracts hold; reads wait for writes."""

from __future__ import annotations

import asyncio
import json

import msgspec
import pytest

from api import streams
from api.deps import Limits
from api.hub import StreamHub
from domain.catalog import REGISTRY
from infra.event_store import RedisEventStore
from tests.integration.api.conftest import Stack, running_stack
from tests.integration.api.test_commands_and_reads import PROBLEM, start


class Sse(msgspec.Struct):
    id: str
    event: str
    data: dict[str, object]


async def collect(stack: Stack, path: str, count: int, last_event_id: str | None = None) -> list[Sse]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    events: list[Sse] = []
    current: dict[str, str] = {}
    async with stack.client() as http, http.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if not line:
                if "data" in current:
                    events.append(
                        Sse(
                            id=current.get("id", ""),
                            event=current.get("event", ""),
                            data=json.loads(current["data"]),
                        )
                    )
                current = {}
                if len(events) >= count:
                    return events
                continue
            key, _, value = line.partition(": ")
            current[key] = value
    return events


async def say(stack: Stack, cid: object, text: str) -> None:
    async with stack.client() as http:
        assert (await http.post(f"/v1/conversations/{cid}/messages", json={"text": text})).status_code == 202


async def test_a_conversation_stream_resumes_after_the_last_event_id(stack: Stack) -> None:
    cid = (await start(stack))["conversation_id"]
    await say(stack, cid, "un")

    first = await collect(stack, f"/v1/conversations/{cid}/stream", 2)
    await say(stack, cid, "deux")
    await say(stack, cid, "trois")
    resumed = await collect(stack, f"/v1/conversations/{cid}/stream", 2, last_event_id=first[-1].id)

    assert [e.id for e in first] == ["1", "2"]
    assert [e.id for e in resumed] == ["3", "4"]
    assert [e.data["data"]["text"] for e in resumed] == ["deux", "trois"]  # type: ignore[index]
    assert resumed[0].event == "aiwf.conversation.user_message_received.v1"


async def test_a_long_conversation_is_caught_up_in_chunks_in_order(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streams, "CATCH_UP_CHUNK", 3)
    cid = (await start(stack))["conversation_id"]
    for n in range(7):
        await say(stack, cid, f"message {n}")

    events = await collect(stack, f"/v1/conversations/{cid}/stream", 7, last_event_id="1")

    assert [e.id for e in events] == [str(v) for v in range(2, 9)]
    assert [e.data["data"]["text"] for e in events] == [f"message {n}" for n in range(7)]  # type: ignore[index]


async def test_a_live_conversation_stream_delivers_new_events_as_they_happen(stack: Stack) -> None:
    cid = (await start(stack))["conversation_id"]
    listening = asyncio.create_task(collect(stack, f"/v1/conversations/{cid}/stream", 3))
    await stack.subscribed(1)
    await say(stack, cid, "a")
    await say(stack, cid, "b")

    events = await asyncio.wait_for(listening, timeout=10)

    assert [e.id for e in events] == ["1", "2", "3"]


async def test_the_tenant_stream_resumes_across_partitions_without_gaps_or_duplicates(stack: Stack) -> None:
    listening = asyncio.create_task(collect(stack, "/v1/stream", 3))
    await stack.subscribed(1)
    conversations = [(await start(stack, title=f"t{n}"))["conversation_id"] for n in range(3)]
    first = await asyncio.wait_for(listening, timeout=10)
    for cid in conversations:
        await say(stack, cid, "suite")

    resumed = await collect(stack, "/v1/stream", 3, last_event_id=first[-1].id)

    assert sorted(e.data["stream"] for e in first) == sorted(f"conversation-{c}" for c in conversations)  # type: ignore[type-var]
    assert sorted(e.data["stream"] for e in resumed) == sorted(f"conversation-{c}" for c in conversations)  # type: ignore[type-var]
    assert {e.data["version"] for e in resumed} == {2}


async def test_a_read_with_a_token_the_projector_has_not_reached_is_a_503_problem(
    standalone_store,
    pg_pool,
    database_url: str,
    redis_url: str,  # type: ignore[no-untyped-def]
) -> None:
    async with running_stack(
        standalone_store, pg_pool, database_url, redis_url, Limits(read_wait_s=0.3)
    ) as stack:
        await stack.runtime.stop()  # the projectors stop: reads cannot catch up
        started = await start(stack)
        async with stack.client() as http:
            response = await http.get(
                "/v1/conversations", headers={"X-Consistency-Token": str(started["consistency_token"])}
            )
            malformed = await http.get("/v1/conversations", headers={"X-Consistency-Token": "not-a-token"})

    assert response.status_code == 503
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.headers["retry-after"] == "1"
    assert malformed.status_code == 422


async def test_the_openapi_and_asyncapi_documents_describe_the_api_and_every_event(stack: Stack) -> None:
    async with stack.client(None) as http:
        openapi = (await http.get("/schema/openapi.json")).json()
        asyncapi = (await http.get("/asyncapi.json")).json()
        metrics = (await http.get("/metrics")).text
        ready = await http.get("/health/ready")

    assert openapi["openapi"].startswith("3.1")
    assert "/v1/conversations/{conversation_id}/messages" in openapi["paths"]
    assert asyncapi["asyncapi"] == "3.0.0"
    assert set(asyncapi["channels"]) == {k.log for k in stack.store.keys.all_partitions()}
    described = {
        c["properties"]["type"]["const"]
        for c in asyncapi["components"]["schemas"].values()
        if "description" in c and "type" in c.get("properties", {})
    }
    assert described == set(REGISTRY.types())
    assert "aiwf_http_request_seconds_bucket" in metrics
    assert "aiwf_projection_lag" in metrics
    assert ready.status_code == 200


async def test_an_idle_subscriber_gets_keep_alives_and_a_busy_one_does_not(
    standalone_store: RedisEventStore,
) -> None:
    hub = StreamHub(standalone_store, keepalive_s=0.05)
    await hub.start()
    try:
        idle, busy = hub.subscribe("acme"), hub.subscribe("acme")
        busy.queue.put_nowait(None)  # stands for a delivery not yet written out
        await asyncio.sleep(0.2)
        assert idle.queue.qsize() == 1
        assert idle.queue.get_nowait() is None
        assert busy.queue.qsize() == 1  # nothing added while it had something to send
    finally:
        await hub.stop()
