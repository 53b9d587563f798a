"""The Sales Expert, the Logistics Specialist and the Finance Advisor, on `AgentDelegated`: one gateway
call with the specialist's own prompt template, then `AgentFindingRecorded` with structured facts.

A specialist sees its task and the user's message; what it finds is derived from that message, so it
is routed as sensitive as the message was (a finding that repeats no CCP number still came from one).
A refusal or a failure answers the whole turn: the user hears why, and the other specialists stop.
"""

from __future__ import annotations

from domain.conversation_events import AgentFindingRecorded, Fact
from domain.conversation_process import ConversationProcess, Decision, Delegation, Turn
from domain.envelope import Envelope, NewEvent
from domain.types import Sensitivity
from handlers.managers.steps import (
    ManagerDeps,
    append,
    decide_with_retry,
    decoded,
    load_process,
    new_event,
    reply_event,
    step_id,
    unanswered,
)
from inference.gateway import GatewayCall
from inference.operator import DEADLINE_S, MAX_TOKENS
from inference.provider import ChatMessage
from inference.schemas import AgentFindingOutput

STEP = "specialist"


def handles(envelope: Envelope) -> bool:
    return envelope.type == "aiwf.conversation.agent_delegated.v1"


async def on_delegated(deps: ManagerDeps, cause: Envelope) -> None:
    delegation_id = getattr(cause.data, "delegation_id", "")
    state = (await load_process(deps, cause.stream)).state
    turn = state.turn_of_delegation(delegation_id)
    if turn is None or turn.reply is not None or state.closed:
        return
    delegation = next(d for d in turn.delegations if d.delegation_id == delegation_id)
    if delegation.answered:
        return
    decision = await decide_with_retry(
        deps,
        cause,
        state,
        lambda attempt: _call(deps, state, turn, delegation, step_id(cause, STEP, "inference", attempt)),
    )
    finding = _consequence(cause, turn, delegation, decision, read_from(state, turn))
    await append(deps, cause.tenant, cause.stream, [finding])


def _call(
    deps: ManagerDeps, state: ConversationProcess, turn: Turn, delegation: Delegation, inference_id: str
) -> GatewayCall:
    earlier = [t.text for t in state.earlier_turns(turn.message_id)[-2:]]
    context = "".join(f"Earlier in the conversation, the user wrote:\n{text}\n\n" for text in earlier)
    content = f"{context}Your task:\n{delegation.task}\n\nThe user's message:\n{turn.text}"
    return GatewayCall(
        inference_id=inference_id,
        purpose=delegation.agent,
        messages=(ChatMessage(role="user", content=content),),
        max_tokens=MAX_TOKENS[delegation.agent],
        deadline_s=DEADLINE_S,
        derived_from=read_from(state, turn),
        now=deps.clock(),
    )


def read_from(state: ConversationProcess, turn: Turn) -> Sensitivity:
    """The class of what a specialist reads for a turn: that turn and the two before it."""
    return max(
        (t.sensitivity for t in (*state.earlier_turns(turn.message_id)[-2:], turn)), key=lambda s: s.rank
    )


def _consequence(
    cause: Envelope, turn: Turn, delegation: Delegation, decision: Decision, sensitivity: Sensitivity
) -> NewEvent:
    finding = decoded(decision, AgentFindingOutput)
    if finding is None:
        said = unanswered(turn.language, decision, f"the {delegation.agent} specialist gave no usable answer")
        return reply_event(
            cause,
            lambda part: step_id(cause, STEP, part),
            turn.message_id,
            said,
            decision.at,
            sensitivity=sensitivity,
        )
    recorded = AgentFindingRecorded(
        delegation_id=delegation.delegation_id,
        agent=delegation.agent,
        summary=finding.summary,
        facts=tuple(Fact(key=f.key, value=f.value) for f in finding.facts),
        n8n_nodes=finding.n8n_nodes,
        sensitive_fields=finding.sensitive_fields,
        inference_id=decision.inference_id,
        sensitivity=sensitivity,
        recorded_at=decision.at,
    )
    return new_event(cause, step_id(cause, STEP, "finding"), recorded, decision.at)
