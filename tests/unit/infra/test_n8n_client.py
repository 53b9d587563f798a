"""The n8n client against a real HTTP server that keeps n8n's public API rules (tests/support/fake_n8n.py):
answers, retries and their backoff, what is never replayed, and what never leaks."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from infra.n8n.client import (
    N8nClient,
    N8nError,
    N8nInstance,
    N8nUnavailable,
    RetryPolicy,
)
from infra.n8n.errors import n8n_message
from tests.support.fake_n8n import FakeN8n

POLICY = RetryPolicy(attempts=3, base_delay_s=0.1, max_delay_s=1.0, timeout_s=2.0)
NODES: list[dict[str, Any]] = [
    {
        "name": "Every hour",
        "type": "n8n-nodes-base.scheduleTrigger",
        "typeVersion": 1.2,
        "position": [0, 0],
        "parameters": {"rule": {"interval": [{"field": "hours"}]}},
    },
    {"name": "Set", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [220, 0], "parameters": {}},
]
CONNECTIONS = {"Every hour": {"main": [[{"node": "Set", "type": "main", "index": 0}]]}}
SETTINGS = {"executionOrder": "v1"}
SECRET = "secret-value-123"


class Sleeps:
    """The client's `sleep`: records the delays instead of waiting them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def fake() -> Iterator[FakeN8n]:
    with FakeN8n(page_size=2) as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client(fake: FakeN8n, sleeps: Sleeps) -> AsyncIterator[N8nClient]:
    instance = N8nInstance(url=fake.url + "/", api_key=fake.api_key)
    async with N8nClient(instance, policy=POLICY, sleep=sleeps) as n8n:
        yield n8n


async def _create(client: N8nClient, name: str = "Hourly") -> str:
    return (await client.create_workflow(name, NODES, CONNECTIONS, SETTINGS)).id


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- happy paths ---


async def test_a_created_workflow_is_inactive_with_a_version_and_only_the_four_fields_were_sent(
    client: N8nClient, fake: FakeN8n
) -> None:
    workflow = await client.create_workflow("Hourly", NODES, CONNECTIONS, SETTINGS)

    assert (workflow.name, workflow.active, workflow.tags) == ("Hourly", False, [])
    assert workflow.version_id
    assert [n["name"] for n in workflow.nodes] == ["Every hour", "Set"]
    assert workflow.connections == CONNECTIONS
    assert workflow.settings == SETTINGS
    (sent,) = [r for r in fake.requests if r.method == "POST"]
    assert sorted(sent.body) == ["connections", "name", "nodes", "settings"]


async def test_an_update_replaces_the_workflow_and_changes_its_version(client: N8nClient) -> None:
    created = await client.create_workflow("Hourly", NODES, CONNECTIONS, SETTINGS)

    updated = await client.update_workflow(created.id, "Hourly v2", NODES[:1], {}, SETTINGS)

    assert (updated.id, updated.name, len(updated.nodes)) == (created.id, "Hourly v2", 1)
    assert updated.version_id != created.version_id
    assert await client.get_workflow(created.id) == updated


async def test_a_workflow_is_activated_deactivated_and_deleted(client: N8nClient) -> None:
    workflow_id = await _create(client)

    assert (await client.activate(workflow_id)).active
    assert (await client.get_workflow(workflow_id)).active
    with pytest.raises(N8nError) as no_trigger:  # what n8n says of a workflow that nothing starts
        await client.update_workflow(workflow_id, "Hourly", NODES[1:], {}, SETTINGS)
    assert no_trigger.value.message.startswith("Workflow cannot be activated because it has no trigger")
    assert not (await client.deactivate(workflow_id)).active
    await client.delete_workflow(workflow_id)

    with pytest.raises(N8nError) as raised:
        await client.get_workflow(workflow_id)
    assert (raised.value.status, raised.value.message, raised.value.attempts) == (404, "Not Found", 1)


async def test_an_activation_refused_by_n8n_is_a_400_with_its_message(
    client: N8nClient, fake: FakeN8n
) -> None:
    fake.activation_rule = lambda w: "Missing required credential: slackApi" if len(w["nodes"]) > 1 else None
    workflow_id = await _create(client)

    with pytest.raises(N8nError) as raised:
        await client.activate(workflow_id)

    assert (raised.value.status, raised.value.retryable) == (400, False)
    assert raised.value.message == "Missing required credential: slackApi"


