"""What every process-manager step does: load the conversation's process state, call the gateway once
per decision (a recorded decision is reused, never paid twice), and append what it decided.

Ids of everything a step appends derive from the event that caused it and the step's name
(`step_id`), and times from that event or from the recorded decision: a step redone after a crash or a
redelivery appends the very same events, which the store's deduplication turns into a no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

import msgspec

from commands.execute import Loaded, StateFold, load
from domain import conversation_process
from domain.conversation_events import AssistantReplied, InferenceDecided
from domain.conversation_process import ConversationProcess, Decision
from domain.envelope import DomainEvent, Envelope, EventOrigin, NewEvent
from domain.errors import ConcurrencyConflict, DuplicateEventId, EventIdTaken
from domain.ids import derived_id
from domain.n8n.catalog import NodeCatalog
from domain.types import Sensitivity
from handlers.managers import replies
from inference.gateway import Gateway, GatewayCall
from infra.event_store import RedisEventStore
from infra.n8n.instances import NO_N8N, N8nInstances
from infra.tracing import current_traceparent

log = logging.getLogger(__name__)
SOURCE = "aiwf://agents"
T = TypeVar("T")
APPEND_ATTEMPTS = 8

PROCESS: StateFold[ConversationProcess] = StateFold(
    fold=conversation_process.fold,
    initial=conversation_process.INITIAL,
    state_type=ConversationProcess,
    schema="conversation_process.2",
)


@dataclass(frozen=True)
class ManagerDeps:
    store: RedisEventStore
    gateway: Gateway
    catalog: NodeCatalog
    clock: Callable[[], datetime]
    auto_approve: bool = False
    n8n: N8nInstances = NO_N8N  # none configured: an approval ends at `approved`


def step_id(cause: Envelope | str, step: str, *parts: str) -> str:
    """The id of what `step` appends because of `cause`: the same on every redelivery."""
    cause_id = cause if isinstance(cause, str) else cause.id
    return derived_id("step", cause_id, step, *parts)


async def load_process(deps: ManagerDeps, stream: str) -> Loaded[ConversationProcess]:
    return await load(deps.store, PROCESS, stream)


async def opened(deps: ManagerDeps, cause: Envelope) -> Envelope:
    """The cause as the store reads it, its sealed fields opened: the partition log delivers it as
    stored, and a step that reads more of it than its ids (a person's reason) must read it in clear."""
    stored = await deps.store.read_stream(cause.stream, cause.version, limit=1)
    return stored[0].envelope if stored and stored[0].envelope.id == cause.id else cause


def new_event(cause: Envelope, event_id: str, data: DomainEvent, at: datetime) -> NewEvent:
    return NewEvent(
        data=data,
        id=event_id,
        time=at,
        correlationid=cause.correlationid or cause.stream,
        causationid=cause.id,
        traceparent=current_traceparent(cause.traceparent),
    )


async def append(deps: ManagerDeps, tenant: str, stream: str, events: Sequence[NewEvent]) -> None:
    """At the stream's head, whatever arrived meanwhile (a user's message, a person's approval).

    The first decision of a step stands: redone later (a redelivery, a consumer group recreated and
    reading the log again), a step may decide otherwise from a state that has moved on, but its batch's
    first id, derived from its cause, is already stored, and the step has acted."""
    origin = EventOrigin(tenant=tenant, source=SOURCE)
    for _ in range(APPEND_ATTEMPTS):
        head = await deps.store.head(stream)
        try:
            await deps.store.append(stream, events, head.version, origin, head=head)
            return
        except ConcurrencyConflict:
            continue
        except (EventIdTaken, DuplicateEventId):
            [first] = await deps.store.positions_of(stream, [events[0].id])
            if first is None:
                raise
            log.info("step %s on %s redone: its first decision stands", events[0].id, stream)
            return
    raise ConcurrencyConflict(stream, -1, -1)


async def decide(
    deps: ManagerDeps, cause: Envelope, state: ConversationProcess, call: GatewayCall, stream: str
) -> Decision:
    """The decision recorded under the call's id in the conversation `stream`, or a new one: called,
    recorded, then returned."""
    recorded = state.decision(call.inference_id)
    if recorded is not None:
        return recorded
    outcome = await deps.gateway.infer(call)
    event = outcome.event
    at = event.decided_at if isinstance(event, InferenceDecided) else event.refused_at
    await append(deps, cause.tenant, stream, [new_event(cause, call.inference_id, event, at)])
    return conversation_process.evolve(state, event).decisions[-1]


async def decide_with_retry(
    deps: ManagerDeps,
    cause: Envelope,
    state: ConversationProcess,
    make_call: Callable[[str], GatewayCall],
    stream: str | None = None,
) -> Decision:
    """A bad answer (invalid JSON, wrong shape, an error) is recorded and asked once more; a refusal is
    final (nothing allowed may answer). Recorded in `stream`, the cause's own by default."""
    where = stream or cause.stream
    decision = await decide(deps, cause, state, make_call("1"), where)
    if decision.outcome in ("ok", "refused"):
        return decision
    return await decide(deps, cause, state, make_call("2"), where)


ReplyKind = Literal["answer", "question", "workflow", "refusal", "failure", "deployment"]


def reply_event(
    cause: Envelope,
    ids: Callable[[str], str],
    answering: str | None,
    said: tuple[str, ReplyKind],
    at: datetime,
    *,
    sensitivity: Sensitivity,
    workflow: tuple[str, int] | None = None,
) -> NewEvent:
    """The assistant's answer to the user message `answering`; `ids(part)` names the step's events.
    `sensitivity` is what the answer was drawn from: a reply restates what it answers."""
    text, kind = said
    reply = AssistantReplied(
        message_id=ids("reply-message"),
        text=text,
        in_reply_to=answering,
        workflow_id=workflow[0] if workflow else None,
        workflow_revision=workflow[1] if workflow else None,
        kind=kind,
        sensitivity=sensitivity,
        replied_at=at,
    )
    return new_event(cause, ids("reply"), reply, at)


def unanswered(language: str | None, decision: Decision, what: str) -> tuple[str, ReplyKind]:
    """What to tell the user when a step got no usable answer: refused (privacy), or failed."""
    if decision.outcome == "refused":
        return replies.refusal(language, decision.reason), "refusal"
    return replies.failure(language, what), "failure"


def decoded(decision: Decision, kind: type[T]) -> T | None:
    """The answer as its contract type (the gateway validated it; None if it somehow is not)."""
    if decision.outcome != "ok":
        return None
    try:
        return msgspec.json.decode(decision.output, type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
