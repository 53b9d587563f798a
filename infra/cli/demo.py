"""`make demo` and the first `make run`: the README's French conversation, through the same command path
as the API, answered by the main job's process managers, with a summary of every step.

The demo fails (exit 1) when any step is missing: no reply, no specialist, no valid workflow, no
approval when auto-approval is on, a read model that differs from a replay of the log, an audit
problem, or an error logged by the handlers. With an n8n configured (N8N_URL, N8N_API_KEY) it also
fails unless the workflow ends active in n8n, as n8n itself confirms; `--demo-credentials` connects
dummy credentials for the types it lacks. Without one, it says that deployment was skipped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

from commands.context import CommandContext
from commands.conversations import send_message, start_conversation
from commands.conversations import stream_of as conversation_stream
from commands.credentials import connect_credential
from commands.workflows import stream_of as workflow_stream
from domain.conversation_events import (
    AgentDelegated,
    AgentFindingRecorded,
    AssistantReplied,
    InferenceDecided,
    InferenceRefused,
    IntentClassified,
)
from domain.envelope import StoredEvent
from domain.workflow_events import (
    WorkflowApproved,
    WorkflowDeployed,
    WorkflowDeploymentFailed,
    WorkflowDrafted,
    WorkflowNeedsCredentials,
    WorkflowValidated,
    WorkflowValidationFailed,
)
from handlers.app import HandlerRuntime
from handlers.rebuild import replay
from infra.audit import verify_store
from infra.n8n.dummy_credentials import dummy_data
from infra.runtime import Infrastructure
from projections import queries
from projections.catalog import PROJECTORS

DEMO_TEXT = (
    "Chaque matin, envoie-moi le total des commandes Shopify d'hier sur Slack, "
    "et préviens le livreur Yalidine pour les commandes payées"
)
WAIT_S = 60.0


@dataclass
class DemoRun:
    """What one play of the demo conversation produced, for the summary and the checks."""

    tenant: str
    conversation_id: str = ""
    workflow_id: str | None = None
    lines: list[str] = field(default_factory=list)
    ok: bool = True

    def check(self, ok: bool, line: str) -> None:
        self.lines.append(("ok    " if ok else "MISS  ") + line)
        self.ok = self.ok and ok

    def miss(self, line: str) -> None:
        self.check(ok=False, line=line)


async def play(
    infra: Infrastructure, runtime: HandlerRuntime, tenant: str, *, expect_approval: bool
) -> DemoRun:
    """Send the demo message and wait for the main job to answer it (the runtime must be running)."""
    run = DemoRun(tenant=tenant)
    ctx = CommandContext(tenant=tenant, actor="demo", now=datetime.now(UTC), source="aiwf://demo")
    started = await start_conversation(infra.store, ctx, title="Ventes et livraisons", language="fr")
    run.conversation_id = started.stream.removeprefix("conversation-")
    await send_message(infra.store, ctx, run.conversation_id, DEMO_TEXT)
    run.lines.append(f"user: {DEMO_TEXT}")
    events = await _until_replied(infra, run.conversation_id)
    _summarise_conversation(run, events)
    if run.workflow_id is not None:
        await _summarise_workflow(infra, run, expect_approval=expect_approval)
    run.check(await runtime.wait_caught_up(timeout_s=WAIT_S), "every consumer group caught up")
    return run


async def _until_replied(infra: Infrastructure, conversation_id: str) -> list[StoredEvent]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while True:
        events = await infra.store.read_stream(conversation_stream(conversation_id))
        if any(isinstance(e.envelope.data, AssistantReplied) for e in events) or loop.time() > deadline:
            return events
        await asyncio.sleep(0.02)


def _summarise_conversation(run: DemoRun, events: list[StoredEvent]) -> None:
    data = [e.envelope.data for e in events]
    intents = [i.name for d in data if isinstance(d, IntentClassified) for i in d.intents]
    run.check(bool(intents), f"orchestrator: intents {', '.join(intents) or 'none'}")
    delegated = [d.agent.value for d in data if isinstance(d, AgentDelegated)]
    found = {d.agent.value: d.summary for d in data if isinstance(d, AgentFindingRecorded)}
    run.check(
        bool(delegated) and set(found) == set(delegated), f"delegated to {', '.join(delegated) or 'nobody'}"
    )
    for agent, summary in found.items():
        run.lines.append(f"      {agent}: {summary}")
    for d in data:
        if isinstance(d, InferenceDecided):
            run.lines.append(
                f"      model call {d.purpose.value}: {d.provider}/{d.model}, {d.outcome}, "
                f"{d.input_tokens}+{d.output_tokens} tokens, {d.latency_ms} ms ({d.route_reason})"
            )
        elif isinstance(d, InferenceRefused):
            run.lines.append(f"      model call {d.purpose.value}: refused ({d.reason})")
    replies = [d for d in data if isinstance(d, AssistantReplied)]
    run.check(
        bool(replies) and replies[0].kind == "workflow",
        f"assistant: {replies[0].text if replies else '(none)'}",
    )
    run.workflow_id = replies[0].workflow_id if replies else None


async def _summarise_workflow(infra: Infrastructure, run: DemoRun, *, expect_approval: bool) -> None:
    assert run.workflow_id is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while True:
        data = [e.envelope.data for e in await infra.store.read_stream(workflow_stream(run.workflow_id))]
        approved = [d for d in data if isinstance(d, WorkflowApproved)]
        if approved or not expect_approval or loop.time() > deadline:
            break
        await asyncio.sleep(0.02)
    for d in data:
        if isinstance(d, WorkflowDrafted):
            run.lines.append(f"workflow {d.workflow_id} revision {d.revision} drafted: {d.name}")
        elif isinstance(d, WorkflowValidationFailed):
            run.lines.append(f"      revision {d.revision} refused by the validator: {d.problems[0].message}")
    valid = [d for d in data if isinstance(d, WorkflowValidated)]
    run.check(
        bool(valid),
        f"validator: {'valid for n8n ' + valid[-1].n8n_version if valid else 'no valid revision'}",
    )
    if expect_approval:
        by = approved[0].approved_by if approved else "nobody"
        run.check(bool(approved), f"approved by {by} (AIWF_AUTO_APPROVE)")


async def check_read_side(infra: Infrastructure, pool: asyncpg.Pool, run: DemoRun) -> None:
    """What the API serves, read from PostgreSQL; every read model equal to a replay of the log."""
    messages = await queries.list_messages(pool, run.tenant, run.conversation_id, queries.Page(limit=50))
    roles = [m.role for m in messages]  # the answer, then what the deployer told, if anything
    run.check(
        roles[:2] == ["user", "assistant"] and set(roles[2:]) <= {"assistant"},
        f"read model messages: {len(messages)} rows",
    )
    state = await queries.get_agent_state(pool, run.tenant, run.conversation_id)
    agents = sorted(d.agent for d in state.delegations) if state else []
    run.check(
        bool(agents) and state is not None and bool(state.decisions), f"read model agent_state: {agents}"
    )
    if run.workflow_id is not None:
        workflow = await queries.get_workflow(pool, run.tenant, run.workflow_id)
        status = workflow.status if workflow else "missing"
        run.check(
            workflow is not None,
            f"read model workflows: {status}, revision {workflow.revision if workflow else 0}",
        )
        await check_sbom(pool, run, run.workflow_id)
    for spec in PROJECTORS:
        report = await replay(pool, infra.store, spec, "verify")
        run.check(
            not report.differences, f"projections verify {spec.name}: {report.differences or 'identical'}"
        )
    audit = await verify_store(infra.store)
    run.check(
        not audit.problems,
        f"audit: {audit.streams} streams, {audit.events} events, {len(audit.problems)} problems",
    )


async def check_sbom(pool: asyncpg.Pool, run: DemoRun, workflow_id: str) -> None:
    lookup = await queries.get_sbom(pool, run.tenant, workflow_id, None)
    if lookup is None or lookup.sbom is None:
        run.miss("read model sboms: no SBOM of the current revision")
        return
    document = json.loads(lookup.sbom.document)
    kinds = Counter(c["type"] for c in document.get("components", []))
    run.check(
        ok=True,
        line=f"read model sboms: CycloneDX {document['specVersion']}, revision {lookup.revision}: "
        f"{kinds['library']} n8n nodes, {kinds['machine-learning-model']} model(s), "
        f"{kinds['data']} prompt templates, {len(document.get('services', []))} service(s) "
        f"(aiwf sbom --tenant {run.tenant} {workflow_id})",
    )


class ErrorCount(logging.Handler):
    """A run that recovered from errors still says so: the demo fails on any."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def deploy(
    infra: Infrastructure, runtime: HandlerRuntime, run: DemoRun, *, demo_credentials: bool
) -> None:
    """With an n8n configured, the approved workflow's deployment as the deployer recorded it (and, when
    told to, dummy credentials connected for every type it lacks, so that it activates)."""
    if run.workflow_id is None:
        return
    client = infra.n8n.client_for(run.tenant)
    if client is None:
        run.lines.append(
            "n8n: none configured (N8N_URL, N8N_API_KEY): deployment skipped, the workflow stays approved"
        )
        return
    outcome = await _deployment_outcome(infra, run.workflow_id)
    if isinstance(outcome, WorkflowNeedsCredentials) and demo_credentials:
        kinds = sorted({m.credential_type for m in outcome.missing})
        run.lines.append(
            f"n8n: the workflow lacks {', '.join(kinds)}; connecting dummy ones (--demo-credentials)"
        )
        await _connect_dummies(infra, run, kinds)
        # Each credential resumes the deployment: what counts is the outcome once all have been handled.
        await runtime.wait_caught_up(timeout_s=WAIT_S)
        outcome = await _deployment_outcome(infra, run.workflow_id)
    match outcome:
        case WorkflowDeployed():
            live = await client.get_workflow(outcome.n8n_workflow_id)
            run.check(
                live.active,
                f"deployed to n8n {outcome.n8n_version}: workflow {live.id}, active={live.active}",
            )
        case WorkflowNeedsCredentials():
            missing = ", ".join(sorted({m.credential_type for m in outcome.missing}))
            run.miss(
                f"n8n: saved inactive, it lacks {missing} (connect them, or run with --demo-credentials)",
            )
        case WorkflowDeploymentFailed():
            run.miss(f"n8n: deployment failed ({outcome.status}): {outcome.message}")
        case None:
            run.miss(f"n8n: no deployment outcome within {WAIT_S:.0f} s")


DeploymentOutcome = WorkflowDeployed | WorkflowNeedsCredentials | WorkflowDeploymentFailed


async def _deployment_outcome(infra: Infrastructure, workflow_id: str) -> DeploymentOutcome | None:
    """The last outcome recorded, once there is one."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while loop.time() < deadline:
        data = [e.envelope.data for e in await infra.store.read_stream(workflow_stream(workflow_id))]
        outcomes = [d for d in data if isinstance(d, DeploymentOutcome)]
        if outcomes:
            return outcomes[-1]
        await asyncio.sleep(0.05)
    return None


async def _connect_dummies(infra: Infrastructure, run: DemoRun, kinds: list[str]) -> None:
    vault = infra.n8n.vault_for(run.tenant)
    assert vault is not None
    ctx = CommandContext(tenant=run.tenant, actor="demo", now=datetime.now(UTC), source="aiwf://demo")
    for kind in kinds:
        schema = await vault.credential_schema(kind)
        data = dummy_data(schema or {})
        _, credential_id = await connect_credential(
            infra.store, vault, ctx, credential_type=kind, name=f"aiwf demo {kind}", data=data
        )
        run.lines.append(f"      connected a dummy {kind} credential (n8n id {credential_id})")
