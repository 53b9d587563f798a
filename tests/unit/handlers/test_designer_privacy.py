"""The designer's privacy rules, pure: a draft is as sensitive as what its design read or what its JSON
says; its names must be public (else a `sensitive_name` problem that quotes none); and a design that
answers a rejection derives from the person's reason too."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.conversation_process import ConversationProcess, Turn
from domain.envelope import Envelope
from domain.n8n.catalog import default_catalog
from domain.n8n.validation import validate
from domain.types import Sensitivity
from domain.workflow_events import WorkflowRejected
from handlers.managers.designer import TurnDesign
from handlers.managers.drafts import SENSITIVE_NAME, WITHHELD, examine
from handlers.managers.steps import ManagerDeps
from tests.support.events import NOW

CATALOG = default_catalog()
RIP = "00799999002345678165"  # a valid RIP (its key checks)


def design(*, workflow: str = "Paiements fournisseurs", node: str = "Post to Slack", text: str = "ok") -> str:
    nodes = [
        {
            "id": "a1",
            "name": "Every Friday",
            "type": "n8n-nodes-base.scheduleTrigger",
            "typeVersion": 1.2,
            "position": [0, 0],
            "parameters": {"rule": {"interval": [{"field": "weeks", "triggerAtDay": [5]}]}},
        },
        {
            "id": "a2",
            "name": node,
            "type": "n8n-nodes-base.slack",
            "typeVersion": 2.3,
            "position": [200, 0],
            "parameters": {"select": "channel", "channelId": "C1", "text": text},
        },
    ]
    connections = {"Every Friday": {"main": [[{"node": node, "type": "main", "index": 0}]]}}
    return json.dumps({"name": workflow, "nodes": nodes, "connections": connections, "settings": {}})


def test_a_public_design_from_public_turns_is_a_public_draft_with_its_names_in_its_outline() -> None:
    draft = examine(design(), Sensitivity.PUBLIC, CATALOG)

    assert draft.sensitivity == Sensitivity.PUBLIC
    assert draft.problems == ()
    assert draft.name == "Paiements fournisseurs"
    assert [n.name for n in draft.nodes] == ["Every Friday", "Post to Slack"]


def test_a_draft_is_as_sensitive_as_what_its_design_read_though_its_json_repeats_nothing() -> None:
    assert examine(design(), Sensitivity.SENSITIVE, CATALOG).sensitivity == Sensitivity.SENSITIVE
    assert examine(design(), Sensitivity.INTERNAL, CATALOG).sensitivity == Sensitivity.INTERNAL


def test_a_draft_whose_parameters_hold_a_rip_is_sensitive_though_its_design_read_public_turns() -> None:
    draft = examine(design(text=f"Virement depuis le RIP {RIP}"), Sensitivity.PUBLIC, CATALOG)

    assert draft.sensitivity == Sensitivity.SENSITIVE
    assert draft.problems == ()  # parameters may hold it: they are sealed, the names are not


def test_a_node_named_with_a_rip_is_refused_without_quoting_it_and_never_recorded() -> None:
    definition = design(node=f"Pay RIP {RIP}")
    draft = examine(definition, Sensitivity.PUBLIC, CATALOG)
    report = draft.checked(validate(definition, CATALOG))

    assert not report.valid
    [refused] = [p for p in report.problems if p.code == SENSITIVE_NAME]
    assert "node 2 (n8n-nodes-base.slack)" in refused.message
    assert refused.node is None
    assert RIP not in refused.message
    assert SENSITIVE_NAME in report.checks
    assert [n.name for n in draft.nodes] == ["Every Friday", f"{WITHHELD} 2"]
    assert draft.shown(f"Pay RIP {RIP}") == f"{WITHHELD} 2"
    assert draft.shown("Every Friday") == "Every Friday"
    assert draft.sensitivity == Sensitivity.SENSITIVE


def test_a_workflow_named_with_a_phone_number_is_refused_and_recorded_under_a_placeholder() -> None:
    definition = design(workflow="Relances 0555 12 34 56")
    draft = examine(definition, Sensitivity.PUBLIC, CATALOG)

    [refused] = draft.problems
    assert refused.code == SENSITIVE_NAME
    assert "workflow's name" in refused.message
    assert "0555" not in refused.message
    assert draft.name == WITHHELD
    assert not draft.checked(validate(definition, CATALOG)).valid


def test_a_classifier_that_fails_makes_the_draft_sensitive_and_its_names_withheld(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(text: str) -> Any:
        raise RuntimeError("classifier down")

    monkeypatch.setattr("inference.privacy.classifier.classify", broken)

    draft = examine(design(), Sensitivity.PUBLIC, CATALOG)

    assert draft.sensitivity == Sensitivity.SENSITIVE
    assert draft.name == WITHHELD
    assert {p.code for p in draft.problems} == {SENSITIVE_NAME}


def cause_of(data: WorkflowRejected) -> Envelope:
    return Envelope(
        specversion="1.0",
        id="ev-rejected",
        source="aiwf://tests",
        type=data.event_type,
        time=NOW,
        datacontenttype="application/json",
        tenant="acme",
        stream="workflow-w1",
        version=3,
        prevhash="0" * 64,
        data=data,
    )


def test_a_design_that_answers_a_rejection_derives_from_the_person_s_reason_as_well_as_the_turns() -> None:
    """A reason holding a RIP went to the designer's model classed as public as the turns were."""
    turn = Turn(
        message_id="m1",
        text="Chaque matin, le total Shopify",
        sensitivity=Sensitivity.PUBLIC,
        received_at=NOW,
    )
    state = ConversationProcess(conversation_id="c1", turns=(turn,), workflow_id="w1")
    rejection = WorkflowRejected(
        revision=1,
        rejected_by="k1",
        reason=f"payez depuis le RIP {RIP}",
        sensitivity=Sensitivity.SENSITIVE,
        rejected_at=NOW,
    )
    deps = ManagerDeps(store=None, gateway=None, catalog=CATALOG, clock=lambda: NOW)  # type: ignore[arg-type]
    designing = TurnDesign(
        deps,
        cause_of(rejection),
        state,
        turn,
        key="ev-rejected",
        stream="conversation-c1",
        feedback=f"The person rejected revision 1: {rejection.reason}",
        feedback_sensitivity=rejection.sensitivity,
    )

    call = designing._call((), 0, "1")

    assert designing.derived_from == Sensitivity.SENSITIVE
    assert call.derived_from == Sensitivity.SENSITIVE
