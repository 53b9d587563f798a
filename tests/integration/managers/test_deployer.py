"""The deployer on real Redis and PostgreSQL, against a local server that keeps n8n's public API rules
(tests/support/fake_n8n.py), for what a real n8n cannot be made to do on demand: be down, answer 503,
lose an answer, refuse an activation. What works on the real n8n is in tests/integration/n8n."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from commands.context import CommandContext
from commands.credentials import connect_credential
from commands.workflows import approve_workflow, request_deployment, retire_workflow
from commands.workflows import stream_of as workflow_stream
from domain.conversation_events import AssistantReplied
from domain.credential_events import CredentialsRequested
from domain.credentials import stream_of as credentials_stream
from domain.envelope import Envelope
from domain.errors import CredentialDataInvalid
from domain.n8n.catalog import default_catalog
from domain.n8n.credentials import credential_needs
from domain.workflow_events import (
    CredentialChoice,
    WorkflowDeactivated,
    WorkflowDeployed,
    WorkflowDeploymentFailed,
    WorkflowDeploymentRequested,
    WorkflowNeedsCredentials,
)
from handlers.app import HandlerRuntime
from handlers.managers import ManagerDeps, deployer
from handlers.runtime.lease import Held
from infra.event_store import RedisEventStore
from infra.n8n.client import N8nInstance, RetryPolicy
from infra.n8n.instances import N8nInstances
from projections import queries
from projections.catalog import PROJECTORS
from tests.integration.handlers.conftest import FAST, runtime_for
from tests.integration.managers.conftest import MainJob, offline_gateway
from tests.support.fake_n8n import FakeN8n

REQUEST = "Chaque matin, envoie-moi le total des commandes Shopify d'hier sur Slack"
OPEN_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
FAST_RETRIES = RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.05, timeout_s=1.0)
TENANT = "acme"


def missing_credentials(workflow: dict[str, Any]) -> str | None:
    """n8n's activation rule: every credential it requires linked by id (domain/n8n/credentials.py is
    checked against the real n8n in tests/integration/n8n)."""
    linked = {
        (node["name"], kind)
        for node in workflow["nodes"]
        for kind, link in (node.get("credentials") or {}).items()
        if link.get("id")
    }
    lacking = [
        f'Node "{n.node}":\n  - Missing required credential: {n.credential_type}'
        for n in credential_needs(workflow, default_catalog())
        if n.required_by_n8n and (n.node, n.credential_type) not in linked
    ]
    if not lacking:
        return None
    return f"Cannot publish workflow: {len(lacking)} nodes have configuration issues:\n\n" + "\n\n".join(
        lacking
    )


@dataclass
class Deploying:
    job: MainJob
    fake: FakeN8n
    n8n: N8nInstances
    pool: asyncpg.Pool
    deps: ManagerDeps

    @property
    def store(self) -> RedisEventStore:
        return self.job.store

    def ctx(self) -> CommandContext:
        return CommandContext(tenant=TENANT, actor="k1", now=datetime.now(UTC))

    async def approved_workflow(self, text: str = REQUEST) -> str:
        cid = await self.job.conversation()
        await self.job.say(cid, text)
        [reply] = await self.job.replies(cid)
        workflow_id = reply.envelope.data.workflow_id
        assert workflow_id is not None
        await approve_workflow(self.store, self.ctx(), workflow_id, None)
        return workflow_id

    async def connect(self, kind: str, name: str | None = None, data: dict[str, Any] | None = None) -> str:
        vault = self.n8n.vault_for(TENANT)
        assert vault is not None
        _, credential_id = await connect_credential(
            self.store, vault, self.ctx(), credential_type=kind, name=name or f"{kind} one", data=data or {}
        )
        return credential_id

    async def connect_all(self) -> None:
        await self.connect("shopifyApi")
        await self.connect("slackApi", data={"accessToken": "xoxb-1", "notice": ""})

    async def outcomes(self, workflow_id: str, count: int = 1, timeout_s: float = 20.0) -> list[Any]:
        async with asyncio.timeout(timeout_s):
            while True:
                found = [
                    e.envelope.data
                    for e in await self.store.read_stream(workflow_stream(workflow_id))
                    if isinstance(
                        e.envelope.data,
                        WorkflowDeployed | WorkflowNeedsCredentials | WorkflowDeploymentFailed,
                    )
                ]
                if len(found) >= count:
                    assert await self.job.runtime.wait_caught_up(timeout_s=timeout_s)
                    return found
                await asyncio.sleep(0.02)

    async def deployment_replies(self, workflow_id: str) -> list[AssistantReplied]:
        doc = await queries.get_workflow(self.pool, TENANT, workflow_id)
        assert doc is not None
        events = await self.job.events(doc.conversation_id)
        return [
            e.envelope.data
            for e in events
            if isinstance(e.envelope.data, AssistantReplied) and e.envelope.data.kind == "deployment"
        ]

    def creates(self) -> int:
        return self.fake.count("POST", "/api/v1/workflows")


@pytest.fixture
def fake() -> Iterator[FakeN8n]:
    schemas = dict.fromkeys(("shopifyApi", "telegramApi", "smtp"), OPEN_SCHEMA)
    with FakeN8n(activation_rule=missing_credentials, credential_schemas=schemas) as server:
        yield server


@pytest.fixture
async def deploying(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str, fake: FakeN8n
) -> AsyncIterator[Deploying]:
    n8n = N8nInstances(N8nInstance(url=fake.url, api_key=fake.api_key), policy=FAST_RETRIES)
    gateway = offline_gateway()
    runtime: HandlerRuntime = runtime_for(standalone_store, redis_url)
    runtime.add_projectors(pg_pool, PROJECTORS, **FAST)
    deps = ManagerDeps(
        store=standalone_store,
        gateway=gateway,
        catalog=default_catalog(),
        clock=lambda: datetime.now(UTC),
        n8n=n8n,
    )
    runtime.add_managers(deps, **FAST)
    await runtime.start()
    yield Deploying(
        job=MainJob(store=standalone_store, runtime=runtime), fake=fake, n8n=n8n, pool=pg_pool, deps=deps
    )
    await runtime.stop()
    await gateway.aclose()
    await n8n.aclose()


async def test_an_approved_workflow_with_its_credentials_connected_is_created_and_activated(
    deploying: Deploying,
) -> None:
    await deploying.connect_all()
    workflow_id = await deploying.approved_workflow()

    [deployed] = await deploying.outcomes(workflow_id)

    assert isinstance(deployed, WorkflowDeployed)
    copy = deploying.fake.workflows[deployed.n8n_workflow_id]
    assert copy["active"] is True
    assert deployed.n8n_version_id == copy["versionId"]
    assert deployed.n8n_version == "2.8.4"
    assert copy["name"].endswith(f"(aiwf {workflow_id[:13]})")
    linked = {kind for node in copy["nodes"] for kind in node.get("credentials", {})}
    assert linked == {"shopifyApi", "slackApi"}
    [reply] = await deploying.deployment_replies(workflow_id)
    assert "est déployé et actif dans n8n 2.8.4" in reply.text
    doc = await queries.get_workflow(deploying.pool, TENANT, workflow_id)
    assert doc is not None
    assert doc.status == "deployed"
    assert doc.deployment is not None
    assert (doc.deployment.status, doc.deployment.n8n_workflow_id, doc.deployment.active) == (
        "deployed",
        deployed.n8n_workflow_id,
        True,
    )


async def test_without_credentials_it_is_saved_inactive_and_a_credential_connected_later_activates_it(
    deploying: Deploying,
) -> None:
    await deploying.connect("shopifyApi")
    workflow_id = await deploying.approved_workflow()

    [needs] = await deploying.outcomes(workflow_id)

    assert isinstance(needs, WorkflowNeedsCredentials)
    assert [(m.node, m.credential_type) for m in needs.missing] == [("Post to Slack", "slackApi")]
    assert deploying.fake.workflows[needs.n8n_workflow_id]["active"] is False
    [told] = await deploying.deployment_replies(workflow_id)
    assert "reste inactif" in told.text
    assert "slackApi (« Post to Slack »)" in told.text
    requested = [e.envelope.data for e in await deploying.store.read_stream(credentials_stream(TENANT))]
    assert any(isinstance(r, CredentialsRequested) and r.workflow_id == workflow_id for r in requested)

    await deploying.connect("slackApi", data={"accessToken": "xoxb-1", "notice": ""})
    [_, deployed] = await deploying.outcomes(workflow_id, count=2)

    assert isinstance(deployed, WorkflowDeployed)
    assert deployed.n8n_workflow_id == needs.n8n_workflow_id
    assert deploying.fake.workflows[deployed.n8n_workflow_id]["active"] is True
    assert deploying.creates() == 1
    assert "est déployé et actif" in (await deploying.deployment_replies(workflow_id))[-1].text


async def test_n8n_down_is_a_retryable_failure_and_a_retry_deploys_it_once(deploying: Deploying) -> None:
    await deploying.connect_all()
    deploying.fake.down = True
    workflow_id = await deploying.approved_workflow()

    [failed] = await deploying.outcomes(workflow_id)

    assert isinstance(failed, WorkflowDeploymentFailed)
    assert (failed.status, failed.retryable, failed.attempt) == (None, True, 1)
    [told] = await deploying.deployment_replies(workflow_id)
    assert "a échoué" in told.text
    assert f"POST /v1/workflows/{workflow_id}/deploy" in told.text

    deploying.fake.down = False
    await request_deployment(deploying.store, deploying.ctx(), workflow_id, deploying.fake.url)
    [_, deployed] = await deploying.outcomes(workflow_id, count=2)

    assert isinstance(deployed, WorkflowDeployed)
    assert deploying.creates() == 1
    doc = await queries.get_workflow(deploying.pool, TENANT, workflow_id)
    assert doc is not None
    assert doc.deployment is not None
    assert doc.deployment.attempt == 2


async def test_a_5xx_on_a_lookup_is_retried_by_the_client_and_the_deployment_succeeds(
    deploying: Deploying,
) -> None:
    await deploying.connect_all()
    deploying.fake.fail_next("GET", "/api/v1/workflows", status=503, times=2)
    workflow_id = await deploying.approved_workflow()

    [deployed] = await deploying.outcomes(workflow_id)

    assert isinstance(deployed, WorkflowDeployed)
    scripted = [r for r in deploying.fake.requests if r.scripted]
    assert [r.status for r in scripted] == [503, 503]


async def test_a_4xx_is_a_final_failure_that_keeps_n8n_s_message_and_drops_its_stack(
    deploying: Deploying,
) -> None:
    await deploying.connect_all()
    deploying.fake.activation_rule = lambda _: "Workflow could not be activated: the Shopify service refused"
    workflow_id = await deploying.approved_workflow()

    [failed] = await deploying.outcomes(workflow_id)

    assert isinstance(failed, WorkflowDeploymentFailed)
    assert (failed.status, failed.retryable) == (400, False)
    assert failed.message == "Workflow could not be activated: the Shopify service refused"
    assert failed.n8n_workflow_id in deploying.fake.workflows
    [told] = await deploying.deployment_replies(workflow_id)
    assert "n8n 400: Workflow could not be activated: the Shopify service refused" in told.text
    assert "/deploy" not in told.text  # nothing to retry until something changes
    assert " at " not in failed.message


async def test_an_answer_lost_after_n8n_created_the_workflow_never_makes_a_second_one(
    deploying: Deploying,
) -> None:
    """n8n creates the workflow but its answer comes after the client's timeout: for us it is as if we
    crashed between n8n's answer and our append. The retry finds the copy by name and updates it."""
    await deploying.connect_all()
    deploying.fake.delay_next("POST", "/api/v1/workflows", seconds=FAST_RETRIES.timeout_s + 0.5)
    workflow_id = await deploying.approved_workflow()

    [failed] = await deploying.outcomes(workflow_id)
    assert isinstance(failed, WorkflowDeploymentFailed)
    assert failed.retryable
    await asyncio.sleep(0.6)  # the late answer is given: the copy exists in n8n
    assert len(deploying.fake.workflows) == 1

    await request_deployment(deploying.store, deploying.ctx(), workflow_id, deploying.fake.url)
    [_, deployed] = await deploying.outcomes(workflow_id, count=2)

    assert isinstance(deployed, WorkflowDeployed)
    assert list(deploying.fake.workflows) == [deployed.n8n_workflow_id]
    assert deploying.creates() == 1
    assert deploying.fake.count("PUT", f"/api/v1/workflows/{deployed.n8n_workflow_id}") == 1