async def test_find_follows_every_page_and_keeps_only_the_exact_name(
    client: N8nClient, fake: FakeN8n
) -> None:
    for name in ("Orders", "Orders", "Orders", "Orders digest", "Invoices"):
        await _create(client, name)

    found = await client.find_workflows(name="Orders")

    assert [w.name for w in found] == ["Orders"] * 3
    pages = [r for r in fake.requests if r.method == "GET" and r.path == "/api/v1/workflows"]
    assert len(pages) == 2  # n8n matched four names in pages of two
    assert "cursor" in pages[1].query
    assert len(await client.find_workflows()) == 5


async def test_find_by_tags_wants_all_of_them_and_by_activeness(client: N8nClient) -> None:
    both, prod_only, _ = [await _create(client, f"w{i}") for i in range(3)]
    prod, team = await client.ensure_tag("prod"), await client.ensure_tag("team-a")
    assert [t.name for t in await client.set_workflow_tags(both, [prod.id, team.id])] == ["prod", "team-a"]
    await client.set_workflow_tags(prod_only, [prod.id])
    await client.activate(prod_only)

    assert {w.id for w in await client.find_workflows(tags=["prod"])} == {both, prod_only}
    assert [w.id for w in await client.find_workflows(tags=["prod", "team-a"])] == [both]
    assert [w.id for w in await client.find_workflows(active=True)] == [prod_only]
    assert len(await client.find_workflows(active=False)) == 2
    assert {t.name for t in (await client.get_workflow(both)).tags} == {"prod", "team-a"}


async def test_ensure_tag_answers_the_existing_tag_and_creates_only_once(
    client: N8nClient, fake: FakeN8n
) -> None:
    first = await client.ensure_tag("prod")
    again = await client.ensure_tag(" prod ")

    assert first == again
    assert fake.count("POST", "/api/v1/tags") == 1
    assert await client.list_tags() == [first]


async def test_ensure_tag_looks_again_when_another_caller_created_it_meanwhile(
    client: N8nClient, fake: FakeN8n
) -> None:
    made = await client.create_tag("prod")
    fake.answer_next("GET", "/api/v1/tags", status=200, body={"data": [], "nextCursor": None})
    fake.fail_next("POST", "/api/v1/tags", status=409, message="Tag already exists")

    assert await client.ensure_tag("prod") == made


async def test_credentials_are_created_listed_through_pages_described_and_deleted(
    client: N8nClient, fake: FakeN8n
) -> None:
    made = [
        await client.create_credential(f"key {i}", "httpHeaderAuth", {"name": "X-Key", "value": SECRET})
        for i in range(3)
    ]

    assert {c.id for c in await client.list_credentials()} == {c.id for c in made}
    assert made[0].type == "httpHeaderAuth"
    assert fake.credentials[made[0].id]["data"] == {"name": "X-Key", "value": SECRET}
    assert (await client.credential_schema("slackApi"))["required"] == ["accessToken"]
    await client.delete_credential(made[0].id)
    assert len(await client.list_credentials()) == 2


async def test_a_credential_with_wrong_data_is_a_400_naming_the_fields(client: N8nClient) -> None:
    with pytest.raises(N8nError) as raised:
        await client.create_credential("key", "slackApi", {"token": "xoxb-1"})

    assert raised.value.status == 400
    assert raised.value.message == (
        'request.body.data requires property "accessToken",request.body.data requires property "notice",'
        'request.body.data is not allowed to have the additional property "token"'
    )


async def test_executions_are_listed_by_workflow_and_status_through_pages(
    client: N8nClient, fake: FakeN8n
) -> None:
    workflow_id = await _create(client)
    ids = [fake.add_execution(workflow_id, status=s) for s in ("success", "error", "success", "success")]
    fake.add_execution("other", status="success")

    listed = await client.list_executions(workflow_id=workflow_id)
    successes = await client.list_executions(workflow_id=workflow_id, status="success")
    newest = await client.list_executions(limit=3)

    assert [e.id for e in listed] == ids[::-1]
    assert [e.id for e in successes] == [ids[3], ids[2], ids[0]]
    assert len(newest) == 3
    execution = await client.get_execution(ids[1])
    assert (execution.workflow_id, execution.status, execution.finished) == (workflow_id, "error", False)
    assert execution.started_at is not None
    assert execution.started_at.utcoffset() is not None


