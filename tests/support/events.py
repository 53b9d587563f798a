"""Small builders for events in tests."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.conversation_events import ConversationStarted, UserMessageReceived
from domain.envelope import DomainEvent, EventOrigin, NewEvent
from domain.ids import uuid7
from domain.types import Sensitivity

ORIGIN = EventOrigin(tenant="acme", source="aiwf://tests")
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def message(text: str = "bonjour") -> UserMessageReceived:
    return UserMessageReceived(message_id=uuid7(), text=text, sensitivity=Sensitivity.PUBLIC, received_at=NOW)


def started(conversation_id: str = "c1") -> ConversationStarted:
    return ConversationStarted(conversation_id=conversation_id, started_by="u1", started_at=NOW)


def new(data: DomainEvent, event_id: str | None = None) -> NewEvent:
    return NewEvent(data=data, id=event_id or uuid7(), time=NOW, correlationid="corr-1")


def batch(n: int, text: str = "msg") -> list[NewEvent]:
    return [new(message(f"{text} {i}")) for i in range(n)]
