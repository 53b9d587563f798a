"""Read model `agent_state`: per conversation, what the agents were asked, found, and what it cost.

A document per conversation (JSONB): intents, delegations with their status, findings per agent, and a
summary of the inference decisions. Pure fold; the I/O is the generic document store.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from domain.conversation_events import (
    AgentDelegated,
    AgentFindingRecorded,
    ConversationStarted,
    Fact,
    InferenceDecided,
    InferenceRefused,
    Intent,
    IntentClassified,
)
from projections.events import ProjectedEvent, aggregate_id


class Delegation(msgspec.Struct, frozen=True, kw_only=True):
    delegation_id: str
    agent: str
    task: str
    status: str  # delegated | answered
    delegated_at: datetime
    answered_at: datetime | None = None


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    delegation_id: str
    agent: str
    summary: str
    facts: tuple[Fact, ...]
    n8n_nodes: tuple[str, ...]
    recorded_at: datetime


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
    intents: tuple[Intent, ...] = ()
    delegations: tuple[Delegation, ...] = ()
    findings: tuple[Finding, ...] = ()
    inference: InferenceSummary = InferenceSummary()
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
    if isinstance(data, IntentClassified):
        return msgspec.structs.replace(doc, intents=data.intents)
    if isinstance(data, AgentDelegated):
        delegation = Delegation(
            delegation_id=data.delegation_id,
            agent=data.agent.value,
            task=data.task,
            status="delegated",
            delegated_at=data.delegated_at,
        )
        return msgspec.structs.replace(doc, delegations=(*doc.delegations, delegation))
    if isinstance(data, AgentFindingRecorded):
        return _with_finding(doc, data)
    if isinstance(data, InferenceDecided | InferenceRefused):
        return msgspec.structs.replace(doc, inference=_summarise(doc.inference, data))
    return doc


def _with_finding(doc: AgentStateDoc, data: AgentFindingRecorded) -> AgentStateDoc:
    finding = Finding(
        delegation_id=data.delegation_id,
        agent=data.agent.value,
        summary=data.summary,
        facts=data.facts,
        n8n_nodes=data.n8n_nodes,
        recorded_at=data.recorded_at,
    )
    delegations = tuple(
        msgspec.structs.replace(d, status="answered", answered_at=data.recorded_at)
        if d.delegation_id == data.delegation_id
        else d
        for d in doc.delegations
    )
    return msgspec.structs.replace(doc, delegations=delegations, findings=(*doc.findings, finding))


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
