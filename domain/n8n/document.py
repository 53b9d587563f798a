"""The n8n workflow document as the rules read it: nodes with their catalogue entry, and edges.

n8n's JSON is an external format, read here as plain JSON values: anything may be missing or of
the wrong type, and each rule reports what it is about. This module only picks out what is well
formed enough to reason about (a node with a name and a type; a connection between two nodes
named as n8n names them) so the rules after it need not re-check the shape.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from domain.n8n.catalog import NodeCatalog, NodeType

MAIN = "main"


class Node(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    type: str
    id: str | None
    fields: Mapping[str, Any]  # the node object as written
    spec: NodeType | None  # None: a type the catalogue does not know

    @property
    def parameters(self) -> Mapping[str, Any]:
        value = self.fields.get("parameters")
        return value if isinstance(value, dict) else {}

    @property
    def version(self) -> float | None:
        value = self.fields.get("typeVersion")
        return value if is_number(value) else None

    @property
    def disabled(self) -> bool:
        return self.fields.get("disabled") is True

    @property
    def error_output(self) -> bool:
        """n8n adds an error output after the others only for this setting (NodeHelpers.getNodeOutputs)."""
        return self.fields.get("onError") == "continueErrorOutput"

    @property
    def is_trigger(self) -> bool:
        return self.spec is not None and self.spec.trigger


class Edge(msgspec.Struct, frozen=True, kw_only=True):
    """One connection, source output to target input, between nodes known by their names."""

    source: str
    kind: str  # the connection type: "main", "ai_tool", ...
    output: int
    target: str
    input_kind: str
    input: int


class Workflow(msgspec.Struct, frozen=True, kw_only=True):
    data: Mapping[str, Any]  # the top-level object as written
    nodes: tuple[Node, ...]  # the well-formed ones, in document order
    by_name: Mapping[str, Node]  # the first node of each name
    by_id: Mapping[str, Node]
    edges: tuple[Edge, ...]
    catalog: NodeCatalog

    def named(self, name: str) -> Node | None:
        return self.by_name.get(name)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_index(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_workflow(data: Mapping[str, Any], catalog: NodeCatalog) -> Workflow:
    nodes = tuple(_nodes(data, catalog))
    by_name: dict[str, Node] = {}
    by_id: dict[str, Node] = {}
    for node in nodes:
        by_name.setdefault(node.name, node)
        if node.id is not None:
            by_id.setdefault(node.id, node)
    edges = tuple(e for e in connection_edges(data) if e.source in by_name and e.target in by_name)
    return Workflow(data=data, nodes=nodes, by_name=by_name, by_id=by_id, edges=edges, catalog=catalog)


def node_entries(data: Mapping[str, Any]) -> list[Any]:
    nodes = data.get("nodes")
    return nodes if isinstance(nodes, list) else []


def _nodes(data: Mapping[str, Any], catalog: NodeCatalog) -> Iterator[Node]:
    for entry in node_entries(data):
        if not isinstance(entry, dict):
            continue
        name, node_type, node_id = entry.get("name"), entry.get("type"), entry.get("id")
        if isinstance(name, str) and name and isinstance(node_type, str):
            yield Node(
                name=name,
                type=node_type,
                id=node_id if isinstance(node_id, str) else None,
                fields=entry,
                spec=catalog.get(node_type),
            )


def connection_map(data: Mapping[str, Any]) -> Mapping[str, Any]:
    connections = data.get("connections")
    return connections if isinstance(connections, dict) else {}


def connection_edges(data: Mapping[str, Any]) -> Iterator[Edge]:
    """Every well-formed connection, `{source: {kind: [[{node, type, index}, ...] per output]}}`."""
    for source, kinds in connection_map(data).items():
        if not isinstance(kinds, dict):
            continue
        for kind, outputs in kinds.items():
            if not isinstance(outputs, list):
                continue
            for output, targets in enumerate(outputs):
                for target in targets if isinstance(targets, list) else ():
                    if _well_formed(target):
                        yield Edge(
                            source=source,
                            kind=kind,
                            output=output,
                            target=target["node"],
                            input_kind=target["type"],
                            input=target["index"],
                        )


def _well_formed(target: object) -> bool:
    return (
        isinstance(target, dict)
        and isinstance(target.get("node"), str)
        and isinstance(target.get("type"), str)
        and is_index(target.get("index"))
    )
