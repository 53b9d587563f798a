"""A draft's public outline: per node, its name, type, typeVersion, whether it is disabled and the
credential types n8n will ask of it — never its parameters, where a workflow holds the data it handles.

The SBOM lists a workflow's nodes from it when its n8n JSON is sealed, so it reads exactly what the
SBOM would read from the JSON: every node with a string name and type, in document order, and the
credential types of every node of its name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final

from domain.n8n.catalog import NodeCatalog
from domain.n8n.credentials import credential_needs
from domain.workflow_events import DraftedNode

UNKNOWN_VERSION: Final = "unknown"


def outline(document: Any, catalog: NodeCatalog) -> tuple[DraftedNode, ...]:
    """The outline of a decoded n8n JSON (anything: what is not a node is left out)."""
    if not isinstance(document, dict):
        return ()
    needs: dict[str, set[str]] = {}
    for need in credential_needs(document, catalog):
        needs.setdefault(need.node, set()).add(need.credential_type)
    return tuple(
        DraftedNode(
            name=node["name"],
            node_type=node["type"],
            type_version=type_version(node.get("typeVersion")),
            disabled=node.get("disabled") is True,
            credential_types=tuple(sorted(needs.get(node["name"], ()))),
        )
        for node in _named(document.get("nodes"))
    )


def type_version(value: Any) -> str:
    """As the JSON wrote it (`2.1`, `1`): events carry no floats."""
    return UNKNOWN_VERSION if value is None else json.dumps(value)


def _named(entries: Any) -> Iterable[dict[str, Any]]:
    for node in entries if isinstance(entries, list) else ():
        if isinstance(node, dict) and isinstance(node.get("name"), str) and isinstance(node.get("type"), str):
            yield node
