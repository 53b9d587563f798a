"""Which credentials a node needs, as n8n 2.8.4 decides before it activates a workflow, and linking them.

The rule on a real n8n (every need is enforced, nothing more is) is in tests/integration/n8n.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from domain.n8n import NodeType, default_catalog
from domain.n8n.credentials import CredentialNeed, check_conditions, credential_needs, link_credentials
from infra.n8n.catalog_build import catalog_data
from tests.unit.domain.n8n.builders import SCHEDULE, Doc, node, workflow

FIXTURES = sorted((Path(__file__).parents[3] / "fixtures" / "n8n" / "valid").glob("*.json"))
SLACK = {"select": "channel", "channelId": {"__rl": True, "mode": "id", "value": "C1"}, "text": "Hi"}


def needs_of(*nodes: Doc) -> list[tuple[str, bool]]:
    return [
        (n.credential_type, n.required_by_n8n) for n in credential_needs(workflow(*nodes), default_catalog())
    ]


def test_a_slack_node_without_authentication_needs_its_default_the_access_token() -> None:
    assert needs_of(node("Post", "slack", 2.3, SLACK)) == [("slackApi", True)]


def test_a_slack_node_with_oauth2_needs_the_oauth2_credential() -> None:
    assert needs_of(node("Post", "slack", 2.3, {**SLACK, "authentication": "oAuth2"})) == [
        ("slackOAuth2Api", True)
    ]


def test_send_email_needs_smtp_and_telegram_its_api() -> None:
    assert needs_of(node("Mail", "emailSend", 2.1, {"toEmail": "a@b.dz"})) == [("smtp", True)]
    assert needs_of(node("Tell", "telegram", 1.2, {"chatId": "1", "text": "x"})) == [("telegramApi", True)]


def test_a_shopify_trigger_needs_the_credential_of_its_authentication() -> None:
    assert needs_of(node("Orders", "shopifyTrigger", 1, {"topic": "orders/create"})) == [("shopifyApi", True)]
    assert needs_of(node("Orders", "shopifyTrigger", 1, {"authentication": "accessToken"})) == [
        ("shopifyAccessTokenApi", True)
    ]


@pytest.mark.parametrize(
    ("kind", "version"), [("scheduleTrigger", 1.2), ("set", 3.4), ("code", 2), ("if", 2.2), ("webhook", 2.1)]
)
def test_nodes_without_credentials_need_none(kind: str, version: float) -> None:
    assert needs_of(node("N", kind, version)) == []


def test_an_http_request_needs_the_generic_type_it_names_but_n8n_does_not_refuse_to_activate_without() -> (
    None
):
    chosen = {
        "url": "https://x.dz",
        "authentication": "genericCredentialType",
        "genericAuthType": "httpHeaderAuth",
    }
    predefined = {"authentication": "predefinedCredentialType", "nodeCredentialType": "shopifyAccessTokenApi"}
    assert needs_of(node("Call", "httpRequest", 4.2, chosen)) == [("httpHeaderAuth", False)]
    assert needs_of(node("Call", "httpRequest", 4.2, predefined)) == [("shopifyAccessTokenApi", False)]


def test_an_http_request_without_authentication_needs_nothing_and_one_with_its_type_hidden_neither() -> None:
    hidden = {"authentication": "none", "genericAuthType": "httpHeaderAuth"}
    assert needs_of(node("Call", "httpRequest", 4.2, {"url": "https://x.dz"})) == []
    assert needs_of(node("Call", "httpRequest", 4.2, hidden)) == []


def test_an_http_request_with_ssl_certificates_needs_the_ssl_credential() -> None:
    assert needs_of(node("Call", "httpRequest", 4.2, {"provideSslCertificates": True})) == [
        ("httpSslAuth", True)
    ]


def test_a_disabled_node_needs_nothing() -> None:
    assert needs_of(node("Post", "slack", 2.3, SLACK, disabled=True)) == []


def test_an_expression_in_the_deciding_parameter_shows_every_credential_it_decides() -> None:
    assert needs_of(node("Post", "slack", 2.3, {**SLACK, "authentication": "={{ $json.auth }}"})) == [
        ("slackApi", True),
        ("slackOAuth2Api", True),
    ]


def test_unknown_node_types_and_versions_need_nothing() -> None:
    assert needs_of(node("X", "@acme/n8n-nodes-acme.thing", 1), node("Y", "slack", 9)) == []


def test_a_parameter_its_own_display_options_hide_is_dropped_as_n8n_drops_it() -> None:
    """Git's `authentication` is displayed for clone and push only; the default operation is `log`."""
    password = {"authentication": "gitPassword"}
    assert needs_of(node("Git", "git", 1.1, password)) == []
    assert needs_of(node("Git", "git", 1.1, {**password, "operation": "clone"})) == [("gitPassword", True)]


def test_a_default_that_depends_on_another_default_follows_the_version() -> None:
    """The Evaluation Trigger reads a data table by default from 4.7 on, Google Sheets before."""
    assert needs_of(node("Eval", "evaluationTrigger", 4.6)) == [("googleSheetsOAuth2Api", True)]
    assert needs_of(node("Eval", "evaluationTrigger", 4.7)) == []


