"""Read models `conversations` and `messages`: pure folds, one row type each."""

from __future__ import annotations

from datetime import datetime

import msgspec

from domain.conversation_events import (
    AssistantReplied,
    ConversationClosed,
    ConversationStarted,
    UserMessageReceived,
)
from projections.events import ProjectedEvent, aggregate_id


class ConversationRow(msgspec.Struct, frozen=True, kw_only=True):
    conversation_id: str
    tenant: str
    status: str
    title: str | None
    language: str | None
    started_by: str
    started_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    message_count: int
    last_version: int
    last_position: str
    customer_id: str | None = None  # the tenant's reference of the customer it is about


class MessageRow(msgspec.Struct, frozen=True, kw_only=True):
    message_id: str
    conversation_id: str
    tenant: str
    role: str
    text: str
    sensitivity: str
    created_at: datetime
    version: int


def conversation_key(event: ProjectedEvent) -> str | None:
    stream = event.envelope.stream
    return aggregate_id(stream) if stream.startswith("conversation-") else None


def evolve_conversation(row: ConversationRow | None, event: ProjectedEvent) -> ConversationRow | None:
    envelope, data = event.envelope, event.envelope.data
    if isinstance(data, ConversationStarted):
        row = ConversationRow(
            conversation_id=aggregate_id(envelope.stream),
            tenant=envelope.tenant,
            status="open",
            title=data.title,
            language=data.language,
            started_by=data.started_by,
            started_at=data.started_at,
            updated_at=envelope.time,
            closed_at=None,
            message_count=0,
            last_version=0,
            last_position=event.log_id,
            customer_id=data.customer_id,
        )
    if row is None:
        return None  # an event before the start: nothing to show yet
    changes: dict[str, object] = {
        "updated_at": envelope.time,
        "last_version": envelope.version,
        "last_position": event.log_id,
    }
    if isinstance(data, UserMessageReceived | AssistantReplied):
        changes["message_count"] = row.message_count + 1
    if isinstance(data, ConversationClosed):
        changes.update(status="closed", closed_at=data.closed_at)
    return msgspec.structs.replace(row, **changes)


def message_rows(event: ProjectedEvent) -> list[MessageRow]:
    data = event.envelope.data
    if isinstance(data, UserMessageReceived):
        sensitivity = data.sensitivity.value
        return [
            _message(event, data.message_id, "user", data.text, sensitivity=sensitivity, at=data.received_at)
        ]
    if isinstance(data, AssistantReplied):
        return [
            _message(
                event,
                data.message_id,
                "assistant",
                data.text,
                sensitivity=data.sensitivity.value,
                at=data.replied_at,
            )
        ]
    return []


def _message(
    event: ProjectedEvent, message_id: str, role: str, text: str, *, sensitivity: str, at: datetime
) -> MessageRow:
    envelope = event.envelope
    return MessageRow(
        message_id=message_id,
        conversation_id=aggregate_id(envelope.stream),
        tenant=envelope.tenant,
        role=role,
        text=text,
        sensitivity=sensitivity,
        created_at=at,
        version=envelope.version,
    )
