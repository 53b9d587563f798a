"""Conversation commands: start, send a message (classified for privacy first), close."""

from __future__ import annotations

from commands.context import CommandContext, CommandResult
from commands.execute import Decider, execute
from commands.ports import EventStore
from domain import conversation
from domain.conversation import CloseConversation, SendMessage, StartConversation
from domain.conversation_events import PrivacyFinding
from domain.ids import uuid7
from domain.types import Sensitivity
from inference.privacy import classify

CONVERSATIONS = Decider(
    decide=conversation.decide,
    fold=conversation.fold,
    initial=conversation.INITIAL,
    state_type=conversation.Conversation,
    schema="conversation.1",
)
stream_of = conversation.stream_of


async def start_conversation(
    store: EventStore,
    ctx: CommandContext,
    *,
    title: str | None,
    language: str | None,
    conversation_id: str | None = None,
) -> CommandResult:
    conversation_id = conversation_id or uuid7()
    command = StartConversation(
        conversation_id=conversation_id,
        started_by=ctx.actor,
        title=title,
        language=language,
        started_at=ctx.now,
    )
    return await execute(store, CONVERSATIONS, stream_of(conversation_id), command, ctx)


async def send_message(
    store: EventStore, ctx: CommandContext, conversation_id: str, text: str
) -> CommandResult:
    """The classifier runs here, before anything is stored: every message carries its sensitivity."""
    try:
        found = classify(text)
        sensitivity = Sensitivity(found.sensitivity.value)
        findings = tuple(
            PrivacyFinding(kind=f.kind, start=f.start, end=f.end, checksum_valid=f.checksum_valid)
            for f in found.findings
        )
    except Exception:  # a classifier failure must never let data through as public: fail closed
        sensitivity, findings = Sensitivity.SENSITIVE, ()
    message_id = ctx.event_id(stream_of(conversation_id), -1) if ctx.idempotency_key else uuid7()
    command = SendMessage(
        message_id=message_id, text=text, sensitivity=sensitivity, findings=findings, received_at=ctx.now
    )
    return await execute(store, CONVERSATIONS, stream_of(conversation_id), command, ctx)


async def close_conversation(
    store: EventStore, ctx: CommandContext, conversation_id: str, reason: str
) -> CommandResult:
    command = CloseConversation(reason=reason, closed_at=ctx.now)
    return await execute(store, CONVERSATIONS, stream_of(conversation_id), command, ctx)