async def test_a_new_revision_updates_the_active_n8n_workflow_in_place(deploying: Deploying) -> None:
    await deploying.connect_all()
    await deploying.connect("telegramApi")
    workflow_id = await deploying.approved_workflow()
    [first] = await deploying.outcomes(workflow_id)
    assert isinstance(first, WorkflowDeployed)
    version_before = deploying.fake.workflows[first.n8n_workflow_id]["versionId"]
    doc = await queries.get_workflow(deploying.pool, TENANT, workflow_id)
    assert doc is not None

    await deploying.job.say(doc.conversation_id, "Finalement, envoie le total sur Telegram plutôt que Slack")
    replies = await deploying.job.replies(doc.conversation_id, count=3)
    revised = [r.envelope.data for r in replies if r.envelope.data.kind == "workflow"]
    assert revised[-1].workflow_revision == 2
    await approve_workflow(deploying.store, deploying.ctx(), workflow_id, 2)
    [_, second] = await deploying.outcomes(workflow_id, count=2)

    assert isinstance(second, WorkflowDeployed)
    assert (second.n8n_workflow_id, second.revision) == (first.n8n_workflow_id, 2)
    copy = deploying.fake.workflows[second.n8n_workflow_id]
    assert copy["active"] is True
    assert copy["versionId"] != version_before
    assert "n8n-nodes-base.telegram" in {n["type"] for n in copy["nodes"]}
    assert deploying.creates() == 1


