"""Read model `workflows`: per workflow, its revisions (the n8n JSON of each and what the validator said),
its status, who approved or rejected it and why, and the conversation it came from. Pure fold."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from domain.workflow_events import (
    MissingCredential,
    ValidationProblem,
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
    WorkflowValidated,
    WorkflowValidationFailed,
)
from projections.events import ProjectedEvent, aggregate_id


class Revision(msgspec.Struct, frozen=True, kw_only=True):
    revision: int
    name: str
    definition: str  # the n8n workflow JSON as the designer drafted it
    definition_sha256: str
    validation: str  # pending | valid | invalid
    problems: tuple[ValidationProblem, ...] = ()  # errors when invalid, warnings when valid
    n8n_version: str | None = None
    inference_ids: tuple[str, ...] = ()
    drafted_at: datetime


class Review(msgspec.Struct, frozen=True, kw_only=True):
    """A person's answer about a revision."""

    revision: int
    by: str
    at: datetime
    reason: str = ""


class Deployment(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The latest deployment of the workflow to n8n and what n8n answered."""

    deployment_id: str
    revision: int
    attempt: int
    target: str  # the n8n instance
    status: str  # deploying | deployed | needs_credentials | failed
    requested_at: datetime
    n8n_workflow_id: str | None = None
    n8n_version_id: str | None = None
    n8n_version: str | None = None
    active: bool = False
    webhooks: tuple[WebhookEndpoint, ...] = ()
    missing: tuple[MissingCredential, ...] = ()  # needs_credentials: which node lacks which type
    http_status: int | None = None  # failed: n8n's status, if it answered
    message: str | None = None  # failed: n8n's message
    retryable: bool | None = None
    finished_at: datetime | None = None


class WorkflowDoc(msgspec.Struct, frozen=True, kw_only=True):
    workflow_id: str
    tenant: str
    conversation_id: str
    name: str
    status: str  # drafted validated invalid approved rejected deploying deployed needs_credentials
    # deployment_failed retired
    revision: int  # the current one
    revisions: tuple[Revision, ...] = ()
    approved: Review | None = None
    rejected: Review | None = None
    deployment: Deployment | None = None
    created_at: datetime
    updated_at: datetime
    last_version: int

    @property
    def current(self) -> Revision | None:
        return self.revisions[-1] if self.revisions else None


def workflow_key(event: ProjectedEvent) -> str | None:
    stream = event.envelope.stream
    return aggregate_id(stream) if stream.startswith("workflow-") else None


def evolve_workflow(doc: WorkflowDoc | None, event: ProjectedEvent) -> WorkflowDoc | None:
    envelope, data = event.envelope, event.envelope.data
    if isinstance(data, WorkflowDrafted):
        return _drafted(doc, data, event)
    if doc is None:
        return None
    doc = msgspec.structs.replace(doc, updated_at=envelope.time, last_version=envelope.version)
    changes = _changes(doc, data)
    return msgspec.structs.replace(doc, **changes) if changes else doc


def _drafted(doc: WorkflowDoc | None, data: WorkflowDrafted, event: ProjectedEvent) -> WorkflowDoc:
    envelope = event.envelope
    revision = Revision(
        revision=data.revision,
        name=data.name,
        definition=data.definition,
        definition_sha256=data.definition_sha256,
        validation="pending",
        inference_ids=data.inference_ids,
        drafted_at=data.drafted_at,
    )
    if doc is None:
        doc = WorkflowDoc(
            workflow_id=data.workflow_id,
            tenant=envelope.tenant,
            conversation_id=data.conversation_id,
            name=data.name,
            status="drafted",
            revision=data.revision,
            created_at=envelope.time,
            updated_at=envelope.time,
            last_version=envelope.version,
        )
    return msgspec.structs.replace(
        doc,
        name=data.name,
        status="drafted",
        revision=data.revision,
        revisions=(*doc.revisions, revision),
        approved=None,
        rejected=None,
        updated_at=envelope.time,
        last_version=envelope.version,
    )


def _changes(doc: WorkflowDoc, data: Any) -> dict[str, Any]:
    match data:
        case WorkflowValidated():
            return {
                "status": "validated",
                "revisions": _verdict(doc, data.revision, "valid", data.warnings, data),
            }
        case WorkflowValidationFailed():
            return {
                "status": "invalid",
                "revisions": _verdict(doc, data.revision, "invalid", data.problems, None),
            }
        case WorkflowApproved():
            return {
                "status": "approved",
                "approved": Review(revision=data.revision, by=data.approved_by, at=data.approved_at),
            }
        case WorkflowRejected():
            rejected = Review(
                revision=data.revision, by=data.rejected_by, at=data.rejected_at, reason=data.reason
            )
            return {"status": "rejected", "rejected": rejected}
        case WorkflowDeploymentRequested():
            deployment = Deployment(
                deployment_id=data.deployment_id,
                revision=data.revision,
                attempt=data.attempt,
                target=data.target,
                status="deploying",
                requested_at=data.requested_at,
                n8n_workflow_id=doc.deployment.n8n_workflow_id if doc.deployment else None,
            )
            return {"status": "deploying", "deployment": deployment}
        case WorkflowDeployed() | WorkflowNeedsCredentials() | WorkflowDeploymentFailed():
            return _outcome(doc, data)
        case WorkflowRetired():
            return {"status": "retired"}
        case WorkflowDeactivated() if doc.deployment is not None:
            return {"deployment": msgspec.structs.replace(doc.deployment, active=False)}
    return {}


def _outcome(
    doc: WorkflowDoc, data: WorkflowDeployed | WorkflowNeedsCredentials | WorkflowDeploymentFailed
) -> dict[str, Any]:
    if doc.deployment is None or doc.deployment.deployment_id != data.deployment_id:
        return {}
    replace = msgspec.structs.replace
    match data:
        case WorkflowDeployed():
            deployment = replace(
                doc.deployment,
                status="deployed",
                n8n_workflow_id=data.n8n_workflow_id,
                n8n_version_id=data.n8n_version_id,
                n8n_version=data.n8n_version,
                active=data.active,
                webhooks=data.webhooks,
                finished_at=data.deployed_at,
            )
            return {"status": "deployed", "deployment": deployment}
        case WorkflowNeedsCredentials():
            deployment = replace(
                doc.deployment,
                status="needs_credentials",
                n8n_workflow_id=data.n8n_workflow_id,
                active=False,
                missing=data.missing,
                finished_at=data.noted_at,
            )
            return {"status": "needs_credentials", "deployment": deployment}
        case _:
            deployment = replace(
                doc.deployment,
                status="failed",
                n8n_workflow_id=data.n8n_workflow_id or doc.deployment.n8n_workflow_id,
                http_status=data.status,
                message=data.message,
                retryable=data.retryable,
                finished_at=data.failed_at,
            )
            return {"status": "deployment_failed", "deployment": deployment}


def _verdict(
    doc: WorkflowDoc,
    revision: int,
    validation: str,
    problems: tuple[ValidationProblem, ...],
    validated: WorkflowValidated | None,
) -> tuple[Revision, ...]:
    version = validated.n8n_version if validated is not None else None
    return tuple(
        msgspec.structs.replace(r, validation=validation, problems=problems, n8n_version=version)
        if r.revision == revision
        else r
        for r in doc.revisions
    )
