"""Small builders for n8n workflow documents in tests: plain dicts, as n8n's JSON is."""

from __future__ import annotations

import json
import re
from typing import Any

from domain.n8n import Problem, ValidationReport, default_catalog, validate

N8N = "n8n-nodes-base."
Doc = dict[str, Any]


def node(name: str, kind: str, version: float, parameters: Doc | None = None, **fields: Any) -> Doc:
    """A node of `n8n-nodes-base.<kind>` (or of `kind` when it names a package)."""
    slug = re.sub(r"\W+", "-", name.lower())
    return {
        "id": f"id-{slug}",
        "name": name,
        "type": kind if "." in kind else N8N + kind,
        "typeVersion": version,
        "position": [0, 0],
        "parameters": {} if parameters is None else parameters,
        **fields,
    }


def to(target: str, index: int = 0) -> Doc:
    return {"node": target, "type": "main", "index": index}


def links(*pairs: tuple[str, str]) -> Doc:
    """Connections from output 0 of each source to input 0 of each target."""
    connections: Doc = {}
    for source, target in pairs:
        connections.setdefault(source, {"main": [[]]})["main"][0].append(to(target))
    return connections


def outputs(*per_output: list[Doc]) -> Doc:
    return {"main": list(per_output)}


def workflow(*nodes: Doc, connections: Doc | None = None, **top: Any) -> Doc:
    return {
        "name": "Test workflow",
        "nodes": list(nodes),
        "connections": {} if connections is None else connections,
        "settings": {"executionOrder": "v1"},
        **top,
    }


SCHEDULE = node(
    "Every morning",
    "scheduleTrigger",
    1.2,
    {"rule": {"interval": [{"field": "cronExpression", "expression": "0 8 * * *"}]}},
)


def check(document: Doc | str) -> ValidationReport:
    text = document if isinstance(document, str) else json.dumps(document)
    return validate(text, default_catalog())


def problems(document: Doc | str, code: str) -> list[Problem]:
    return [p for p in check(document).problems if p.code == code]
