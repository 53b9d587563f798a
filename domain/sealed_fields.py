"""Which fields of an event are sealed (encrypted) before the event reaches the log, and how a field is
found by its path. Pure: the rule is the domain's, the cipher is infra's (infra/crypto/).

Above `public` — personal data (phones, e-mails) and sensitive business data (CCP, RIP/RIB, NIF/NIS/RC,
invoices) — the message's text, the model's answer (where pseudonymised values were restored) and the
findings drawn from them are sealed under the conversation's data key.

Whose key seals a stream (its *subject*): a conversation's own; a workflow's, the conversation it was
drafted from, which its first event (the draft) names. A workflow derives from what was said there, and
shredding that conversation must reach it too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from domain import conversation
from domain.conversation_events import AgentFindingRecorded, InferenceDecided, UserMessageReceived
from domain.envelope import DomainEvent, aggregate_id
from domain.types import Sensitivity
from domain.workflow_events import WorkflowDrafted


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
        case UserMessageReceived() if data.sensitivity != Sensitivity.PUBLIC:
            return ("text",)
        case InferenceDecided() if data.sensitivity != Sensitivity.PUBLIC and data.output:
            return ("output",)
        case AgentFindingRecorded() if data.sensitivity != Sensitivity.PUBLIC:
            return ("summary", *(f"facts.{i}.value" for i in range(len(data.facts))))
    return ()


def with_digests(data: DomainEvent) -> DomainEvent:
    """`data` with every digest recomputed over the field it covers as that field now reads (sealed in the
    log, opened for a reader): a digest of plaintext kept beside its ciphertext would let anyone confirm a
    guess of it, and would outlive a shredding."""
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
