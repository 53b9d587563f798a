"""What a process manager records is as sensitive as what it read: the orchestrator's summary, tasks and
replies (its turn and the context sent with it), the deployer's failures and replies (the draft)."""

from __future__ import annotations

import msgspec

from domain.conversation_events import AgentDelegated, AssistantReplied, IntentClassified, UserMessageReceived
from domain.conversation_process import ConversationProcess, Decision, Turn
from domain.envelope import Envelope
from domain.n8n.catalog import default_catalog
from domain.sealed_fields import sealed_paths
from domain.types import AgentRole, Sensitivity
from domain.workflow import Deploying
from handlers.managers import deployer, orchestrator
from handlers.managers.steps import ManagerDeps
from inference.schemas import AgentTask, OrchestratorPlan, PlannedIntent
from tests.support.events import NOW

RIP = "00799999002345678165"


def turn(message_id: str, sensitivity: Sensitivity) -> Turn:
    return Turn(message_id=message_id, text="…", sensitivity=sensitivity, received_at=NOW)


def cause_of(data: UserMessageReceived) -> Envelope:
    return Envelope(
        specversion="1.0",
        id="ev-message",
        source="aiwf://tests",
        type=data.event_type,
        time=NOW,
        datacontenttype="application/json",
        tenant="acme",
        stream="conversation-c1",
        version=3,
        prevhash="0" * 64,
        data=data,
    )


def decided(plan: OrchestratorPlan) -> Decision:
    output = msgspec.json.encode(plan).decode()
    return Decision(inference_id="i1", purpose=AgentRole.ORCHESTRATOR, outcome="ok", output=output, at=NOW)


def test_a_public_message_after_a_sensitive_one_is_read_with_it_and_is_as_sensitive() -> None:
    state = ConversationProcess(turns=(turn("m1", Sensitivity.SENSITIVE), turn("m2", Sensitivity.PUBLIC)))

    assert orchestrator.read_from(state, state.turns[1]) == Sensitivity.SENSITIVE
    assert orchestrator.read_from(state, state.turns[0]) == Sensitivity.SENSITIVE
    assert orchestrator.read_from(ConversationProcess(turns=state.turns[1:]), state.turns[1]) == "public"


def test_the_orchestrator_s_summary_tasks_and_reply_carry_what_it_read_and_are_sealed() -> None:
    message = UserMessageReceived(
        message_id="m1", text="…", sensitivity=Sensitivity.SENSITIVE, received_at=NOW
    )
    plan = OrchestratorPlan(
        intents=(PlannedIntent(name="payments", confidence=90, agents=("finance",)),),
        summary=f"payments from RIP {RIP}",
        tasks=(AgentTask(agent="finance", task=f"list the payments from RIP {RIP}"),),
    )
    question = OrchestratorPlan(
        intents=(), summary="…", tasks=(), reply=f"RIP {RIP}: which channel?", question=True
    )
    current = turn("m1", Sensitivity.SENSITIVE)

    planned = orchestrator._consequences(cause_of(message), current, decided(plan), Sensitivity.SENSITIVE)
    asked = orchestrator._consequences(cause_of(message), current, decided(question), Sensitivity.SENSITIVE)

    data = [e.data for e in (*planned, *asked)]
    assert {type(d) for d in data} == {IntentClassified, AgentDelegated, AssistantReplied}
    assert all(d.sensitivity == Sensitivity.SENSITIVE for d in data)  # type: ignore[attr-defined]
    assert all(sealed_paths(d) for d in data)


def test_a_failed_deployment_and_its_reply_are_as_sensitive_as_the_draft_deployed() -> None:
    state = Deploying(
        workflow_id="w1",
        conversation_id="c1",
        revision=1,
        definition="{}",
        sensitivity=Sensitivity.SENSITIVE,
        deployment_id="dep1",
        attempt=1,
        target="http://n8n",
    )
    deps = ManagerDeps(store=None, gateway=None, catalog=default_catalog(), clock=lambda: NOW)  # type: ignore[arg-type]

    failed = deployer._failed(state, deps, status=400, message=f"bad value {RIP}", retryable=False)

    assert failed.sensitivity == Sensitivity.SENSITIVE
    assert sealed_paths(failed) == ("message",)


def test_a_shredded_definition_is_no_document_to_deploy() -> None:
    assert deployer._document("[shredded]") is None
    assert deployer._document('{"name": "w", "nodes": []}') == {"name": "w", "nodes": []}
