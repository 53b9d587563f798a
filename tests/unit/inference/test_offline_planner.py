"""The offline planner: what it understands of requests in four languages, and what it answers."""

from __future__ import annotations

import msgspec
import pytest

from domain.types import AgentRole
from inference.offline import MODEL, OfflineProvider, answer, count_tokens
from inference.offline_lexicon import detect_language, normalise, read_request
from inference.provider import ChatMessage, InferenceRequest, ProviderRequestRejected
from inference.schemas import (
    AgentFindingOutput,
    OrchestratorPlan,
    WorkflowDesign,
    decode_output,
    output_name,
    output_type,
    schema_for,
)
from tests.unit.inference.offline_cases import CASES, REFERENCE, UNCLEAR, Case


def _plan(text: str) -> OrchestratorPlan:
    plan = answer(AgentRole.ORCHESTRATOR, text)
    assert isinstance(plan, OrchestratorPlan)
    return plan


def _finding(role: AgentRole, text: str) -> AgentFindingOutput:
    finding = answer(role, text)
    assert isinstance(finding, AgentFindingOutput)
    return finding


def _facts(finding: AgentFindingOutput) -> dict[str, str]:
    return {fact.key: fact.value for fact in finding.facts}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.text[:40])
def test_the_plan_involves_the_agents_and_intents_a_person_would_expect(case: Case) -> None:
    plan = _plan(case.text)

    assert {task.agent for task in plan.tasks} == case.agents
    assert case.intents <= {intent.name for intent in plan.intents}
    assert all(0 <= intent.confidence <= 100 for intent in plan.intents)
    assert {agent for intent in plan.intents for agent in intent.agents} == case.agents


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.text[:40])
def test_the_language_is_recognised(case: Case) -> None:
    assert detect_language(normalise(case.text)) == case.language


def test_the_reference_sentence_is_planned_as_a_daily_report_and_a_courier_notice() -> None:
    plan = _plan(REFERENCE)
    tasks = {task.agent: task.task for task in plan.tasks}

    assert "08:00" in plan.summary
    assert "Slack" in plan.summary
    assert "Yalidine" in plan.summary
    assert "Shopify orders of yesterday" in tasks["sales"]
    assert "total" in tasks["sales"]
    assert "Yalidine" in tasks["logistics"]
    assert "paid orders" in tasks["logistics"]


def test_the_reference_findings_carry_the_facts_the_designer_needs() -> None:
    sales = _finding(AgentRole.SALES, REFERENCE)
    logistics = _finding(AgentRole.LOGISTICS, REFERENCE)

    assert _facts(sales) | {"source": "Shopify", "period": "yesterday", "channel": "Slack"} == _facts(sales)
    assert _facts(sales)["cron"] == "0 8 * * * Africa/Algiers"
    assert sales.n8n_nodes == ("n8n-nodes-base.shopify", "n8n-nodes-base.summarize")
    assert _facts(logistics)["carrier"] == "Yalidine"
    assert _facts(logistics)["endpoint"] == "https://api.yalidine.app/v1/parcels/"
    assert _facts(logistics)["orders"] == "paid only"
    assert logistics.n8n_nodes == ("n8n-nodes-base.filter", "n8n-nodes-base.httpRequest")


def test_a_finance_finding_names_the_payment_methods_and_the_currency() -> None:
    finding = _finding(AgentRole.FINANCE, "Chaque soir, le total des paiements CCP et BaridiMob sur Telegram")

    assert _facts(finding)["payment_methods"] == "CCP, BaridiMob"
    assert _facts(finding)["currency"] == "DZD"
    assert "n8n-nodes-base.telegram" in finding.n8n_nodes


def test_what_was_not_said_is_assumed_and_written_down() -> None:
    sales = _finding(AgentRole.SALES, "Envoie-moi le total des commandes chaque matin")
    logistics = _finding(AgentRole.LOGISTICS, "Préviens le livreur pour chaque nouvelle commande")

    assert "Shopify assumed" in _facts(sales)["assumption"]
    assert "Yalidine assumed" in _facts(logistics)["assumption"]


@pytest.mark.parametrize("text", UNCLEAR)
def test_a_request_with_nothing_to_automate_asks_for_clarification(text: str) -> None:
    plan = _plan(text)

    assert [intent.name for intent in plan.intents] == ["clarification_needed"]
    assert plan.tasks == ()
    assert plan.intents[0].confidence < 50


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("chaque jour à 18h30", "30 18 * * *"),
        ("every day at 7pm", "0 19 * * *"),
        ("tous les jours à 06:45", "45 6 * * *"),
        ("kol nhar 3la 9h", "0 9 * * *"),
        ("كل يوم على الساعة ٧", "0 7 * * *"),
        ("chaque heure", "0 * * * *"),
        ("every month", "0 8 1 * *"),
    ],
)
def test_schedules_and_times_of_day_become_cron_expressions(text: str, cron: str) -> None:
    schedule = read_request(text).schedule

    assert schedule is not None
    assert schedule.cron() == cron


def test_a_duration_is_not_read_as_a_time_of_day() -> None:
    assert read_request("livraison en 48h partout en Algérie").schedule is None


def test_arabic_words_match_with_their_glued_prefixes_but_not_inside_other_words() -> None:
    assert read_request("وبالطلبات").hits("sales") == 1
    assert read_request("الخامس").period is None  # contains امس (yesterday) inside another word
    assert read_request("أمس").period == "yesterday"


def test_the_answers_are_deterministic() -> None:
    first = msgspec.json.encode(answer(AgentRole.DESIGNER, REFERENCE))

    assert msgspec.json.encode(answer(AgentRole.DESIGNER, REFERENCE)) == first


def _request(role: AgentRole, *texts: str) -> InferenceRequest:
    return InferenceRequest(
        purpose=str(role),
        system="You are the planner.",
        messages=tuple(ChatMessage(role="user", content=text) for text in texts),
        output_name=output_name(role),
        output_schema=msgspec.Raw(schema_for(role)),
    )


@pytest.mark.parametrize("role", list(AgentRole))
async def test_the_provider_answers_every_role_with_its_schema(role: AgentRole) -> None:
    result = await OfflineProvider().complete(_request(role, REFERENCE))

    assert type(decode_output(role, bytes(result.output))) is output_type(role)
    assert (result.provider, result.model, result.cost_micro_usd, result.attempts) == ("offline", MODEL, 0, 1)
    assert result.usage.input_tokens == count_tokens("You are the planner.") + count_tokens(REFERENCE)
    assert result.usage.output_tokens == count_tokens(bytes(result.output).decode()) > 0


async def test_the_provider_reads_the_findings_passed_with_the_request() -> None:
    findings = msgspec.json.encode(_finding(AgentRole.LOGISTICS, REFERENCE)).decode()
    request = _request(
        AgentRole.DESIGNER, "Chaque matin, le total des commandes Shopify d'hier sur Slack", findings
    )

    design = decode_output(AgentRole.DESIGNER, bytes((await OfflineProvider().complete(request)).output))

    assert isinstance(design, WorkflowDesign)
    assert "https://api.yalidine.app/v1/parcels/" in {node.parameters.get("url") for node in design.nodes}


async def test_the_provider_refuses_a_purpose_it_has_no_planner_for() -> None:
    request = msgspec.structs.replace(_request(AgentRole.SALES, "x"), purpose="poet")

    with pytest.raises(ProviderRequestRejected, match="poet"):
        await OfflineProvider().complete(request)


async def test_the_provider_is_always_healthy() -> None:
    assert await OfflineProvider().healthy()