async def test_a_retired_workflow_is_deactivated_in_n8n(deploying: Deploying) -> None:
    await deploying.connect_all()
    workflow_id = await deploying.approved_workflow()
    [deployed] = await deploying.outcomes(workflow_id)

    await retire_workflow(deploying.store, deploying.ctx(), workflow_id, "season over")

    async with asyncio.timeout(20):
        while not any(  # noqa: ASYNC110 - the log is polled: it has no event to wait on
            isinstance(e.envelope.data, WorkflowDeactivated)
            for e in await deploying.store.read_stream(workflow_stream(workflow_id))
        ):
            await asyncio.sleep(0.02)
    assert deploying.fake.workflows[deployed.n8n_workflow_id]["active"] is False


async def test_a_webhook_path_an_active_workflow_of_the_tenant_uses_fails_before_n8n_is_changed(
    deploying: Deploying,
) -> None:
    await deploying.connect_all()
    text = "Mon site vitrine envoie un webhook à chaque demande de devis d'un client : transmets-la sur Slack"
    first_id = await deploying.approved_workflow(text)
    [first] = await deploying.outcomes(first_id)
    assert isinstance(first, WorkflowDeployed), first
    assert first.webhooks

    second_id = await deploying.approved_workflow(text)
    [second] = await deploying.outcomes(second_id)

    assert isinstance(second, WorkflowDeploymentFailed)
    assert not second.retryable
    assert f"the active n8n workflow {first.n8n_workflow_id} uses already" in second.message
    assert deploying.fake.workflows[first.n8n_workflow_id]["name"] not in second.message  # another's data
    assert deploying.creates() == 1


