"""Read model `workflows`: per workflow, its revisions (the n8n JSON of each and what the validator said),
its status, who approved or rejected it and why, and the conversation it came from. Pure fold."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from domain.workflow_events import (
    ValidationProblem,
    WorkflowApproved,
    WorkflowDeployed,
    WorkflowDeploymentFailed,
    WorkflowDeploymentRequested,
    WorkflowDrafted,
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


class WorkflowDoc(msgspec.Struct, frozen=True, kw_only=True):
    workflow_id: str
    tenant: str
    conversation_id: str
    name: str
    status: str  # drafted | validated | invalid | approved | rejected | deployed | retired
    revision: int  # the current one
    revisions: tuple[Revision, ...] = ()
    approved: Review | None = None
    rejected: Review | None = None
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
        case WorkflowDeploymentRequested() | WorkflowDeploymentFailed():
            return {"status": "approved"}
        case WorkflowDeployed():
            return {"status": "deployed"}
        case WorkflowRetired():
            return {"status": "retired"}
    return {}


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
