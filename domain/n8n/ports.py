"""How many outputs and inputs a node has, as n8n 2.8.4 computes them for its type and parameters.

Most types have a fixed list; a few compute theirs from parameters (their description's `outputs`
is an expression). The cases below mirror those expressions in n8n-nodes-base 2.8.1 (Switch V1-V3,
Merge V3, Webhook, Respond to Webhook, Evaluation) and the per-version lists of If, Filter,
Split in Batches and Compare Datasets. A parameter that is itself an expression cannot be computed
before a run: the answer is then None, and nothing is claimed about that node.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec

from domain.n8n.document import Node, is_index

N8N: Final = "n8n-nodes-base."


class Ports(msgspec.Struct, frozen=True, kw_only=True):
    labels: tuple[str, ...]  # one per port, in index order
    what: str  # the node as a message names it: "an IF node", "a Switch node with 2 routing rules"
    more: str = ""  # how to get another port, when there is a way


def a_node(display_name: str) -> str:
    article = "an" if display_name[:1].lower() in "aeiou" else "a"
    return f"{article} {display_name} node"


def describe(ports: Ports, kind: str = "output") -> str:
    """`outputs 0 (true) and 1 (false)`, `only output 0`, `no inputs`."""
    named = [
        f"{i} ({label})" if label and label != str(i) else str(i) for i, label in enumerate(ports.labels)
    ]
    if not named:
        return f"no {kind}s"
    if len(named) == 1:
        return f"only {kind} {named[0]}"
    return f"{kind}s {', '.join(named[:-1])} and {named[-1]}"


def outputs(node: Node) -> Ports | None:
    """Main outputs, then the error output when `onError` is `continueErrorOutput`."""
    ports = _main_outputs(node)
    if ports is None or not node.error_output:
        return ports
    return Ports(labels=(*ports.labels, "error"), what=ports.what)


def error_output_hint(node: Node, ports: Ports, index: int) -> str:
    """Only the index right after the last output can be made to exist, as the error output."""
    if node.error_output or index != len(ports.labels):
        return ""
    return (
        f'; output {index} exists only as the error output, with "onError": "continueErrorOutput" on the node'
    )


def inputs(node: Node) -> Ports | None:
    version, params = node.version, node.parameters
    if node.type == N8N + "merge" and version is not None:
        count = params.get("numberInputs", 2) if version >= 3 else 2
        if not is_index(count):
            return None
        more = ' (set "numberInputs" for more)' if version >= 3 else ""
        return Ports(labels=tuple(f"input {i + 1}" for i in range(count)), what="a Merge node", more=more)
    if node.type == N8N + "compareDatasets":
        return Ports(labels=("input A", "input B"), what="a Compare Datasets node")
    if node.spec is None or isinstance(node.spec.inputs, str):
        return None
    return Ports(labels=("",) * len(node.spec.inputs), what=a_node(node.spec.display_name))


def _main_outputs(node: Node) -> Ports | None:
    special = _SPECIAL.get(node.type.removeprefix(N8N)) if node.type.startswith(N8N) else None
    if special is not None:
        return special(node.parameters, node.version)
    if node.spec is None or isinstance(node.spec.outputs, str):
        return None
    return Ports(labels=("",) * len(node.spec.outputs), what=a_node(node.spec.display_name))


Params = Mapping[str, Any]


def _fixed(labels: tuple[str, ...], what: str) -> Callable[[Params, float | None], Ports]:
    return lambda _params, _version: Ports(labels=labels, what=what)


def _split_in_batches(_params: Params, version: float | None) -> Ports | None:
    if version is None:
        return None
    if version >= 3:
        return Ports(labels=("done", "loop"), what="a Loop Over Items node (version 3)")
    if version >= 2:
        return Ports(labels=("loop", "done"), what="a Split in Batches node (version 2)")
    return Ports(labels=("",), what="a Split in Batches node (version 1)")


def _webhook(params: Params, _version: float | None) -> Ports | None:
    methods = params.get("httpMethod", ["GET", "POST"] if params.get("multipleMethods") is True else "GET")
    if isinstance(methods, list) and all(isinstance(m, str) for m in methods):
        return Ports(labels=tuple(methods), what=f"a Webhook node listening to {len(methods)} methods")
    return Ports(labels=("",), what="a Webhook node")


def _respond_to_webhook(params: Params, version: float | None) -> Ports | None:
    if version is None:
        return None
    both = version == 1.3 or (version >= 1.4 and params.get("enableResponseOutput") is True)
    if both:
        return Ports(
            labels=("input data", "response"), what="a Respond to Webhook node with its response output"
        )
    more = ' (from version 1.4, "enableResponseOutput": true adds output 1)' if version >= 1.4 else ""
    return Ports(labels=("",), what="a Respond to Webhook node", more=more)


def _evaluation(params: Params, _version: float | None) -> Ports | None:
    if params.get("operation") == "checkIfEvaluating":
        return Ports(labels=("evaluation", "normal"), what="an Evaluation node checking if evaluating")
    return Ports(labels=("",), what="an Evaluation node")


def _switch(params: Params, version: float | None) -> Ports | None:
    if version is None:
        return None
    if version < 2:
        return Ports(labels=("0", "1", "2", "3"), what="a Switch node (version 1)")
    mode = params.get("mode", "rules")
    if mode == "expression":
        key = "numberOutputs" if version >= 3 else "outputsAmount"
        count = params.get(key, 4)
        if not is_index(count):
            return None
        what = f'a Switch node in expression mode with "{key}": {count}'
        return Ports(labels=tuple(map(str, range(count))), what=what, more=f' (raise "{key}" for more)')
    return _switch_rules(params, version) if mode == "rules" else None


def _switch_rules(params: Params, version: float) -> Ports | None:
    """V2 lists rules in `rules.rules`, V3 in `rules.values` (default: one rule); only V3 adds a
    fallback output, and only for `options.fallbackOutput: "extra"`."""
    key = "values" if version >= 3 else "rules"
    rules = params.get("rules", {key: [{}]} if version >= 3 else {})
    listed = rules.get(key, []) if isinstance(rules, dict) else None
    if not isinstance(listed, list):
        return None
    labels = [str(r.get("outputKey") or i) if isinstance(r, dict) else str(i) for i, r in enumerate(listed)]
    what = f"a Switch node with {len(listed)} routing rule{'s' if len(listed) != 1 else ''}"
    if version < 3:
        return Ports(labels=tuple(labels), what=what, more=f' (add a rule to "rules.{key}" for more)')
    options = params.get("options")
    if isinstance(options, dict) and options.get("fallbackOutput") == "extra":
        fallback = options.get("renameFallbackOutput") or "fallback"
        return Ports(labels=(*labels, str(fallback)), what=f"{what} and a fallback output")
    more = ' (add a rule to "rules.values", or set "options.fallbackOutput": "extra" for a fallback output)'
    return Ports(labels=tuple(labels), what=what, more=more)


_SPECIAL: Final[dict[str, Callable[[Params, float | None], Ports | None]]] = {
    "if": _fixed(("true", "false"), "an IF node"),
    "filter": _fixed(("kept",), "a Filter node"),
    "compareDatasets": _fixed(("in A only", "same", "different", "in B only"), "a Compare Datasets node"),
    "splitInBatches": _split_in_batches,
    "switch": _switch,
    "webhook": _webhook,
    "respondToWebhook": _respond_to_webhook,
    "evaluation": _evaluation,
}
