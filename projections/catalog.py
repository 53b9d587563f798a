"""Every projector and its read models. Adding a read model: write its fold, add it here, add its table
in a migration, then `aiwf projections rebuild <projector>` fills it from the log."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from typing import Any

import msgspec

from domain.n8n.catalog import default_catalog
from projections.agent_state import AgentStateDoc, agent_state_key, evolve_agent_state
from projections.archive import ArchiveRow, archive_rows
from projections.conversations import (
    ConversationRow,
    MessageRow,
    conversation_key,
    evolve_conversation,
    message_rows,
)
from projections.inference_costs import CostRow, cost_key, evolve_cost
from projections.read_model import AppendModel, DocumentModel, ProjectorSpec, RowCodec, plain_codec
from projections.sbom_inputs import SbomSubject, SourceRow, evolve_subject, source_rows, subject_key
from projections.sbom_model import SbomModel
from projections.workflows import WorkflowDoc, evolve_workflow, workflow_key

_agent_state_decoder = msgspec.json.Decoder(AgentStateDoc)
_workflow_decoder = msgspec.json.Decoder(WorkflowDoc)
_subject_decoder = msgspec.json.Decoder(SbomSubject)


def _generator_version() -> str:
    """Our version, as each SBOM names the tool that wrote it."""
    try:
        return metadata.version("aiwf")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _agent_state_record(doc: AgentStateDoc) -> tuple[Any, ...]:
    return (
        doc.conversation_id,
        doc.tenant,
        msgspec.json.encode(doc).decode(),
        doc.updated_at,
        doc.last_version,
    )


def _agent_state_row(record: Mapping[str, Any]) -> AgentStateDoc:
    return _agent_state_decoder.decode(record["document"])


AGENT_STATE_CODEC = RowCodec(
    row_type=AgentStateDoc,
    columns=("conversation_id", "tenant", "document", "updated_at", "last_version"),
    to_record=_agent_state_record,
    from_record=_agent_state_row,
)


def _workflow_record(doc: WorkflowDoc) -> tuple[Any, ...]:
    return (
        doc.workflow_id,
        doc.tenant,
        doc.conversation_id,
        doc.name,
        doc.status,
        doc.revision,
        msgspec.json.encode(doc).decode(),
        doc.created_at,
        doc.updated_at,
        doc.last_version,
    )


WORKFLOW_CODEC = RowCodec(
    row_type=WorkflowDoc,
    columns=(
        "workflow_id",
        "tenant",
        "conversation_id",
        "name",
        "status",
        "revision",
        "document",
        "created_at",
        "updated_at",
        "last_version",
    ),
    to_record=_workflow_record,
    from_record=lambda record: _workflow_decoder.decode(record["document"]),
)

CONVERSATIONS = DocumentModel(
    table="conversations",
    key="conversation_id",
    codec=plain_codec(ConversationRow),
    key_of=conversation_key,
    evolve=evolve_conversation,
)
MESSAGES = AppendModel(table="messages", codec=plain_codec(MessageRow), rows_of=message_rows)
AGENT_STATE = DocumentModel(
    table="agent_state",
    key="conversation_id",
    codec=AGENT_STATE_CODEC,
    key_of=agent_state_key,
    evolve=evolve_agent_state,
)
WORKFLOW_DOCS = DocumentModel(
    table="workflows",
    key="workflow_id",
    codec=WORKFLOW_CODEC,
    key_of=workflow_key,
    evolve=evolve_workflow,
)
SBOM_SOURCES = AppendModel(
    table="sbom_sources", codec=plain_codec(SourceRow), rows_of=source_rows, read_while_folding=True
)
SBOM_SUBJECT_CODEC = RowCodec(
    row_type=SbomSubject,
    columns=("workflow_id", "tenant", "conversation_id", "document", "last_version"),
    to_record=lambda s: (
        s.workflow_id,
        s.tenant,
        s.conversation_id,
        msgspec.json.encode(s).decode(),
        s.last_version,
    ),
    from_record=lambda record: _subject_decoder.decode(record["document"]),
)
SBOM_SUBJECTS = DocumentModel(
    table="sbom_workflows",
    key="workflow_id",
    codec=SBOM_SUBJECT_CODEC,
    key_of=subject_key,
    evolve=evolve_subject,
)
SBOMS = SbomModel(
    table="sboms",
    subjects="sbom_workflows",
    sources="sbom_sources",
    catalog=default_catalog(),
    generator=_generator_version(),
)
ARCHIVE = AppendModel(table="event_archive", codec=plain_codec(ArchiveRow), rows_of=archive_rows)
INFERENCE_COSTS = DocumentModel(
    table="inference_costs", key="bucket", codec=plain_codec(CostRow), key_of=cost_key, evolve=evolve_cost
)

PROJECTORS: tuple[ProjectorSpec, ...] = (
    ProjectorSpec(name="conversation_views", models=(CONVERSATIONS, MESSAGES, AGENT_STATE)),
    ProjectorSpec(name="workflow_views", models=(WORKFLOW_DOCS,)),
    ProjectorSpec(name="archive", models=(ARCHIVE,)),
    # Order matters: the SBOMs read the two folds before them, as this batch left them.
    ProjectorSpec(name="sbom", models=(SBOM_SOURCES, SBOM_SUBJECTS, SBOMS)),
    ProjectorSpec(name="operations_views", models=(INFERENCE_COSTS,)),
)


def projector_named(name: str) -> ProjectorSpec:
    for spec in PROJECTORS:
        if spec.name == name:
            return spec
    known = ", ".join(spec.name for spec in PROJECTORS)
    raise KeyError(f"no projector named {name!r} (known: {known})")
