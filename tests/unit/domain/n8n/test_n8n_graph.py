"""Loops and reachability on shapes beyond the one-pair rule cases."""

from __future__ import annotations

from tests.unit.domain.n8n.builders import links, node, outputs, problems, to
from tests.unit.domain.n8n.rule_cases import flow, http, if_paid, setting


def test_a_node_connected_to_itself_is_a_loop_without_exit() -> None:
    document = flow(setting(), connections=links(("Every morning", "Prepare"), ("Prepare", "Prepare")))
    assert [p.node for p in problems(document, "cycle_without_exit")] == ["Prepare"]


def test_a_loop_through_a_code_node_may_end_when_the_code_returns_nothing() -> None:
    code = node("Next page", "code", 2, {"jsCode": "return $json.next ? [$input.first()] : [];"})
    document = flow(
        http(),
        code,
        connections=links(
            ("Every morning", "Fetch orders"), ("Fetch orders", "Next page"), ("Next page", "Fetch orders")
        ),
    )
    assert problems(document, "cycle_without_exit") == []


def test_of_two_loops_only_the_one_without_exit_is_reported() -> None:
    pages = if_paid("More pages?")
    endless = {"Prepare": outputs([to("Tag")]), "Tag": outputs([to("Prepare")])}
    exits = {
        "Fetch orders": outputs([to("More pages?")]),
        "More pages?": outputs([to("Fetch orders")], [to("Prepare")]),
    }
    document = flow(
        http(),
        pages,
        setting(),
        setting("Tag"),
        connections=links(("Every morning", "Fetch orders")) | exits | endless,
    )
    found = problems(document, "cycle_without_exit")
    assert [p.node for p in found] == ["Prepare"]
    assert '"Prepare", "Tag"' in found[0].message


def test_an_ai_sub_node_is_reached_through_the_node_it_serves() -> None:
    agent = node("Agent", "@n8n/n8n-nodes-langchain.agent", 1.7, {})
    model = node("Model", "@n8n/n8n-nodes-langchain.lmChatOpenAi", 1, {})
    connections = links(("Every morning", "Agent")) | {
        "Model": {"ai_languageModel": [[{"node": "Agent", "type": "ai_languageModel", "index": 0}]]}
    }
    document = flow(agent, model, connections=connections)
    assert problems(document, "unreachable_node") == []
    assert {p.node for p in problems(document, "unknown_node_type")} == {"Agent", "Model"}


def test_a_disabled_loose_node_is_only_a_warning() -> None:
    document = flow(
        setting(), setting("Old step", disabled=True), connections=links(("Every morning", "Prepare"))
    )
    assert [(p.node, p.severity) for p in problems(document, "unreachable_node")] == [("Old step", "warning")]
