"""Workflow commands: a person approves, rejects, redeploys or retires; the deployer records what n8n
answered. A person's reason is classified for privacy before it is stored, as a message is: it may
quote what the workflow handles, and the designer sends a rejection's reason to a model."""

from __future__ import annotations

from collections.abc import Sequence

from commands.context import CommandContext, CommandResult
from commands.execute import Decider, execute
from commands.ports import EventStore
from domain import workflow
from domain.workflow import (
    ApproveWorkflow,
    RecordDeactivation,
    RecordDeployment,
    RejectWorkflow,
    RequestDeployment,
    RetireWorkflow,
    WorkflowCommand,
)
from domain.workflow_events import CredentialChoice
from inference.privacy import sensitivity_of

WORKFLOWS = Decider(
    decide=workflow.decide,
    fold=workflow.fold,
    initial=workflow.INITIAL,
    state_type=workflow.WorkflowState,
    schema="workflow.4",
)
stream_of = workflow.stream_of


async def run(
    store: EventStore, ctx: CommandContext, workflow_id: str, command: WorkflowCommand
) -> CommandResult:
    return await execute(store, WORKFLOWS, stream_of(workflow_id), command, ctx)


async def approve_workflow(
    store: EventStore,
    ctx: CommandContext,
    workflow_id: str,
    revision: int | None,
    choices: Sequence[CredentialChoice] = (),
) -> CommandResult:
    command = ApproveWorkflow(
        approved_by=ctx.actor, revision=revision, choices=tuple(choices), approved_at=ctx.now
    )
    return await run(store, ctx, workflow_id, command)


async def reject_workflow(
    store: EventStore, ctx: CommandContext, workflow_id: str, revision: int | None, reason: str
) -> CommandResult:
    command = RejectWorkflow(
        rejected_by=ctx.actor,
        reason=reason,
        sensitivity=sensitivity_of(reason),
        revision=revision,
        rejected_at=ctx.now,
    )
    return await run(store, ctx, workflow_id, command)


async def request_deployment(
    store: EventStore,
    ctx: CommandContext,
    workflow_id: str,
    target: str,
    choices: Sequence[CredentialChoice] | None = None,
) -> CommandResult:
    command = RequestDeployment(
        deployment_id=ctx.event_id(stream_of(workflow_id) + "/deployment", 0),
        target=target,
        requested_by=ctx.actor,
        choices=None if choices is None else tuple(choices),
        requested_at=ctx.now,
    )
    return await run(store, ctx, workflow_id, command)


async def retire_workflow(
    store: EventStore, ctx: CommandContext, workflow_id: str, reason: str
) -> CommandResult:
    command = RetireWorkflow(
        retired_by=ctx.actor, reason=reason, sensitivity=sensitivity_of(reason), retired_at=ctx.now
    )
    return await run(store, ctx, workflow_id, command)


async def record_deployment(
    store: EventStore, ctx: CommandContext, workflow_id: str, outcome: RecordDeployment
) -> CommandResult:
    return await run(store, ctx, workflow_id, outcome)


async def record_deactivation(
    store: EventStore, ctx: CommandContext, workflow_id: str, n8n_workflow_id: str
) -> CommandResult:
    command = RecordDeactivation(n8n_workflow_id=n8n_workflow_id, deactivated_at=ctx.now)
    return await run(store, ctx, workflow_id, command)
