"""OpenTelemetry traces of the main job: one user message, one connected trace across the HTTP command,
the appends, every process manager's step, the model calls (GenAI conventions), the n8n calls, the
projector batches and the SSE deliveries, parented through the `traceparent` the events carry."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.deps import Limits
from commands.conversations import stream_of
from inference.gateway import Gateway
from infra import tracing
from infra.event_store import RedisEventStore
from infra.n8n.client import N8nInstance, RetryPolicy
from infra.n8n.instances import N8nInstances
from tests.integration.api.conftest import Stack, running_stack
from tests.integration.api.test_no_secrets_in_logs import replied
from tests.integration.managers.conftest import deps_for, offline_gateway
from tests.integration.managers.test_main_job import DEMO
from tests.support.fake_n8n import FakeN8n

N8N_KEY = "n8n_api_" + secrets.token_hex(24)


@pytest.fixture
async def traced_stack(
    spans: InMemorySpanExporter,
    standalone_store: RedisEventStore,
    pg_pool: asyncpg.Pool,
    database_url: str,
    redis_url: str,
) -> AsyncIterator[Stack]:
    """The main job auto-approved and deployed to an n8n, traces on from the start (the API's server
    spans are a middleware added when the app is built)."""
    gateway: Gateway = offline_gateway()
    with FakeN8n(api_key=N8N_KEY) as n8n:
        instances = N8nInstances(N8nInstance(url=n8n.url, api_key=N8N_KEY), policy=RetryPolicy(attempts=2))
        managers = dataclasses.replace(deps_for(standalone_store, gateway, auto_approve=True), n8n=instances)
        async with running_stack(
            standalone_store, pg_pool, database_url, redis_url, Limits(read_wait_s=5.0), managers=managers
        ) as stack:
            yield stack
        await instances.aclose()
    await gateway.aclose()


def _traceparent() -> tuple[str, int, int]:
    trace_id, span_id = secrets.randbits(128) | 1, secrets.randbits(64) | 1
    return f"00-{trace_id:032x}-{span_id:016x}-01", trace_id, span_id


async def _listen(http: httpx.AsyncClient, cid: str, ready: asyncio.Event) -> None:
    async with http.stream("GET", f"/v1/conversations/{cid}/stream", timeout=None) as response:
        ready.set()
        async for _ in response.aiter_lines():
            pass


async def _deployment_ended(stack: Stack, http: httpx.AsyncClient, cid: str) -> None:
    async with asyncio.timeout(60):
        while True:
            response = await http.get("/v1/workflows", params={"conversation_id": cid})
            items = response.json()["items"] if response.status_code == 200 else []
            # This n8n holds no credentials: the deployment stops at asking for them.
            if [w["status"] for w in items] in (["deployed"], ["needs_credentials"]):
                break
            await asyncio.sleep(0.05)
    assert await stack.runtime.wait_caught_up(timeout_s=30)


def _connected(spans: tuple[ReadableSpan, ...], trace_id: int) -> list[ReadableSpan]:
    """The trace's spans, and the batch spans linked to it (a batch of several traces is their child of
    none)."""
    return [
        s
        for s in spans
        if s.context.trace_id == trace_id or any(link.context.trace_id == trace_id for link in s.links)
    ]


async def _converse(stack: Stack, header: str) -> None:
    """One message with the caller's `traceparent`, its conversation's SSE stream open meanwhile, until
    its workflow's deployment ended."""
    async with stack.client() as http:
        cid = (await http.post("/v1/conversations", json={"title": "Ventes"})).json()["conversation_id"]
        ready = asyncio.Event()
        listener = asyncio.create_task(_listen(http, cid, ready))
        await ready.wait()
        sent = await http.post(
            f"/v1/conversations/{cid}/messages", json={"text": DEMO}, headers={"traceparent": header}
        )
        assert sent.status_code == 202
        await _deployment_ended(stack, http, cid)
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener


async def test_one_message_is_one_connected_trace_from_the_http_command_to_n8n(
    traced_stack: Stack, spans: InMemorySpanExporter
) -> None:
    header, trace_id, caller_span = _traceparent()
    await _converse(traced_stack, header)
    finished = spans.get_finished_spans()
    trace = [s for s in finished if s.context.trace_id == trace_id]
    ids = {s.context.span_id for s in trace}
    names = {s.name for s in trace}
    by_name = {s.name: s for s in trace}

    # One tree: every span's parent is in it, but the root's, which is the caller's span.
    roots = [s for s in trace if s.parent is None or s.parent.span_id not in ids]
    assert [(r.name, r.parent.span_id if r.parent else None) for r in roots] == [
        ("POST /v1/conversations/{conversation_id}/messages", caller_span)
    ]
    assert {
        "append aiwf.conversation.user_message_received.v1",
        "append aiwf.conversation.intent_classified.v1",
        "orchestrator aiwf.conversation.user_message_received.v1",
    } <= names
    managers = {(s.attributes or {}).get("aiwf.manager") for s in trace}
    agents = {(s.attributes or {}).get("aiwf.agent") for s in trace}
    assert {"orchestrator", "specialists", "designer", "deployer"} <= managers
    assert {"sales", "logistics"} <= agents
    [validated] = [s for s in trace if s.name == "validate workflow"]
    assert (validated.attributes or {})["aiwf.workflow.valid"] is True
    assert {"infer orchestrator", "infer sales", "infer logistics", "infer designer"} <= names

    inferences = {span.context.span_id for span in trace if span.name.startswith("infer ")}
    chat = [s for s in trace if s.attributes and s.attributes.get("gen_ai.operation.name") == "chat"]
    assert len(chat) >= 4
    for call in chat:
        attributes = call.attributes or {}
        assert attributes["gen_ai.system"] == "offline"
        assert attributes["gen_ai.request.model"]
        assert attributes["gen_ai.usage.input_tokens"] >= 0
        assert attributes["gen_ai.usage.output_tokens"] > 0
        assert call.name == f"chat {attributes['gen_ai.request.model']}"
        assert call.parent is not None
        assert call.parent.span_id in inferences
    decided = by_name["infer orchestrator"].attributes or {}
    assert decided["aiwf.sensitivity"] == "public"
    assert decided["aiwf.route.reason"]

    n8n_calls = [s for s in trace if s.attributes and "aiwf.n8n.operation" in s.attributes]
    assert n8n_calls, names
    assert all(s.attributes and s.attributes["url.full"].startswith("http://127.0.0.1") for s in n8n_calls)
    assert any((s.attributes or {}).get("http.request.method") == "POST" for s in n8n_calls)

    connected = _connected(finished, trace_id)
    projected = {s.name for s in connected if s.name.startswith("project ")}
    assert {"project conversation_views", "project workflow_views", "project sbom"} <= projected, projected
    assert any(s.name == "sse deliver" for s in connected)


async def test_with_traces_off_the_callers_context_passes_on_unchanged(main_stack: Stack) -> None:
    header, _, _ = _traceparent()
    async with main_stack.client() as http:
        cid = (await http.post("/v1/conversations", json={"title": "Ventes"})).json()["conversation_id"]
        sent = await http.post(
            f"/v1/conversations/{cid}/messages", json={"text": DEMO}, headers={"traceparent": header}
        )
        assert sent.status_code == 202
    async with asyncio.timeout(30):
        while not await replied(main_stack.store, cid):  # noqa: ASYNC110 - the main job answers in its time
            await asyncio.sleep(0.05)
    events = await main_stack.store.read_stream(stream_of(cid))
    assert not tracing.enabled()
    assert {e.envelope.traceparent for e in events[1:]} == {header}
