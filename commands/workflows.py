"""Workflow commands a person gives: approve or reject the current revision."""

from __future__ import annotations

from commands.context import CommandContext, CommandResult
from commands.execute import Decider, execute
from commands.ports import EventStore
from domain import workflow
from domain.workflow import ApproveWorkflow, RejectWorkflow

WORKFLOWS = Decider(
    decide=workflow.decide,
    fold=workflow.fold,
    initial=workflow.INITIAL,
    state_type=workflow.WorkflowState,
    schema="workflow.2",
)


def stream_of(workflow_id: str) -> str:
    return f"workflow-{workflow_id}"


async def approve_workflow(
    store: EventStore, ctx: CommandContext, workflow_id: str, revision: int | None
) -> CommandResult:
    command = ApproveWorkflow(approved_by=ctx.actor, revision=revision, approved_at=ctx.now)
    return await execute(store, WORKFLOWS, stream_of(workflow_id), command, ctx)


async def reject_workflow(
    store: EventStore, ctx: CommandContext, workflow_id: str, revision: int | None, reason: str
) -> CommandResult:
    command = RejectWorkflow(rejected_by=ctx.actor, reason=reason, revision=revision, rejected_at=ctx.now)
    return await execute(store, WORKFLOWS, stream_of(workflow_id), command, ctx)