async def test_the_version_is_read_from_the_editor_page_when_the_settings_keep_it(
    client: N8nClient, fake: FakeN8n
) -> None:
    assert await client.version() == "2.8.4"
    assert [r.path for r in fake.requests] == ["/rest/settings", "/"]


async def test_the_version_is_read_from_settings_that_tell_it(client: N8nClient, fake: FakeN8n) -> None:
    fake.answer_next("GET", "/rest/settings", status=200, body={"data": {"versionCli": "1.99.0"}})

    assert await client.version() == "1.99.0"
    assert [r.path for r in fake.requests] == ["/rest/settings"]


async def test_the_version_is_none_where_nothing_tells_it(client: N8nClient, fake: FakeN8n) -> None:
    fake.answer_next("GET", "/rest/settings", status=200, body={"data": {}})
    fake.fail_next("GET", "/", status=404, message="Cannot GET /")

    assert await client.version() is None


def test_an_instance_normalises_its_urls_and_hides_its_key() -> None:
    plain = N8nInstance(url="http://127.0.0.1:5678/", api_key="n8n-api-key-42")
    public = N8nInstance(
        url="http://n8n:5678", api_key="n8n-api-key-42", webhook_url="https://hooks.example/"
    )

    assert (plain.url, plain.webhook_base()) == ("http://127.0.0.1:5678", "http://127.0.0.1:5678")
    assert public.webhook_base() == "https://hooks.example"
    for shown in (repr(plain), str(plain), f"{public!r}", repr(N8nClient(plain))):
        assert "n8n-api-key-42" not in shown
    with pytest.raises(ValueError, match="http"):
        N8nInstance(url="127.0.0.1:5678", api_key="k")


# --- retries ---


async def test_a_read_is_retried_after_503s_with_bounded_jittered_backoff(
    client: N8nClient, fake: FakeN8n, sleeps: Sleeps
) -> None:
    workflow_id = await _create(client)
    fake.fail_next("GET", f"/api/v1/workflows/{workflow_id}", status=503, times=2)

    assert (await client.get_workflow(workflow_id)).id == workflow_id

    assert fake.count("GET", f"/api/v1/workflows/{workflow_id}") == 3
    assert len(sleeps.delays) == 2
    assert 0 <= sleeps.delays[0] <= 0.1
    assert 0 <= sleeps.delays[1] <= 0.2


async def test_retry_after_is_honoured_on_429_and_503_and_capped(
    client: N8nClient, fake: FakeN8n, sleeps: Sleeps
) -> None:
    fake.fail_next("GET", "/api/v1/tags", status=429, retry_after=0.5)
    fake.fail_next("GET", "/api/v1/tags", status=503, retry_after=30)

    assert await client.list_tags() == []

    assert sleeps.delays == [0.5, POLICY.max_delay_s]
    assert fake.count("GET", "/api/v1/tags") == 3


async def test_a_5xx_that_lasts_is_raised_after_every_attempt_without_its_stack(
    client: N8nClient, fake: FakeN8n
) -> None:
    fake.fail_next("GET", "/api/v1/workflows", status=500, times=9, message="SQLITE_BUSY: database is locked")

    with pytest.raises(N8nError) as raised:
        await client.find_workflows()

    error = raised.value
    assert (error.status, error.retryable, error.attempts) == (500, True, POLICY.attempts)
    assert error.message == "SQLITE_BUSY: database is locked"
    assert "at " not in str(error)
    assert type(error) is N8nError


@pytest.mark.parametrize("status", [400, 404, 409, 422])
async def test_other_4xx_are_answers_not_retried(
    client: N8nClient, fake: FakeN8n, sleeps: Sleeps, status: int
) -> None:
    fake.fail_next("GET", "/api/v1/credentials", status=status, message="request/query/limit must be number")

    with pytest.raises(N8nError) as raised:
        await client.list_credentials()

    assert (raised.value.status, raised.value.retryable, raised.value.attempts) == (status, False, 1)
    assert raised.value.message == "request/query/limit must be number"
    assert "stack" not in str(raised.value)
    assert "workflow.service" not in str(raised.value)
    assert sleeps.delays == []


