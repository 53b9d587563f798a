"""The life of a generated n8n workflow: drafted, validated, approved by a person, deployed, retired.

The n8n document is kept as the exact JSON text the designer produced: it is an external format with
floating-point fields (`typeVersion: 2.1`), and keeping its bytes keeps the hash chain language-neutral.

What derives from the conversation's data carries its `sensitivity`; above public it is sealed
(domain/sealed_fields.py): the n8n JSON, what the validator and n8n said of it, a person's reasons. The
workflow's and its nodes' names are public by rule (the designer refuses a draft whose names are not),
so a draft's outline (`nodes`) tells the SBOM and external consumers its nodes without a key.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from domain.envelope import DomainEvent
from domain.types import NonEmptyStr, Sensitivity, Sha256Hex, UtcDatetime


class DraftedNode(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One node of a draft as anyone may read it, without its parameters: events carry no floats, so its
    typeVersion is the JSON text it was written as ("2.1")."""

    # Plain strings: the outline says what the model wrote, valid or not (the validator judges it).
    name: str
    node_type: str  # e.g. n8n-nodes-base.slack
    type_version: str  # "unknown" when the draft gave none
    disabled: bool = False
    credential_types: tuple[str, ...] = ()  # what n8n will ask a credential of, sorted


class WorkflowDrafted(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.workflow.drafted.v1"
    workflow_id: NonEmptyStr
    conversation_id: NonEmptyStr
    revision: int
    name: NonEmptyStr
    definition: NonEmptyStr  # n8n workflow JSON: name, nodes, connections, settings
    # Of `definition` as it reads in this envelope: sealed in the log, opened for its tenant.
    definition_sha256: Sha256Hex
    # The model decisions it came from (classifications and findings of the turns it was designed from,
    # the designer's own last); events drafted before the others were listed name only the designer's.
    inference_ids: tuple[str, ...] = ()
    # What the design read and what the definition says, whichever is higher: above public, it is sealed.
    sensitivity: Sensitivity = Sensitivity.PUBLIC
    nodes: tuple[DraftedNode, ...] = ()  # its public outline; empty in drafts older than it
    drafted_at: UtcDatetime


class ValidationProblem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    code: NonEmptyStr  # e.g. unknown_node_type, dangling_connection, no_trigger, webhook_path_taken
    message: str
    node: str | None = None
    severity: Literal["error", "warning"] = "error"


class WorkflowValidated(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.workflow.validated.v1"
    revision: int
    checks: tuple[str, ...]
    n8n_version: str
    warnings: tuple[ValidationProblem, ...] = ()
    sensitivity: Sensitivity = Sensitivity.PUBLIC  # the draft's: above public, the messages are sealed
    validated_at: UtcDatetime


class WorkflowValidationFailed(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.workflow.validation_failed.v1"
    revision: int
    problems: tuple[ValidationProblem, ...]
    sensitivity: Sensitivity = Sensitivity.PUBLIC  # the draft's: above public, the messages are sealed
    failed_at: UtcDatetime


class CredentialChoice(msgspec.Struct, frozen=True, kw_only=True):
    """Which of the tenant's credentials of a type a person chose (by name) for this workflow."""

    credential_type: NonEmptyStr
    name: NonEmptyStr


class WorkflowApproved(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.workflow.approved.v1"
    revision: int
    approved_by: NonEmptyStr
    choices: tuple[CredentialChoice, ...] = ()  # the credentials to deploy it with, where several fit
    approved_at: UtcDatetime


class WorkflowRejected(DomainEvent, frozen=True, kw_only=True):
    """A person said no; the conversation may ask the designer for another revision."""

    event_type: ClassVar[str] = "aiwf.workflow.rejected.v1"
    revision: int
    rejected_by: NonEmptyStr
    reason: str
    sensitivity: Sensitivity = Sensitivity.PUBLIC  # of the reason: above public, it is sealed
    rejected_at: UtcDatetime


class WorkflowDeploymentRequested(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.workflow.deployment_requested.v1"
    deployment_id: NonEmptyStr
    revision: int
    target: NonEmptyStr  # base URL of the n8n instance
    attempt: int = 1  # 1 for an approval; each retry a person asks for counts one more
    choices: tuple[CredentialChoice, ...] = ()
    requested_by: NonEmptyStr
    requested_at: UtcDatetime


class MissingCredential(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A node that needs a credential of a type the tenant has not connected (or has several of, and
    no person said which)."""

    node: NonEmptyStr
    credential_type: NonEmptyStr
    candidates: tuple[str, ...] = ()  # names, when several are connected and none was chosen


class WebhookEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    """Where the active workflow listens: its production URL and the HTTP method n8n registered."""

    method: NonEmptyStr
    url: NonEmptyStr


class WorkflowDeployed(DomainEvent, frozen=True, kw_only=True):
    """n8n confirmed the workflow active (every node linked to a credential it needs)."""

    event_type: ClassVar[str] = "aiwf.workflow.deployed.v1"
    deployment_id: NonEmptyStr
    revision: int
    n8n_workflow_id: NonEmptyStr
    n8n_version_id: str | None
    active: bool
    webhooks: tuple[WebhookEndpoint, ...] = ()  # production URLs, /webhook/...
    n8n_version: str | None = None
    deployed_at: UtcDatetime


class WorkflowNeedsCredentials(DomainEvent, frozen=True, kw_only=True):
    """Created (or updated) in n8n but left inactive: these nodes lack a credential. A credential of a
    missing type connected later makes the deployer link it and activate."""

    event_type: ClassVar[str] = "aiwf.workflow.needs_credentials.v1"
    deployment_id: NonEmptyStr
    revision: int
    n8n_workflow_id: NonEmptyStr
    missing: tuple[MissingCredential, ...]
    noted_at: UtcDatetime


class WorkflowDeploymentFailed(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.workflow.deployment_failed.v1"
    deployment_id: NonEmptyStr
    revision: int
    attempt: int
    status: int | None = None  # n8n's HTTP status; None when it could not be reached
    message: str  # n8n's own message (its stack trace dropped), or ours when we refused first
    retryable: bool  # the same request may succeed later (n8n down, 5xx, 429)
    n8n_workflow_id: str | None = None
    # The deployed draft's: n8n may echo parameter values in its message, sealed above public.
    sensitivity: Sensitivity = Sensitivity.PUBLIC
    failed_at: UtcDatetime


class WorkflowRetired(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.workflow.retired.v1"
    reason: str
    retired_by: NonEmptyStr
    sensitivity: Sensitivity = Sensitivity.PUBLIC  # of the reason: above public, it is sealed
    retired_at: UtcDatetime


class WorkflowDeactivated(DomainEvent, frozen=True, kw_only=True):
    """The deployer turned the n8n copy of a retired workflow off."""

    event_type: ClassVar[str] = "aiwf.workflow.deactivated.v1"
    n8n_workflow_id: NonEmptyStr
    deactivated_at: UtcDatetime


WorkflowStatus = Literal[
    "drafted",
    "validated",
    "invalid",
    "approved",
    "rejected",
    "deploying",
    "deployed",
    "needs_credentials",
    "deployment_failed",
    "retired",
]

WORKFLOW_EVENTS: tuple[type[DomainEvent], ...] = (
    WorkflowDrafted,
    WorkflowValidated,
    WorkflowValidationFailed,
    WorkflowApproved,
    WorkflowRejected,
    WorkflowDeploymentRequested,
    WorkflowDeployed,
    WorkflowNeedsCredentials,
    WorkflowDeploymentFailed,
    WorkflowRetired,
    WorkflowDeactivated,
)
