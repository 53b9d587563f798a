"""The deployer: an approved workflow, into the tenant's n8n, and the truth about it to the user.

On `WorkflowApproved` (with an n8n configured) it requests a deployment; on `WorkflowDeploymentRequested`
it links every node to a connected credential of the type it needs, creates the n8n copy or updates it in
place, and activates it when nothing is missing. The outcome — deployed, needs credentials, failed — is
recorded on the workflow and told in the conversation; a reply never claims an activation n8n did not
confirm. A credential connected later resumes every workflow that awaited its type; a retired workflow
is deactivated.

Never two n8n workflows for one of ours: the n8n copy's name carries our workflow id (`n8n_name`), set
at creation in the same call, and the deployer looks for it before creating. A crash between n8n's
answer and our append finds that copy on the next attempt and updates it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from commands.context import CommandContext
from commands.conversations import stream_of as conversation_stream
from commands.credentials import list_credentials
from commands.execute import load
from commands.workflows import WORKFLOWS, record_deactivation, record_deployment, request_deployment
from commands.workflows import stream_of as workflow_stream
from domain import credentials
from domain import workflow as workflow_model
from domain.credential_events import CredentialConnected, CredentialsRequested
from domain.credentials import Needed, choose
from domain.envelope import Envelope
from domain.errors import InvalidTransition, NotFound
from domain.n8n.credentials import credential_needs, link_credentials
from domain.n8n.document import read_workflow
from domain.n8n.webhooks import Registration, conflicts_with_deployed, production_urls, registrations
from domain.workflow import Deploying, NeedsCredentials, RecordDeployment, WorkflowBase
from domain.workflow_events import (
    MissingCredential,
    WebhookEndpoint,
    WorkflowApproved,
    WorkflowDeployed,
    WorkflowDeploymentFailed,
    WorkflowDeploymentRequested,
    WorkflowNeedsCredentials,
    WorkflowRetired,
)
from handlers.managers import replies
from handlers.managers.steps import ManagerDeps, append, load_process, new_event, reply_event, step_id
from handlers.runtime.lease import StepLock
from infra.n8n.client import N8nClient, N8nWorkflow
from infra.n8n.errors import N8nError
from infra.tracing import current_traceparent

log = logging.getLogger(__name__)
STEP = "deployer"
ACTOR = "aiwf-deployer"
SOURCE = "aiwf://agents"
MANAGED_TAG = "aiwf"
MAX_NAME = 128  # n8n's limit for a workflow name
LOCK_TTL_MS = 180_000  # longer than a deployment can take: a few calls, each retried within its timeout

Outcome = WorkflowDeployed | WorkflowNeedsCredentials | WorkflowDeploymentFailed
HANDLED = (
    WorkflowApproved.event_type,
    WorkflowDeploymentRequested.event_type,
    CredentialConnected.event_type,
    WorkflowRetired.event_type,
)


def handles(envelope: Envelope) -> bool:
    return envelope.type in HANDLED


async def on_event(deps: ManagerDeps, cause: Envelope) -> None:
    match cause.data:
        case WorkflowApproved():
            await on_approved(deps, cause)
        case WorkflowDeploymentRequested():
            await on_deployment_requested(deps, cause, cause.data)
        case CredentialConnected():
            await on_credential_connected(deps, cause, cause.data)
        case WorkflowRetired():
            await on_retired(deps, cause)


def n8n_name(name: str, workflow_id: str) -> str:
    """The n8n copy's name: the designer's, then the key that finds the copy again."""
    key = marker(workflow_id)
    return f"{name[: MAX_NAME - len(key) - 1]} {key}"


def marker(workflow_id: str) -> str:
    return f"(aiwf {workflow_id[:13]})"  # 48 bits of the id: unique among one tenant's workflows


def _ctx(cause: Envelope, *parts: str) -> CommandContext:
    return CommandContext(
        tenant=cause.tenant,
        actor=ACTOR,
        now=cause.time,
        source=SOURCE,
        correlation_id=cause.correlationid or cause.stream,
        causation_id=cause.id,
        traceparent=current_traceparent(cause.traceparent),
        idempotency_key=step_id(cause, STEP, *parts),
    )


def _workflow_id(cause: Envelope) -> str:
    return cause.stream.removeprefix("workflow-")


async def on_approved(deps: ManagerDeps, cause: Envelope) -> None:
    instance = deps.n8n.instance_for(cause.tenant)
    if instance is None:
        return  # no n8n: the approval is where the job ends
    try:
        await request_deployment(deps.store, _ctx(cause, "request"), _workflow_id(cause), instance.url)
    except InvalidTransition:
        return  # revised or retired since


async def on_deployment_requested(
    deps: ManagerDeps, cause: Envelope, request: WorkflowDeploymentRequested
) -> None:
    """Carried out once; told (and, if credentials are missing, asked for) from what was recorded, so a
    step redone after a crash tells the very same thing."""
    workflow_id = _workflow_id(cause)
    state = (await load(deps.store, WORKFLOWS, cause.stream)).state
    if isinstance(state, Deploying) and state.deployment_id == request.deployment_id:
        async with _lock(deps, cause):
            await _carry_out(deps, cause, request)
    recorded = await _outcome_of(deps, cause.stream, request.deployment_id)
    if recorded is None:
        return  # superseded by a later request before it was carried out
    workflow, outcome = recorded
    await _tell(deps, cause, workflow, outcome)
    if isinstance(outcome, WorkflowNeedsCredentials):
        await _await_credentials(deps, cause, workflow_id, outcome)


async def _carry_out(deps: ManagerDeps, cause: Envelope, request: WorkflowDeploymentRequested) -> None:
    """Under the lock, from the state as it is now: another holder may have finished it meanwhile."""
    state = (await load(deps.store, WORKFLOWS, cause.stream)).state
    if not isinstance(state, Deploying) or state.deployment_id != request.deployment_id:
        return
    client = deps.n8n.client_for(cause.tenant)
    if client is None:
        outcome: Outcome = _failed(
            state, deps, status=None, message="no n8n instance is configured for this tenant", retryable=False
        )
    else:
        outcome = await Deployment(deps, cause, state, client).run()
    await record_deployment(
        deps.store, _ctx(cause, "outcome"), _workflow_id(cause), RecordDeployment(outcome=outcome)
    )


def _lock(deps: ManagerDeps, cause: Envelope) -> StepLock:
    """One deployment of a workflow at a time across processes: a lease taken over mid-call (a slow
    n8n outlasts the partition lease) must not create the copy a second time."""
    key = deps.store.keys.for_stream(cause.stream).lock(cause.stream, STEP)
    return StepLock(deps.store.redis, key, f"{cause.id}/{uuid.uuid4().hex}", LOCK_TTL_MS)


async def _outcome_of(
    deps: ManagerDeps, stream: str, deployment_id: str
) -> tuple[WorkflowBase, Outcome] | None:
    """The recorded outcome of a deployment, with the workflow as it was then."""
    state = workflow_model.INITIAL
    for stored in await deps.store.read_stream(stream):
        data = stored.envelope.data
        state = workflow_model.evolve(state, data)
        if (
            isinstance(data, Outcome)
            and data.deployment_id == deployment_id
            and isinstance(state, WorkflowBase)
        ):
            return state, data
    return None


async def on_credential_connected(deps: ManagerDeps, cause: Envelope, connected: CredentialConnected) -> None:
    """Every workflow that awaited this type before it was connected deploys again."""
    history = await deps.store.read_stream(cause.stream)
    before = credentials.fold(e.envelope.data for e in history if e.envelope.version < cause.version)
    for workflow_id in before.awaiting_type(connected.credential_type):
        await _resume(deps, cause, workflow_id, connected.credential_type)


async def _resume(deps: ManagerDeps, cause: Envelope, workflow_id: str, credential_type: str) -> None:
    state = (await load(deps.store, WORKFLOWS, workflow_stream(workflow_id))).state
    if not isinstance(state, NeedsCredentials) or state.in_n8n is None:
        return
    if credential_type not in {m.credential_type for m in state.missing}:
        return
    target = deps.n8n.instance_for(cause.tenant)
    if target is None:
        return
    try:
        await request_deployment(deps.store, _ctx(cause, "resume", workflow_id), workflow_id, target.url)
    except (InvalidTransition, NotFound):
        return


async def _await_credentials(
    deps: ManagerDeps, cause: Envelope, workflow_id: str, outcome: WorkflowNeedsCredentials
) -> None:
    """Recorded in the tenant's credentials stream, then checked once more: a credential connected while
    n8n answered would otherwise find no workflow awaiting it, and this one would wait forever."""
    stream = credentials.stream_of(cause.tenant)
    requested = CredentialsRequested(
        workflow_id=workflow_id,
        deployment_id=outcome.deployment_id,
        missing=outcome.missing,
        requested_at=outcome.noted_at,
    )
    event = new_event(cause, step_id(cause, STEP, "credentials-requested"), requested, outcome.noted_at)
    await append(deps, cause.tenant, stream, [event])
    workflow = (await load(deps.store, WORKFLOWS, workflow_stream(workflow_id))).state
    choices = workflow.choices if isinstance(workflow, WorkflowBase) else ()
    connected = await list_credentials(deps.store, cause.tenant)
    wanted = [Needed(node=m.node, credential_type=m.credential_type) for m in outcome.missing]
    links, _ = choose(connected, wanted, choices)
    # Only what would now be linked: several of a type and none chosen stays missing, and redeploying
    # for it would end where it started, again and again.
    for credential_type in sorted(links):
        await _resume(deps, cause, workflow_id, credential_type)


async def on_retired(deps: ManagerDeps, cause: Envelope) -> None:
    state = (await load(deps.store, WORKFLOWS, cause.stream)).state
    client = deps.n8n.client_for(cause.tenant)
    if (
        not isinstance(state, WorkflowBase)
        or state.in_n8n is None
        or not state.in_n8n.active
        or client is None
    ):
        return
    try:
        await client.deactivate(state.in_n8n.n8n_workflow_id)
    except N8nError as exc:
        if exc.status != 404:
            raise  # redelivered: a retired workflow must not go on running
    await record_deactivation(
        deps.store, _ctx(cause, "deactivated"), _workflow_id(cause), state.in_n8n.n8n_workflow_id
    )


class Deployment:
    """One deployment request carried out against n8n; `run` never raises for what n8n answers."""

    def __init__(self, deps: ManagerDeps, cause: Envelope, state: Deploying, client: N8nClient) -> None:
        self.deps, self.cause, self.state, self.client = deps, cause, state, client
        self.workflow_id = _workflow_id(cause)
        self.n8n_id: str | None = state.in_n8n.n8n_workflow_id if state.in_n8n else None

    async def run(self) -> Outcome:
        try:
            return await self._deploy()
        except N8nError as exc:
            log.warning("deployment of %s failed: %s", self.workflow_id, exc)
            return _failed(
                self.state,
                self.deps,
                status=exc.status,
                message=exc.message,
                retryable=exc.retryable,
                n8n_id=self.n8n_id,
            )

    async def _deploy(self) -> Outcome:
        read = _document(self.state.definition)
        if read is None:  # its conversation was shredded since the approval: nothing left to deploy
            why = "the workflow's definition can no longer be read"
            return _failed(self.state, self.deps, status=None, message=why, retryable=False)
        document = without_credentials(read)
        catalog = self.deps.catalog
        needs = credential_needs(document, catalog)
        connected = await list_credentials(self.deps.store, self.cause.tenant)
        wanted = [Needed(node=n.node, credential_type=n.credential_type) for n in needs]
        links, missing = choose(connected, wanted, self.state.choices)
        linked = link_credentials(
            document, catalog, {kind: (c.credential_id, c.name) for kind, c in links.items()}
        )
        existing = await self._find_copy()
        self.n8n_id = existing.id if existing else None
        taken = await self._conflicts(linked, existing)
        if taken is not None:
            return _failed(
                self.state, self.deps, status=None, message=taken, retryable=False, n8n_id=self.n8n_id
            )
        copy = await self._save(linked, existing)
        self.n8n_id = copy.id
        if missing:
            if copy.active:
                await self.client.deactivate(
                    copy.id
                )  # this revision cannot run: never the old one half-linked
            return self._needs(copy, missing)
        active = copy if copy.active else await self.client.activate(copy.id)
        if not active.active:
            return _failed(
                self.state,
                self.deps,
                status=None,
                message="n8n did not confirm the activation",
                retryable=True,
                n8n_id=copy.id,
            )
        return await self._deployed(linked, active)

    async def _find_copy(self) -> N8nWorkflow | None:
        if self.n8n_id is not None:
            try:
                return await self.client.get_workflow(self.n8n_id)
            except N8nError as exc:
                if exc.status != 404:
                    raise  # deleted in n8n by a person: look for it by name, else create it again
        key = marker(self.workflow_id)
        found = [w for w in await self.client.find_workflows() if w.name.endswith(key)]
        return found[0] if found else None

    async def _conflicts(self, linked: dict[str, Any], existing: N8nWorkflow | None) -> str | None:
        ours = read_workflow(linked, self.deps.catalog)
        if not registrations(ours, existing.id if existing else "?"):
            return None
        catalog = self.deps.catalog
        deployed: dict[str, list[Registration]] = {}
        for other in await self.client.find_workflows(active=True):
            if existing is None or other.id != existing.id:
                shape = {"nodes": other.nodes, "connections": other.connections}
                # By n8n id, never by name: on an instance several tenants share, a name is another's data.
                deployed[f"n8n workflow {other.id}"] = list(
                    registrations(read_workflow(shape, catalog), other.id)
                )
        problems = list(conflicts_with_deployed(ours, existing.id if existing else "?", deployed))
        return "; ".join(p.message for p in problems) or None

    async def _save(self, linked: dict[str, Any], existing: N8nWorkflow | None) -> N8nWorkflow:
        name = n8n_name(str(linked.get("name") or "workflow"), self.workflow_id)
        parts = (name, linked["nodes"], linked["connections"], linked.get("settings") or {})
        if existing is not None:
            return await self.client.update_workflow(existing.id, *parts)
        created = await self.client.create_workflow(*parts)
        try:
            tag = await self.client.ensure_tag(MANAGED_TAG)
            await self.client.set_workflow_tags(created.id, [tag.id])
        except N8nError as exc:  # the name finds the copy; the tag only helps people filter
            log.warning("could not tag n8n workflow %s: %s", created.id, exc)
        return created

    def _needs(self, copy: N8nWorkflow, missing: tuple[MissingCredential, ...]) -> WorkflowNeedsCredentials:
        return WorkflowNeedsCredentials(
            deployment_id=self.state.deployment_id,
            revision=self.state.revision,
            n8n_workflow_id=copy.id,
            missing=missing,
            noted_at=self.deps.clock(),
        )

    async def _deployed(self, linked: dict[str, Any], active: N8nWorkflow) -> WorkflowDeployed:
        instance = self.deps.n8n.instance_for(self.cause.tenant)
        base = instance.webhook_base() if instance else ""
        urls = production_urls(read_workflow(linked, self.deps.catalog), active.id, base)
        return WorkflowDeployed(
            deployment_id=self.state.deployment_id,
            revision=self.state.revision,
            n8n_workflow_id=active.id,
            n8n_version_id=active.version_id,
            active=True,
            webhooks=tuple(WebhookEndpoint(method=m, url=u) for m, u in urls),
            n8n_version=await self.client.version(),
            deployed_at=self.deps.clock(),
        )


def _document(definition: str) -> dict[str, Any] | None:
    """The n8n JSON, as the store opened it (`[shredded]` is no JSON)."""
    try:
        document = msgspec.json.decode(definition)
    except msgspec.DecodeError:
        return None
    return document if isinstance(document, dict) else None


def without_credentials(document: dict[str, Any]) -> dict[str, Any]:
    """The designer's document with no credential link of its own: only the tenant's connected
    credentials are ever linked, never an id a model wrote."""
    nodes = [
        {k: v for k, v in node.items() if k != "credentials"} if isinstance(node, dict) else node
        for node in document.get("nodes") or []
    ]
    return {**document, "nodes": nodes}


def _failed(
    state: Deploying,
    deps: ManagerDeps,
    *,
    status: int | None,
    message: str,
    retryable: bool,
    n8n_id: str | None = None,
) -> WorkflowDeploymentFailed:
    return WorkflowDeploymentFailed(
        deployment_id=state.deployment_id,
        revision=state.revision,
        attempt=state.attempt,
        status=status,
        message=message or "n8n gave no reason",
        retryable=retryable,
        n8n_workflow_id=n8n_id,
        sensitivity=state.sensitivity,  # n8n's message may quote the draft's parameters
        failed_at=deps.clock(),
    )


def _outcome_time(outcome: Outcome) -> datetime:
    match outcome:
        case WorkflowDeployed():
            return outcome.deployed_at
        case WorkflowNeedsCredentials():
            return outcome.noted_at
        case _:
            return outcome.failed_at


async def _tell(deps: ManagerDeps, cause: Envelope, workflow: WorkflowBase, outcome: Outcome) -> None:
    """The outcome, in the conversation the workflow came from, in the user's language, as sensitive as
    the draft it tells of (n8n's message may quote it)."""
    stream = conversation_stream(workflow.conversation_id)
    process = (await load_process(deps, stream)).state
    turn = next((t for t in reversed(process.turns) if t.workflow_id == workflow.workflow_id), None)
    language = turn.language if turn else None
    name = workflow.name
    match outcome:
        case WorkflowDeployed():
            n8n = outcome.n8n_version or "?"
            text = replies.deployed(language, name, outcome.revision, n8n, outcome.webhooks)
        case WorkflowNeedsCredentials():
            text = replies.needs_credentials(language, name, outcome.revision, outcome.missing)
        case _:
            retry = workflow.workflow_id if outcome.retryable else None
            why = f"n8n {outcome.status}: {outcome.message}" if outcome.status else outcome.message
            text = replies.deploy_failed(
                language,
                name=name,
                revision=outcome.revision,
                attempt=outcome.attempt,
                why=why,
                retry_with=retry,
            )
    at = _outcome_time(outcome)
    event = reply_event(
        cause,
        _step_ids(cause),
        None,
        (text, "deployment"),
        at,
        sensitivity=workflow.sensitivity,
        workflow=(workflow.workflow_id, outcome.revision),
    )
    await append(deps, cause.tenant, stream, [event])


def _step_ids(cause: Envelope) -> Callable[[str], str]:
    return lambda part: step_id(cause, STEP, part)
