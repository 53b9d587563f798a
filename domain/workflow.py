"""The Workflow aggregate: a person approves or rejects what the designer drafted and the validator
checked; only an approved revision is ever deployed, and the deployer records what n8n answered.

A state is one class per status; what every status knows (the current revision, its n8n JSON, the
n8n copy once there is one) is `WorkflowBase`. The n8n copy outlives revisions: a new approved revision
updates it in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import msgspec

from domain.envelope import DomainEvent
from domain.errors import InvalidTransition, NotFound
from domain.types import NonEmptyStr, Sensitivity, UtcDatetime
from domain.workflow_events import (
    CredentialChoice,
    MissingCredential,
    WebhookEndpoint,
    WorkflowApproved,
    WorkflowDeactivated,
    WorkflowDeployed,
    WorkflowDeploymentFailed,
    WorkflowDeploymentRequested,
    WorkflowDrafted,
    WorkflowNeedsCredentials,
    WorkflowRejected,
    WorkflowRetired,
    WorkflowStatus,
    WorkflowValidated,
    WorkflowValidationFailed,
)


class ApproveWorkflow(msgspec.Struct, frozen=True, kw_only=True):
    approved_by: NonEmptyStr
    revision: int | None = None  # the revision the person looked at; None: the current one
    choices: tuple[CredentialChoice, ...] = ()
    approved_at: UtcDatetime


class RejectWorkflow(msgspec.Struct, frozen=True, kw_only=True):
    rejected_by: NonEmptyStr
    reason: str = ""
    sensitivity: Sensitivity = Sensitivity.PUBLIC  # of the reason, as the privacy classifier read it
    revision: int | None = None
    rejected_at: UtcDatetime


class RequestDeployment(msgspec.Struct, frozen=True, kw_only=True):
    """Deploy the approved revision (after an approval, a failure, or a credential connected since)."""

    deployment_id: NonEmptyStr
    target: NonEmptyStr
    requested_by: NonEmptyStr
    choices: tuple[CredentialChoice, ...] | None = None  # None: keep the approval's
    requested_at: UtcDatetime


class RecordDeployment(msgspec.Struct, frozen=True, kw_only=True):
    """What n8n answered to a deployment; recorded only while that deployment is the current one."""

    outcome: WorkflowDeployed | WorkflowNeedsCredentials | WorkflowDeploymentFailed


class RetireWorkflow(msgspec.Struct, frozen=True, kw_only=True):
    retired_by: NonEmptyStr
    reason: str = ""
    sensitivity: Sensitivity = Sensitivity.PUBLIC  # of the reason
    retired_at: UtcDatetime


class RecordDeactivation(msgspec.Struct, frozen=True, kw_only=True):
    n8n_workflow_id: NonEmptyStr
    deactivated_at: UtcDatetime


WorkflowCommand = (
    ApproveWorkflow
    | RejectWorkflow
    | RequestDeployment
    | RecordDeployment
    | RetireWorkflow
    | RecordDeactivation
)


class N8nCopy(msgspec.Struct, frozen=True, kw_only=True):
    """The workflow in n8n: its id there, the revision it holds, and whether it runs."""

    n8n_workflow_id: str
    revision: int
    active: bool


# Tagged: a state is kept in snapshots (commands/snapshots.py) and must decode back to its own class.
class NoWorkflow(msgspec.Struct, frozen=True, tag="none"):
    pass


class WorkflowBase(msgspec.Struct, frozen=True, kw_only=True):
    workflow_id: str
    conversation_id: str
    revision: int
    definition: str  # the current revision's n8n JSON
    name: str = "workflow"  # the current revision's (public by rule)
    sensitivity: Sensitivity = Sensitivity.PUBLIC  # the current revision's: what it derives from
    drafted_by: tuple[str, ...] = ()  # per revision, the designer decision it came from ("" if none)
    choices: tuple[CredentialChoice, ...] = ()  # from the current revision's approval
    in_n8n: N8nCopy | None = None  # None until n8n holds a copy

    @property
    def status(self) -> WorkflowStatus:
        tag = type(self).__struct_config__.tag
        assert isinstance(tag, str)
        return tag  # type: ignore[return-value]


class Drafted(WorkflowBase, frozen=True, kw_only=True, tag="drafted"):
    pass


class Validated(WorkflowBase, frozen=True, kw_only=True, tag="validated"):
    pass


class Invalid(WorkflowBase, frozen=True, kw_only=True, tag="invalid"):
    pass


class Approved(WorkflowBase, frozen=True, kw_only=True, tag="approved"):
    approved_by: str


class Rejected(WorkflowBase, frozen=True, kw_only=True, tag="rejected"):
    pass


class Deploying(WorkflowBase, frozen=True, kw_only=True, tag="deploying"):
    deployment_id: str
    attempt: int
    target: str


class Deployed(WorkflowBase, frozen=True, kw_only=True, tag="deployed"):
    deployment_id: str
    attempt: int
    webhooks: tuple[WebhookEndpoint, ...] = ()


class NeedsCredentials(WorkflowBase, frozen=True, kw_only=True, tag="needs_credentials"):
    deployment_id: str
    attempt: int
    missing: tuple[MissingCredential, ...]


class DeploymentFailed(WorkflowBase, frozen=True, kw_only=True, tag="deployment_failed"):
    deployment_id: str
    attempt: int
    retryable: bool
    message: str


class Retired(WorkflowBase, frozen=True, kw_only=True, tag="retired"):
    pass


Workflow = (
    Drafted
    | Validated
    | Invalid
    | Approved
    | Rejected
    | Deploying
    | Deployed
    | NeedsCredentials
    | DeploymentFailed
    | Retired
)
WorkflowState = NoWorkflow | Workflow
INITIAL: WorkflowState = NoWorkflow()
DEPLOYABLE = (Approved, Deployed, NeedsCredentials, DeploymentFailed)


def stream_of(workflow_id: str) -> str:
    return f"workflow-{workflow_id}"


def decide(command: WorkflowCommand, state: WorkflowState) -> list[DomainEvent]:
    if isinstance(state, NoWorkflow):
        raise NotFound("no such workflow")
    match command:
        case ApproveWorkflow() | RejectWorkflow():
            return _review(command, state)
        case RequestDeployment():
            return _request(command, state)
        case RecordDeployment():
            current = isinstance(state, Deploying) and state.deployment_id == command.outcome.deployment_id
            return [command.outcome] if current else []  # a later request superseded it
        case RetireWorkflow():
            if isinstance(state, Retired):
                return []
            return [
                WorkflowRetired(
                    reason=command.reason,
                    retired_by=command.retired_by,
                    sensitivity=command.sensitivity,
                    retired_at=command.retired_at,
                )
            ]
        case RecordDeactivation():
            if state.in_n8n is None or not state.in_n8n.active:
                return []
            return [
                WorkflowDeactivated(
                    n8n_workflow_id=command.n8n_workflow_id, deactivated_at=command.deactivated_at
                )
            ]


def _review(command: ApproveWorkflow | RejectWorkflow, state: Workflow) -> list[DomainEvent]:
    if command.revision is not None and command.revision != state.revision:
        raise InvalidTransition(f"revision {command.revision} is not the current one ({state.revision})")
    match command, state:
        case (
            ApproveWorkflow(),
            Approved() | Deploying() | Deployed() | NeedsCredentials() | DeploymentFailed(),
        ):
            return []  # approving twice changes nothing
        case ApproveWorkflow(), Validated():
            approved = WorkflowApproved(
                revision=state.revision,
                approved_by=command.approved_by,
                choices=command.choices,
                approved_at=command.approved_at,
            )
            return [approved]
        case RejectWorkflow(), Rejected():
            return []
        case RejectWorkflow(), Drafted() | Validated() | Invalid():
            rejected = WorkflowRejected(
                revision=state.revision,
                rejected_by=command.rejected_by,
                reason=command.reason,
                sensitivity=command.sensitivity,
                rejected_at=command.rejected_at,
            )
            return [rejected]
    verb = "approved" if isinstance(command, ApproveWorkflow) else "rejected"
    raise InvalidTransition(f"a {state.status} workflow cannot be {verb}")


def _request(command: RequestDeployment, state: Workflow) -> list[DomainEvent]:
    if isinstance(state, Deploying):
        return []  # one deployment at a time: the running one finishes first
    if isinstance(state, Deployed | NeedsCredentials | DeploymentFailed) and (
        state.deployment_id == command.deployment_id
    ):
        return []  # this very request was carried out already
    if not isinstance(state, DEPLOYABLE):
        raise InvalidTransition(f"a {state.status} workflow cannot be deployed: it must be approved first")
    attempt = state.attempt + 1 if isinstance(state, Deployed | NeedsCredentials | DeploymentFailed) else 1
    requested = WorkflowDeploymentRequested(
        deployment_id=command.deployment_id,
        revision=state.revision,
        target=command.target,
        attempt=attempt,
        choices=state.choices if command.choices is None else command.choices,
        requested_by=command.requested_by,
        requested_at=command.requested_at,
    )
    return [requested]


def evolve(state: WorkflowState, event: DomainEvent) -> WorkflowState:
    if isinstance(event, WorkflowDrafted):
        before = state if isinstance(state, WorkflowBase) else None
        return Drafted(
            workflow_id=event.workflow_id,
            conversation_id=event.conversation_id,
            revision=event.revision,
            definition=event.definition,
            name=event.name,
            sensitivity=event.sensitivity,
            drafted_by=(
                *(before.drafted_by if before else ()),
                event.inference_ids[-1] if event.inference_ids else "",
            ),
            in_n8n=before.in_n8n if before else None,
        )
    if not isinstance(state, WorkflowBase):
        return state
    if isinstance(event, WorkflowDeployed | WorkflowNeedsCredentials | WorkflowDeploymentFailed):
        return _deployment_outcome(state, event)
    match event:
        case WorkflowValidated():
            return _as(Validated, state)
        case WorkflowValidationFailed():
            return _as(Invalid, state)
        case WorkflowApproved():
            return _as(Approved, state, choices=event.choices, approved_by=event.approved_by)
        case WorkflowRejected():
            return _as(Rejected, state)
        case WorkflowDeploymentRequested():
            return _as(
                Deploying,
                state,
                choices=event.choices,
                deployment_id=event.deployment_id,
                attempt=event.attempt,
                target=event.target,
            )
        case WorkflowRetired():
            return _as(Retired, state)
        case WorkflowDeactivated() if state.in_n8n is not None:
            return msgspec.structs.replace(state, in_n8n=msgspec.structs.replace(state.in_n8n, active=False))
    return state


def _deployment_outcome(
    state: WorkflowBase, event: WorkflowDeployed | WorkflowNeedsCredentials | WorkflowDeploymentFailed
) -> Workflow:
    match event:
        case WorkflowDeployed():
            return _as(
                Deployed,
                state,
                in_n8n=N8nCopy(
                    n8n_workflow_id=event.n8n_workflow_id, revision=event.revision, active=event.active
                ),
                deployment_id=event.deployment_id,
                attempt=_attempt(state),
                webhooks=event.webhooks,
            )
        case WorkflowNeedsCredentials():
            return _as(
                NeedsCredentials,
                state,
                in_n8n=N8nCopy(n8n_workflow_id=event.n8n_workflow_id, revision=event.revision, active=False),
                deployment_id=event.deployment_id,
                attempt=_attempt(state),
                missing=event.missing,
            )
        case _:
            copy = state.in_n8n
            if event.n8n_workflow_id is not None and copy is None:
                copy = N8nCopy(n8n_workflow_id=event.n8n_workflow_id, revision=event.revision, active=False)
            return _as(
                DeploymentFailed,
                state,
                in_n8n=copy,
                deployment_id=event.deployment_id,
                attempt=event.attempt,
                retryable=event.retryable,
                message=event.message,
            )


W = TypeVar("W", bound=WorkflowBase)


def _as(status: type[W], state: WorkflowBase, **changes: Any) -> W:
    """`state` in another status: what every status knows carries over, `changes` replace it."""
    kept = {name: getattr(state, name) for name in WorkflowBase.__struct_fields__}
    return status(**{**kept, **changes})


def _attempt(state: WorkflowBase) -> int:
    return state.attempt if isinstance(state, Deploying) else 1


def fold(events: Iterable[DomainEvent], state: WorkflowState = INITIAL) -> WorkflowState:
    for event in events:
        state = evolve(state, event)
    return state