def test_needs_come_in_node_order_with_the_node_name() -> None:
    needs = credential_needs(
        workflow(SCHEDULE, node("Post", "slack", 2.3, SLACK), node("Mail", "emailSend", 2.1)),
        default_catalog(),
    )
    assert needs == (
        CredentialNeed(node="Post", credential_type="slackApi", required_by_n8n=True),
        CredentialNeed(node="Mail", credential_type="smtp", required_by_n8n=True),
    )


def test_linking_adds_the_needed_credentials_and_keeps_everything_else() -> None:
    post = node("Post", "slack", 2.3, SLACK, credentials={"slackOAuth2Api": {"id": "7", "name": "old"}})
    document = workflow(SCHEDULE, post, node("Mail", "emailSend", 2.1), node("Later", "telegram", 1.2))
    links = {"slackApi": ("1", "Slack"), "smtp": ("2", "Mail"), "gmailOAuth2": ("3", "Gmail")}
    linked = link_credentials(document, default_catalog(), links)
    by_name = {n["name"]: n for n in linked["nodes"]}
    assert by_name["Post"]["credentials"] == {
        "slackOAuth2Api": {"id": "7", "name": "old"},
        "slackApi": {"id": "1", "name": "Slack"},
    }
    assert by_name["Mail"]["credentials"] == {"smtp": {"id": "2", "name": "Mail"}}
    assert "credentials" not in by_name["Later"]  # telegramApi: not in the links
    assert "credentials" not in by_name[SCHEDULE["name"]]
    assert {k: v for k, v in by_name["Post"].items() if k != "credentials"} == {
        k: v for k, v in post.items() if k != "credentials"
    }
    assert linked["connections"] == document["connections"]
    assert "slackApi" not in document["nodes"][1]["credentials"]  # the input is left as it was


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_a_fixture_that_n8n_activates_declares_every_credential_n8n_requires(path: Path) -> None:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    declared = {(n["name"], kind) for n in document["nodes"] for kind in n.get("credentials", {})}
    required = {
        (need.node, need.credential_type)
        for need in credential_needs(document, default_catalog())
        if need.required_by_n8n
    }
    assert required <= declared


@pytest.mark.parametrize(
    ("accepted", "actual", "holds"),
    [
        (["a", "b"], ["b"], True),
        ([True], [1], False),  # JavaScript's includes: true is not 1
        ([2], [2.0], True),
        ([{"_cnd": {"gte": 2}}], [2.1], True),
        ([{"_cnd": {"lt": 2}}], [2.1], False),
        ([{"_cnd": {"between": {"from": 1, "to": 2}}}], [1.5], True),
        ([{"_cnd": {"not": "x"}}], [], True),
        ([{"_cnd": {"eq": "x"}}], [], False),
        ([{"_cnd": {"startsWith": "api"}}], ["apiKey"], True),
        ([{"_cnd": {"regex": "^o[aA]uth"}}], ["oAuth2"], True),
        ([{"_cnd": {"exists": True}}], [""], False),
    ],
)
def test_display_conditions_are_checked_as_n8n_checks_them(
    accepted: list[Any], actual: list[Any], holds: bool
) -> None:
    assert check_conditions(accepted, actual) is holds


def test_a_node_type_of_a_catalogue_without_credential_rules_still_decodes() -> None:
    old = (
        b'{"displayName": "X", "versions": [1], "trigger": false, "credentials": ["xApi"], "parameters": [],'
    )
    spec = msgspec.json.decode(old + b'"inputs": ["main"], "outputs": ["main"]}', type=NodeType)
    assert (spec.credential_rules, spec.defaults) == ((), ())


def test_the_catalogue_keeps_each_class_s_rules_for_its_versions_and_defaults_per_version() -> None:
    auth = {"name": "authentication", "type": "options"}
    newer = {
        "name": "thing",
        "displayName": "Thing",
        "version": [2, 2.1],
        "group": ["transform"],
        "inputs": ["main"],
        "outputs": ["main"],
        "credentials": [
            {
                "name": "thingOAuth2Api",
                "required": True,
                "displayOptions": {"show": {"authentication": ["oAuth2"]}},
            }
        ],
        "properties": [
            {**auth, "default": "oAuth2", "displayOptions": {"show": {"@version": [{"_cnd": {"gte": 2.1}}]}}},
            {**auth, "default": "apiKey"},
        ],
    }
    older = {**newer, "version": 1, "credentials": [{"name": "thingApi", "required": True}], "properties": []}
    entry = catalog_data([newer, older], "2.8.4", "2.8.1")["nodes"]["n8n-nodes-base.thing"]
    assert entry["credential_rules"] == [
        {"name": "thingApi", "required": True, "versions": [1]},
        {
            "name": "thingOAuth2Api",
            "required": True,
            "show": {"authentication": ["oAuth2"]},
            "versions": [2, 2.1],
        },
    ]
    assert entry["defaults"] == [
        {"name": "authentication", "value": "apiKey", "versions": [2]},
        {"name": "authentication", "value": "oAuth2", "versions": [2.1]},
        {"name": "authentication", "value": "apiKey", "versions": [2.1]},
    ]
