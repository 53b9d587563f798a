"""The n8n client on a real n8n 2.8.4: what the fake of the unit tests claims, n8n itself does."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from infra.n8n.client import N8nClient, N8nError, N8nExecution, N8nInstance
from infra.n8n.errors import n8n_message
from tests.support.fake_n8n import CREDENTIAL_SCHEMAS, NO_TRIGGER
from tests.support.n8n import N8n

pytestmark = pytest.mark.n8n

SETTINGS = {"executionOrder": "v1"}
SCHEDULED: list[dict[str, Any]] = [
    {
        "name": "Every hour",
        "type": "n8n-nodes-base.scheduleTrigger",
        "typeVersion": 1.2,
        "position": [0, 0],
        "parameters": {"rule": {"interval": [{"field": "hours"}]}},
    },
    {"name": "Set", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [220, 0], "parameters": {}},
]
SCHEDULED_CONNECTIONS = {"Every hour": {"main": [[{"node": "Set", "type": "main", "index": 0}]]}}


@pytest.fixture
async def client(n8n: N8n) -> AsyncIterator[N8nClient]:
    async with N8nClient(N8nInstance(url=n8n.base_url, api_key=n8n.api_key)) as opened:
        yield opened


async def test_the_version_is_the_one_installed(client: N8nClient) -> None:
    assert await client.version() == "2.8.4"


async def test_a_scheduled_workflow_is_found_tagged_updated_activated_and_deleted(client: N8nClient) -> None:
    name = f"aiwf client {uuid.uuid4().hex[:8]}"
    created = await client.create_workflow(name, SCHEDULED, SCHEDULED_CONNECTIONS, SETTINGS)
    assert not created.active
    assert created.version_id

    assert [w.id for w in await client.find_workflows(name=name)] == [created.id]
    tag = await client.ensure_tag(f"{name} tag")
    assert await client.ensure_tag(f"{name} tag") == tag
    assert await client.set_workflow_tags(created.id, [tag.id]) == [tag]
    assert [w.id for w in await client.find_workflows(tags=[tag.name])] == [created.id]

    updated = await client.update_workflow(created.id, name, SCHEDULED[:1], {}, SETTINGS)
    assert updated.version_id != created.version_id
    assert [n["name"] for n in updated.nodes] == ["Every hour"]

    assert (await client.activate(created.id)).active
    assert created.id in {w.id for w in await client.find_workflows(active=True)}
    assert not (await client.deactivate(created.id)).active

    await client.delete_workflow(created.id)
    with pytest.raises(N8nError) as raised:
        await client.get_workflow(created.id)
    assert (raised.value.status, raised.value.retryable) == (404, False)


async def test_a_credential_is_created_listed_and_deleted_and_a_schema_read(client: N8nClient) -> None:
    before = {c.id for c in await client.list_credentials()}
    data = {"name": "X-Key", "value": "secret-value-123"}

    made = await client.create_credential("aiwf client key", "httpHeaderAuth", data)

    assert (made.name, made.type) == ("aiwf client key", "httpHeaderAuth")
    assert {c.id for c in await client.list_credentials()} == before | {made.id}
    schema = await client.credential_schema("slackApi")
    assert "accessToken" in schema["properties"]
    assert schema["additionalProperties"] is False
    await client.delete_credential(made.id)
    assert {c.id for c in await client.list_credentials()} == before


async def test_a_credential_n8n_refuses_is_a_400_naming_the_field_without_the_values(
    client: N8nClient,
) -> None:
    with pytest.raises(N8nError) as raised:
        await client.create_credential("aiwf bad key", "slackApi", {"accessToken": "secret-value-123"})

    assert (raised.value.status, raised.value.retryable) == (400, False)
    assert 'requires property "notice"' in raised.value.message
    assert "secret-value-123" not in str(raised.value)


@pytest.mark.parametrize("kind", sorted(CREDENTIAL_SCHEMAS))
async def test_the_fake_knows_the_credential_schemas_n8n_answers(client: N8nClient, kind: str) -> None:
    assert await client.credential_schema(kind) == CREDENTIAL_SCHEMAS[kind]


async def test_a_workflow_that_nothing_starts_is_refused_at_activation_as_the_fake_says(
    client: N8nClient,
) -> None:
    workflow = await client.create_workflow("aiwf no trigger", SCHEDULED[1:], {}, SETTINGS)

    with pytest.raises(N8nError) as raised:
        await client.activate(workflow.id)

    assert (raised.value.status, raised.value.message) == (400, NO_TRIGGER)
    await client.delete_workflow(workflow.id)


async def test_a_400_of_n8n_keeps_its_message(client: N8nClient) -> None:
    body = {"name": "aiwf extra field", "nodes": SCHEDULED, "connections": {}, "settings": SETTINGS}
    body["active"] = False

    # The client's own methods send only the four writable fields: this reaches past them on purpose.
    with pytest.raises(N8nError) as raised:
        await client._call("create workflow", "POST", "/api/v1/workflows", body=body, replayable=False)

    assert (raised.value.status, raised.value.retryable, raised.value.attempts) == (400, False, 1)
    assert raised.value.message == "request/body/active is read-only"


async def test_an_error_body_with_a_stack_trace_keeps_message_and_hint_only(n8n: N8n) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        answered = await http.post(f"{n8n.base_url}/webhook/aiwf-nothing-here")
    assert answered.status_code == 404
    assert "stacktrace" in answered.json()  # outside production mode n8n sends its trace

    message = n8n_message(answered.content, "Not Found")

    assert message.startswith('The requested webhook "POST aiwf-nothing-here" is not registered. — hint: ')
    assert "ResponseError" not in message
    assert " at " not in message.split("hint:")[0]


async def test_a_webhook_call_is_one_successful_execution(client: N8nClient, n8n: N8n) -> None:
    path = f"aiwf-client-{uuid.uuid4().hex[:8]}"
    nodes = [
        {
            "name": "Hook",
            "type": "n8n-nodes-base.webhook",
            "typeVersion": 2,
            "webhookId": str(uuid.uuid4()),
            "position": [0, 0],
            "parameters": {"path": path, "httpMethod": "POST", "responseMode": "onReceived"},
        },
        {
            "name": "Set",
            "type": "n8n-nodes-base.set",
            "typeVersion": 3.4,
            "position": [220, 0],
            "parameters": {},
        },
    ]
    connections = {"Hook": {"main": [[{"node": "Set", "type": "main", "index": 0}]]}}
    workflow = await client.create_workflow(f"aiwf hook {path}", nodes, connections, SETTINGS)
    await client.activate(workflow.id)

    webhook = f"{N8nInstance(url=n8n.base_url, api_key='-').webhook_base()}/webhook/{path}"
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(webhook, json={"hello": "n8n"})).status_code == 200

    executions = await _executions_of(client, workflow.id)
    assert [(e.status, e.finished, e.mode) for e in executions] == [("success", True, "webhook")]
    again = await client.get_execution(executions[0].id)
    assert (again.workflow_id, again.status) == (workflow.id, "success")
    assert again.started_at is not None
    assert again.stopped_at is not None
    await client.deactivate(workflow.id)
    await client.delete_workflow(workflow.id)


async def _executions_of(client: N8nClient, workflow_id: str) -> list[N8nExecution]:
    for _ in range(50):
        executions = await client.list_executions(workflow_id=workflow_id)
        if executions and all(e.status != "running" for e in executions):
            return executions
        await asyncio.sleep(0.2)
    return await client.list_executions(workflow_id=workflow_id)
