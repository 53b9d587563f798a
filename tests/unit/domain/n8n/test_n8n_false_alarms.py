"""Valid shapes that look suspicious to a naive validator: each must pass without a problem."""

from __future__ import annotations

import pytest

from tests.unit.domain.n8n.builders import SCHEDULE, Doc, check, links, node, outputs, to, workflow
from tests.unit.domain.n8n.rule_cases import flow, http, if_paid, setting, slack, webhook


def _loop() -> Doc:
    batches = node("Each parcel", "splitInBatches", 3, {"options": {}})
    return flow(
        batches,
        http("Create parcel", "https://api.yalidine.app/v1/parcels/"),
        slack(),
        connections={
            "Every morning": outputs([to("Each parcel")]),
            "Each parcel": outputs([to("Post to Slack")], [to("Create parcel")]),
            "Create parcel": outputs([to("Each parcel")]),
        },
    )


def _error_output() -> Doc:
    fetch = http() | {"onError": "continueErrorOutput"}
    return flow(
        fetch,
        setting(),
        slack(),
        connections=links(("Every morning", "Fetch orders"))
        | {"Fetch orders": outputs([to("Prepare")], [to("Post to Slack")])},
    )


def _respond_with_output() -> Doc:
    reply = node("Reply", "respondToWebhook", 1.5, {"respondWith": "json", "enableResponseOutput": True})
    return workflow(
        webhook(parameters={"responseMode": "responseNode"}),
        reply,
        setting(),
        connections=links(("New order", "Reply")) | {"Reply": outputs([], [to("Prepare")])},
    )


def _two_webhooks_without_ids() -> Doc:
    first, second = webhook(), webhook("Order updated")
    del first["webhookId"], second["webhookId"]
    return workflow(first, second)


def _webhook_with_two_default_methods() -> Doc:
    """Webhook V2 with "multipleMethods" and no httpMethod listens to GET and POST: two outputs."""
    hook = webhook(parameters={"multipleMethods": True, "responseMode": "onReceived"})
    del hook["parameters"]["httpMethod"]
    return workflow(hook, setting(), connections={"New order": outputs([], [to("Prepare")])})


# Found by running the validator over public template collections: each one a false alarm once.
REGRESSIONS = {
    "Basic understanding in a sticky note": flow(
        setting(),
        node("Note", "stickyNote", 1, {"content": "Requirements: Basic understanding of CSS selectors"}),
        connections=links(("Every morning", "Prepare")),
    ),
    "a shell-style placeholder after Bearer": flow(
        http(
            sendHeaders=True,
            headerParameters={"parameters": [{"name": "Authorization", "value": "Bearer $OPENAI_API_KEY"}]},
        )
    ),
    "a placeholder API key in a URL": flow(
        http(url="https://api.spoonacular.com/recipes/random?apiKey=APIKEYHERE&number=1")
    ),
    "the second default method of a multi-method webhook": _webhook_with_two_default_methods(),
}

SHAPES = {
    **REGRESSIONS,
    "a JSON body whose expression ends in }}}}": flow(
        http(method="POST", sendBody=True, specifyBody="json", jsonBody='={"order": {"id": {{ $json.id }}}}')
    ),
    "a URL built from another node": flow(
        setting(), http("Track", "=https://api.yalidine.app/v1/parcels/{{ $('Prepare').item.json.tracking }}")
    ),
    "$node[...] and $node.Name": flow(
        setting(), slack(text="={{ $node['Prepare'].json.total }} {{ $node.Prepare.json.n }}")
    ),
    "a Code node with braces and a reference": flow(
        setting(), node("Sum", "code", 2, {"jsCode": "const o = {a: {b: 1}};\nreturn $('Prepare').all();"})
    ),
    "a loop over items that ends": _loop(),
    "an error output with continueErrorOutput": _error_output(),
    "a Respond to Webhook node's response output": _respond_with_output(),
    "a service's own {{placeholder}}": flow(slack(text="Bonjour {{first}}, votre colis arrive")),
    "a token read from the data": flow(
        http(
            sendHeaders=True,
            headerParameters={
                "parameters": [{"name": "Authorization", "value": "=Bearer {{ $json.token }}"}]
            },
        )
    ),
    "the word token in a message": flow(
        slack(text="=Le token Yalidine expire bientôt: {{ $json.days }} jours")
    ),
    "an IF with one branch left unconnected": workflow(
        SCHEDULE,
        if_paid(),
        slack(),
        connections=links(("Every morning", "Paid?"), ("Paid?", "Post to Slack")),
    ),
    "a Switch fallback output": flow(
        node("Route", "switch", 3.2, {"rules": {"values": [{}, {}]}, "options": {"fallbackOutput": "extra"}}),
        slack(),
        connections=links(("Every morning", "Route")) | {"Route": outputs([], [], [to("Post to Slack")])},
    ),
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_a_valid_shape_raises_no_problem(name: str) -> None:
    assert check(SHAPES[name]).problems == ()


def test_two_webhooks_without_ids_listen_on_distinct_urls() -> None:
    report = check(_two_webhooks_without_ids())
    assert report.valid
    assert {p.code for p in report.problems} == {"webhook_without_id"}


def test_an_address_written_as_an_expression_without_its_prefix_is_one_problem_not_two() -> None:
    report = check(flow(http(url="{{ $json.base_url }}/orders")))
    assert [p.code for p in report.problems] == ["expression_without_prefix"]
