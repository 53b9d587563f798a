"""Which fields of an event are sealed (encrypted) before the event reaches the log, and how a field is
found by its path. Pure: the rule is the domain's, the cipher is infra's (infra/crypto/).

Above `public` — personal data (phones, e-mails) and sensitive business data (CCP, RIP/RIB, NIF/NIS/RC,
invoices) — the message's text, the model's answer (where pseudonymised values were restored) and the
findings drawn from them are sealed under the conversation's data key; so is what derives from them
further on: the intents' summary, a delegation's task, the assistant's replies, and a workflow's n8n JSON
with what the validator, n8n and people said of it. Each such event records the `sensitivity` of what it
derives from, and a digest of a sealed field covers the field as it reads (`with_digests`).

Whose key seals a stream (its *subject*): a conversation's own; a workflow's, the conversation it was
drafted from, which its first event (the draft) names. A workflow derives from what was said there, and
shredding that conversation must reach it too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import msgspec

from domain import conversation
from domain.conversation_events import (
    AgentDelegated,
    AgentFindingRecorded,
    AssistantReplied,
    ConversationClosed,
    ConversationStarted,
    InferenceDecided,
    IntentClassified,
    UserMessageReceived,
)
from domain.envelope import DomainEvent, aggregate_id
from domain.types import Sensitivity
from domain.workflow_events import (
    WorkflowDeploymentFailed,
    WorkflowDrafted,
    WorkflowRejected,
    WorkflowRetired,
    WorkflowValidated,
    WorkflowValidationFailed,
)


def own_subject(stream: str) -> str | None:
    """The subject a stream is by itself (a conversation, an operator's one-off model call), None when
    its first event names it."""
    own = aggregate_id(stream)
    if stream in (conversation.stream_of(own), conversation.operator_stream_of(own)):
        return own
    return None


def subject_named_by(first: DomainEvent) -> str | None:
    """The subject a stream's first event names: the conversation a workflow was drafted from."""
    return first.conversation_id if isinstance(first, WorkflowDrafted) else None


def sealed_paths(data: DomainEvent) -> tuple[str, ...]:
    """The paths in `data` to seal: dotted names, list items by index (`facts.0.value`)."""
    match data:
        case ConversationStarted() if data.sensitivity != Sensitivity.PUBLIC and data.title:
            return ("title",)
        case ConversationClosed() if data.sensitivity != Sensitivity.PUBLIC and data.reason:
            return ("reason",)
        case UserMessageReceived() if data.sensitivity != Sensitivity.PUBLIC:
            return ("text",)
        case InferenceDecided() if data.sensitivity != Sensitivity.PUBLIC and data.output:
            return ("output",)
        case AgentFindingRecorded() if data.sensitivity != Sensitivity.PUBLIC:
            return ("summary", *(f"facts.{i}.value" for i in range(len(data.facts))))
        case IntentClassified() if data.sensitivity != Sensitivity.PUBLIC and data.summary:
            return ("summary",)
        case AgentDelegated() if data.sensitivity != Sensitivity.PUBLIC:
            return ("task",)
        case AssistantReplied() if data.sensitivity != Sensitivity.PUBLIC and data.text:
            return ("text",)
    return _workflow_paths(data)


def _workflow_paths(data: DomainEvent) -> tuple[str, ...]:
    """A workflow's, at its draft's sensitivity (a person's reason at its own): the n8n JSON, what the
    validator and n8n said of it (n8n may echo a parameter), why a person rejected or retired it. Its
    names and its outline stay public: the designer refuses a draft whose names are not."""
    if getattr(data, "sensitivity", Sensitivity.PUBLIC) == Sensitivity.PUBLIC:
        return ()
    match data:
        case WorkflowDrafted():
            return ("definition",)
        case WorkflowValidated():
            return tuple(f"warnings.{i}.message" for i, p in enumerate(data.warnings) if p.message)
        case WorkflowValidationFailed():
            return tuple(f"problems.{i}.message" for i, p in enumerate(data.problems) if p.message)
        case WorkflowDeploymentFailed():
            return ("message",)
        case WorkflowRejected() | WorkflowRetired() if data.reason:
            return ("reason",)
    return ()


def with_digests(data: DomainEvent) -> DomainEvent:
    """`data` with every digest recomputed over the field it covers as that field now reads (sealed in the
    log, opened for a reader): a digest of plaintext kept beside its ciphertext would let anyone confirm a
    guess of it, and would outlive a shredding."""
    if isinstance(data, WorkflowDrafted):
        digest = hashlib.sha256(data.definition.encode()).hexdigest()
        return msgspec.structs.replace(data, definition_sha256=digest)
    return data


def map_paths(data: DomainEvent, paths: tuple[str, ...], change: Callable[[str, str], str]) -> DomainEvent:
    """A copy of `data` whose string at each path is `change(path, value)` (the rest shared, not copied)."""
    for path in paths:
        data = _replaced(data, path.split("."), path, change)
    return data


def _replaced(value: Any, steps: list[str], path: str, change: Callable[[str, str], str]) -> Any:
    step, rest = steps[0], steps[1:]
    if isinstance(value, tuple):
        index = int(step)
        inner = value[index]
        return (
            *value[:index],
            _replaced(inner, rest, path, change) if rest else change(path, inner),
            *value[index + 1 :],
        )
    inner = getattr(value, step)
    return msgspec.structs.replace(
        value, **{step: _replaced(inner, rest, path, change) if rest else change(path, inner)}
    )
