"""Webhooks: the path each one listens on, and who answers the call.

n8n 2.8.4 registers a webhook by method and path (NodeHelpers.getNodeWebhookPath): with a
`webhookId`, a Webhook listens on `/webhook/<path>` (or `/webhook/<webhookId>` without a path);
without one, on `/webhook/<workflow id>/<node name>/<path>`. Two registrations of one method and
path cannot both be active. A Webhook that says "Using Respond to Webhook Node" fails each call
when no such node follows it, and a Respond to Webhook node fails when no webhook precedes it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Final, NamedTuple
from urllib.parse import quote

from domain.n8n.document import Node, Workflow
from domain.n8n.graph import reached
from domain.n8n.ports import N8N
from domain.n8n.report import Problem, error, warning

WEBHOOK: Final = N8N + "webhook"
FORM_TRIGGER: Final = N8N + "formTrigger"
RESPOND: Final = N8N + "respondToWebhook"
# Types a Respond to Webhook node accepts before it (RespondToWebhook.node, version 1.1 on).
_ANSWERED: Final = frozenset({WEBHOOK, FORM_TRIGGER, N8N + "wait", "@n8n/n8n-nodes-langchain.chatTrigger"})


def _methods(node: Node) -> tuple[str, ...]:
    if node.type == FORM_TRIGGER:
        return ("GET", "POST")  # the form page and its submission
    method = node.parameters.get(
        "httpMethod", ["GET", "POST"] if node.parameters.get("multipleMethods") else "GET"
    )
    if isinstance(method, list):
        return tuple(m for m in method if isinstance(m, str))
    return (method,) if isinstance(method, str) else ()


def _path(node: Node) -> str | None:
    """The path n8n registers, or None when an expression decides it."""
    path = node.parameters.get("path", "")
    if node.type == FORM_TRIGGER and not path:
        options = node.parameters.get("options")
        path = options.get("path", "") if isinstance(options, dict) else ""
    if not isinstance(path, str) or path.startswith("="):
        return None
    path = path.strip("/")
    webhook_id = node.fields.get("webhookId")
    if not isinstance(webhook_id, str):
        return f"<workflow id>/{quote(node.name.lower())}/{path}"
    dynamic = path.startswith(":") or "/:" in path
    return f"{webhook_id}/{path}" if dynamic else path or webhook_id


def check_webhook_paths(wf: Workflow) -> Iterator[Problem]:
    listeners: dict[tuple[str, str], list[Node]] = defaultdict(list)
    for node in wf.nodes:
        if node.type in (WEBHOOK, FORM_TRIGGER) and not node.disabled:
            path = _path(node)
            for method in _methods(node) if path is not None else ():
                listeners[(method, path or "")].append(node)
    for (method, path), nodes in listeners.items():
        for later in nodes[1:]:
            yield error(
                "webhook_path_conflict",
                later.name,
                f'nodes "{nodes[0].name}" and "{later.name}" both listen to {method} /webhook/{path}: '
                "n8n refuses to activate a second webhook on the same method and path: "
                'give one of them another "path"',
            )


def check_webhook_setup(wf: Workflow) -> Iterator[Problem]:
    for node in wf.nodes:
        if node.type == WEBHOOK:
            path = node.parameters.get("path")
            if not isinstance(path, str) or not path.strip("/= "):
                yield error(
                    "webhook_without_path",
                    node.name,
                    f'node "{node.name}": the Webhook has no "path": set one such as "orders/new" '
                    "(it then listens on /webhook/orders/new)",
                )
        if node.type in (WEBHOOK, FORM_TRIGGER) and not isinstance(node.fields.get("webhookId"), str):
            yield warning(
                "webhook_without_id",
                node.name,
                f'node "{node.name}" has no "webhookId", so its URL contains the workflow id and the node '
                'name: add "webhookId": "<a UUID>" for a URL of its path alone, /webhook/<path>',
            )


def check_responses(wf: Workflow) -> Iterator[Problem]:
    for node in wf.nodes:
        if node.type in (WEBHOOK, FORM_TRIGGER):
            responders = [wf.by_name[n] for n in reached(wf, [node.name]) if wf.by_name[n].type == RESPOND]
            yield from _response_mode(node, responders)
        elif node.type == RESPOND and (node.version or 0) >= 1.1:
            callers = [n for n in wf.nodes if n.type in _ANSWERED and node.name in reached(wf, [n.name])]
            if not callers:
                yield error(
                    "respond_to_webhook_mismatch",
                    node.name,
                    f'node "{node.name}": a Respond to Webhook node answers a webhook call, but no Webhook '
                    "comes before it (each run fails): start the workflow with a Webhook whose "
                    '"responseMode" is "responseNode", or remove this node',
                )


def _response_mode(node: Node, responders: list[Node]) -> Iterator[Problem]:
    mode = node.parameters.get("responseMode", "onReceived")
    version = node.version or 1
    if mode == "responseNode" and not responders:
        yield error(
            "respond_to_webhook_mismatch",
            node.name,
            f'node "{node.name}" has "responseMode": "responseNode" but no Respond to Webhook node '
            'follows it (each call fails): add one at the end of the flow, or use "onReceived"',
        )
    elif responders and node.type == FORM_TRIGGER and version > 2.1:
        yield error(
            "respond_to_webhook_mismatch",
            node.name,
            f'node "{node.name}": an n8n Form Trigger from version 2.2 fails with a Respond to Webhook '
            f'node ("{responders[0].name}") after it: end the flow with an n8n Form node, page "Form Ending"',
        )
    elif responders and _refuses_responder(node, mode, version):
        yield error(
            "respond_to_webhook_mismatch",
            node.name,
            f'node "{node.name}" is followed by the Respond to Webhook node "{responders[0].name}", which '
            f'fails each call unless "responseMode" is "responseNode": set it so, or remove that node',
        )


def _refuses_responder(node: Node, mode: object, version: float) -> bool:
    if node.type == WEBHOOK:
        return version >= 2 and mode not in ("responseNode", "streaming")
    return mode != "responseNode"  # n8n Form Trigger up to version 2.1


class Registration(NamedTuple):
    """A webhook n8n registers when the workflow is active: method, path under /webhook/, and node."""

    method: str
    path: str
    node: str


def registrations(wf: Workflow, n8n_workflow_id: str) -> tuple[Registration, ...]:
    """What the workflow listens on once n8n holds it under `n8n_workflow_id` (paths an expression
    decides are left out: nothing can be known of them before a run)."""
    found: list[Registration] = []
    for node in wf.nodes:
        if node.type in (WEBHOOK, FORM_TRIGGER) and not node.disabled:
            path = _path(node)
            if path is not None:
                path = path.replace("<workflow id>", n8n_workflow_id)
                found.extend(Registration(method, path, node.name) for method in _methods(node))
    return tuple(found)


def production_urls(wf: Workflow, n8n_workflow_id: str, base_url: str) -> tuple[tuple[str, str], ...]:
    """(method, production URL) of every registration, in node order."""
    base = base_url.rstrip("/")
    return tuple(
        dict.fromkeys((r.method, f"{base}/webhook/{r.path}") for r in registrations(wf, n8n_workflow_id))
    )


def conflicts_with_deployed(
    wf: Workflow, n8n_workflow_id: str, deployed: Mapping[str, Sequence[Registration]]
) -> Iterator[Problem]:
    """The webhooks this workflow would take from an active one (`deployed`: its registrations by how
    to name the active workflow, e.g. `n8n workflow <id>`): n8n refuses to activate the second."""
    ours = {(r.method, r.path): r for r in registrations(wf, n8n_workflow_id)}
    for owner, theirs in deployed.items():
        for taken in theirs:
            mine = ours.get((taken.method, taken.path))
            if mine is not None:
                yield error(
                    "webhook_path_taken",
                    mine.node,
                    f'node "{mine.node}" listens to {taken.method} /webhook/{taken.path}, which the active '
                    f'{owner} uses already: give it another "path"',
                )
