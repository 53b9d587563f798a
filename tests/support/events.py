"""Small builders for events in tests."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.conversation_events import (
    ConversationStarted,
    InferenceDecided,
    InferenceRefused,
    UserMessageReceived,
)
from domain.envelope import DomainEvent, EventOrigin, NewEvent
from domain.ids import uuid7
from domain.types import AgentRole, Sensitivity

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


def decided(
    *,
    provider: str = "offline",
    model: str = "offline-planner-1",
    tokens: tuple[int, int] = (100, 20),
    cost_micro_usd: int = 0,
    at: datetime = NOW,
) -> InferenceDecided:
    """A model call as the gateway records it (`tokens`: input, output)."""
    return InferenceDecided(
        inference_id=uuid7(),
        purpose=AgentRole.SALES,
        provider=provider,
        model=model,
        route_reason="tests",
        sensitivity=Sensitivity.PUBLIC,
        template_id="sales",
        template_version=1,
        template_sha256="a" * 64,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cost_micro_usd=cost_micro_usd,
        decided_at=at,
    )


def refused(at: datetime = NOW) -> InferenceRefused:
    return InferenceRefused(
        inference_id=uuid7(),
        purpose=AgentRole.FINANCE,
        sensitivity=Sensitivity.SENSITIVE,
        reason="no local model",
        refused_at=at,
    )
