"""Read model `agent_state`: per conversation, what the agents were asked, found, and what it cost.

A document per conversation (JSONB): the intents of the last classified message, each delegation with its
finding, every inference decision (who answered, where and why, tokens, cost, latency, outcome — never the
answer itself), a summary of them, the workflows produced and the question the orchestrator is waiting
on. Pure fold; the I/O is the generic document store. The API's `?version=N` folds the same function over
the stream's first N events: the state as it was then.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec

from domain.conversation_events import (
    AgentDelegated,
    AgentFindingRecorded,
    AssistantReplied,
    ConversationStarted,
    Fact,
    InferenceDecided,
    InferenceRefused,
    Intent,
    IntentClassified,
    UserMessageReceived,
)
from projections.events import ProjectedEvent, aggregate_id


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    summary: str
    facts: tuple[Fact, ...]
    n8n_nodes: tuple[str, ...]
    sensitive_fields: tuple[str, ...] = ()
    inference_id: str | None = None
    recorded_at: datetime


class Delegation(msgspec.Struct, frozen=True, kw_only=True):
    delegation_id: str
    message_id: str
    agent: str
    task: str
    status: str  # delegated | answered
    delegated_at: datetime
    answered_at: datetime | None = None
    finding: Finding | None = None


class InferenceRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One gateway call as an auditor reads it: everything but the answer."""

    inference_id: str
    purpose: str
    outcome: str  # ok | invalid_output | error | refused
    sensitivity: str
    route_reason: str
    provider: str | None = None
    model: str | None = None
    local: bool | None = None  # answered on this machine (local model or offline planner) or in the cloud
    template: str | None = None  # id@version
    input_tokens: int = 0
    output_tokens: int = 0
    cost_micro_usd: int = 0
    latency_ms: int = 0
    at: datetime


class WorkflowRef(msgspec.Struct, frozen=True, kw_only=True):
    workflow_id: str
    revision: int | None
    message_id: str | None  # the user message it answers
    at: datetime


class InferenceSummary(msgspec.Struct, frozen=True, kw_only=True):
    calls: int = 0
    refused: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_micro_usd: int = 0
    models: tuple[str, ...] = ()


class AgentStateDoc(msgspec.Struct, frozen=True, kw_only=True):
    conversation_id: str
    tenant: str
    language: str | None = None
    intents: tuple[Intent, ...] = ()
    delegations: tuple[Delegation, ...] = ()
    decisions: tuple[InferenceRecord, ...] = ()
    inference: InferenceSummary = InferenceSummary()
    workflows: tuple[WorkflowRef, ...] = ()
    open_question: str | None = None  # what the orchestrator asked and waits for
    updated_at: datetime
    last_version: int


def agent_state_key(event: ProjectedEvent) -> str | None:
    stream = event.envelope.stream
    return aggregate_id(stream) if stream.startswith("conversation-") else None


def evolve_agent_state(doc: AgentStateDoc | None, event: ProjectedEvent) -> AgentStateDoc | None:
    envelope, data = event.envelope, event.envelope.data
    if isinstance(data, ConversationStarted):
        doc = AgentStateDoc(
            conversation_id=aggregate_id(envelope.stream),
            tenant=envelope.tenant,
            updated_at=envelope.time,
            last_version=0,
        )
    if doc is None:
        return None
    doc = msgspec.structs.replace(doc, updated_at=envelope.time, last_version=envelope.version)
    match data:
        case IntentClassified():
            return msgspec.structs.replace(doc, intents=data.intents, language=data.language or doc.language)
        case AgentDelegated():
            return msgspec.structs.replace(doc, delegations=(*doc.delegations, _delegation(data)))
        case AgentFindingRecorded():
            return _with_finding(doc, data)
        case InferenceDecided() | InferenceRefused():
            decisions = (*doc.decisions, _record(data))
            return msgspec.structs.replace(
                doc, decisions=decisions, inference=_summarise(doc.inference, data)
            )
        case UserMessageReceived():
            return msgspec.structs.replace(doc, open_question=None)
        case AssistantReplied():
            return _replied(doc, data)
    return doc


def agent_state_at(events: Iterable[ProjectedEvent]) -> AgentStateDoc | None:
    """The state after these events (a stream's first N: the state as it was at version N)."""
    doc: AgentStateDoc | None = None
    for event in events:
        doc = evolve_agent_state(doc, event)
    return doc


def _delegation(data: AgentDelegated) -> Delegation:
    return Delegation(
        delegation_id=data.delegation_id,
        message_id=data.message_id,
        agent=data.agent.value,
        task=data.task,
        status="delegated",
        delegated_at=data.delegated_at,
    )


def _with_finding(doc: AgentStateDoc, data: AgentFindingRecorded) -> AgentStateDoc:
    finding = Finding(
        summary=data.summary,
        facts=data.facts,
        n8n_nodes=data.n8n_nodes,
        sensitive_fields=data.sensitive_fields,
        inference_id=data.inference_id,
        recorded_at=data.recorded_at,
    )
    delegations = tuple(
        msgspec.structs.replace(d, status="answered", answered_at=data.recorded_at, finding=finding)
        if d.delegation_id == data.delegation_id
        else d
        for d in doc.delegations
    )
    return msgspec.structs.replace(doc, delegations=delegations)


def _record(data: InferenceDecided | InferenceRefused) -> InferenceRecord:
    if isinstance(data, InferenceRefused):
        return InferenceRecord(
            inference_id=data.inference_id,
            purpose=data.purpose.value,
            outcome="refused",
            sensitivity=data.sensitivity.value,
            route_reason=data.reason,
            at=data.refused_at,
        )
    return InferenceRecord(
        inference_id=data.inference_id,
        purpose=data.purpose.value,
        outcome=data.outcome,
        sensitivity=data.sensitivity.value,
        route_reason=data.route_reason,
        provider=data.provider,
        model=data.model,
        local=data.provider != "anthropic",
        template=f"{data.template_id}@{data.template_version}",
        input_tokens=data.input_tokens,
        output_tokens=data.output_tokens,
        cost_micro_usd=data.cost_micro_usd,
        latency_ms=data.latency_ms,
        at=data.decided_at,
    )


def _replied(doc: AgentStateDoc, data: AssistantReplied) -> AgentStateDoc:
    question = data.text if data.kind == "question" else None
    if data.workflow_id is None:
        return msgspec.structs.replace(doc, open_question=question)
    ref = WorkflowRef(
        workflow_id=data.workflow_id,
        revision=data.workflow_revision,
        message_id=data.in_reply_to,
        at=data.replied_at,
    )
    return msgspec.structs.replace(doc, open_question=question, workflows=(*doc.workflows, ref))


def _summarise(summary: InferenceSummary, data: InferenceDecided | InferenceRefused) -> InferenceSummary:
    if isinstance(data, InferenceRefused):
        return msgspec.structs.replace(summary, refused=summary.refused + 1)
    model = f"{data.provider}/{data.model}"
    return InferenceSummary(
        calls=summary.calls + 1,
        refused=summary.refused,
        input_tokens=summary.input_tokens + data.input_tokens,
        output_tokens=summary.output_tokens + data.output_tokens,
        cache_read_tokens=summary.cache_read_tokens + data.cache_read_tokens,
        cache_write_tokens=summary.cache_write_tokens + data.cache_write_tokens,
        cost_micro_usd=summary.cost_micro_usd + data.cost_micro_usd,
        models=summary.models if model in summary.models else (*summary.models, model),
    )
