"""The tenant's credentials: connected by name per type, chosen for each node, awaited by workflows;
and their data checked against n8n's schema without a value ever in a message."""

from __future__ import annotations

import pytest

from domain import credentials
from domain.credential_events import CredentialConnected, CredentialRemoved, CredentialsRequested
from domain.credentials import ConnectCredential, Needed, RemoveCredential, choose
from domain.errors import InvalidTransition, NotFound
from domain.n8n.credential_data import credential_problems
from domain.workflow_events import CredentialChoice, MissingCredential
from tests.support.events import NOW


def _connected(credential_id: str, kind: str, name: str) -> CredentialConnected:
    return CredentialConnected(
        credential_id=credential_id, credential_type=kind, name=name, connected_by="k1", connected_at=NOW
    )


def _connect(credential_id: str, kind: str, name: str) -> ConnectCredential:
    return ConnectCredential(
        credential_id=credential_id, credential_type=kind, name=name, connected_by="k1", connected_at=NOW
    )


SLACK = _connected("c1", "slackApi", "Équipe")


def test_a_credential_is_connected_once_and_its_name_is_unique_per_type() -> None:
    state = credentials.fold([SLACK])

    assert credentials.decide(_connect("c1", "slackApi", "Équipe"), state) == []
    with pytest.raises(InvalidTransition, match="named 'Équipe' is connected already"):
        credentials.decide(_connect("c2", "slackApi", "Équipe"), state)
    assert credentials.decide(_connect("c2", "smtp", "Équipe"), state) == [_connected("c2", "smtp", "Équipe")]


def test_removing_a_credential_names_what_was_removed_and_an_unknown_one_is_not_found() -> None:
    state = credentials.fold([SLACK])
    remove = RemoveCredential(credential_id="c1", removed_by="k1", removed_at=NOW)

    [removed] = credentials.decide(remove, state)
    assert isinstance(removed, CredentialRemoved)
    assert removed.name == "Équipe"
    assert credentials.fold([removed], state).connected == ()
    with pytest.raises(NotFound):
        credentials.decide(RemoveCredential(credential_id="nope", removed_by="k1", removed_at=NOW), state)


def test_a_workflow_awaits_the_types_it_lacks_until_they_are_connected() -> None:
    missing = (
        MissingCredential(node="Slack", credential_type="slackApi"),
        MissingCredential(node="Mail", credential_type="smtp"),
    )
    requested = CredentialsRequested(workflow_id="w1", deployment_id="d1", missing=missing, requested_at=NOW)
    state = credentials.fold([requested])

    assert state.awaiting_type("slackApi") == ("w1",)
    state = credentials.fold([SLACK], state)
    assert state.awaiting_type("slackApi") == ()
    assert state.awaiting_type("smtp") == ("w1",)
    assert credentials.fold([_connected("c2", "smtp", "Mail")], state).awaiting == ()


def test_the_only_credential_of_a_type_is_linked_and_a_missing_one_is_reported_per_node() -> None:
    state = credentials.fold([SLACK])
    needs = [Needed(node="Slack", credential_type="slackApi"), Needed(node="Mail", credential_type="smtp")]

    links, missing = choose(state, needs, ())

    assert list(links) == ["slackApi"]
    assert links["slackApi"].credential_id == "c1"
    assert missing == (MissingCredential(node="Mail", credential_type="smtp"),)


def test_with_several_of_a_type_the_chosen_name_wins_and_no_choice_lists_the_candidates() -> None:
    state = credentials.fold([SLACK, _connected("c2", "slackApi", "Ventes")])
    needs = [Needed(node="Slack", credential_type="slackApi")]

    links, missing = choose(state, needs, [CredentialChoice(credential_type="slackApi", name="Ventes")])
    assert links["slackApi"].credential_id == "c2"
    assert missing == ()

    links, missing = choose(state, needs, ())
    assert links == {}
    assert missing == (
        MissingCredential(node="Slack", credential_type="slackApi", candidates=("Équipe", "Ventes")),
    )


# n8n 2.8.4's schema for slackApi, as GET /api/v1/credentials/schema/slackApi answers it.
SLACK_SCHEMA = {
    "additionalProperties": False,
    "type": "object",
    "properties": {
        "accessToken": {"type": "string"},
        "signatureSecret": {"type": "string"},
        "notice": {"type": "notice"},
    },
    "allOf": [
        {
            "if": {"properties": {"signatureSecret": {"enum": [""]}}},
            "then": {"allOf": [{"required": ["notice"]}]},
            "else": {"allOf": [{"not": {"required": ["notice"]}}]},
        }
    ],
    "required": ["accessToken"],
}


def test_credential_data_that_n8n_accepts_has_no_problem() -> None:
    assert credential_problems(SLACK_SCHEMA, {"accessToken": "xoxb-1", "notice": ""}) == []
    assert credential_problems(SLACK_SCHEMA, {"accessToken": "xoxb-1", "signatureSecret": "s3"}) == []


def test_missing_and_extra_fields_are_named_and_no_value_is_ever_repeated() -> None:
    problems = credential_problems(SLACK_SCHEMA, {"token": "super-secret-value"})

    assert (
        "unexpected field 'token' (the fields of this type: accessToken, notice, signatureSecret)" in problems
    )
    assert "missing required field 'accessToken'" in problems
    assert "missing required field 'notice'" in problems  # no signatureSecret: the notice is required
    assert not any("super-secret-value" in p for p in problems)


def test_a_field_shown_only_under_another_value_is_refused_otherwise() -> None:
    problems = credential_problems(SLACK_SCHEMA, {"accessToken": "t", "signatureSecret": "s", "notice": ""})

    assert problems == ["field 'notice' is not expected with the other values given: leave it out"]


def test_wrong_types_and_options_are_named_and_data_must_be_an_object() -> None:
    schema = {
        "type": "object",
        "properties": {
            "port": {"type": "number"},
            "secure": {"type": "boolean"},
            "mode": {"type": "string", "enum": ["a", "b"]},
        },
    }

    assert credential_problems(schema, {"port": "25", "secure": 1, "mode": "c"}) == [
        "field 'port' must be a number",
        "field 'secure' must be a boolean",
        "field 'mode' must be one of: a, b",
    ]
    assert credential_problems(schema, ["not", "an", "object"]) == [
        "the data must be a JSON object of the credential's fields"
    ]
