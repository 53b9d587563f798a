"""The orchestrator, on `UserMessageReceived`: one gateway call (role orchestrator), then either
`IntentClassified` and one `AgentDelegated` per specialist, or a reply with no agent (small talk, a
question about the platform, a missing detail, a refusal, a failure).

The user's earlier turns and the assistant's replies go with the message, so an answer to a question
("Sur quel canal ?" / "Slack") continues the request it answers. What it records (the summary, each
task, a reply) is as sensitive as what it read: the model may restate any of it.
"""

from __future__ import annotations

from domain.conversation_events import AgentDelegated, Intent, IntentClassified
from domain.conversation_process import ConversationProcess, Decision, Turn
from domain.envelope import Envelope, NewEvent
from domain.types import AgentRole, Sensitivity
from handlers.managers import replies
from handlers.managers.steps import (
    ManagerDeps,
    ReplyKind,
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
from inference.schemas import OrchestratorPlan

STEP = "orchestrator"
CONTEXT_TURNS = 4  # earlier turns sent with a message


def handles(envelope: Envelope) -> bool:
    return envelope.type == "aiwf.conversation.user_message_received.v1"


async def on_user_message(deps: ManagerDeps, cause: Envelope) -> None:
    message_id = getattr(cause.data, "message_id", "")
    state = (await load_process(deps, cause.stream)).state
    turn = state.turn(message_id)
    if turn is None or turn.classified or turn.reply is not None or state.closed:
        return  # done already (or too old to matter)
    decision = await decide_with_retry(
        deps, cause, state, lambda attempt: _call(deps, cause, state, turn, attempt)
    )
    derived = read_from(state, turn)
    await append(deps, cause.tenant, cause.stream, _consequences(cause, turn, decision, derived))


def read_from(state: ConversationProcess, turn: Turn) -> Sensitivity:
    """The class of what the orchestrator reads for a turn: that turn and the context sent with it."""
    context = state.earlier_turns(turn.message_id)[-CONTEXT_TURNS:]
    return max((t.sensitivity for t in (*context, turn)), key=lambda s: s.rank, default=Sensitivity.PUBLIC)


def _call(
    deps: ManagerDeps, cause: Envelope, state: ConversationProcess, turn: Turn, attempt: str
) -> GatewayCall:
    context = state.earlier_turns(turn.message_id)[-CONTEXT_TURNS:]
    messages: list[ChatMessage] = []
    for earlier in context:
        messages.append(ChatMessage(role="user", content=earlier.text))
        if earlier.reply:
            messages.append(ChatMessage(role="assistant", content=earlier.reply))
    messages.append(ChatMessage(role="user", content=turn.text))
    return GatewayCall(
        inference_id=step_id(cause, STEP, "inference", attempt),
        purpose=AgentRole.ORCHESTRATOR,
        messages=tuple(messages),
        max_tokens=MAX_TOKENS[AgentRole.ORCHESTRATOR],
        deadline_s=DEADLINE_S,
        derived_from=read_from(state, turn),
        now=deps.clock(),
    )


def _consequences(cause: Envelope, turn: Turn, decision: Decision, derived: Sensitivity) -> list[NewEvent]:
    plan = decoded(decision, OrchestratorPlan)
    if plan is None:
        return [_reply(cause, turn, decision, None, derived)]
    classified = IntentClassified(
        message_id=turn.message_id,
        intents=tuple(
            Intent(name=i.name, confidence=i.confidence, agents=tuple(AgentRole(a) for a in i.agents))
            for i in plan.intents
        ),
        summary=plan.summary,
        inference_id=decision.inference_id,
        language=plan.language,
        sensitivity=derived,
        classified_at=decision.at,
    )
    events = [new_event(cause, step_id(cause, STEP, "classified"), classified, decision.at)]
    if not plan.tasks:
        return [*events, _reply(cause, turn, decision, plan, derived)]
    for task in plan.tasks:
        delegated = AgentDelegated(
            delegation_id=step_id(cause, STEP, "delegation", task.agent),
            agent=AgentRole(task.agent),
            task=task.task,
            message_id=turn.message_id,
            sensitivity=derived,
            delegated_at=decision.at,
        )
        events.append(new_event(cause, step_id(cause, STEP, "delegated", task.agent), delegated, decision.at))
    return events


def _reply(
    cause: Envelope, turn: Turn, decision: Decision, plan: OrchestratorPlan | None, derived: Sensitivity
) -> NewEvent:
    said: tuple[str, ReplyKind]
    if plan is None:
        said = unanswered(None, decision, "the request could not be understood")
    elif plan.reply.strip():
        said = plan.reply.strip(), "question" if plan.question else "answer"
    else:
        said = replies.help_reply(plan.language), "answer"
    return reply_event(
        cause,
        lambda part: step_id(cause, STEP, part),
        turn.message_id,
        said,
        decision.at,
        sensitivity=derived,
    )
