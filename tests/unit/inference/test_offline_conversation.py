"""A whole conversation on the embedded default: plan, one finding per task, then the design with
the findings passed as extra texts, all through the gateway. Reading the findings back must not
change what the request alone asks for."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from domain.conversation_events import InferenceDecided
from domain.types import AgentRole
from inference.config import build_gateway, gateway_config_from_env
from inference.gateway import Gateway, GatewayCall
from inference.offline import answer
from inference.provider import ChatMessage
from inference.schemas import OrchestratorPlan, WorkflowDesign
from tests.unit.inference.offline_cases import CASES, Case

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _call(role: AgentRole, text: str, extra: tuple[str, ...] = ()) -> GatewayCall:
    return GatewayCall(
        inference_id=f"inf-{role}",
        purpose=role,
        messages=(ChatMessage(role="user", content=text),),
        extra_texts=extra,
        now=NOW,
    )


async def _output(gateway: Gateway, call: GatewayCall) -> str:
    event = (await gateway.infer(call)).event
    assert isinstance(event, InferenceDecided)
    assert (event.provider, event.outcome) == ("offline", "ok")
    return event.output


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.text[:40])
async def test_the_designed_workflow_matches_the_request_after_the_whole_conversation(case: Case) -> None:
    gateway = build_gateway(gateway_config_from_env({}))

    plan = msgspec.json.decode(
        await _output(gateway, _call(AgentRole.ORCHESTRATOR, case.text)), type=OrchestratorPlan
    )
    findings = [await _output(gateway, _call(AgentRole(task.agent), task.task)) for task in plan.tasks]
    design = msgspec.json.decode(
        await _output(gateway, _call(AgentRole.DESIGNER, case.text, tuple(findings))), type=WorkflowDesign
    )

    alone = answer(AgentRole.DESIGNER, case.text)
    assert isinstance(alone, WorkflowDesign)
    assert [(node.name, node.type) for node in design.nodes] == [
        (node.name, node.type) for node in alone.nodes
    ]
    assert design.connections == alone.connections
