"""What derives from a sensitive message is sealed too: the orchestrator's summary, its tasks and its
replies, the workflow drafted from it (its n8n JSON holds the RIP), and a person's reason. The local model
answers (the vLLM-compatible test server, scripted); afterwards no byte of the RIP is left in Redis or
PostgreSQL, the tenant reads every value opened, the SBOM is built from the draft's public outline, and
once the conversation is shredded the definition and the replies read `[shredded]`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec
import pytest

from api.deps import Limits
from domain.types import AgentRole
from domain.workflow_events import WorkflowDrafted, WorkflowRejected
from handlers.managers.designer import workflow_of
from inference.gateway import Gateway
from inference.offline import answer
from inference.schemas import AgentTask, OrchestratorPlan, PlannedIntent
from infra.crypto.fields import PREFIX, SHREDDED
from infra.event_store import RedisEventStore
from projections.sbom_schema import check_sbom
from tests.integration.api.conftest import Stack, running_stack
from tests.integration.api.test_main_job_over_http import until_listed
from tests.integration.api.test_sealed_fields_and_shredding import pg_dump, redis_dump
from tests.integration.inference.servers import AnthropicServer, OpenAIServer
from tests.integration.inference.test_gateway import cloud_provider, local_provider, local_reply
from tests.integration.managers.conftest import anthropic_server, deps_for, openai_server
from tests.integration.managers.test_process_managers import plain_gateway
from tests.integration.managers.test_sboms import drafts, logged, script_cloud, settled

__all__ = ["anthropic_server", "openai_server"]  # the test servers' fixtures, shared

RIP = "00799999002345678165"  # a valid RIP (its key checks)
MESSAGE = (
    "Every Friday, email my accountant the list of supplier payments still to be made "
    f"from our RIP {RIP}, with the totals in DZD."
)
DETAIL = "By email"
REQUEST = "Chaque matin, envoie-moi le total des commandes Shopify d'hier sur Slack"
QUESTION = f"Which channel should the payments from RIP {RIP} be sent on?"


def design(text: str) -> dict[str, Any]:
    """The offline planner's design with the RIP in a parameter (the e-mail's subject), never a name."""
    document: dict[str, Any] = json.loads(msgspec.json.encode(answer(AgentRole.DESIGNER, text)))
    [mail] = [n for n in document["nodes"] if n["type"] == "n8n-nodes-base.emailSend"]
    mail["parameters"]["subject"] = f"Supplier payments to make from RIP {RIP}"
    return document


def script(server: OpenAIServer) -> dict[str, Any]:
    """Turn 1: a question restating the RIP; turn 2: a summary and a task restating it, a finding, and a
    design that holds it. What the designer will answer is returned."""
    asked = OrchestratorPlan(
        intents=(), summary=f"payments from RIP {RIP}", tasks=(), reply=QUESTION, question=True
    )
    plan = OrchestratorPlan(
        intents=(PlannedIntent(name="supplier_payments", confidence=90, agents=("finance",)),),
        summary=f"Every Friday, the payments to make from RIP {RIP}, by e-mail",
        tasks=(AgentTask(agent="finance", task=f"List the supplier payments due from RIP {RIP}"),),
    )
    combined = f"{MESSAGE}\n{DETAIL}"
    designed = design(combined)
    for said in (asked, plan, answer(AgentRole.FINANCE, combined), designed):
        server.enqueue("POST", OpenAIServer.CHAT, local_reply(msgspec.to_builtins(said)))
    return designed


@asynccontextmanager
async def stack_on(
    gateway: Gateway, store: RedisEventStore, pool: asyncpg.Pool, database_url: str, redis_url: str
) -> AsyncIterator[Stack]:
    managers = deps_for(store, gateway)
    try:
        async with running_stack(
            store, pool, database_url, redis_url, Limits(read_wait_s=5.0), managers=managers
        ) as stack:
            yield stack
    finally:
        await gateway.aclose()


@pytest.fixture
async def local_stack(
    *,
    standalone_store: RedisEventStore,
    pg_pool: asyncpg.Pool,
    database_url: str,
    redis_url: str,
    openai_server: OpenAIServer,
    anthropic_server: AnthropicServer,
) -> AsyncIterator[Stack]:
    """The local model and the cloud both configured: what is sensitive goes local."""
    gateway = plain_gateway(
        local=local_provider(openai_server.url), cloud=cloud_provider(anthropic_server.url)
    )
    async with stack_on(gateway, standalone_store, pg_pool, database_url, redis_url) as stack:
        yield stack


async def conversation(stack: Stack, *texts: str) -> str:
    async with stack.client() as http:
        cid = (await http.post("/v1/conversations", json={})).json()["conversation_id"]
        for count, text in enumerate(texts, start=1):
            sent = await http.post(f"/v1/conversations/{cid}/messages", json={"text": text})
            assert sent.status_code == 202
            await until_listed(http, f"/v1/conversations/{cid}/messages", replies_at_least(count))
    assert await stack.runtime.wait_caught_up(timeout_s=20)
    return cid


def replies_at_least(count: int) -> Any:
    return lambda items: sum(m["role"] == "assistant" for m in items) >= count


async def dump(stack: Stack, database_url: str) -> bytes:
    schema = await stack.pool.fetchval("SELECT current_schema()")
    return await redis_dump(stack) + pg_dump(database_url, schema)


def texts_of(value: Any) -> Iterator[str]:
    """Every string in a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from texts_of(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts_of(item)


async def test_what_derives_from_a_sensitive_message_is_sealed_opened_for_its_tenant_and_shredded(
    local_stack: Stack, openai_server: OpenAIServer, anthropic_server: AnthropicServer, database_url: str
) -> None:
    designed = script(openai_server)
    cid = await conversation(local_stack, MESSAGE, DETAIL)
    workflow_id = workflow_of(cid)
    [sbom] = (await settled(local_stack.store, local_stack.pool, [workflow_id])).values()
    [draft] = (await drafts(local_stack.store, workflow_id)).values()
    stored = await local_stack.pool.fetchval(
        "SELECT document FROM workflows WHERE workflow_id = $1", workflow_id
    )
    async with local_stack.client() as http:
        messages = (await http.get(f"/v1/conversations/{cid}/messages")).json()["items"]
        state = (await http.get(f"/v1/conversations/{cid}/agent-state")).json()
        workflow = (await http.get(f"/v1/workflows/{workflow_id}")).json()
        revision = (await http.get(f"/v1/workflows/{workflow_id}/revisions/1")).json()
        served = await http.get(f"/v1/workflows/{workflow_id}/sbom")

    assert RIP.encode() not in await dump(local_stack, database_url)
    assert anthropic_server.messages_received() == []  # every step of a sensitive turn ran locally
    assert draft.definition.startswith(PREFIX)
    assert draft.definition_sha256 == hashlib.sha256(draft.definition.encode()).hexdigest()
    assert PREFIX in stored
    said = [m["text"] for m in messages if m["role"] == "assistant"]
    assert said[0] == QUESTION
    assert all(PREFIX not in m["text"] for m in messages)
    assert RIP in json.dumps(state)  # the delegation's task, opened
    assert not any(t.startswith(PREFIX) for t in texts_of(state))
    [opened] = workflow["revisions"]
    assert json.loads(opened["definition"]) == designed
    assert opened["definition_sha256"] == hashlib.sha256(opened["definition"].encode()).hexdigest()
    assert revision == opened
    assert not any(t.startswith(PREFIX) for t in texts_of(workflow))
    assert served.status_code == 200
    assert served.content == sbom.document.encode()
    document = json.loads(served.content)
    check_sbom(document)
    assert PREFIX not in sbom.document
    assert RIP not in sbom.document
    nodes = {c["bom-ref"] for c in document["components"] if c["type"] == "library"}
    assert nodes == {f"node:{n['name']}" for n in designed["nodes"]}

    async with local_stack.client("acme-admin") as admin:
        assert (await admin.delete(f"/v1/subjects/{cid}")).status_code == 202
    assert await local_stack.runtime.wait_caught_up(timeout_s=20)
    async with local_stack.client() as http:
        messages = (await http.get(f"/v1/conversations/{cid}/messages")).json()["items"]
        workflow = (await http.get(f"/v1/workflows/{workflow_id}")).json()
        after = await http.get(f"/v1/workflows/{workflow_id}/sbom")

    assert {m["text"] for m in messages} == {SHREDDED, DETAIL}  # "By email" was public, never sealed
    assert workflow["revisions"][0]["definition"] == SHREDDED
    assert workflow["revisions"][0]["definition_sha256"] == hashlib.sha256(SHREDDED.encode()).hexdigest()
    assert workflow["name"] == designed["name"]  # public by rule, it outlives the shredding
    assert after.content == served.content  # the log did not change: neither does its SBOM
    assert RIP.encode() not in await dump(local_stack, database_url)


@pytest.mark.parametrize("local", [True, False], ids=["routed-local", "refused"])
async def test_a_rejection_reason_holding_a_rip_never_reaches_the_cloud(
    *,
    local: bool,
    standalone_store: RedisEventStore,
    pg_pool: asyncpg.Pool,
    database_url: str,
    redis_url: str,
    openai_server: OpenAIServer,
    anthropic_server: AnthropicServer,
) -> None:
    """A public request is designed in the cloud; the next revision reads the person's reason, and with
    it the RIP: it is designed locally, as sensitive as the reason (sealed), or refused."""
    script_cloud(anthropic_server, REQUEST)
    telegram = msgspec.to_builtins(answer(AgentRole.DESIGNER, f"{REQUEST} sur Telegram"))
    openai_server.enqueue("POST", OpenAIServer.CHAT, local_reply(telegram))
    gateway = plain_gateway(
        local=local_provider(openai_server.url) if local else None,
        cloud=cloud_provider(anthropic_server.url),
    )
    reason = f"Envoyez plutôt sur Telegram à Mme Benali, et le paiement sur le RIP {RIP}"
    async with stack_on(gateway, standalone_store, pg_pool, database_url, redis_url) as stack:
        cid = await conversation(stack, REQUEST)
        workflow_id = workflow_of(cid)
        async with stack.client() as http:
            rejected = await http.post(f"/v1/workflows/{workflow_id}/reject", json={"reason": reason})
            assert rejected.status_code == 202
            await until_listed(http, f"/v1/conversations/{cid}/messages", replies_at_least(2))
        assert await stack.runtime.wait_caught_up(timeout_s=20)
        log = [e.envelope.data for e in await logged(stack.store, f"workflow-{workflow_id}")]
        dumped = await dump(stack, database_url)

    sent = b"".join(r.body for r in anthropic_server.messages_received())
    assert len(anthropic_server.messages_received()) == 3  # revision 1: orchestrator, sales, designer
    assert RIP.encode() not in sent
    assert "Benali" not in sent.decode()  # nothing of the reason went there
    assert RIP.encode() not in dumped
    [rejection] = [d for d in log if isinstance(d, WorkflowRejected)]
    assert rejection.sensitivity == "sensitive"
    assert rejection.reason.startswith(PREFIX)
    revisions = [d for d in log if isinstance(d, WorkflowDrafted)]
    if local:
        assert [r.revision for r in revisions] == [1, 2]
        assert revisions[0].sensitivity == "public"
        assert not revisions[0].definition.startswith(PREFIX)
        # Revision 2 holds no RIP, yet derives from a reason that did: sealed as it is.
        assert revisions[1].sensitivity == "sensitive"
        assert revisions[1].definition.startswith(PREFIX)
        [designed] = openai_server.chats_received()
        assert RIP.encode() in designed.body  # the local model read the reason itself, opened
        assert PREFIX.encode() not in designed.body
    else:
        assert [r.revision for r in revisions] == [1]
        assert openai_server.chats_received() == []
