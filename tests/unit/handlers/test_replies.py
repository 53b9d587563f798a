"""The assistant's words: in the user's language, about exactly the workflow that was validated."""

from __future__ import annotations

import json

import pytest

from domain.n8n.report import Problem, ValidationReport
from handlers.managers import replies

WORKFLOW = json.dumps(
    {
        "name": "Ventes du jour",
        "nodes": [{"name": n} for n in ("Chaque matin", "Commandes Shopify", "Total", "Slack")],
        "connections": {
            "Chaque matin": {"main": [[{"node": "Commandes Shopify", "type": "main", "index": 0}]]},
            "Commandes Shopify": {"main": [[{"node": "Total", "type": "main", "index": 0}]]},
            "Total": {"main": [[{"node": "Slack", "type": "main", "index": 0}]]},
        },
        "settings": {"executionOrder": "v1"},
    }
)


@pytest.mark.parametrize("language", replies.LANGUAGES)
def test_every_language_has_every_reply_and_each_names_the_workflow_and_its_revision(language: str) -> None:
    text = replies.workflow_ready(language, WORKFLOW, 2, "2.8.4")

    assert "Ventes du jour" in text
    assert "2" in text
    assert "« Chaque matin » → « Commandes Shopify » → « Total » → « Slack »" in text
    assert replies.help_reply(language)
    assert "{" not in replies.failure(language, "why") + replies.refusal(
        language, "sensitive (ccp): no local"
    )


def test_a_refusal_says_what_was_found_never_the_rest_of_the_reason() -> None:
    text = replies.refusal(
        "en", "sensitive (ccp): no local model is configured, and sensitive data never goes"
    )

    assert "sensitive (ccp)" in text
    assert "no local model is configured" not in text


def test_an_invalid_workflow_reply_counts_errors_and_quotes_the_first() -> None:
    report = ValidationReport(
        valid=False,
        problems=(
            Problem(code="no_trigger", node=None, message="add a trigger", severity="error"),
            Problem(code="env_access", node="Code", message="avoid $env", severity="warning"),
        ),
        checks=(),
    )

    text = replies.workflow_invalid("fr", WORKFLOW, 4, report, 3)

    assert "1 problème(s)" in text
    assert "add a trigger" in text


def test_an_unknown_language_is_answered_in_french() -> None:
    assert replies.help_reply("kabyle") == replies.help_reply("fr")
    assert replies.help_reply(None) == replies.help_reply("fr")
