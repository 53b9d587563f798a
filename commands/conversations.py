"""Conversation commands: start (for a customer the tenant names, if any), send a message, close. Every
text a person writes is classified for privacy first: what is above public is sealed in the log."""

from __future__ import annotations

from typing import Protocol

from commands.context import CommandContext, CommandResult
from commands.execute import Decider, execute
from commands.ports import EventStore
from domain import conversation
from domain.conversation import CloseConversation, SendMessage, StartConversation
from domain.conversation_events import PrivacyFinding
from domain.errors import NotConfigured, PersonalDataInReference
from domain.ids import uuid7
from domain.subject_events import customer_subject
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


class CustomerKeys(Protocol):
    async def enroll(self, tenant: str, subject: str, group: str) -> object:
        """The subject's data key, made a member of the group (shredded with it)."""


async def start_conversation(
    store: EventStore,
    ctx: CommandContext,
    *,
    title: str | None,
    language: str | None,
    conversation_id: str | None = None,
    customer_id: str | None = None,
    keys: CustomerKeys | None = None,
) -> CommandResult:
    """With a customer, the conversation's data key is made a member of the customer's before anything
    is recorded: nothing sealed for it can escape the customer's shredding."""
    conversation_id = conversation_id or uuid7()
    if customer_id is not None:
        await _enroll(ctx, conversation_id, customer_id, keys)
    command = StartConversation(
        conversation_id=conversation_id,
        started_by=ctx.actor,
        title=title,
        language=language,
        customer_id=customer_id,
        sensitivity=classified(title)[0] if title else Sensitivity.PUBLIC,
        started_at=ctx.now,
    )
    return await execute(store, CONVERSATIONS, stream_of(conversation_id), command, ctx)


async def _enroll(
    ctx: CommandContext, conversation_id: str, customer_id: str, keys: CustomerKeys | None
) -> None:
    if keys is None:
        raise NotConfigured("this platform seals nothing, so a conversation cannot name a customer")
    found, _ = classified(customer_id)
    if found != Sensitivity.PUBLIC:
        raise PersonalDataInReference("customer_id", found.value)
    await keys.enroll(ctx.tenant, conversation_id, customer_subject(customer_id))


def classified(text: str) -> tuple[Sensitivity, tuple[PrivacyFinding, ...]]:
    """The privacy classifier's verdict; a classifier failure never lets data through as public."""
    try:
        found = classify(text)
    except Exception:  # fail closed
        return Sensitivity.SENSITIVE, ()
    findings = tuple(
        PrivacyFinding(kind=f.kind, start=f.start, end=f.end, checksum_valid=f.checksum_valid)
        for f in found.findings
    )
    return Sensitivity(found.sensitivity.value), findings


async def send_message(
    store: EventStore, ctx: CommandContext, conversation_id: str, text: str
) -> CommandResult:
    """The classifier runs here, before anything is stored: every message carries its sensitivity."""
    sensitivity, findings = classified(text)
    message_id = ctx.event_id(stream_of(conversation_id), -1) if ctx.idempotency_key else uuid7()
    command = SendMessage(
        message_id=message_id, text=text, sensitivity=sensitivity, findings=findings, received_at=ctx.now
    )
    return await execute(store, CONVERSATIONS, stream_of(conversation_id), command, ctx)


async def close_conversation(
    store: EventStore, ctx: CommandContext, conversation_id: str, reason: str
) -> CommandResult:
    sensitivity = classified(reason)[0] if reason else Sensitivity.PUBLIC
    command = CloseConversation(reason=reason, sensitivity=sensitivity, closed_at=ctx.now)
    return await execute(store, CONVERSATIONS, stream_of(conversation_id), command, ctx)
