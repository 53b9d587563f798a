"""`make demo`: the main job once, end to end. It grows with the platform; today it proves the
store: a conversation and a workflow are appended, read back, and the whole log is audited."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from domain.conversation_events import (
    AgentDelegated,
    ConversationStarted,
    Intent,
    IntentClassified,
    UserMessageReceived,
)
from domain.envelope import DomainEvent, EventOrigin, NewEvent
from domain.ids import uuid7
from domain.types import AgentRole, Sensitivity
from domain.workflow_events import WorkflowDrafted
from infra.audit import verify_store
from infra.runtime import Infrastructure

DEMO_TEXT = (
    "Chaque matin, envoie-moi le total des commandes Shopify d'hier sur Slack, "
    "et préviens le livreur Yalidine pour les commandes payées"
)


def _conversation_events(conversation_id: str, now: datetime) -> list[DomainEvent]:
    message_id = uuid7()
    return [
        ConversationStarted(
            conversation_id=conversation_id, started_by="demo", language="fr", started_at=now
        ),
        UserMessageReceived(
            message_id=message_id, text=DEMO_TEXT, sensitivity=Sensitivity.PUBLIC, received_at=now
        ),
        IntentClassified(
            message_id=message_id,
            intents=(Intent(name="daily_sales_report", confidence=90, agents=(AgentRole.SALES,)),),
            summary="daily Shopify sales total to Slack; notify Yalidine for paid orders",
            classified_at=now,
        ),
        AgentDelegated(
            delegation_id=uuid7(),
            agent=AgentRole.SALES,
            task="total of yesterday's Shopify orders",
            message_id=message_id,
            delegated_at=now,
        ),
    ]


def _workflow_draft(workflow_id: str, conversation_id: str, now: datetime) -> WorkflowDrafted:
    definition = '{"name":"Daily sales","nodes":[],"connections":{},"settings":{"executionOrder":"v1"}}'
    return WorkflowDrafted(
        workflow_id=workflow_id,
        conversation_id=conversation_id,
        revision=1,
        name="Daily sales",
        definition=definition,
        definition_sha256=hashlib.sha256(definition.encode()).hexdigest(),
        drafted_at=now,
    )


async def run_demo(infra: Infrastructure, out: list[str]) -> bool:
    store, now = infra.store, datetime.now(UTC)
    origin = EventOrigin(tenant="demo", source="aiwf://demo")
    conversation_id, workflow_id = uuid7(), uuid7()
    streams: dict[str, list[DomainEvent]] = {
        f"conversation-{conversation_id}": _conversation_events(conversation_id, now),
        f"workflow-{workflow_id}": [_workflow_draft(workflow_id, conversation_id, now)],
    }
    for stream, payloads in streams.items():
        events = [NewEvent(data=p, id=uuid7(), time=now, correlationid=conversation_id) for p in payloads]
        positions = await store.append(stream, events, expected_version=0, origin=origin)
        again = await store.append(stream, events, expected_version=0, origin=origin)
        read_back = await store.read_stream(stream)
        same = [e.envelope.id for e in read_back] == [e.id for e in events] and again == positions
        out.append(
            f"{stream}: appended {len(positions)}, read back {len(read_back)}, retry idempotent: {same}"
        )
        if not same:
            return False
    report = await verify_store(store, infra.redis.client)
    out.append(
        f"audit: {report.streams} streams, {report.events} events, {report.log_entries} log entries, "
        f"{len(report.problems)} problems, {len(report.foreign)} foreign entries"
    )
    return not report.problems
