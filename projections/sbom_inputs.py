"""What an SBOM is built from, folded from the log: pure functions, no I/O.

Two read models feed the `sboms` table (projections/sbom_model.py):
- `sbom_sources`: one row per conversation event an SBOM may cite (a message's classification, the
  intents read, a delegation, a finding, a model decision without its answer), appended as it comes;
- `sbom_workflows`: per workflow, per revision, everything the workflow's own stream says about it (the
  draft, the validator's verdict, the person's decision, each deployment attempt and what n8n answered),
  kept per revision, so a later revision never overwrites what an earlier one's SBOM says.

An SBOM is built without keys, from what anyone may read: a sealed n8n JSON is told by the draft's
public outline, and a sealed field it would quote (a person's reason) reads `[sealed]`, never its
ciphertext, whichever the store wrote.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import msgspec

from domain.conversation_events import (
    AgentDelegated,
    AgentFindingRecorded,
    InferenceDecided,
    IntentClassified,
    UserMessageReceived,
)
from domain.n8n.outline import type_version
from domain.sealed_fields import sealed_paths
from domain.workflow_events import (
    DraftedNode,
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

SEALED: Final = "[sealed]"  # a sealed field, where an SBOM would quote it

# --- conversation side: the sources an SBOM cites ----------------------------------------------------


class Source(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    event_id: str
    at: datetime


class MessageSource(Source, frozen=True, kw_only=True, tag="message"):
    """A user message as the privacy classifier saw it: its class and the kinds of data, never the text."""

    message_id: str
    sensitivity: str
    data_kinds: tuple[str, ...] = ()


class ClassificationSource(Source, frozen=True, kw_only=True, tag="classification"):
    message_id: str
    inference_id: str | None
    intents: tuple[str, ...]
    language: str | None = None


class DelegationSource(Source, frozen=True, kw_only=True, tag="delegation"):
    delegation_id: str
    message_id: str
    agent: str


class FindingSource(Source, frozen=True, kw_only=True, tag="finding"):
    delegation_id: str
    agent: str
    inference_id: str | None
    n8n_nodes: tuple[str, ...] = ()
    sensitive_fields: tuple[str, ...] = ()


class InferenceSource(Source, frozen=True, kw_only=True, tag="inference"):
    """A model decision, everything but its answer."""

    inference_id: str
    purpose: str
    provider: str
    model: str
    route_reason: str
    sensitivity: str
    template_id: str
    template_version: int
    template_sha256: str
    input_tokens: int
    output_tokens: int
    latency_ms: int
    cost_micro_usd: int
    outcome: str
    locality: str | None = None
    endpoint: str | None = None
    authenticated: bool | None = None


AnySource = MessageSource | ClassificationSource | DelegationSource | FindingSource | InferenceSource


class SourceRow(msgspec.Struct, frozen=True, kw_only=True):
    conversation_id: str
    version: int
    tenant: str
    document: str  # an AnySource as JSON


_source_decoder = msgspec.json.Decoder(AnySource)


def decode_source(document: str) -> AnySource:
    return _source_decoder.decode(document)


def source_rows(event: ProjectedEvent) -> list[SourceRow]:
    envelope = event.envelope
    if not envelope.stream.startswith("conversation-"):
        return []
    source = _source_of(envelope.id, envelope.data)
    if source is None:
        return []
    row = SourceRow(
        conversation_id=aggregate_id(envelope.stream),
        version=envelope.version,
        tenant=envelope.tenant,
        document=msgspec.json.encode(source).decode(),
    )
    return [row]


def _source_of(event_id: str, data: Any) -> AnySource | None:
    match data:
        case UserMessageReceived():
            kinds = tuple(sorted({f.kind for f in data.findings}))
            return MessageSource(
                event_id=event_id,
                at=data.received_at,
                message_id=data.message_id,
                sensitivity=data.sensitivity.value,
                data_kinds=kinds,
            )
        case IntentClassified():
            return ClassificationSource(
                event_id=event_id,
                at=data.classified_at,
                message_id=data.message_id,
                inference_id=data.inference_id,
                intents=tuple(i.name for i in data.intents),
                language=data.language,
            )
        case AgentDelegated():
            return DelegationSource(
                event_id=event_id,
                at=data.delegated_at,
                delegation_id=data.delegation_id,
                message_id=data.message_id,
                agent=data.agent.value,
            )
        case AgentFindingRecorded():
            return FindingSource(
                event_id=event_id,
                at=data.recorded_at,
                delegation_id=data.delegation_id,
                agent=data.agent.value,
                inference_id=data.inference_id,
                n8n_nodes=data.n8n_nodes,
                sensitive_fields=data.sensitive_fields,
            )
        case InferenceDecided():
            return _inference_source(event_id, data)
    return None


def _inference_source(event_id: str, data: InferenceDecided) -> InferenceSource:
    return InferenceSource(
        event_id=event_id,
        at=data.decided_at,
        inference_id=data.inference_id,
        purpose=data.purpose.value,
        provider=data.provider,
        model=data.model,
        route_reason=data.route_reason,
        sensitivity=data.sensitivity.value,
        template_id=data.template_id,
        template_version=data.template_version,
        template_sha256=data.template_sha256,
        input_tokens=data.input_tokens,
        output_tokens=data.output_tokens,
        latency_ms=data.latency_ms,
        cost_micro_usd=data.cost_micro_usd,
        outcome=data.outcome,
        locality=data.locality,
        endpoint=data.endpoint,
        authenticated=data.authenticated,
    )


# --- workflow side: per revision, what its own stream says ----------------------------------------


class Cited(msgspec.Struct, frozen=True, kw_only=True):
    """A step of the workflow's stream: the event that records it, and when."""

    event_id: str
    at: datetime


