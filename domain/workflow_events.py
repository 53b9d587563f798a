"""The life of a generated n8n workflow: drafted, validated, approved by a person, deployed, retired.

The n8n document is kept as the exact JSON text the designer produced: it is an external format with
floating-point fields (`typeVersion: 2.1`), and keeping its bytes keeps the hash chain language-neutral.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from domain.envelope import DomainEvent
from domain.types import NonEmptyStr, Sha256Hex, UtcDatetime


class WorkflowDrafted(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.workflow.drafted.v1"
    workflow_id: NonEmptyStr
    conversation_id: NonEmptyStr
    revision: int
    name: NonEmptyStr
    definition: NonEmptyStr  # n8n workflow JSON: name, nodes, connections, settings
    definition_sha256: Sha256Hex
    inference_ids: tuple[str, ...] = ()
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
    validated_at: UtcDatetime


class WorkflowValidationFailed(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.workflow.validation_failed.v1"
    revision: int
    problems: tuple[ValidationProblem, ...]
    failed_at: UtcDatetime


class WorkflowApproved(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.workflow.approved.v1"
    revision: int
    approved_by: NonEmptyStr
    approved_at: UtcDatetime


class WorkflowRejected(DomainEvent, frozen=True, kw_only=True):
    """A person said no; the conversation may ask the designer for another revision."""

    event_type: ClassVar[str] = "aiwf.workflow.rejected.v1"
    revision: int
    rejected_by: NonEmptyStr
    reason: str
    rejected_at: UtcDatetime


class WorkflowDeploymentRequested(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.workflow.deployment_requested.v1"
    deployment_id: NonEmptyStr
    revision: int
    target: NonEmptyStr  # base URL of the n8n instance
    activate: bool = True
    requested_at: UtcDatetime


class WorkflowDeployed(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.workflow.deployed.v1"
    deployment_id: NonEmptyStr
    n8n_workflow_id: NonEmptyStr
    active: bool
    deployed_at: UtcDatetime


class WorkflowDeploymentFailed(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.workflow.deployment_failed.v1"
    deployment_id: NonEmptyStr
    reason: str
    status: int | None = None
    retryable: bool
    failed_at: UtcDatetime


class WorkflowRetired(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.workflow.retired.v1"
    reason: str
    retired_by: NonEmptyStr
    retired_at: UtcDatetime


WorkflowStatus = Literal["drafted", "validated", "invalid", "approved", "rejected", "deployed", "retired"]

WORKFLOW_EVENTS: tuple[type[DomainEvent], ...] = (
    WorkflowDrafted,
    WorkflowValidated,
    WorkflowValidationFailed,
    WorkflowApproved,
    WorkflowRejected,
    WorkflowDeploymentRequested,
    WorkflowDeployed,
    WorkflowDeploymentFailed,
    WorkflowRetired,
)
