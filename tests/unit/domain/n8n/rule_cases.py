"""One failing and one passing document per rule code, the passing one as close to the failing
one as the rule allows: the pair shows exactly what the rule is about."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, Literal

import msgspec

from tests.unit.domain.n8n.builders import SCHEDULE, Doc, links, node, outputs, to, workflow


class RuleCase(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    severity: Literal["error", "warning"]
    label: str
    bad: Doc | str
    good: Doc | str


def flow(*nodes: Doc, connections: Doc | None = None, **top: Any) -> Doc:
    """The schedule trigger, then `nodes` in a line unless `connections` says otherwise."""
    names = [SCHEDULE["name"], *(n["name"] for n in nodes)]
    chain = links(*itertools.pairwise(names))
    return workflow(SCHEDULE, *nodes, connections=chain if connections is None else connections, **top)


def setting(name: str = "Prepare", **fields: Any) -> Doc:
    return node(name, "set", 3.4, {"assignments": {"assignments": []}, "options": {}}, **fields)


def slack(name: str = "Post to Slack", text: str = "=Total: {{ $json.total }}", **fields: Any) -> Doc:
    parameters = {"select": "channel", "channelId": {"__rl": True, "value": "#ventes", "mode": "name"}}
    fields.setdefault("credentials", {"slackApi": {"id": "1", "name": "Slack"}})
    return node(name, "slack", 2.3, {**parameters, "text": text, "otherOptions": {}}, **fields)


def http(
    name: str = "Fetch orders", url: Any = "https://shop.example.dz/api/orders", **parameters: Any
) -> Doc:
    fields: Doc = {"url": url, "options": {}, **parameters}
    if url is None:
        del fields["url"]
    return node(name, "httpRequest", 4.2, fields)


def webhook(name: str = "New order", path: str = "orders/new", **fields: Any) -> Doc:
    fields.setdefault("webhookId", "9f1c2a4e-0d7b-4c55-9a51-1f0e6c1d2b3a")
    parameters = {"httpMethod": "POST", "path": path, "options": {}, **fields.pop("parameters", {})}
    return node(name, "webhook", 2.1, parameters, **fields)


def if_paid(name: str = "Paid?") -> Doc:
    condition = {
        "leftValue": "={{ $json.paid }}",
        "rightValue": True,
        "operator": {"type": "boolean", "operation": "true"},
    }
    conditions = {"options": {"caseSensitive": True}, "conditions": [condition], "combinator": "and"}
    return node(name, "if", 2.2, {"conditions": conditions, "options": {}})


def switch(rules: int, **options: Any) -> Doc:
    values = [{"conditions": {}, "renameOutput": False} for _ in range(rules)]
    return node("Route by wilaya", "switch", 3.2, {"rules": {"values": values}, "options": options})


def merge(**parameters: Any) -> Doc:
    return node("Merge", "merge", 3.2, {"mode": "append", **parameters})


def _with(document: Doc, change: Callable[[Doc], None]) -> Doc:
    change(document)
    return document


def case(code: str, label: str, bad: Doc | str, good: Doc | str, severity: str = "error") -> RuleCase:
    return RuleCase(code=code, label=label, bad=bad, good=good, severity=severity)  # type: ignore[arg-type]


def _document_cases() -> list[RuleCase]:
    return [
        case("invalid_json", "not JSON", '{"name": "x", "nodes": [', flow(setting())),
        case("invalid_json", "a JSON list", "[]", flow(setting())),
        case("unknown_top_level_field", "active on create", flow(setting(), active=False), flow(setting())),
        case("unknown_top_level_field", "tags on create", flow(setting(), tags=[]), flow(setting())),
        case("missing_name", "empty name", flow(setting(), name=" "), flow(setting(), name="Ventes du jour")),
        case("invalid_nodes", "nodes as an object", flow(setting()) | {"nodes": {}}, flow(setting())),
        case(
            "invalid_connections",
            "connections as a list",
            flow(setting()) | {"connections": []},
            flow(setting()),
        ),
        case(
            "static_data_given",
            "staticData",
            flow(setting(), staticData={"lastId": 1}),
            flow(setting()),
            "warning",
        ),
        case(
            "missing_settings",
            "no settings",
            _with(flow(setting()), lambda d: d.pop("settings")),
            flow(setting()),
        ),
        case(
            "invalid_setting",
            "a setting n8n does not have",
            flow(setting()) | {"settings": {"executionOrder": "v1", "binaryMode": "separate"}},
            flow(setting()) | {"settings": {"executionOrder": "v1", "timezone": "Africa/Algiers"}},
        ),
        case(
            "invalid_setting",
            "a setting of the wrong type",
            flow(setting()) | {"settings": {"saveManualExecutions": "yes"}},
            flow(setting()) | {"settings": {"saveManualExecutions": True}},
        ),
    ]


def _node_cases() -> list[RuleCase]:
    nameless = _with(setting(), lambda n: n.pop("name"))
    return [
        case("malformed_node", "a string node", workflow(SCHEDULE, "Prepare"), flow(setting())),
        case("malformed_node", "a node without a name", workflow(SCHEDULE, nameless), flow(setting())),
        case("unknown_node_field", "label on a node", flow(setting(label="x")), flow(setting(notes="x"))),
        case(
            "invalid_node_field",
            "retryOnFail as text",
            flow(setting(retryOnFail="yes")),
            flow(setting(retryOnFail=True)),
        ),
        case(
            "invalid_node_field",
            "onError unknown",
            flow(setting(onError="skip")),
            flow(setting(onError="continueRegularOutput")),
        ),
        case(
            "invalid_node_field",
            "credential without a name",
            flow(slack(credentials={"slackApi": "1"})),
            flow(slack(credentials={"slackApi": {"id": "1", "name": "Slack"}})),
        ),
        case(
            "unknown_node_type",
            "misspelt type",
            flow(node("Orders", "shopifyy", 1, {})),
            flow(node("Orders", "shopify", 1, {})),
        ),
        case(
            "unknown_type_version",
            "httpRequest 5",
            flow(http() | {"typeVersion": 5}),
            flow(http() | {"typeVersion": 4.2}),
        ),
        case(
            "unknown_type_version",
            "no typeVersion",
            flow(_with(setting(), lambda n: n.pop("typeVersion"))),
            flow(setting()),
        ),
        case(
            "missing_parameters",
            "no parameters",
            flow(_with(setting(), lambda n: n.pop("parameters"))),
            flow(setting()),
        ),
        case(
            "invalid_position",
            "one number",
            flow(setting() | {"position": [0]}),
            flow(setting() | {"position": [0, 0]}),
        ),
        case(
            "invalid_position",
            "numbers as text",
            flow(setting() | {"position": ["0", "0"]}),
            flow(setting() | {"position": [0.5, 2]}),
        ),
        case(
            "duplicate_node_name",
            "two Slack",
            flow(slack(), slack(id="other")),
            flow(slack(), slack("Post to Slack 2", id="other")),
        ),
        case(
            "duplicate_node_id",
            "one id twice",
            flow(setting(id="a"), slack(id="a")),
            flow(setting(id="a"), slack(id="b")),
        ),
    ]


def _connection_cases() -> list[RuleCase]:
    two = (SCHEDULE, setting(), slack())
    return [
        case(
            "invalid_connection",
            "target without index",
            workflow(
                *two[:2], connections={"Every morning": {"main": [[{"node": "Prepare", "type": "main"}]]}}
            ),
            workflow(*two[:2], connections={"Every morning": {"main": [[to("Prepare")]]}}),
        ),
        case(
            "invalid_connection",
            "outputs not a list",
            workflow(*two[:2], connections={"Every morning": {"main": {"0": [to("Prepare")]}}}),
            workflow(*two[:2], connections={"Every morning": {"main": [[to("Prepare")]]}}),
        ),
        case(
            "invalid_output_key",
            "an error key",
            workflow(
                *two,
                connections=links(("Every morning", "Prepare"))
                | {"Prepare": {"error": [[to("Post to Slack")]]}},
            ),
            workflow(
                two[0],
                setting(onError="continueErrorOutput"),
                two[2],
                connections=links(("Every morning", "Prepare"))
                | {"Prepare": outputs([], [to("Post to Slack")])},
            ),
        ),
        case(
            "connection_by_id",
            "source keyed by id",
            workflow(*two[:2], connections={"id-every-morning": {"main": [[to("Prepare")]]}}),
            workflow(*two[:2], connections={"Every morning": {"main": [[to("Prepare")]]}}),
        ),
        case(
            "connection_by_id",
            "target by id",
            workflow(*two[:2], connections={"Every morning": {"main": [[to("id-prepare")]]}}),
            workflow(*two[:2], connections={"Every morning": {"main": [[to("Prepare")]]}}),
        ),
        case(
            "connection_to_missing_node",
            "target misspelt",
            workflow(*two[:2], connections={"Every morning": {"main": [[to("prepare")]]}}),
            workflow(*two[:2], connections={"Every morning": {"main": [[to("Prepare")]]}}),
        ),
        case(
            "connection_to_missing_node",
            "source missing",
            workflow(*two[:2], connections=links(("Every morning", "Prepare"), ("Start", "Prepare"))),
            workflow(*two[:2], connections=links(("Every morning", "Prepare"))),
        ),
        case(
            "connection_to_trigger",
            "back into the schedule",
            flow(setting(), connections=links(("Every morning", "Prepare"), ("Prepare", "Every morning"))),
            flow(setting(), connections=links(("Every morning", "Prepare"))),
        ),
    ]


def _port_cases() -> list[RuleCase]:
    trio = (SCHEDULE, if_paid(), slack())
    start = links(("Every morning", "Paid?"))
    return [
        case(
            "output_index_out_of_range",
            "IF output 2",
            workflow(*trio, connections=start | {"Paid?": outputs([], [], [to("Post to Slack")])}),
            workflow(*trio, connections=start | {"Paid?": outputs([], [to("Post to Slack")])}),
        ),
        case(
            "output_index_out_of_range",
            "error output without onError",
            flow(
                setting(),
                slack(),
                connections=links(("Every morning", "Prepare"))
                | {"Prepare": outputs([], [to("Post to Slack")])},
            ),
            flow(
                setting(onError="continueErrorOutput"),
                slack(),
                connections=links(("Every morning", "Prepare"))
                | {"Prepare": outputs([], [to("Post to Slack")])},
            ),
        ),
        case(
            "output_index_out_of_range",
            "Switch fallback not enabled",
            flow(
                switch(2),
                slack(),
                connections=links(("Every morning", "Route by wilaya"))
                | {"Route by wilaya": outputs([], [], [to("Post to Slack")])},
            ),
            flow(
                switch(2, fallbackOutput="extra"),
                slack(),
                connections=links(("Every morning", "Route by wilaya"))
                | {"Route by wilaya": outputs([], [], [to("Post to Slack")])},
            ),
        ),
        case(
            "filter_discarded_output",
            "Filter output 1",
            flow(
                node("Paid only", "filter", 2.2, {}),
                slack(),
                connections=links(("Every morning", "Paid only"))
                | {"Paid only": outputs([], [to("Post to Slack")])},
            ),
            flow(
                node("Paid only", "filter", 2.2, {}),
                slack(),
                connections=links(("Every morning", "Paid only"))
                | {"Paid only": outputs([to("Post to Slack")])},
            ),
            "warning",
        ),
        case(
            "input_index_out_of_range",
            "Merge input 2 of 2",
            flow(
                setting(),
                merge(),
                connections=links(("Every morning", "Prepare")) | {"Prepare": outputs([to("Merge", 2)])},
            ),
            flow(
                setting(),
                merge(numberInputs=3),
                connections=links(("Every morning", "Prepare")) | {"Prepare": outputs([to("Merge", 2)])},
            ),
        ),
    ]


def _graph_cases() -> list[RuleCase]:
    manual = node("Start", "manualTrigger", 1, {})
    loop = {"Every morning": outputs([to("Fetch orders")]), "Fetch orders": outputs([to("Prepare")])}
    return [
        case("no_trigger", "nothing starts it", workflow(setting()), flow(setting())),
        case(
            "no_trigger",
            "a manual trigger only",
            workflow(manual, setting(), connections=links(("Start", "Prepare"))),
            flow(setting()),
        ),
        case(
            "no_trigger",
            "the trigger is disabled",
            workflow(
                SCHEDULE | {"disabled": True}, setting(), connections=links(("Every morning", "Prepare"))
            ),
            workflow(
                SCHEDULE | {"disabled": False}, setting(), connections=links(("Every morning", "Prepare"))
            ),
        ),
        case(
            "unreachable_node",
            "a loose Slack node",
            flow(setting(), slack(), connections=links(("Every morning", "Prepare"))),
            flow(
                setting(),
                node("Note", "stickyNote", 1, {"content": "Ventes"}),
                connections=links(("Every morning", "Prepare")),
            ),
        ),
        case(
            "cycle_without_exit",
            "fetch and prepare for ever",
            flow(http(), setting(), connections=loop | {"Prepare": outputs([to("Fetch orders")])}),
            flow(
                http(),
                setting(),
                if_paid("More pages?"),
                connections=loop
                | {"Prepare": outputs([to("More pages?")]), "More pages?": outputs([to("Fetch orders")], [])},
            ),
        ),
    ]


def _form(version: float) -> Doc:
    parameters = {"formTitle": "Commande", "responseMode": "responseNode", "options": {}}
    return node(
        "Order form", "formTrigger", version, parameters, webhookId="3c9e1d2a-5b4f-4e6a-8d7c-0f1e2d3c4b5a"
    )


def _reply() -> Doc:
    return node("Reply", "respondToWebhook", 1.4, {"respondWith": "json"})


def _webhook_cases() -> list[RuleCase]:
    second = webhook("Order updated", webhookId="0b3c9a52-7e11-4a0e-8c2f-5a4d3e2f1b6c")
    return [
        case(
            "webhook_path_conflict",
            "two POST orders/new",
            workflow(webhook(), second),
            workflow(webhook(), second | {"parameters": second["parameters"] | {"path": "orders/updated"}}),
        ),
        case(
            "webhook_without_path",
            "empty path",
            workflow(webhook(path="")),
            workflow(webhook(path="orders/new")),
        ),
        case(
            "webhook_without_id",
            "no webhookId",
            workflow(_with(webhook(), lambda n: n.pop("webhookId"))),
            workflow(webhook()),
            "warning",
        ),
        case(
            "respond_to_webhook_mismatch",
            "responseNode without a responder",
            workflow(
                webhook(parameters={"responseMode": "responseNode"}),
                setting(),
                connections=links(("New order", "Prepare")),
            ),
            workflow(
                webhook(parameters={"responseMode": "responseNode"}),
                node("Reply", "respondToWebhook", 1.4, {"respondWith": "json"}),
                connections=links(("New order", "Reply")),
            ),
        ),
        case(
            "respond_to_webhook_mismatch",
            "a responder after a Form Trigger 2.2",
            workflow(_form(2.2), _reply(), connections=links(("Order form", "Reply"))),
            workflow(_form(2.1), _reply(), connections=links(("Order form", "Reply"))),
        ),
        case(
            "respond_to_webhook_mismatch",
            "a responder after a schedule",
            flow(node("Reply", "respondToWebhook", 1.4, {"respondWith": "json"})),
            flow(setting()),
        ),
    ]


def _expression_cases() -> list[RuleCase]:
    reader = http("Fetch order", "=https://shop.example.dz/api/orders/{{ $('Prepare').item.json.id }}")
    return [
        case(
            "expression_without_prefix",
            "no =",
            flow(slack(text="Total: {{ $json.total }}")),
            flow(slack(text="=Total: {{ $json.total }}")),
        ),
        case(
            "unbalanced_expression",
            "unclosed",
            flow(slack(text="=Total: {{ $json.total ")),
            flow(slack(text="=Total: {{ $json.total }}")),
        ),
        case(
            "env_access",
            "$env in an expression",
            flow(slack(text="=Boutique {{ $env.SHOP_NAME }}")),
            flow(slack(text="=Boutique {{ $json.shop_name }}")),
            "warning",
        ),
        case(
            "env_access",
            "$env in a Code node",
            flow(node("Sum", "code", 2, {"jsCode": "return [{ json: { shop: $env.SHOP } }];"})),
            flow(node("Sum", "code", 2, {"jsCode": "return [{ json: { shop: 'Boutique' } }];"})),
            "warning",
        ),
        case(
            "unknown_node_reference",
            "$() of a missing node",
            flow(
                setting(),
                reader
                | {
                    "parameters": reader["parameters"]
                    | {"url": reader["parameters"]["url"].replace("Prepare", "Prepared")}
                },
            ),
            flow(setting(), reader),
        ),
        case(
            "unknown_node_reference",
            "$node[] in a Code node",
            flow(
                setting(),
                node("Sum", "code", 2, {"jsCode": "return [{ json: { id: $node['Prepar'].json.id } }];"}),
            ),
            flow(
                setting(),
                node("Sum", "code", 2, {"jsCode": "return [{ json: { id: $node['Prepare'].json.id } }];"}),
            ),
        ),
    ]


def _parameter_cases() -> list[RuleCase]:
    respond = node("Reply", "respondToWebhook", 1.4, {"respondWith": "json", "credentials": "x"})
    reply = {"responseMode": "responseNode"}
    return [
        case(
            "misplaced_node_setting",
            "retryOnFail in parameters",
            flow(http() | {"parameters": http()["parameters"] | {"retryOnFail": True}}),
            flow(http() | {"retryOnFail": True}),
        ),
        case(
            "misplaced_node_setting",
            "credentials as a parameter where the type has none",
            workflow(
                webhook(parameters=reply),
                setting() | {"parameters": {"credentials": "x"}},
                connections=links(("New order", "Prepare")),
            ),
            workflow(webhook(parameters=reply), respond, connections=links(("New order", "Reply"))),
        ),
        case(
            "unknown_credential_type",
            "Slack with a Gmail credential",
            flow(slack(credentials={"gmailOAuth2": {"id": "1", "name": "Gmail"}})),
            flow(slack(credentials={"slackOAuth2Api": {"id": "1", "name": "Slack"}})),
            "warning",
        ),
        case("http_request_without_url", "no url", flow(http(url=None)), flow(http())),
        case(
            "http_request_without_url",
            "empty expression",
            flow(http(url="=")),
            flow(http(url="={{ $json.next }}")),
        ),
        case(
            "http_request_invalid_url",
            "no scheme",
            flow(http(url="api.yalidine.app/v1/parcels/")),
            flow(http(url="https://api.yalidine.app/v1/parcels/")),
        ),
    ]


def _header(name: str, value: str) -> Doc:
    return http(sendHeaders=True, headerParameters={"parameters": [{"name": name, "value": value}]})


def _secret_cases() -> list[RuleCase]:
    bearer = "Bearer 4f9a8c7e6d5b4a3f2e1d0c9b8a7f6e5d"
    return [
        case(
            "inline_secret",
            "Basic credentials in a URL's text",
            flow(slack(text="Authorization: Basic YWRtaW46UzNjcmV0LXBhc3M=")),
            flow(slack(text="Basic understanding of CSS selectors is enough")),
        ),
        case(
            "inline_secret",
            "Bearer in a header",
            flow(_header("Authorization", bearer)),
            flow(_header("Authorization", "={{ 'Bearer ' + $json.shop_token }}")),
        ),
        case(
            "inline_secret",
            "literal Authorization",
            flow(_header("Authorization", "Token abc")),
            flow(_header("Authorization", "=Token {{ $json.maystro_token }}")),
        ),
        case(
            "inline_secret",
            "X-API-TOKEN",
            flow(_header("X-API-TOKEN", "f3b2c1d0e9")),
            flow(_header("X-API-ID", "f3b2c1d0e9")),
        ),
        case(
            "inline_secret",
            "an OpenAI key",
            flow(slack(text="sk-proj-abcdefghijklmnopqrstuv123")),
            flow(slack(text="sk-8 tailles")),
        ),
        case(
            "inline_secret",
            "a Slack token",
            flow(slack(text="xoxb-1234567890-abcdefghij")),
            flow(slack(text="xox-rouge")),
        ),
        case(
            "inline_secret",
            "a Telegram bot token in a URL",
            flow(
                http(
                    url="https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1/sendMessage"
                )
            ),
            flow(http(url="=https://api.telegram.org/bot{{ $json.bot }}/sendMessage")),
        ),
        case(
            "inline_secret", "an AWS key", flow(slack(text="AKIAIOSFODNN7EXAMPLE")), flow(slack(text="AKIA"))
        ),
        case(
            "inline_secret",
            "a password in a URL",
            flow(http(url="https://admin:S3cret-pass@shop.example.dz/api")),
            flow(http(url="https://shop.example.dz/api?page=2")),
        ),
        case(
            "inline_secret",
            "a key in the query",
            flow(http(url="https://api.example.dz/v1/orders?api_key=9b8a7c6d5e4f")),
            flow(http(url="https://api.example.dz/v1/orders?status=paid")),
        ),
        case(
            "inline_secret",
            "Authorization in JSON headers",
            flow(
                http(
                    sendHeaders=True, specifyHeaders="json", jsonHeaders='{"Authorization": "Token 12ab34cd"}'
                )
            ),
            flow(
                http(
                    sendHeaders=True,
                    specifyHeaders="json",
                    jsonHeaders='={"Authorization": "Token {{ $json.zr_token }}"}',
                )
            ),
        ),
    ]


CASES = [
    *_document_cases(),
    *_node_cases(),
    *_connection_cases(),
    *_port_cases(),
    *_graph_cases(),
    *_webhook_cases(),
    *_expression_cases(),
    *_parameter_cases(),
    *_secret_cases(),
]
