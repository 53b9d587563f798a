"""Given events, when folded, then rows: the read models' pure functions."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from domain.conversation_events import (
    AgentDelegated,
    AgentFindingRecorded,
    AssistantReplied,
    ConversationClosed,
    InferenceDecided,
    InferenceRefused,
)
from domain.envelope import DomainEvent
from domain.types import AgentRole, Sensitivity
from projections.agent_state import evolve_agent_state
from projections.archive import archive_rows
from projections.conversations import evolve_conversation, message_rows
from projections.events import ProjectedEvent, log_position
from tests.support.events import NOW, message, started
from tests.unit.domain.test_registry import envelope_of


def projected(*payloads: DomainEvent, stream: str = "conversation-c1") -> list[ProjectedEvent]:
    out = []
    for version, data in enumerate(payloads, start=1):
        envelope = msgspec.structs.replace(envelope_of(data), version=version, stream=stream)
        out.append(ProjectedEvent(partition=0, log_id=f"100-{version}", raw=b"{}", envelope=envelope))
    return out


def fold(evolve, events):  # type: ignore[no-untyped-def]
    row = None
    for event in events:
        row = evolve(row, event)
    return row


def test_a_started_conversation_with_messages_counts_them() -> None:
    events = projected(started("c1"), message("a"), message("b"))

    row = fold(evolve_conversation, events)

    assert (row.conversation_id, row.status, row.message_count, row.last_version) == ("c1", "open", 2, 3)
    assert row.last_position == "100-3"


def test_a_closed_conversation_says_when() -> None:
    closed_at = NOW + timedelta(hours=1)

    row = fold(
        evolve_conversation, projected(started(), ConversationClosed(reason="done", closed_at=closed_at))
    )

    assert (row.status, row.closed_at) == ("closed", closed_at)


def test_events_before_a_start_make_no_row() -> None:
    assert fold(evolve_conversation, projected(message("early"))) is None


def test_user_and_assistant_messages_become_rows() -> None:
    reply = AssistantReplied(message_id="m2", text="voilà", replied_at=NOW)
    rows = [row for event in projected(message("salam"), reply) for row in message_rows(event)]

    assert [(r.role, r.text, r.version) for r in rows] == [("user", "salam", 1), ("assistant", "voilà", 2)]


def test_agent_state_tracks_delegations_findings_and_inference_costs() -> None:
    delegated = AgentDelegated(
        delegation_id="d1", agent=AgentRole.SALES, task="orders", message_id="m1", delegated_at=NOW
    )
    found = AgentFindingRecorded(
        delegation_id="d1", agent=AgentRole.SALES, summary="12 orders", recorded_at=NOW
    )
    decided = InferenceDecided(
        inference_id="i1",
        purpose=AgentRole.SALES,
        provider="offline",
        model="offline-planner-1",
        route_reason="no cloud configured",
        sensitivity=Sensitivity.PUBLIC,
        template_id="sales",
        template_version=1,
        template_sha256="a" * 64,
        input_tokens=100,
        output_tokens=20,
        cost_micro_usd=7,
        decided_at=NOW,
    )
    refused = InferenceRefused(
        inference_id="i2",
        purpose=AgentRole.FINANCE,
        sensitivity=Sensitivity.SENSITIVE,
        reason="local down",
        refused_at=NOW,
    )

    doc = fold(evolve_agent_state, projected(started(), delegated, decided, found, refused))

    assert [(d.delegation_id, d.status) for d in doc.delegations] == [("d1", "answered")]
    assert [d.finding.summary for d in doc.delegations if d.finding] == ["12 orders"]
    assert (doc.inference.calls, doc.inference.refused, doc.inference.cost_micro_usd) == (1, 1, 7)
    assert doc.inference.models == ("offline/offline-planner-1",)
    assert [(r.inference_id, r.outcome, r.provider, r.local) for r in doc.decisions] == [
        ("i1", "ok", "offline", True),
        ("i2", "refused", None, None),
    ]
    assert doc.decisions[1].route_reason == "local down"


def test_agent_state_keeps_the_workflows_produced_and_the_question_awaiting_an_answer() -> None:
    question = AssistantReplied(
        message_id="r1", text="Sur quel canal ?", in_reply_to="m1", kind="question", replied_at=NOW
    )
    answer = message("Slack")
    ready = AssistantReplied(
        message_id="r2",
        text="voilà",
        in_reply_to="m2",
        workflow_id="w1",
        workflow_revision=1,
        kind="workflow",
        replied_at=NOW,
    )

    asked = fold(evolve_agent_state, projected(started(), message("envoie le total"), question))
    done = fold(evolve_agent_state, projected(started(), message("envoie le total"), question, answer, ready))

    assert asked.open_question == "Sur quel canal ?"
    assert done.open_question is None
    assert [(w.workflow_id, w.revision, w.message_id) for w in done.workflows] == [("w1", 1, "m2")]


def test_the_archive_keeps_the_exact_bytes() -> None:
    [event] = projected(message())
    event = ProjectedEvent(partition=3, log_id="5-0", raw=b'{"exact":"bytes"}', envelope=event.envelope)

    [row] = archive_rows(event)

    assert (row.event, row.partition, row.log_id, row.version) == ('{"exact":"bytes"}', 3, "5-0", 1)


def test_log_positions_order_numerically_not_as_text() -> None:
    assert log_position("9-0") < log_position("10-0")
    assert log_position("10-2") < log_position("10-10")