class Draft(Cited, frozen=True, kw_only=True):
    name: str
    definition: str  # as stored: sealed when `sealed`
    definition_sha256: str
    inference_ids: tuple[str, ...] = ()
    nodes: tuple[DraftedNode, ...] = ()  # the draft's public outline (empty in drafts older than it)
    sealed: bool = False  # its definition is sealed: its nodes are read from the outline


class Verdict(Cited, frozen=True, kw_only=True):
    valid: bool
    n8n_version: str | None = None
    checks: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # `code (node)` of each error, or of each warning when valid


class Decision(Cited, frozen=True, kw_only=True):
    approved: bool
    by: str
    reason: str = ""


class Attempt(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One deployment to n8n: what was asked and, once known, what n8n answered."""

    deployment_id: str
    attempt: int
    target: str  # the instance's base URL
    requested: Cited
    outcome: str = "deploying"  # deploying | deployed | needs_credentials | failed
    answered: Cited | None = None
    n8n_workflow_id: str | None = None
    n8n_version_id: str | None = None
    n8n_version: str | None = None
    active: bool = False
    missing_types: tuple[str, ...] = ()
    http_status: int | None = None


class Revised(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What the revision before it had come to when this one was drafted, and what changed since."""

    revision: int
    status: str  # rejected | invalid | valid | approved | deployed | ... (its last step)
    by: str | None = None
    reason: str = ""
    added: tuple[str, ...] = ()  # node names
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()  # same name, another type, typeVersion or parameters
    parameters_sealed: bool = False  # either revision's definition is sealed: parameters not compared


class RevisionRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    revision: int
    draft: Draft
    revised: Revised | None = None
    verdict: Verdict | None = None
    decision: Decision | None = None
    attempts: tuple[Attempt, ...] = ()
    retired: Cited | None = None
    deactivated: Cited | None = None
    events: int = 1  # events of the workflow's stream about this revision: the SBOM's version
    last_version: int  # the stream version of the newest of them
    updated_at: datetime  # the time of the newest of them: the SBOM's timestamp


class SbomSubject(msgspec.Struct, frozen=True, kw_only=True):
    workflow_id: str
    tenant: str
    conversation_id: str
    revisions: tuple[RevisionRecord, ...] = ()
    last_version: int

    def revision(self, number: int) -> RevisionRecord | None:
        return next((r for r in self.revisions if r.revision == number), None)


def subject_key(event: ProjectedEvent) -> str | None:
    stream = event.envelope.stream
    return aggregate_id(stream) if stream.startswith("workflow-") else None


def evolve_subject(subject: SbomSubject | None, event: ProjectedEvent) -> SbomSubject | None:
    envelope, data = event.envelope, event.envelope.data
    if isinstance(data, WorkflowDrafted):
        return _drafted(subject, data, event)
    if subject is None:
        return None
    number = _revision_of(subject, data)
    record = subject.revision(number) if number is not None else None
    if record is None:
        return msgspec.structs.replace(subject, last_version=envelope.version)
    cited = Cited(event_id=envelope.id, at=envelope.time)
    changed = msgspec.structs.replace(
        _changed(record, data, cited),
        events=record.events + 1,
        last_version=envelope.version,
        updated_at=envelope.time,
    )
    revisions = tuple(changed if r.revision == number else r for r in subject.revisions)
    return msgspec.structs.replace(subject, revisions=revisions, last_version=envelope.version)


def _drafted(subject: SbomSubject | None, data: WorkflowDrafted, event: ProjectedEvent) -> SbomSubject:
    envelope = event.envelope
    draft = Draft(
        event_id=envelope.id,
        at=data.drafted_at,
        name=data.name,
        definition=data.definition,
        definition_sha256=data.definition_sha256,
        inference_ids=data.inference_ids,
        nodes=data.nodes,
        sealed="definition" in sealed_paths(data),
    )
    before = subject.revision(data.revision - 1) if subject is not None else None
    record = RevisionRecord(
        revision=data.revision,
        draft=draft,
        revised=_revised(before, draft) if before is not None else None,
        last_version=envelope.version,
        updated_at=envelope.time,
    )
    if subject is None:
        subject = SbomSubject(
            workflow_id=data.workflow_id,
            tenant=envelope.tenant,
            conversation_id=data.conversation_id,
            last_version=envelope.version,
        )
    kept = tuple(r for r in subject.revisions if r.revision != data.revision)
    return msgspec.structs.replace(subject, revisions=(*kept, record), last_version=envelope.version)


def _revised(before: RevisionRecord, draft: Draft) -> Revised:
    sealed = before.draft.sealed or draft.sealed
    old, new = _nodes_of(before.draft, outline=sealed), _nodes_of(draft, outline=sealed)
    decision = before.decision
    return Revised(
        revision=before.revision,
        status=status_of(before),
        by=decision.by if decision is not None else None,
        reason=decision.reason if decision is not None else "",
        added=tuple(sorted(new.keys() - old.keys())),
        removed=tuple(sorted(old.keys() - new.keys())),
        changed=tuple(sorted(n for n in new.keys() & old.keys() if new[n] != old[n])),
        parameters_sealed=sealed,
    )


def _nodes_of(draft: Draft, *, outline: bool) -> dict[str, Any]:
    """Each node by its name, as what makes it that node; as its outline tells it (type, typeVersion)
    when either side of the comparison is sealed."""
    if draft.sealed:
        return {n.name: (n.node_type, n.type_version) for n in draft.nodes}
    nodes = _nodes_by_name(draft.definition)
    if outline:
        return {name: (kind, type_version(version)) for name, (kind, version, _) in nodes.items()}
    return nodes


def status_of(record: RevisionRecord) -> str:
    """The revision's last step: its deployment's outcome, else the person's decision, else the verdict."""
    if record.retired is not None:
        return "retired"
    if record.attempts:
        return record.attempts[-1].outcome
    if record.decision is not None:
        return "approved" if record.decision.approved else "rejected"
    if record.verdict is not None:
        return "valid" if record.verdict.valid else "invalid"
    return "drafted"


def _nodes_by_name(definition: str) -> dict[str, Any]:
    """Each node by its name, as what makes it that node: type, typeVersion, parameters."""
    try:
        nodes = msgspec.json.decode(definition).get("nodes", [])
    except (msgspec.DecodeError, AttributeError):
        return {}
    return {
        n["name"]: (n.get("type"), n.get("typeVersion"), n.get("parameters"))
        for n in nodes
        if isinstance(n, dict) and isinstance(n.get("name"), str)
    }


def _revision_of(subject: SbomSubject, data: Any) -> int | None:
    """The revision an event is about: named in it, or, for the workflow's end, the one deployed last."""
    revision = getattr(data, "revision", None)
    if isinstance(revision, int):
        return revision
    if isinstance(data, WorkflowRetired | WorkflowDeactivated):
        deployed = [r for r in subject.revisions if r.attempts]
        return (deployed[-1] if deployed else subject.revisions[-1]).revision if subject.revisions else None
    return None


def _changed(record: RevisionRecord, data: Any, cited: Cited) -> RevisionRecord:
    replace = msgspec.structs.replace
    match data:
        case WorkflowValidated():
            verdict = Verdict(
                event_id=cited.event_id,
                at=cited.at,
                valid=True,
                n8n_version=data.n8n_version,
                checks=data.checks,
                problems=tuple(_problem(p.code, p.node) for p in data.warnings),
            )
            return replace(record, verdict=verdict)
        case WorkflowValidationFailed():
            problems = tuple(_problem(p.code, p.node) for p in data.problems if p.severity == "error")
            verdict = Verdict(event_id=cited.event_id, at=cited.at, valid=False, problems=problems)
            return replace(record, verdict=verdict)
        case WorkflowApproved():
            decision = Decision(event_id=cited.event_id, at=cited.at, approved=True, by=data.approved_by)
            return replace(record, decision=decision)
        case WorkflowRejected():
            reason = SEALED if "reason" in sealed_paths(data) else data.reason
            decision = Decision(
                event_id=cited.event_id, at=cited.at, approved=False, by=data.rejected_by, reason=reason
            )
            return replace(record, decision=decision)
        case WorkflowDeploymentRequested():
            attempt = Attempt(
                deployment_id=data.deployment_id, attempt=data.attempt, target=data.target, requested=cited
            )
            return replace(record, attempts=(*record.attempts, attempt))
        case WorkflowDeployed() | WorkflowNeedsCredentials() | WorkflowDeploymentFailed():
            attempts = tuple(
                _answered(a, data, cited) if a.deployment_id == data.deployment_id else a
                for a in record.attempts
            )
            return replace(record, attempts=attempts)
        case WorkflowRetired():
            return replace(record, retired=cited)
        case WorkflowDeactivated():
            return replace(record, deactivated=cited)
    return record


def _answered(
    attempt: Attempt,
    data: WorkflowDeployed | WorkflowNeedsCredentials | WorkflowDeploymentFailed,
    cited: Cited,
) -> Attempt:
    replace = msgspec.structs.replace
    match data:
        case WorkflowDeployed():
            return replace(
                attempt,
                outcome="deployed",
                answered=cited,
                n8n_workflow_id=data.n8n_workflow_id,
                n8n_version_id=data.n8n_version_id,
                n8n_version=data.n8n_version,
                active=data.active,
            )
        case WorkflowNeedsCredentials():
            missing = tuple(sorted({m.credential_type for m in data.missing}))
            return replace(
                attempt,
                outcome="needs_credentials",
                answered=cited,
                n8n_workflow_id=data.n8n_workflow_id,
                missing_types=missing,
            )
        case _:
            return replace(
                attempt,
                outcome="failed",
                answered=cited,
                n8n_workflow_id=data.n8n_workflow_id or attempt.n8n_workflow_id,
                http_status=data.status,
            )


def _problem(code: str, node: str | None) -> str:
    return f"{code} ({node})" if node else code
