"""Connections: `{source name: {type: [[{node, type, index}, ...] for each output]}}`, by node name.

Measured on n8n 2.8.4: a connection to a missing node, from an output that does not exist or of a
type n8n does not have (`"error"`) is stored and activated, and then never fires or fails each run.
An error output is not a connection type: it is the last `main` output, present only with
`onError: continueErrorOutput` (NodeHelpers.getNodeOutputs).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any, Final

from domain.n8n.document import MAIN, Edge, Node, Workflow, connection_map, is_index
from domain.n8n.ports import N8N, Ports, describe, error_output_hint, inputs, outputs
from domain.n8n.report import Problem, error, warning

# NodeConnectionTypes of n8n-workflow 2.8.4; the ai_* ones join AI sub-nodes to their root node.
AI_TYPES: Final = frozenset(
    {
        "ai_agent",
        "ai_chain",
        "ai_document",
        "ai_embedding",
        "ai_languageModel",
        "ai_memory",
        "ai_outputParser",
        "ai_retriever",
        "ai_reranker",
        "ai_textSplitter",
        "ai_tool",
        "ai_vectorStore",
    }
)
_TARGET: Final = '{"node": "<target name>", "type": "main", "index": 0}'
_SHAPE: Final = f'{{"main": [[{_TARGET}]]}}'


def check_connection_shape(wf: Workflow) -> Iterator[Problem]:
    for source, kinds in connection_map(wf.data).items():
        yield from _source(wf, source)
        if not isinstance(kinds, dict):
            yield error("invalid_connection", None, f'connections of "{source}" must look like {_SHAPE}')
            continue
        for kind, outputs_ in kinds.items():
            if kind != MAIN and kind not in AI_TYPES:
                yield error("invalid_output_key", _name(wf, source), _bad_kind(source, kind))
            elif not isinstance(outputs_, list):
                yield error(
                    "invalid_connection",
                    None,
                    f'"{source}".{kind} is not a list: give one list of targets per output, [[{_TARGET}]]',
                )
            else:
                yield from _outputs(wf, source, kind, outputs_)


def _source(wf: Workflow, source: str) -> Iterator[Problem]:
    if source in wf.by_name:
        return
    if source in wf.by_id:
        yield _by_id(source, wf.by_id[source], "connections are keyed by")
    else:
        yield error(
            "connection_to_missing_node", None, f'connections start from "{source}"{_missing(wf, source)}'
        )


def _outputs(wf: Workflow, source: str, kind: str, outputs_: list[Any]) -> Iterator[Problem]:
    for output, targets in enumerate(outputs_):
        if targets is None:
            continue  # n8n itself writes null for an output with nothing connected
        if not isinstance(targets, list):
            yield error(
                "invalid_connection",
                None,
                f'"{source}".{kind}[{output}] is not a list: write [{_TARGET}, ...]',
            )
            continue
        for target in targets:
            yield from _target(wf, source, kind, output, target)


def _target(wf: Workflow, source: str, kind: str, output: int, target: Any) -> Iterator[Problem]:
    where = f'"{source}".{kind}[{output}]'
    if not isinstance(target, dict) or not isinstance(target.get("node"), str):
        yield error("invalid_connection", None, f"{where}: each target is {_TARGET}")
        return
    name = target["node"]
    if target.get("type") != kind or not is_index(target.get("index")):
        fix = f'"type": "{kind}" (the same as its output) and "index": the input number from 0'
        yield error("invalid_connection", None, f'{where} to "{name}": the target needs {fix}')
    if name in wf.by_name:
        return
    if name in wf.by_id:
        yield _by_id(name, wf.by_id[name], "connection targets name nodes by")
    else:
        yield error(
            "connection_to_missing_node", _name(wf, source), f'{where} goes to "{name}"{_missing(wf, name)}'
        )


def _by_id(given: str, node: Node, how: str) -> Problem:
    return error(
        "connection_by_id",
        node.name,
        f'"{given}" is the id of node "{node.name}", but {how} node name: write "{node.name}"',
    )


def _missing(wf: Workflow, name: str) -> str:
    guess = difflib.get_close_matches(name, list(wf.by_name), n=1)
    hint = (
        f'did you mean "{guess[0]}"?'
        if guess
        else "connect only nodes of this workflow, by their exact names"
    )
    return f", but no node has that name (names are case-sensitive): {hint}"


def _bad_kind(source: str, kind: str) -> str:
    text = f'connections of "{source}" use the type "{kind}", which n8n does not have'
    if kind == "error":
        return (
            f"{text}: an error output is the last main output, main[<number of outputs>], "
            'and exists only when the node has "onError": "continueErrorOutput"'
        )
    return f'{text}: use "main" (or an ai_* type between AI nodes)'


def _name(wf: Workflow, source: str) -> str | None:
    return source if source in wf.by_name else None


def check_ports(wf: Workflow) -> Iterator[Problem]:
    for edge in wf.edges:
        if edge.kind != MAIN:
            continue  # AI sub-node ports are not described in the catalogue
        source, target = wf.by_name[edge.source], wf.by_name[edge.target]
        yield from _output_port(source, edge)
        if not _takes_no_input(target):
            yield from _input_port(target, edge)


def _output_port(node: Node, edge: Edge) -> Iterator[Problem]:
    ports = outputs(node)
    if ports is None or edge.output < len(ports.labels):
        return
    if node.type == N8N + "filter" and edge.output == 1 and not node.error_output:
        yield warning(
            "filter_discarded_output",
            node.name,
            f'node "{node.name}": a Filter node declares only output 0 (kept); output 1 carries the '
            "discarded items at run time but the n8n editor does not show it: use an IF node to route both",
        )
        return
    yield error(
        "output_index_out_of_range",
        node.name,
        f'node "{node.name}": output index {edge.output} (to "{edge.target}") does not exist: '
        f"{_has(ports)}{ports.more}{error_output_hint(node, ports, edge.output)}",
    )


def _input_port(node: Node, edge: Edge) -> Iterator[Problem]:
    ports = inputs(node)
    if ports is None or edge.input < len(ports.labels):
        return
    yield error(
        "input_index_out_of_range",
        node.name,
        f'node "{node.name}": input index {edge.input} (from "{edge.source}") does not exist: '
        f"{ports.what} has {describe(ports, 'input')}{ports.more}",
    )


def _has(ports: Ports) -> str:
    return f"{ports.what} has {describe(ports)}"


def _takes_no_input(node: Node) -> bool:
    return node.spec is not None and (node.spec.trigger or node.spec.inputs == ())


def check_trigger_targets(wf: Workflow) -> Iterator[Problem]:
    for edge in wf.edges:
        target = wf.by_name[edge.target]
        if not _takes_no_input(target):
            continue
        if target.is_trigger:
            why = "a trigger: it starts the workflow and takes no input: connect to the node after it instead"
        else:
            why = "which takes no input: remove that connection"
        yield error(
            "connection_to_trigger", target.name, f'"{edge.source}" connects to node "{target.name}", {why}'
        )
