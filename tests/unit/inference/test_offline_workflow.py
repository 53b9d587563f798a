"""Workflows designed offline, checked against the n8n 2.8.4 node catalogue and n8n's own rules:
known node types and typeVersions, top-level parameter names of the type, exactly one trigger,
connections keyed by node name to nodes that exist, every node reachable from the trigger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

import msgspec
import pytest

from domain.types import AgentRole
from inference.offline import answer
from inference.schemas import WorkflowDesign, decode_output
from tests.unit.inference.offline_cases import CASES, REFERENCE, UNCLEAR, Case

# The catalogue the validator ships (domain/n8n), read as plain JSON: the raw entries are what is checked.
CATALOG: dict[str, Any] = json.loads(
    files("domain.n8n").joinpath("n8n-2.8.4-node-catalog.json").read_text(encoding="utf-8")
)["nodes"]
ALL_TEXTS = [*(case.text for case in CASES), *UNCLEAR]


def _design(text: str) -> WorkflowDesign:
    design = answer(AgentRole.DESIGNER, text)
    assert isinstance(design, WorkflowDesign)
    return design


def _edges(design: WorkflowDesign) -> Iterator[tuple[str, str]]:
    for source, outputs in design.connections.items():
        for output in outputs["main"]:
            for target in output:
                yield source, target.node


def _reachable(design: WorkflowDesign, start: str) -> set[str]:
    seen, todo = {start}, [start]
    edges = list(_edges(design))
    while todo:
        current = todo.pop()
        for source, target in edges:
            if source == current and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


@pytest.mark.parametrize("text", ALL_TEXTS, ids=lambda text: text[:40])
def test_every_node_type_and_type_version_exists_in_n8n_2_8_4(text: str) -> None:
    for node in _design(text).nodes:
        assert node.type in CATALOG, node.type
        assert node.typeVersion in CATALOG[node.type]["versions"], (node.type, node.typeVersion)


@pytest.mark.parametrize("text", ALL_TEXTS, ids=lambda text: text[:40])
def test_only_the_top_level_parameters_of_each_type_are_used(text: str) -> None:
    for node in _design(text).nodes:
        assert set(node.parameters) <= set(CATALOG[node.type]["parameters"]), node.type


@pytest.mark.parametrize("text", ALL_TEXTS, ids=lambda text: text[:40])
def test_there_is_exactly_one_trigger_and_it_reaches_every_node(text: str) -> None:
    design = _design(text)
    triggers = [node for node in design.nodes if CATALOG[node.type]["trigger"]]

    assert len(triggers) == 1
    assert _reachable(design, triggers[0].name) == {node.name for node in design.nodes}


@pytest.mark.parametrize("text", ALL_TEXTS, ids=lambda text: text[:40])
def test_connections_are_keyed_by_name_and_point_at_existing_nodes(text: str) -> None:
    design = _design(text)
    names = [node.name for node in design.nodes]

    assert len(names) == len(set(names))
    assert len({node.id for node in design.nodes}) == len(names)
    for source, target in _edges(design):
        assert source in names
        assert target in names
    for outputs in design.connections.values():
        assert all(t.type == "main" and t.index == 0 for output in outputs["main"] for t in output)


@pytest.mark.parametrize("text", ALL_TEXTS, ids=lambda text: text[:40])
def test_the_json_is_what_the_n8n_public_api_accepts(text: str) -> None:
    document = msgspec.json.encode(_design(text))
    raw = json.loads(document)

    assert set(raw) == {"name", "nodes", "connections", "settings"}
    assert raw["settings"] == {"executionOrder": "v1", "timezone": "Africa/Algiers"}
    assert all(set(node) <= {"id", "name", "type", "typeVersion", "position", "parameters", "webhookId"}
               for node in raw["nodes"])  # fmt: skip
    assert decode_output(AgentRole.DESIGNER, document) == _design(text)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.text[:40])
def test_the_workflow_is_what_a_person_would_expect(case: Case) -> None:
    design = _design(case.text)
    types = {node.type for node in design.nodes}
    trigger = design.nodes[0]

    assert trigger.type == case.trigger
    if case.cron is not None:
        assert trigger.parameters["rule"]["interval"] == [
            {"field": "cronExpression", "expression": case.cron}
        ]
    assert case.nodes <= types, sorted(case.nodes - types)
    assert not case.absent & types, sorted(case.absent & types)


def test_the_reference_sentence_becomes_the_expected_workflow() -> None:
    design = _design(REFERENCE)
    nodes = {node.name: node for node in design.nodes}
    edges = set(_edges(design))

    assert edges == {
        ("Every Day at 08:00", "Get Shopify Orders"),
        ("Get Shopify Orders", "Sum Order Totals"),
        ("Sum Order Totals", "Post to Slack"),
        ("Get Shopify Orders", "Paid Orders Only"),
        ("Paid Orders Only", "Create Yalidine Parcel"),
    }
    options = nodes["Get Shopify Orders"].parameters["options"]
    assert options["createdAtMin"] == "={{ $today.minus({ days: 1 }).toISO() }}"
    assert options["createdAtMax"] == "={{ $today.toISO() }}"
    assert "sum_total_price" in nodes["Post to Slack"].parameters["text"]
    assert "d'hier" in nodes["Post to Slack"].parameters["text"]  # in the user's language
    assert "financial_status === 'paid'" in json.dumps(nodes["Paid Orders Only"].parameters)
    parcel = nodes["Create Yalidine Parcel"].parameters
    assert (parcel["method"], parcel["url"]) == ("POST", "https://api.yalidine.app/v1/parcels/")
    assert design.name == "Rapport des ventes Shopify + Colis Yalidine"


def test_a_webhook_trigger_has_a_path_and_a_webhook_id() -> None:
    design = _design("Send me every invoice paid by CCP to a Google Sheet")
    webhook = design.nodes[0]

    assert webhook.type == "n8n-nodes-base.webhook"
    assert webhook.parameters["path"]
    assert webhook.parameters["httpMethod"] == "POST"
    assert webhook.webhookId is not None
    assert len(webhook.webhookId) == 36


def test_no_value_of_the_conversation_is_copied_into_recipients() -> None:
    design = _design(
        "Chaque matin, le total des commandes d'hier par mail à karim@example.dz et sur WhatsApp"
    )
    document = msgspec.json.encode(design).decode()

    assert "karim@example.dz" not in document
    assert "SET_RECIPIENT_ADDRESS" in document
    assert "SET_RECIPIENT_NUMBER" in document


def test_nodes_are_laid_out_left_to_right_one_branch_per_row() -> None:
    positions = {node.name: node.position for node in _design(REFERENCE).nodes}

    assert positions["Every Day at 08:00"] == (0, 300)
    assert positions["Sum Order Totals"][1] == positions["Post to Slack"][1]
    assert positions["Paid Orders Only"][1] == positions["Create Yalidine Parcel"][1]
    assert positions["Paid Orders Only"][1] != positions["Sum Order Totals"][1]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.text[:40])
def test_the_specialists_recommend_only_catalogue_nodes(case: Case) -> None:
    for role in (AgentRole.SALES, AgentRole.LOGISTICS, AgentRole.FINANCE):
        finding = answer(role, case.text)
        assert all(node in CATALOG for node in getattr(finding, "n8n_nodes", ())), role
