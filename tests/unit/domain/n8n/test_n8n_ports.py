"""Outputs and inputs as n8n 2.8.4 computes them per type, version and parameters; and
n8n's own expression splitting, which the expression rules follow."""

from __future__ import annotations

from typing import Any

import pytest

from domain.n8n import default_catalog
from domain.n8n.document import Node
from domain.n8n.expressions import split_expression
from domain.n8n.ports import describe, inputs, outputs
from tests.unit.domain.n8n.builders import N8N


def _node(kind: str, version: float, parameters: dict[str, Any] | None = None, **fields: Any) -> Node:
    document = {"typeVersion": version, "parameters": parameters or {}, **fields}
    return Node(name="n", type=N8N + kind, id=None, fields=document, spec=default_catalog().get(N8N + kind))


def _rules(count: int, key: str = "values") -> dict[str, Any]:
    return {"rules": {key: [{"outputKey": ""} for _ in range(count)]}}


@pytest.mark.parametrize(
    ("kind", "version", "parameters", "expected"),
    [
        ("if", 2.2, {}, 2),
        ("filter", 2.2, {}, 1),
        ("set", 3.4, {}, 1),
        ("compareDatasets", 2.3, {}, 4),
        ("switch", 1, {}, 4),
        ("switch", 2, {}, 0),  # V2's default is no rule at all
        ("switch", 2, _rules(3, "rules"), 3),
        ("switch", 2, {"mode": "expression"}, 4),
        ("switch", 2, {"mode": "expression", "outputsAmount": 6}, 6),
        ("switch", 3.2, {}, 1),  # V3's default is one rule
        ("switch", 3.2, _rules(3), 3),
        ("switch", 3.2, {**_rules(3), "options": {"fallbackOutput": "extra"}}, 4),
        (
            "switch",
            3.2,
            {**_rules(3), "options": {"fallbackOutput": 1}},
            3,
        ),  # falls back to an existing output
        ("switch", 3.4, {"mode": "expression"}, 4),
        ("switch", 3.4, {"mode": "expression", "numberOutputs": 2}, 2),
        ("splitInBatches", 1, {}, 1),
        ("splitInBatches", 3, {}, 2),
        ("webhook", 2.1, {}, 1),
        ("webhook", 2.1, {"multipleMethods": True, "httpMethod": ["GET", "POST", "PUT"]}, 3),
        ("respondToWebhook", 1.1, {}, 1),
        ("respondToWebhook", 1.3, {}, 2),
        ("respondToWebhook", 1.4, {}, 1),
        ("respondToWebhook", 1.5, {"enableResponseOutput": True}, 2),
        ("stickyNote", 1, {}, 0),
    ],
)
def test_outputs_follow_n8n_s_description_of_the_type(
    kind: str, version: float, parameters: dict[str, Any], expected: int
) -> None:
    ports = outputs(_node(kind, version, parameters))
    assert ports is not None
    assert len(ports.labels) == expected


def test_an_error_output_comes_last_and_only_with_continue_error_output() -> None:
    regular = outputs(_node("if", 2.2, onError="continueRegularOutput"))
    with_errors = outputs(_node("if", 2.2, onError="continueErrorOutput"))
    assert regular is not None
    assert with_errors is not None
    assert regular.labels == ("true", "false")
    assert with_errors.labels == ("true", "false", "error")
    assert describe(with_errors) == "outputs 0 (true), 1 (false) and 2 (error)"


def test_split_in_batches_version_2_and_3_name_their_outputs_in_opposite_orders() -> None:
    assert (outputs(_node("splitInBatches", 2)) or _fail()).labels == ("loop", "done")
    assert (outputs(_node("splitInBatches", 3)) or _fail()).labels == ("done", "loop")


def test_a_switch_counted_by_an_expression_is_not_judged() -> None:
    assert outputs(_node("switch", 3.4, {"mode": "expression", "numberOutputs": "={{ 3 }}"})) is None
    assert outputs(_node("switch", 3.2, {"rules": "={{ [] }}"})) is None


@pytest.mark.parametrize(
    ("kind", "version", "parameters", "expected"),
    [
        ("merge", 2.1, {}, 2),
        ("merge", 3.2, {}, 2),
        ("merge", 3.2, {"numberInputs": 4}, 4),
        ("compareDatasets", 2.3, {}, 2),
        ("set", 3.4, {}, 1),
        ("scheduleTrigger", 1.2, {}, 0),
    ],
)
def test_inputs_follow_n8n_s_description_of_the_type(
    kind: str, version: float, parameters: dict[str, Any], expected: int
) -> None:
    ports = inputs(_node(kind, version, parameters))
    assert ports is not None
    assert len(ports.labels) == expected


def test_a_type_the_catalogue_does_not_know_has_no_ports_to_judge() -> None:
    unknown = Node(name="n", type="n8n-nodes-base.nothing", id=None, fields={"typeVersion": 1}, spec=None)
    assert outputs(unknown) is None
    assert inputs(unknown) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", [(False, "plain", True)]),
        ("{{ $json.a }}", [(False, "", True), (True, " $json.a ", True)]),
        ("a {{ 1 }} b", [(False, "a ", True), (True, " 1 ", True), (False, " b", True)]),
        (
            '{"id": {{ $json.id }}}}',
            [(False, '{"id": ', True), (True, " $json.id ", True), (False, "}}", True)],
        ),
        ("a {{ $json.b", [(False, "a ", True), (True, " $json.b", False)]),
        ("a {{", [(False, "a ", True), (True, "", False)]),
        ("\\{{ not code }}", [(False, "\\{{ not code }}", True)]),
    ],
)
def test_expressions_split_as_n8n_splits_them(text: str, expected: list[tuple[bool, str, bool]]) -> None:
    assert [(c.code, c.text, c.closed) for c in split_expression(text)] == expected


def _fail() -> Any:
    raise AssertionError("no ports")
