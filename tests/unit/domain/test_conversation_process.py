"""Given a conversation's events, what the process managers know: turns, delegations, decisions."""

from __future__ import annotations

import msgspec

from domain import conversation_process
from domain.conversation_events import (
    AgentDelegated,
    AgentFindingRecorded,
    AssistantReplied,
    ConversationClosed,
    InferenceDecided,
    InferenceRefused,
    IntentClassified,
)
from domain.conversation_process import KEPT_DECISIONS, KEPT_TURNS
from domain.types import AgentRole, Sensitivity
from tests.support.events import NOW, message, started


def said(message_id: str, text: str = "salam") -> object:
    return msgspec.structs.replace(message(text), message_id=message_id)


def delegated(delegation_id: str, message_id: str, agent: AgentRole = AgentRole.SALES) -> AgentDelegated:
    return AgentDelegated(
        delegation_id=delegation_id, agent=agent, task="t", message_id=message_id, delegated_at=NOW
    )


def decided(inference_id: str) -> InferenceDecided:
    return InferenceDecided(
        inference_id=inference_id,
        purpose=AgentRole.SALES,
        provider="offline",
        model="m",
        route_reason="r",
        sensitivity=Sensitivity.PUBLIC,
        template_id="t",
        template_version=1,
        template_sha256="a" * 64,
        output='{"x": 1}',
        decided_at=NOW,
    )


def test_a_turn_is_answered_once_every_delegation_has_its_finding_and_done_once_replied() -> None:
    events = [
        started(),
        said("m1"),
        IntentClassified(message_id="m1", intents=(), summary="s", language="fr", classified_at=NOW),
        delegated("d1", "m1"),
        delegated("d2", "m1", AgentRole.LOGISTICS),
        AgentFindingRecorded(delegation_id="d1", agent=AgentRole.SALES, summary="found", recorded_at=NOW),
    ]
    waiting = conversation_process.fold(events)
    finding = AgentFindingRecorded(
        delegation_id="d2", agent=AgentRole.LOGISTICS, summary="f2", recorded_at=NOW
    )
    answered = conversation_process.fold([finding], waiting)
    reply = AssistantReplied(
        message_id="r1", text="ok", in_reply_to="m1", workflow_id="w1", kind="workflow", replied_at=NOW
    )
    replied = conversation_process.fold([reply], answered)

    turn = waiting.turn("m1")
    assert turn is not None
    assert (turn.classified, turn.language, turn.answered) == (True, "fr", False)
    assert answered.turn_of_delegation("d2") is not None
    assert answered.turn("m1").answered  # type: ignore[union-attr]
    assert (replied.turn("m1").reply, replied.workflow_id) == ("ok", "w1")  # type: ignore[union-attr]


def test_decisions_are_found_by_id_and_a_refusal_is_one_too() -> None:
    refused = InferenceRefused(
        inference_id="i2",
        purpose=AgentRole.SALES,
        sensitivity=Sensitivity.SENSITIVE,
        reason="no local",
        refused_at=NOW,
    )
    state = conversation_process.fold([started(), said("m1"), decided("i1"), refused])

    assert state.decision("i1").output == '{"x": 1}'  # type: ignore[union-attr]
    assert state.decision("i2").outcome == "refused"  # type: ignore[union-attr]
    assert state.decision("i3") is None


def test_the_state_stays_bounded_however_long_the_conversation() -> None:
    events = [started()]
    for n in range(3 * KEPT_TURNS):
        events += [said(f"m{n}", f"message {n}"), decided(f"i{n}-a"), decided(f"i{n}-b")]
    state = conversation_process.fold(events)

    assert [t.message_id for t in state.turns] == [f"m{n}" for n in range(2 * KEPT_TURNS, 3 * KEPT_TURNS)]
    assert len(state.decisions) == KEPT_DECISIONS
    assert [t.text for t in state.earlier_turns("m18")] == [f"message {n}" for n in range(16, 18)]


def test_a_closed_conversation_is_known_closed() -> None:
    assert conversation_process.fold([started(), ConversationClosed(closed_at=NOW)]).closed


def test_a_turn_names_the_model_decisions_behind_its_intents_and_findings_in_that_order() -> None:
    events = [
        started(),
        said("m1"),
        IntentClassified(message_id="m1", intents=(), summary="s", inference_id="i-plan", classified_at=NOW),
        delegated("d1", "m1"),
        delegated("d2", "m1", AgentRole.LOGISTICS),
        AgentFindingRecorded(
            delegation_id="d2", agent=AgentRole.LOGISTICS, summary="f", inference_id="i-d2", recorded_at=NOW
        ),
    ]
    pending = conversation_process.fold(events)
    done = conversation_process.fold(
        [
            AgentFindingRecorded(
                delegation_id="d1", agent=AgentRole.SALES, summary="f", inference_id="i-d1", recorded_at=NOW
            )
        ],
        pending,
    )

    assert pending.turn("m1").inference_ids == ("i-plan", "i-d2")  # type: ignore[union-attr]
    assert done.turn("m1").inference_ids == ("i-plan", "i-d1", "i-d2")  # type: ignore[union-attr]