async def test_a_400_from_n8n_own_rules_keeps_its_message(client: N8nClient) -> None:
    workflow_id = await _create(client)
    odd_nodes = [{**NODES[0], "color": "red"}]

    with pytest.raises(N8nError) as raised:
        await client.update_workflow(workflow_id, "Hourly", odd_nodes, {}, SETTINGS)

    assert raised.value.message == "request/body/nodes/0 must NOT have additional properties"


async def test_a_wrong_key_is_a_401_not_retried(fake: FakeN8n, sleeps: Sleeps) -> None:
    instance = N8nInstance(url=fake.url, api_key="not-the-key")
    async with N8nClient(instance, policy=POLICY, sleep=sleeps) as client:
        with pytest.raises(N8nError) as raised:
            await client.list_tags()

    assert (raised.value.status, raised.value.retryable, raised.value.attempts) == (401, False, 1)


async def test_a_slow_n8n_times_out_each_attempt_then_is_unavailable(fake: FakeN8n, sleeps: Sleeps) -> None:
    fake.delay_next("GET", "/api/v1/tags", seconds=5, times=9)
    policy = RetryPolicy(attempts=2, base_delay_s=0.01, timeout_s=0.3)
    started = time.monotonic()
    async with N8nClient(N8nInstance(url=fake.url, api_key=fake.api_key), policy=policy, sleep=sleeps) as c:
        with pytest.raises(N8nUnavailable) as raised:
            await c.list_tags()

    assert (raised.value.status, raised.value.retryable, raised.value.attempts) == (None, True, 2)
    assert "Timeout" in raised.value.message
    assert time.monotonic() - started < 3


async def test_nothing_listening_is_unavailable_after_every_attempt(sleeps: Sleeps) -> None:
    instance = N8nInstance(url=f"http://127.0.0.1:{_free_port()}", api_key="k")
    async with N8nClient(instance, policy=POLICY, sleep=sleeps) as client:
        with pytest.raises(N8nUnavailable) as raised:
            await client.get_workflow("1")
        with pytest.raises(N8nUnavailable) as create:
            await client.create_workflow("Hourly", NODES, CONNECTIONS, SETTINGS)

    assert (raised.value.status, raised.value.attempts) == (None, POLICY.attempts)
    assert "ConnectError" in raised.value.message
    # nothing was sent, so even a create is tried again
    assert create.value.attempts == POLICY.attempts
    assert len(sleeps.delays) == 2 * (POLICY.attempts - 1)


async def test_a_server_that_drops_connections_is_unavailable(client: N8nClient, fake: FakeN8n) -> None:
    fake.down = True

    with pytest.raises(N8nUnavailable) as raised:
        await client.list_tags()

    assert raised.value.attempts == POLICY.attempts
    fake.down = False
    assert await client.list_tags() == []


async def test_a_dropped_read_is_retried(client: N8nClient, fake: FakeN8n) -> None:
    fake.drop_next("GET", "/api/v1/credentials")

    assert await client.list_credentials() == []
    assert [r.status for r in fake.requests] == [None, 200]


# --- creates are not replayed once n8n may have processed them ---


async def test_a_create_is_not_retried_after_a_503(client: N8nClient, fake: FakeN8n, sleeps: Sleeps) -> None:
    fake.fail_next("POST", "/api/v1/workflows/", status=503, times=2)

    with pytest.raises(N8nError) as raised:
        await client.create_workflow("Hourly", NODES, CONNECTIONS, SETTINGS)

    assert (raised.value.status, raised.value.retryable, raised.value.attempts) == (503, True, 1)
    assert fake.count("POST", "/api/v1/workflows") == 1
    assert sleeps.delays == []


