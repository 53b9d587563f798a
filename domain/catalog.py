"""The platform's event catalogue: every type that may appear on our streams."""

from __future__ import annotations

from domain.conversation_events import CONVERSATION_EVENTS
from domain.credential_events import CREDENTIAL_EVENTS
from domain.registry import EventRegistry
from domain.subject_events import SUBJECT_EVENTS
from domain.workflow_events import WORKFLOW_EVENTS


def build_registry() -> EventRegistry:
    return EventRegistry((*CONVERSATION_EVENTS, *WORKFLOW_EVENTS, *CREDENTIAL_EVENTS, *SUBJECT_EVENTS))


REGISTRY = build_registry()
