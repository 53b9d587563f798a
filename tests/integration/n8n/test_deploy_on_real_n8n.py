"""The main job, part 2, on a real n8n 2.8.4, through our API: requests of the corpus become workflows;
the credentials their nodes need are connected through `POST /v1/credentials` (dummy data that n8n's
own schema accepts); a person approves; the deployer creates them in n8n and activates them.

Schedule- and webhook-triggered ones must end active, as n8n itself confirms; app-event ones (Shopify
Trigger, WooCommerce Trigger) register their webhook with the app at activation, which these machines
cannot reach: they end active or `failed` with n8n's own message. Every webhook-triggered one answers
on its production URL and n8n records an execution of the call; one that needs no outside service
(webhook → code / switch / set → respond) ends that execution in `success`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from api.deps import Limits
from commands.context import CommandContext
from commands.conversations import start_conversation
from commands.workflows import stream_of as workflow_stream
from domain.envelope import EventOrigin, NewEvent
from domain.ids import uuid7
from domain.n8n.catalog import default_catalog
from domain.n8n.credentials import credential_needs
from domain.workflow_events import WorkflowDrafted, WorkflowValidated
from handlers.managers import ManagerDeps
from infra.event_store import RedisEventStore
from infra.n8n.client import N8nInstance, RetryPolicy
from infra.n8n.dummy_credentials import dummy_data
from infra.n8n.instances import N8nInstances
from tests.integration.api.conftest import Stack, running_stack
from tests.integration.managers.conftest import offline_gateway
from tests.support.n8n import N8n

pytestmark = pytest.mark.n8n

CORPUS = json.loads((Path(__file__).parents[2] / "corpus" / "main_job.json").read_text(encoding="utf-8"))
FIXTURES = Path(__file__).parents[2] / "fixtures" / "n8n" / "valid"
# Every webhook-triggered request of the corpus, every other schedule-triggered one and four app-event
# ones, in the four languages (sensitive ones are refused before any workflow is drafted).
_PLAIN = [c for c in CORPUS if not c["sensitive"]]
CASES = (
    [c for c in _PLAIN if c["trigger"] == "webhook"]
    + [c for c in _PLAIN if c["trigger"] == "schedule"][::2]
    + [c for c in _PLAIN if c["trigger"] == "app_event"][:4]
)
LOCAL_ONLY = ["12-order-api-validate-phone-respond.json", "13-delivery-fee-by-wilaya.json"]
WEBHOOK = "n8n-nodes-base.webhook"


@pytest.fixture
async def n8n_api(n8n: N8n) -> AsyncIterator[httpx.AsyncClient]:
    """n8n's own public API, to check what n8n says (never our records of it)."""
    headers = {"X-N8N-API-KEY": n8n.api_key}
    async with httpx.AsyncClient(base_url=f"{n8n.base_url}/api/v1", headers=headers, timeout=60) as client:
        yield client


@pytest.fixture
async def deploy_stack(
    n8n: N8n, standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, database_url: str, redis_url: str
) -> AsyncIterator[Stack]:
    instances = N8nInstances(
        N8nInstance(url=n8n.base_url, api_key=n8n.api_key), policy=RetryPolicy(timeout_s=60.0)
    )
    gateway = offline_gateway()
    managers = ManagerDeps(
        store=standalone_store,
        gateway=gateway,
        catalog=default_catalog(),
        clock=lambda: datetime.now(UTC),
        n8n=instances,
    )
    async with running_stack(
        standalone_store,
        pg_pool,
        database_url,
        redis_url,
        Limits(read_wait_s=5.0),
        managers=managers,
        n8n=instances,
    ) as stack:
        yield stack
    await gateway.aclose()
    await instances.aclose()


async def _until(http: httpx.AsyncClient, path: str, done: Any, timeout_s: float = 60.0) -> Any:
    async with asyncio.timeout(timeout_s):
        while True:
            response = await http.get(path)
            body = response.json() if response.status_code == 200 else None
            if body is not None and done(body):
                return body
            await asyncio.sleep(0.1)


async def _designed(http: httpx.AsyncClient, text: str) -> dict[str, Any]:
    """The validated workflow the main job designs for `text`."""
    cid = (await http.post("/v1/conversations", json={"title": "n8n"})).json()["conversation_id"]
    assert (await http.post(f"/v1/conversations/{cid}/messages", json={"text": text})).status_code == 202
    listed = await _until(
        http,
        f"/v1/workflows?conversation_id={cid}",
        lambda b: [w["status"] for w in b["items"]] == ["validated"],
    )
    return dict(await _until(http, f"/v1/workflows/{listed['items'][0]['workflow_id']}", lambda b: True))


async def _connect_needed(http: httpx.AsyncClient, n8n_api: httpx.AsyncClient, definition: str) -> None:
    """Through our API, a dummy credential of every type the workflow needs and the tenant lacks."""
    have = {c["type"] for c in (await http.get("/v1/credentials")).json()["items"]}
    for need in credential_needs(json.loads(definition), default_catalog()):
        if need.credential_type in have:
            continue
        schema = await n8n_api.get(f"/credentials/schema/{need.credential_type}")
        assert schema.status_code == 200, schema.text[:300]
        body = {
            "type": need.credential_type,
            "name": f"dummy {need.credential_type}",
            "data": dummy_data(schema.json()),
        }
        connected = await http.post("/v1/credentials", json=body)
        assert connected.status_code == 202, connected.text
        have.add(need.credential_type)


