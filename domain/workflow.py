"""The Workflow aggregate: a person approves or rejects what the designer drafted and the validator
checked; only an approved revision is ever deployed."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from domain.envelope import DomainEvent
from domain.errors import InvalidTransition, NotFound
from domain.types import NonEmptyStr, UtcDatetime
from domain.workflow_events import (
    WorkflowApproved,
    WorkflowDeployed,
    WorkflowDeploymentFailed,
    WorkflowDeploymentRequested,
    WorkflowDrafted,
    WorkflowRejected,
    WorkflowRetired,
    WorkflowStatus,
    WorkflowValidated,
    WorkflowValidationFailed,
)


class ApproveWorkflow(msgspec.Struct, frozen=True, kw_only=True):
    approved_by: NonEmptyStr
    revision: int | None = None  # the revision the person looked at; None: the current one
    approved_at: UtcDatetime


class RejectWorkflow(msgspec.Struct, frozen=True, kw_only=True):
    rejected_by: NonEmptyStr
    reason: str = ""
    revision: int | None = None
    rejected_at: UtcDatetime


WorkflowCommand = ApproveWorkflow | RejectWorkflow


# Tagged: a state is kept in snapshots (commands/snapshots.py) and must decode back to its own class.
class NoWorkflow(msgspec.Struct, frozen=True, tag="none"):
    pass


class Workflow(msgspec.Struct, frozen=True, kw_only=True, tag="workflow"):
    workflow_id: str
    revision: int
    status: WorkflowStatus
    conversation_id: str = ""
    drafted_by: tuple[str, ...] = ()  # per revision, the designer decision it came from ("" if none)


WorkflowState = NoWorkflow | Workflow
INITIAL: WorkflowState = NoWorkflow()

_STATUS_AFTER: dict[type[DomainEvent], WorkflowStatus] = {
    WorkflowValidated: "validated",
    WorkflowValidationFailed: "invalid",
    WorkflowApproved: "approved",
    WorkflowRejected: "rejected",
    WorkflowDeploymentRequested: "approved",
    WorkflowDeployed: "deployed",
    WorkflowDeploymentFailed: "approved",
    WorkflowRetired: "retired",
}


def decide(command: WorkflowCommand, state: WorkflowState) -> list[DomainEvent]:
    if isinstance(state, NoWorkflow):
        raise NotFound("no such workflow")
    if command.revision is not None and command.revision != state.revision:
        raise InvalidTransition(f"revision {command.revision} is not the current one ({state.revision})")
    match command, state.status:
        case ApproveWorkflow(), "approved" | "deployed":
            return []  # approving twice changes nothing
        case ApproveWorkflow(), "validated":
            return [
                WorkflowApproved(
                    revision=state.revision, approved_by=command.approved_by, approved_at=command.approved_at
                )
            ]
        case RejectWorkflow(), "rejected":
            return []
        case RejectWorkflow(), "drafted" | "validated" | "invalid":
            return [
                WorkflowRejected(
                    revision=state.revision,
                    rejected_by=command.rejected_by,
                    reason=command.reason,
                    rejected_at=command.rejected_at,
                )
            ]
    verb = "approved" if isinstance(command, ApproveWorkflow) else "rejected"
    raise InvalidTransition(f"a {state.status} workflow cannot be {verb}")


def evolve(state: WorkflowState, event: DomainEvent) -> WorkflowState:
    if isinstance(event, WorkflowDrafted):
        drafted_by = state.drafted_by if isinstance(state, Workflow) else ()
        return Workflow(
            workflow_id=event.workflow_id,
            revision=event.revision,
            status="drafted",
            conversation_id=event.conversation_id,
            drafted_by=(*drafted_by, event.inference_ids[-1] if event.inference_ids else ""),
        )
    if isinstance(state, Workflow) and type(event) in _STATUS_AFTER:
        return msgspec.structs.replace(state, status=_STATUS_AFTER[type(event)])
    return state


def fold(events: Iterable[DomainEvent], state: WorkflowState = INITIAL) -> WorkflowState:
    for event in events:
        state = evolve(state, event)
    return state
