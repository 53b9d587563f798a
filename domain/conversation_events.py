"""What happens in a conversation: the user speaks, the orchestrator delegates, agents find, we answer.

Inference decisions are recorded here too, on the conversation they served, so that replay and SBOMs
read what a model said instead of asking it again.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from domain.envelope import DomainEvent
from domain.types import AgentRole, NonEmptyStr, Sensitivity, Sha256Hex, UtcDatetime

Percent = int  # 0..100; confidences are integers so events never carry floats


class ConversationStarted(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.conversation.started.v1"
    conversation_id: NonEmptyStr
    started_by: NonEmptyStr
    title: str | None = None
    language: str | None = None
    # The tenant's own reference of the customer it is about (an opaque id, never personal data): the
    # conversation's sealed fields are then shredded with that customer (docs/adr/0025).
    customer_id: str | None = None
    sensitivity: Sensitivity = Sensitivity.PUBLIC  # of the title: above public, it is sealed
    started_at: UtcDatetime


class PrivacyFinding(msgspec.Struct, frozen=True, kw_only=True):
    """Where the classifier saw sensitive data; the value itself is never copied here."""

    kind: str
    start: int
    end: int
    checksum_valid: bool | None = None


class UserMessageReceived(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.conversation.user_message_received.v1"
    message_id: NonEmptyStr
    text: str
    sensitivity: Sensitivity
    findings: tuple[PrivacyFinding, ...] = ()
    received_at: UtcDatetime


class Intent(msgspec.Struct, frozen=True, kw_only=True):
    name: NonEmptyStr
    confidence: Percent
    agents: tuple[AgentRole, ...] = ()


class IntentClassified(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.conversation.intent_classified.v1"
    message_id: NonEmptyStr
    intents: tuple[Intent, ...]
    summary: str
    inference_id: str | None = None
    language: str | None = None  # the user's: fr, ar, darija, en (replies are written in it)
    # What the orchestrator read (the turn and those before it): above public, the summary is sealed.
    sensitivity: Sensitivity = Sensitivity.PUBLIC
    classified_at: UtcDatetime


class AgentDelegated(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.conversation.agent_delegated.v1"
    delegation_id: NonEmptyStr
    agent: AgentRole
    task: NonEmptyStr
    message_id: NonEmptyStr
    sensitivity: Sensitivity = Sensitivity.PUBLIC  # what the orchestrator read: above public, it is sealed
    delegated_at: UtcDatetime


class Fact(msgspec.Struct, frozen=True, kw_only=True):
    key: NonEmptyStr
    value: str


class AgentFindingRecorded(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.conversation.agent_finding_recorded.v1"
    delegation_id: NonEmptyStr
    agent: AgentRole
    summary: str
    facts: tuple[Fact, ...] = ()
    n8n_nodes: tuple[str, ...] = ()
    sensitive_fields: tuple[str, ...] = ()  # data the workflow will handle that must stay local
    inference_id: str | None = None
    # What the finding derives from (the messages the specialist read): above public, it is sealed.
    sensitivity: Sensitivity = Sensitivity.PUBLIC
    recorded_at: UtcDatetime


class InferenceDecided(DomainEvent, frozen=True, kw_only=True):
    """One model call, everything an audit or an SBOM needs, and the answer itself."""

    event_type: ClassVar[str] = "aiwf.conversation.inference_decided.v1"
    inference_id: NonEmptyStr
    purpose: AgentRole
    provider: NonEmptyStr
    model: NonEmptyStr
    route_reason: NonEmptyStr
    sensitivity: Sensitivity
    template_id: NonEmptyStr
    template_version: int
    template_sha256: Sha256Hex
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    latency_ms: int = 0
    cost_micro_usd: int = 0
    outcome: Literal["ok", "invalid_output", "error"] = "ok"
    output: str = ""
    # Where the call went (absent from events recorded before these were kept): a model in this
    # process, on this machine or in the cloud; its base URL (None in process); with a credential.
    locality: Literal["local", "cloud"] | None = None
    endpoint: str | None = None
    authenticated: bool | None = None
    decided_at: UtcDatetime


class InferenceRefused(DomainEvent, frozen=True, kw_only=True):
    """The gateway would not send this anywhere (e.g. sensitive data and no local model)."""

    event_type: ClassVar[str] = "aiwf.conversation.inference_refused.v1"
    inference_id: NonEmptyStr
    purpose: AgentRole
    sensitivity: Sensitivity
    reason: NonEmptyStr
    refused_at: UtcDatetime


class AssistantReplied(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.conversation.assistant_replied.v1"
    message_id: NonEmptyStr
    text: str
    in_reply_to: str | None = None
    workflow_id: str | None = None
    workflow_revision: int | None = None
    # answer: small talk or help; question: a detail is missing; workflow: a draft awaits approval;
    # refusal: privacy kept the request from any allowed model; failure: the agents could not do it;
    # deployment: what n8n answered when the approved workflow was deployed (in_reply_to is None)
    kind: Literal["answer", "question", "workflow", "refusal", "failure", "deployment"] = "answer"
    # What the reply was drawn from (the turn's, the draft's): above public, the text is sealed.
    sensitivity: Sensitivity = Sensitivity.PUBLIC
    replied_at: UtcDatetime


class ConversationClosed(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.conversation.closed.v1"
    reason: str = ""
    sensitivity: Sensitivity = Sensitivity.PUBLIC  # of the reason: above public, it is sealed
    closed_at: UtcDatetime


CONVERSATION_EVENTS: tuple[type[DomainEvent], ...] = (
    ConversationStarted,
    UserMessageReceived,
    IntentClassified,
    AgentDelegated,
    AgentFindingRecorded,
    InferenceDecided,
    InferenceRefused,
    AssistantReplied,
    ConversationClosed,
)
