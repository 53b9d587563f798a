"""What the process managers know of a conversation: a pure fold of its stream, never a table.

The orchestrator, the specialists and the designer each load this state before they act, and act only
on what it says is still to do: a turn not yet classified, a delegation not yet answered, a turn whose
delegations are all answered but that has no reply. Model decisions are kept by id so that a step
redone after a crash reuses the answer it already paid for.

Bounded by design: the last `KEPT_TURNS` turns and `KEPT_DECISIONS` decisions, so a snapshot of a long
conversation stays small (commands/snapshots.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

import msgspec

from domain.conversation_events import (
    AgentDelegated,
    AgentFindingRecorded,
    AssistantReplied,
    ConversationClosed,
    ConversationStarted,
    Fact,
    InferenceDecided,
    InferenceRefused,
    IntentClassified,
    UserMessageReceived,
)
from domain.envelope import DomainEvent
from domain.types import AgentRole, Sensitivity

KEPT_TURNS = 8
KEPT_DECISIONS = 32


class Delegation(msgspec.Struct, frozen=True, kw_only=True):
    delegation_id: str
    agent: AgentRole
    task: str
    answered: bool = False
    summary: str = ""
    facts: tuple[Fact, ...] = ()
    n8n_nodes: tuple[str, ...] = ()
    inference_id: str | None = None  # the model decision its finding came from


class Turn(msgspec.Struct, frozen=True, kw_only=True):
    """One user message and what the agents did about it."""

    message_id: str
    text: str
    sensitivity: Sensitivity
    received_at: datetime
    classified: bool = False
    classified_by: str | None = None  # the model decision that read its intents
    language: str | None = None
    delegations: tuple[Delegation, ...] = ()
    reply: str | None = None  # the assistant's answer, once given
    reply_kind: str = ""
    workflow_id: str | None = None

    @property
    def answered(self) -> bool:
        """Every delegation has its finding: the designer's turn."""
        return bool(self.delegations) and all(d.answered for d in self.delegations)

    @property
    def inference_ids(self) -> tuple[str, ...]:
        """The model decisions behind what the turn knows: its classification, then its findings."""
        found = (self.classified_by, *(d.inference_id for d in self.delegations if d.answered))
        return tuple(i for i in found if i)


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """A model call as recorded: its answer (ok) or why there is none."""

    inference_id: str
    purpose: AgentRole
    outcome: Literal["ok", "invalid_output", "error", "refused"]
    output: str = ""
    reason: str = ""
    at: datetime


class ConversationProcess(msgspec.Struct, frozen=True, kw_only=True, tag="conversation_process"):
    conversation_id: str = ""
    closed: bool = False
    turns: tuple[Turn, ...] = ()
    decisions: tuple[Decision, ...] = ()
    workflow_id: str | None = None  # the conversation's workflow: later turns revise it

    def turn(self, message_id: str) -> Turn | None:
        return next((t for t in self.turns if t.message_id == message_id), None)

    def turn_of_delegation(self, delegation_id: str) -> Turn | None:
        return next(
            (t for t in self.turns if any(d.delegation_id == delegation_id for d in t.delegations)), None
        )

    def decision(self, inference_id: str) -> Decision | None:
        return next((d for d in self.decisions if d.inference_id == inference_id), None)

    def earlier_turns(self, message_id: str) -> tuple[Turn, ...]:
        """The turns before `message_id`, oldest first: the context a prompt carries."""
        out: list[Turn] = []
        for turn in self.turns:
            if turn.message_id == message_id:
                break
            out.append(turn)
        return tuple(out)


INITIAL = ConversationProcess()


def fold(events: Iterable[DomainEvent], state: ConversationProcess = INITIAL) -> ConversationProcess:
    for event in events:
        state = evolve(state, event)
    return state


def evolve(state: ConversationProcess, event: DomainEvent) -> ConversationProcess:
    match event:
        case ConversationStarted():
            return msgspec.structs.replace(state, conversation_id=event.conversation_id)
        case UserMessageReceived():
            turn = Turn(
                message_id=event.message_id,
                text=event.text,
                sensitivity=event.sensitivity,
                received_at=event.received_at,
            )
            return msgspec.structs.replace(state, turns=(*state.turns, turn)[-KEPT_TURNS:])
        case IntentClassified():
            return _on_turn(
                state,
                event.message_id,
                classified=True,
                classified_by=event.inference_id,
                language=event.language,
            )
        case AgentDelegated():
            return _delegated(state, event)
        case AgentFindingRecorded():
            return _answered(state, event)
        case InferenceDecided() | InferenceRefused():
            return _decided(state, event)
        case AssistantReplied() if event.in_reply_to is not None:
            state = _on_turn(
                state,
                event.in_reply_to,
                reply=event.text,
                reply_kind=event.kind,
                workflow_id=event.workflow_id,
            )
            if event.workflow_id is not None:
                return msgspec.structs.replace(state, workflow_id=event.workflow_id)
            return state
        case ConversationClosed():
            return msgspec.structs.replace(state, closed=True)
    return state


def _on_turn(state: ConversationProcess, message_id: str, **changes: object) -> ConversationProcess:
    turns = tuple(
        msgspec.structs.replace(t, **changes) if t.message_id == message_id else t for t in state.turns
    )
    return msgspec.structs.replace(state, turns=turns)


def _delegated(state: ConversationProcess, event: AgentDelegated) -> ConversationProcess:
    turn = state.turn(event.message_id)
    if turn is None or any(d.delegation_id == event.delegation_id for d in turn.delegations):
        return state
    delegation = Delegation(delegation_id=event.delegation_id, agent=event.agent, task=event.task)
    return _on_turn(state, event.message_id, delegations=(*turn.delegations, delegation))


def _answered(state: ConversationProcess, event: AgentFindingRecorded) -> ConversationProcess:
    turn = state.turn_of_delegation(event.delegation_id)
    if turn is None:
        return state
    delegations = tuple(
        msgspec.structs.replace(
            d,
            answered=True,
            summary=event.summary,
            facts=event.facts,
            n8n_nodes=event.n8n_nodes,
            inference_id=event.inference_id,
        )
        if d.delegation_id == event.delegation_id
        else d
        for d in turn.delegations
    )
    return _on_turn(state, turn.message_id, delegations=delegations)


def _decided(state: ConversationProcess, event: InferenceDecided | InferenceRefused) -> ConversationProcess:
    if isinstance(event, InferenceRefused):
        decision = Decision(
            inference_id=event.inference_id,
            purpose=event.purpose,
            outcome="refused",
            reason=event.reason,
            at=event.refused_at,
        )
    else:
        decision = Decision(
            inference_id=event.inference_id,
            purpose=event.purpose,
            outcome=event.outcome,
            output=event.output,
            reason=event.route_reason,
            at=event.decided_at,
        )
    return msgspec.structs.replace(state, decisions=(*state.decisions, decision)[-KEPT_DECISIONS:])