async def _deployed(http: httpx.AsyncClient, workflow_id: str) -> dict[str, Any]:
    approved = await http.post(f"/v1/workflows/{workflow_id}/approve", json={})
    assert approved.status_code == 202, approved.text
    finished = ("deployed", "needs_credentials", "deployment_failed")
    return dict(await _until(http, f"/v1/workflows/{workflow_id}", lambda b: b["status"] in finished))


async def _call(webhook: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    """A call from outside, as a shop's site would make it: no key of ours, no header of n8n's."""
    async with httpx.AsyncClient(timeout=30) as outside:
        if webhook["method"] == "GET":
            return await outside.get(webhook["url"], params=body)
        return await outside.request(webhook["method"], webhook["url"], json=body)


async def _executions(
    n8n_api: httpx.AsyncClient, n8n_id: str, timeout_s: float = 30.0
) -> list[dict[str, Any]]:
    """n8n's executions of the workflow, once each has stopped (n8n saves them as they end)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = await n8n_api.get("/executions", params={"workflowId": n8n_id})
        found: list[dict[str, Any]] = answer.json()["data"]
        if (found and all(e.get("stoppedAt") for e in found)) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.25)


async def test_corpus_requests_are_deployed_to_n8n_and_the_webhook_ones_answer(
    deploy_stack: Stack, n8n: N8n, n8n_api: httpx.AsyncClient
) -> None:
    assert len(CASES) >= 20
    results: dict[str, tuple[str, str]] = {}
    async with deploy_stack.client() as http:
        for case in CASES:
            doc = await _designed(http, case["text"])
            await _connect_needed(http, n8n_api, doc["revisions"][-1]["definition"])
            done = await _deployed(http, doc["workflow_id"])
            deployment = done["deployment"]
            results[case["id"]] = (done["status"], deployment.get("message", ""))
            if case["trigger"] == "app_event":
                assert done["status"] in ("deployed", "deployment_failed"), (case["id"], done)
                if done["status"] == "deployment_failed":
                    assert deployment["http_status"] == 400
                    assert deployment["message"]  # n8n's own words
                continue
            assert done["status"] == "deployed", (case["id"], deployment)
            live = (await n8n_api.get(f"/workflows/{deployment['n8n_workflow_id']}")).json()
            assert live["active"] is True, case["id"]
            if case["trigger"] == "webhook":
                [webhook] = deployment["webhooks"]
                answered = await _call(webhook, {"order": 1, "phone": "0550123456"})
                assert answered.is_success, (case["id"], webhook, answered.text[:300])
                assert await _executions(n8n_api, deployment["n8n_workflow_id"]), case["id"]
    print(json.dumps(results, indent=1, ensure_ascii=False))


async def _approved_fixture(stack: Stack, fixture: str) -> str:
    """A hand-written workflow, drafted and validated in a real conversation of the tenant, so that it
    goes through the same approval and deployer as a designed one."""
    store = stack.store
    ctx = CommandContext(tenant="acme", actor="k1", now=datetime.now(UTC))
    started = await start_conversation(store, ctx, title="fixture", language="fr")
    cid = started.stream.removeprefix("conversation-")
    definition = (FIXTURES / fixture).read_text(encoding="utf-8")
    workflow_id = hashlib.sha256(f"{cid}/{fixture}".encode()).hexdigest()[:32]
    now = datetime.now(UTC)
    drafted = WorkflowDrafted(
        workflow_id=workflow_id,
        conversation_id=cid,
        revision=1,
        name=json.loads(definition)["name"],
        definition=definition,
        definition_sha256=hashlib.sha256(definition.encode()).hexdigest(),
        drafted_at=now,
    )
    validated = WorkflowValidated(revision=1, checks=("all",), n8n_version="2.8.4", validated_at=now)
    events = [NewEvent(data=drafted, id=uuid7(), time=now), NewEvent(data=validated, id=uuid7(), time=now)]
    await store.append(
        workflow_stream(workflow_id), events, 0, EventOrigin(tenant="acme", source="aiwf://tests")
    )
    return workflow_id


@pytest.mark.parametrize("fixture", LOCAL_ONLY)
async def test_a_workflow_needing_no_outside_service_runs_to_success_on_its_production_url(
    deploy_stack: Stack, n8n_api: httpx.AsyncClient, fixture: str
) -> None:
    workflow_id = await _approved_fixture(deploy_stack, fixture)
    async with deploy_stack.client() as http:
        done = await _deployed(http, workflow_id)

    deployment = done["deployment"]
    assert done["status"] == "deployed", deployment
    [webhook] = deployment["webhooks"]
    answered = await _call(webhook, {"telephone": "+213 550 12 34 56", "wilaya": "16", "total": 3200})
    assert answered.is_success, answered.text[:300]
    executions = await _executions(n8n_api, deployment["n8n_workflow_id"])
    assert [e["status"] for e in executions] == ["success"]
