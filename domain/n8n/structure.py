"""The document's shape, as n8n's public API checks it on create (its OpenAPI schema for 2.8.4
has `additionalProperties: false` on the workflow, its settings and each node), and what
activation refuses about a node: a type or typeVersion that does not exist."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, Final

from domain.n8n.document import Node, Workflow, is_number, node_entries
from domain.n8n.report import Problem, error, warning

_ACCEPTED: Final = ("name", "nodes", "connections", "settings")
_SET_BY_N8N: Final = frozenset(
    {
        "id",
        "active",
        "createdAt",
        "updatedAt",
        "tags",
        "versionId",
        "shared",
        "activeVersion",
        "meta",
        "pinData",
    }
)
_BOOL, _NUMBER, _STRING = "a boolean", "a number", "a string"
_SETTINGS: Final[Mapping[str, str | tuple[str, ...]]] = {
    "saveExecutionProgress": _BOOL,
    "saveManualExecutions": _BOOL,
    "saveDataErrorExecution": ("all", "none"),
    "saveDataSuccessExecution": ("all", "none"),
    "executionTimeout": _NUMBER,
    "errorWorkflow": _STRING,
    "timezone": _STRING,
    "executionOrder": _STRING,
    "callerPolicy": ("any", "none", "workflowsFromAList", "workflowsFromSameOwner"),
    "callerIds": _STRING,
    "timeSavedPerExecution": _NUMBER,
    "availableInMCP": _BOOL,
}
_NODE_FIELDS: Final[Mapping[str, str | tuple[str, ...]]] = {
    "id": _STRING,
    "name": _STRING,
    "type": _STRING,
    "typeVersion": _NUMBER,
    "position": "two numbers",
    "parameters": "an object",
    "credentials": "an object",
    "webhookId": _STRING,
    "disabled": _BOOL,
    "notes": _STRING,
    "notesInFlow": _BOOL,
    "executeOnce": _BOOL,
    "alwaysOutputData": _BOOL,
    "retryOnFail": _BOOL,
    "maxTries": _NUMBER,
    "waitBetweenTries": _NUMBER,
    "continueOnFail": _BOOL,
    "onError": ("stopWorkflow", "continueRegularOutput", "continueErrorOutput"),
}
_CHECKED_ELSEWHERE: Final = frozenset({"name", "type", "typeVersion", "position", "parameters"})


def check_top_level(wf: Workflow) -> Iterator[Problem]:
    data = wf.data
    for key in data:
        if key not in _ACCEPTED and key != "staticData":  # accepted by the API: static_data_given
            why = "n8n sets it itself" if key in _SET_BY_N8N else "it is not a workflow field"
            yield error(
                "unknown_top_level_field",
                None,
                f'top-level field "{key}" is refused by n8n\'s public API on create (400: {why}): '
                "send only name, nodes, connections and settings (activate after creating)",
            )
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        yield error("missing_name", None, 'the workflow needs a "name": a non-empty string')
    if not isinstance(data.get("nodes"), list):
        yield error(
            "invalid_nodes", None, '"nodes" is not a list: write "nodes": [{"name": ..., "type": ...}, ...]'
        )
    if not isinstance(data.get("connections"), dict):
        yield error(
            "invalid_connections",
            None,
            '"connections" is not an object: key it by source node name, '
            '{"<source name>": {"main": [[{"node": "<target name>", "type": "main", "index": 0}]]}}',
        )


def check_static_data(wf: Workflow) -> Iterator[Problem]:
    if "staticData" in wf.data:
        yield warning(
            "static_data_given",
            None,
            '"staticData" is state n8n keeps between runs (its public API accepts it): leave it out of '
            "a new workflow, n8n starts it empty",
        )


def check_settings(wf: Workflow) -> Iterator[Problem]:
    settings = wf.data.get("settings")
    if not isinstance(settings, dict):
        yield error(
            "missing_settings",
            None,
            'n8n\'s public API requires "settings", an object: use {"executionOrder": "v1"} at least',
        )
        return
    for key, value in settings.items():
        expected = _SETTINGS.get(key)
        if expected is None:
            known = ", ".join(_SETTINGS)
            yield error(
                "invalid_setting", None, f'unknown setting "{key}" (400 on create): use one of {known}'
            )
        elif not _fits(value, expected):
            yield error(
                "invalid_setting", None, f'setting "{key}" has the wrong value: use {_wanted(expected)}'
            )


def check_node_entries(wf: Workflow) -> Iterator[Problem]:
    for index, entry in enumerate(node_entries(wf.data)):
        if not isinstance(entry, dict):
            yield error(
                "malformed_node", None, f"nodes[{index}] is not an object: each node is a JSON object"
            )
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            yield error(
                "malformed_node", None, f'nodes[{index}] has no "name": give every node a unique name'
            )
        elif not isinstance(entry.get("type"), str):
            yield error("malformed_node", name, f'node "{name}" has no "type", e.g. "n8n-nodes-base.set"')


def check_node_fields(wf: Workflow) -> Iterator[Problem]:
    for node in wf.nodes:
        for key, value in node.fields.items():
            expected = _NODE_FIELDS.get(key)
            if expected is None:
                yield error(
                    "unknown_node_field",
                    node.name,
                    f'node "{node.name}": field "{key}" is refused by n8n\'s public API (400): '
                    "node settings are id, name, type, typeVersion, position, parameters, credentials, "
                    "webhookId, disabled, notes, notesInFlow, executeOnce, alwaysOutputData, retryOnFail, "
                    "maxTries, waitBetweenTries, onError; anything else belongs inside parameters",
                )
            elif key not in _CHECKED_ELSEWHERE and not _fits(value, expected):
                yield error(
                    "invalid_node_field",
                    node.name,
                    f'node "{node.name}": "{key}" has the wrong value: use {_wanted(expected)}',
                )
        yield from _credential_refs(node)


def _credential_refs(node: Node) -> Iterator[Problem]:
    refs = node.fields.get("credentials")
    if not isinstance(refs, dict):
        return
    for kind, ref in refs.items():
        if not (isinstance(ref, dict) and isinstance(ref.get("name"), str)):
            yield error(
                "invalid_node_field",
                node.name,
                f'node "{node.name}": credential "{kind}" must be '
                '{"id": "<n8n credential id>", "name": "<its name>"}',
            )


def check_node_types(wf: Workflow) -> Iterator[Problem]:
    version = wf.catalog.n8n_version
    for node in wf.nodes:
        if node.spec is None:
            yield error("unknown_node_type", node.name, _unknown_type(node, wf))
        elif node.version is None or not node.spec.has_version(node.version):
            known = ", ".join(_number(v) for v in node.spec.versions)
            given = node.fields.get("typeVersion")
            what = "has no typeVersion" if given is None else f"typeVersion {given!r} does not exist"
            yield error(
                "unknown_type_version",
                node.name,
                f'node "{node.name}": {what} for {node.type} in n8n {version} (it has {known}): '
                f"use {_number(node.spec.versions[-1])}",
            )


def _unknown_type(node: Node, wf: Workflow) -> str:
    catalog = wf.catalog
    text = f'node "{node.name}": node type "{node.type}" does not exist in n8n {catalog.n8n_version}'
    guess = difflib.get_close_matches(node.type, list(catalog.nodes), n=1, cutoff=0.75)
    if guess:
        return f'{text}: did you mean "{guess[0]}"?'
    if not node.type.startswith(f"{catalog.package}."):
        return f"{text}: this catalogue lists {catalog.package} types only; use one of those"
    return f"{text} (activation refuses it): use a {catalog.package} type, e.g. an HTTP Request node"


def check_node_basics(wf: Workflow) -> Iterator[Problem]:
    for node in wf.nodes:
        if not isinstance(node.fields.get("parameters"), dict):
            yield error(
                "missing_parameters",
                node.name,
                f'node "{node.name}" needs "parameters": an object (use {{}} when it has none)',
            )
        position = node.fields.get("position")
        if not (isinstance(position, list) and len(position) == 2 and all(map(is_number, position))):
            yield error(
                "invalid_position", node.name, f'node "{node.name}": "position" must be two numbers, [x, y]'
            )


def check_duplicates(wf: Workflow) -> Iterator[Problem]:
    names = Counter(node.name for node in wf.nodes)
    for name, count in names.items():
        if count > 1:
            yield error(
                "duplicate_node_name",
                name,
                f'{count} nodes are named "{name}": connections and expressions find nodes by name, '
                "so give each node a unique name",
            )
    ids = Counter(node.id for node in wf.nodes if node.id is not None)
    for node_id, count in ids.items():
        if count > 1:
            holders = ", ".join(f'"{n.name}"' for n in wf.nodes if n.id == node_id)
            yield error(
                "duplicate_node_id",
                None,
                f'nodes {holders} share the id "{node_id}": give each node its own id (a UUID)',
            )


def _fits(value: Any, expected: str | tuple[str, ...]) -> bool:
    if isinstance(expected, tuple):
        return value in expected
    if expected == _BOOL:
        return isinstance(value, bool)
    if expected == _NUMBER:
        return is_number(value)
    if expected == _STRING:
        return isinstance(value, str)
    return isinstance(value, dict)  # "an object"


def _wanted(expected: str | tuple[str, ...]) -> str:
    if isinstance(expected, tuple):
        return "one of " + ", ".join(f'"{v}"' for v in expected)
    return expected


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)
