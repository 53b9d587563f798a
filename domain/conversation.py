"""The Conversation aggregate: commands, state, and the two pure functions `decide` and `evolve`.

Time and ids arrive inside the commands, so deciding is deterministic and testable as given/when/then.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from domain.conversation_events import (
    ConversationClosed,
    ConversationStarted,
    PrivacyFinding,
    UserMessageReceived,
)
from domain.envelope import DomainEvent
from domain.errors import InvalidTransition, NotFound
from domain.types import NonEmptyStr, Sensitivity, UtcDatetime

MAX_MESSAGE_CHARS = 8000
CATEGORY = "conversation"


def stream_of(conversation_id: str) -> str:
    return f"{CATEGORY}-{conversation_id}"


def operator_stream_of(inference_id: str) -> str:
    """Where a one-off model call an operator made outside any conversation (`aiwf infer`) is recorded."""
    return f"inference-{inference_id}"


class StartConversation(msgspec.Struct, frozen=True, kw_only=True):
    conversation_id: NonEmptyStr
    started_by: NonEmptyStr
    title: str | None = None
    language: str | None = None
    customer_id: str | None = None
    sensitivity: Sensitivity = Sensitivity.PUBLIC  # of the title
    started_at: UtcDatetime


class SendMessage(msgspec.Struct, frozen=True, kw_only=True):
    message_id: NonEmptyStr
    text: NonEmptyStr
    sensitivity: Sensitivity
    findings: tuple[PrivacyFinding, ...] = ()
    received_at: UtcDatetime


class CloseConversation(msgspec.Struct, frozen=True, kw_only=True):
    reason: str = ""
    sensitivity: Sensitivity = Sensitivity.PUBLIC  # of the reason
    closed_at: UtcDatetime


ConversationCommand = StartConversation | SendMessage | CloseConversation


# Tagged: a state is kept in snapshots (commands/snapshots.py) and must decode back to its own class.
class NotStarted(msgspec.Struct, frozen=True, tag="not_started"):
    pass


class Open(msgspec.Struct, frozen=True, kw_only=True, tag="open"):
    conversation_id: str
    started_by: str = ""
    message_ids: frozenset[str] = frozenset()


class Closed(msgspec.Struct, frozen=True, kw_only=True, tag="closed"):
    conversation_id: str
    started_by: str = ""


Conversation = NotStarted | Open | Closed
INITIAL: Conversation = NotStarted()


def decide(command: ConversationCommand, state: Conversation) -> list[DomainEvent]:
    match command, state:
        case StartConversation(), NotStarted():
            return [_started(command)]
        case StartConversation(), Open() | Closed() if command.started_by == state.started_by:
            return []  # the same start again (an id derived from an Idempotency-Key): already done
        case StartConversation(), _:
            raise InvalidTransition("this conversation already exists")
        case _, NotStarted():
            raise NotFound("no such conversation")
        case SendMessage(), Open() if command.message_id in state.message_ids:
            return []  # the same message again: already recorded
        case SendMessage(), Open():
            return [_received(command)]
        case SendMessage(), Closed():
            raise InvalidTransition("the conversation is closed")
        case CloseConversation(), Open():
            return [
                ConversationClosed(
                    reason=command.reason, sensitivity=command.sensitivity, closed_at=command.closed_at
                )
            ]
        case CloseConversation(), Closed():
            return []  # closing twice changes nothing
    raise InvalidTransition(f"{type(command).__name__} does not apply to {type(state).__name__}")


def evolve(state: Conversation, event: DomainEvent) -> Conversation:
    match event, state:
        case ConversationStarted(), _:
            return Open(conversation_id=event.conversation_id, started_by=event.started_by)
        case UserMessageReceived(), Open():
            return msgspec.structs.replace(state, message_ids=state.message_ids | {event.message_id})
        case ConversationClosed(), Open():
            return Closed(conversation_id=state.conversation_id, started_by=state.started_by)
    return state


def fold(events: Iterable[DomainEvent], state: Conversation = INITIAL) -> Conversation:
    """`evolve` over the events. Message ids are gathered and added once per run of messages: a
    frozenset copied per message would make folding a long conversation quadratic."""
    gathered: set[str] = set()
    for event in events:
        if isinstance(event, UserMessageReceived) and isinstance(state, Open):
            gathered.add(event.message_id)
            continue
        state = _with_messages(state, gathered)
        gathered = set()
        state = evolve(state, event)
    return _with_messages(state, gathered)


def _with_messages(state: Conversation, message_ids: set[str]) -> Conversation:
    if not message_ids or not isinstance(state, Open):
        return state
    return msgspec.structs.replace(state, message_ids=state.message_ids | message_ids)


def _started(command: StartConversation) -> ConversationStarted:
    return ConversationStarted(
        conversation_id=command.conversation_id,
        started_by=command.started_by,
        title=command.title,
        language=command.language,
        customer_id=command.customer_id,
        sensitivity=command.sensitivity,
        started_at=command.started_at,
    )


def _received(command: SendMessage) -> UserMessageReceived:
    return UserMessageReceived(
        message_id=command.message_id,
        text=command.text,
        sensitivity=command.sensitivity,
        findings=command.findings,
        received_at=command.received_at,
    )