async def test_a_create_that_timed_out_is_not_replayed_and_may_still_happen(fake: FakeN8n) -> None:
    fake.delay_next("POST", "/api/v1/workflows", seconds=0.6)
    policy = RetryPolicy(attempts=3, timeout_s=0.2)
    async with N8nClient(N8nInstance(url=fake.url, api_key=fake.api_key), policy=policy) as client:
        with pytest.raises(N8nUnavailable) as raised:
            await client.create_workflow("Hourly", NODES, CONNECTIONS, SETTINGS)

    assert (raised.value.retryable, raised.value.attempts) == (True, 1)
    for _ in range(50):  # n8n got it: what a replay would have duplicated
        if fake.workflows:
            break
        await asyncio.sleep(0.05)
    assert [w["name"] for w in fake.workflows.values()] == ["Hourly"]


async def test_a_create_whose_connection_dropped_is_not_replayed(client: N8nClient, fake: FakeN8n) -> None:
    fake.drop_next("POST", "/api/v1/credentials")

    with pytest.raises(N8nUnavailable) as raised:
        await client.create_credential("key", "httpHeaderAuth", {"name": "X-Key", "value": SECRET})

    assert raised.value.attempts == 1
    assert fake.count("POST", "/api/v1/credentials") == 1


async def test_a_create_is_retried_after_a_429(client: N8nClient, fake: FakeN8n, sleeps: Sleeps) -> None:
    fake.fail_next("POST", "/api/v1/workflows", status=429, retry_after=1)

    await client.create_workflow("Hourly", NODES, CONNECTIONS, SETTINGS)

    assert len(fake.workflows) == 1
    assert sleeps.delays == [1.0]


async def test_a_delete_whose_answer_was_lost_is_done(client: N8nClient, fake: FakeN8n) -> None:
    workflow_id = await _create(client)
    path = f"/api/v1/workflows/{workflow_id}"
    fake.fail_next("DELETE", path, status=502)
    fake.fail_next("DELETE", path, status=404, message="Not Found")

    await client.delete_workflow(workflow_id)  # the 404 of a second try: the first one did it

    await client.delete_workflow(workflow_id)
    with pytest.raises(N8nError) as raised:
        await client.delete_workflow(workflow_id)
    assert (raised.value.status, raised.value.attempts) == (404, 1)


# --- secrets ---


async def test_credential_values_never_reach_an_error_a_log_or_a_repr(
    client: N8nClient, fake: FakeN8n, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.fail_next(
        "POST", "/api/v1/credentials", status=400, message=f'value "{SECRET}" is not valid for a header'
    )

    with pytest.raises(N8nError) as raised:
        await client.create_credential("key", "httpHeaderAuth", {"name": "X-Key", "value": SECRET})
    fake.fail_next("POST", "/api/v1/credentials", status=500, message=f"failed to encrypt {SECRET}", times=3)
    with pytest.raises(N8nError) as failed:
        await client.create_credential("key", "httpHeaderAuth", {"nested": [{"value": SECRET}]})

    assert raised.value.message == 'value "***" is not valid for a header'
    assert failed.value.message == "failed to encrypt ***"
    for error in (raised.value, failed.value):
        for shown in (str(error), repr(error), error.args, error.__cause__, error.__context__):
            assert SECRET not in str(shown)
    assert caplog.records, "the client logs its calls"
    assert SECRET not in caplog.text
    assert fake.api_key not in caplog.text
    assert SECRET not in repr(client)


# --- n8n's messages ---


def test_a_json_message_keeps_description_and_hint_and_drops_the_stack() -> None:
    body = (
        b'{"code": 404, "message": "The requested webhook \\"POST x\\" is not registered.",'
        b' "hint": "The workflow must be active.", "stack": "Error: x\\n    at y (/a.js:1:2)"}'
    )

    assert n8n_message(body, "Not Found") == (
        'The requested webhook "POST x" is not registered. — hint: The workflow must be active.'
    )


def test_a_message_with_a_stack_inside_and_a_text_body_keep_their_first_lines() -> None:
    inside = b'{"message": "Error: boom\\n    at Foo.bar (/n8n/dist/x.js:10:5)\\n    at /n8n/y.js:1:1"}'
    text = b"Bad Gateway\n    at Proxy.handle (/srv/proxy.js:3:9)\nmore"

    assert n8n_message(inside, "x") == "Error: boom"
    assert n8n_message(text, "x") == "Bad Gateway"
    assert n8n_message(b"", "Service Unavailable") == "Service Unavailable"
    assert len(n8n_message(b'{"message": "' + b"x" * 5000 + b'"}', "x")) == 1000
