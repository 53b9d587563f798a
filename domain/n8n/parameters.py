"""What belongs in a node's `parameters`, and what does not.

Node settings (`onError`, `retryOnFail`, `credentials`, ...) live on the node object; inside
`parameters` n8n drops them without a word, so the retry, the error output or the credential the
designer meant is simply not there. A few types do have a parameter of such a name (the Execute
Command node's `executeOnce`, Respond to Webhook's `credentials`): the catalogue says which.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from domain.n8n.document import Node, Workflow
from domain.n8n.expressions import split_expression
from domain.n8n.ports import N8N
from domain.n8n.report import Problem, error, warning

HTTP_REQUEST: Final = N8N + "httpRequest"
NODE_SETTINGS: Final = (
    "onError",
    "retryOnFail",
    "maxTries",
    "waitBetweenTries",
    "alwaysOutputData",
    "executeOnce",
    "continueOnFail",
    "credentials",
    "disabled",
    "notes",
    "webhookId",
)


def check_misplaced_settings(wf: Workflow) -> Iterator[Problem]:
    for node in wf.nodes:
        if node.spec is None:
            continue  # an unknown type: its real parameter names are unknown too
        for key in NODE_SETTINGS:
            if key in node.parameters and key not in node.spec.parameters:
                report = warning if key == "notes" else error
                yield report(
                    "misplaced_node_setting",
                    node.name,
                    f'node "{node.name}": "{key}" is a node setting, not a parameter of '
                    f'{node.spec.display_name}: move it out of "parameters" onto the node object '
                    "(n8n ignores it where it is)",
                )


def check_credential_types(wf: Workflow) -> Iterator[Problem]:
    for node in wf.nodes:
        refs = node.fields.get("credentials")
        if node.spec is None or not isinstance(refs, dict) or _any_credential(node):
            continue
        for kind in refs:
            if kind not in node.spec.credentials:
                accepted = ", ".join(sorted(node.spec.credentials)) or "none"
                yield warning(
                    "unknown_credential_type",
                    node.name,
                    f'node "{node.name}": {node.spec.display_name} does not use credentials of type "{kind}" '
                    f"(it accepts: {accepted}): link one of those",
                )


def _any_credential(node: Node) -> bool:
    """An HTTP Request's credential type is a parameter (`genericAuthType`, `nodeCredentialType`):
    any generic type (httpCustomAuth too) or any app's credential, more than its description lists."""
    return node.type == HTTP_REQUEST


def check_http_requests(wf: Workflow) -> Iterator[Problem]:
    for node in wf.nodes:
        if node.type != HTTP_REQUEST:
            continue
        url = node.parameters.get("url")
        if not isinstance(url, str) or not url.strip(" =") or url.strip() == "={{}}":
            yield error(
                "http_request_without_url",
                node.name,
                f'node "{node.name}": an HTTP Request needs "url" (activation refuses it without one), '
                'e.g. "https://api.example.dz/v1/orders" or an expression "={{ $json.url }}"',
            )
        elif not _starts_like_url(url):
            yield error(
                "http_request_invalid_url",
                node.name,
                f'node "{node.name}": "url" must start with http:// or https:// (got "{url[:60]}")',
            )


def _starts_like_url(url: str) -> bool:
    if not url.startswith("="):
        # "{{ $json.url }}" without its "=" is the expression rule's to report, not a second problem
        return "{{" in url or url.strip().lower().startswith(("http://", "https://"))
    chunks = split_expression(url[1:])
    first = chunks[0] if chunks else None
    if first is None or first.code or not first.text.strip():
        return True  # the address is computed: nothing to say before a run
    return first.text.strip().lower().startswith(("http://", "https://"))