async def test_credential_data_that_fails_the_schema_is_refused_and_nothing_is_stored(
    deploying: Deploying,
) -> None:
    with pytest.raises(CredentialDataInvalid) as refused:
        await deploying.connect("slackApi", data={"token": "xoxb-secret-value"})

    assert "missing required field 'accessToken'" in refused.value.problems
    assert "xoxb-secret-value" not in str(refused.value)
    assert deploying.fake.credentials == {}
    assert await deploying.store.read_stream(credentials_stream(TENANT)) == []


async def test_approval_without_an_n8n_configured_ends_at_approved(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> None:
    gateway = offline_gateway()
    runtime = runtime_for(standalone_store, redis_url)
    runtime.add_managers(
        ManagerDeps(
            store=standalone_store,
            gateway=gateway,
            catalog=default_catalog(),
            clock=lambda: datetime.now(UTC),
        ),
        **FAST,
    )
    await runtime.start()
    try:
        job = MainJob(store=standalone_store, runtime=runtime)
        cid = await job.conversation()
        await job.say(cid, REQUEST)
        [reply] = await job.replies(cid)
        workflow_id = reply.envelope.data.workflow_id
        await approve_workflow(
            standalone_store,
            CommandContext(tenant=TENANT, actor="k1", now=datetime.now(UTC)),
            workflow_id,
            None,
        )
        assert await runtime.wait_caught_up(timeout_s=20)
    finally:
        await runtime.stop()
        await gateway.aclose()
    events = [e.envelope.data for e in await standalone_store.read_stream(workflow_stream(workflow_id))]
    assert not any(isinstance(e, WorkflowDeploymentRequested) for e in events)
    assert type(events[-1]).__name__ == "WorkflowApproved"


async def test_a_second_consumer_redoing_a_deployment_in_progress_waits_and_never_creates_twice(
    deploying: Deploying,
) -> None:
    """A slow n8n outlasts the partition lease and another process redoes the entry: the workflow's
    lock makes it retry later (a transient failure), and after the first one it finds the work done."""
    await deploying.connect_all()
    deploying.fake.delay_next("GET", "/api/v1/workflows", seconds=0.8)  # the look-up before creating
    workflow_id = await deploying.approved_workflow()
    stream = workflow_stream(workflow_id)
    lock = deploying.store.keys.for_stream(stream).lock(stream, deployer.STEP)
    async with asyncio.timeout(20):
        while not await deploying.store.redis.client.exists(lock):  # noqa: ASYNC110 - a Redis key
            await asyncio.sleep(0.005)
    requested = await _request_of(deploying, workflow_id)
    assert requested is not None

    with pytest.raises(Held):
        await deployer.on_deployment_requested(deploying.deps, requested, requested.data)
    [deployed] = await deploying.outcomes(workflow_id)
    await deployer.on_deployment_requested(deploying.deps, requested, requested.data)  # done: a no-op

    assert isinstance(deployed, WorkflowDeployed)
    assert deploying.creates() == 1
    assert len(await deploying.deployment_replies(workflow_id)) == 1


async def _request_of(deploying: Deploying, workflow_id: str) -> Envelope | None:
    for stored in await deploying.store.read_stream(workflow_stream(workflow_id)):
        if isinstance(stored.envelope.data, WorkflowDeploymentRequested):
            return stored.envelope
    return None


async def test_with_two_credentials_of_a_type_and_no_choice_it_asks_once_and_deploys_with_the_chosen_one(
    deploying: Deploying,
) -> None:
    await deploying.connect("shopifyApi")
    slack = {"accessToken": "xoxb-1", "notice": ""}
    await deploying.connect("slackApi", "Équipe", data=slack)
    chosen = await deploying.connect("slackApi", "Ventes", data=slack)
    workflow_id = await deploying.approved_workflow()

    [needs] = await deploying.outcomes(workflow_id)
    assert await deploying.job.runtime.wait_caught_up(timeout_s=20)

    assert isinstance(needs, WorkflowNeedsCredentials)
    assert [(m.credential_type, m.candidates) for m in needs.missing] == [("slackApi", ("Équipe", "Ventes"))]
    assert len(await deploying.outcomes(workflow_id)) == 1  # asked once, not redeployed in a loop

    choice = [CredentialChoice(credential_type="slackApi", name="Ventes")]
    await request_deployment(deploying.store, deploying.ctx(), workflow_id, deploying.fake.url, choice)
    [_, deployed] = await deploying.outcomes(workflow_id, count=2)

    assert isinstance(deployed, WorkflowDeployed)
    copy = deploying.fake.workflows[deployed.n8n_workflow_id]
    links = [
        n["credentials"]["slackApi"]["id"] for n in copy["nodes"] if "slackApi" in n.get("credentials", {})
    ]
    assert links == [chosen]
