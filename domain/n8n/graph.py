"""The workflow as a graph: something must start it, every node must be reached from a start, and
a loop must be able to end.

Activation (n8n 2.8.4, `validateWorkflowHasTriggerLikeNode`) needs an enabled trigger other than
the Manual Trigger, which only runs from the editor. Nodes reached by no trigger never run; a loop
whose nodes all send every item back into it runs until the execution is killed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Final

from domain.n8n.catalog import STICKY_NOTE
from domain.n8n.document import MAIN, Node, Workflow
from domain.n8n.ports import N8N, outputs
from domain.n8n.report import Problem, error, warning

# Trigger types that do not make a workflow activatable: the editor's manual start, and the
# evaluation trigger (neither has a trigger, poll or webhook method).
NOT_ACTIVATING: Final = frozenset({N8N + "manualTrigger", N8N + "evaluationTrigger"})
# Types that may emit no item at all, which is how a loop through them can end.
_MAY_EMIT_NOTHING: Final = frozenset(
    N8N + t
    for t in (
        "filter",
        "code",
        "function",
        "functionItem",
        "aiTransform",
        "limit",
        "removeDuplicates",
        "splitInBatches",
        "splitOut",
        "itemLists",
    )
)
_ADD_TRIGGER: Final = (
    "a Schedule Trigger (n8n-nodes-base.scheduleTrigger) for a time of day, a Webhook "
    "(n8n-nodes-base.webhook) for an incoming call, or an app trigger such as the Shopify Trigger"
)


def check_trigger(wf: Workflow) -> Iterator[Problem]:
    if any(_starts(node) for node in wf.nodes):
        return
    triggers = [node for node in wf.nodes if node.is_trigger]
    if not triggers:
        yield error(
            "no_trigger",
            None,
            f"the workflow has no trigger node, so n8n cannot activate it: add {_ADD_TRIGGER}",
        )
    elif all(node.disabled for node in triggers):
        names = ", ".join(f'"{n.name}"' for n in triggers)
        yield error(
            "no_trigger", None, f"every trigger ({names}) is disabled: enable one, or add {_ADD_TRIGGER}"
        )
    else:
        names = ", ".join(f'"{n.name}"' for n in triggers)
        yield error(
            "no_trigger",
            None,
            f"{names} can only start the workflow by hand in the editor, so n8n cannot activate it: "
            f"replace it with a trigger that runs by itself, {_ADD_TRIGGER}",
        )


def _starts(node: Node) -> bool:
    return node.is_trigger and not node.disabled and node.type not in NOT_ACTIVATING


def reached(wf: Workflow, starts: list[str]) -> set[str]:
    """Names reached from `starts` along main connections; an AI sub-node (the source of an ai_*
    connection) is reached when the node it serves is."""
    forward: dict[str, list[str]] = {}
    for edge in wf.edges:
        if edge.kind == MAIN:
            forward.setdefault(edge.source, []).append(edge.target)
        else:
            forward.setdefault(edge.target, []).append(edge.source)
    seen, queue = set(starts), deque(starts)
    while queue:
        for name in forward.get(queue.popleft(), ()):
            if name not in seen:
                seen.add(name)
                queue.append(name)
    return seen


def check_reachability(wf: Workflow) -> Iterator[Problem]:
    starts = [node.name for node in wf.nodes if node.is_trigger]
    if not starts:
        return  # no_trigger says it; every node being unreachable would only repeat it
    seen = reached(wf, starts)
    for node in wf.nodes:
        if node.name in seen or node.type == STICKY_NOTE:
            continue
        report = warning if node.disabled else error
        yield report(
            "unreachable_node",
            node.name,
            f'node "{node.name}" is not connected to any trigger, so it never runs: connect it after '
            "a node of the flow, or remove it",
        )


def check_cycles(wf: Workflow) -> Iterator[Problem]:
    for component in _loops(wf):
        if not _can_leave(wf, component):
            names = ", ".join(f'"{n}"' for n in sorted(component))
            yield error(
                "cycle_without_exit",
                sorted(component)[0],
                f"nodes {names} form a loop that every item goes round again, so it never ends: "
                "put an IF (or Loop Over Items) node in it with one output leaving the loop",
            )


def _can_leave(wf: Workflow, component: set[str]) -> bool:
    for name in component:
        node = wf.by_name[name]
        if node.type in _MAY_EMIT_NOTHING:
            return True
        inside = {e.output for e in wf.edges if e.kind == MAIN and e.source == name and e.target in component}
        ports = outputs(node)
        if ports is None:
            return True  # outputs computed at run time: make no claim
        regular = {i for i, label in enumerate(ports.labels) if not (node.error_output and label == "error")}
        if regular - inside:
            return True  # an output that goes elsewhere, or nowhere: items leave the loop there
    return False


def _loops(wf: Workflow) -> list[set[str]]:
    """The strongly connected components of the main connections that hold a cycle: a node is in
    one when it can reach itself, and its component is what it reaches that reaches it back."""
    successors: dict[str, list[str]] = {node.name: [] for node in wf.nodes}
    for edge in wf.edges:
        if edge.kind == MAIN:
            successors[edge.source].append(edge.target)
    ahead = {name: _ahead(successors, name) for name in successors}
    loops: list[set[str]] = []
    placed: set[str] = set()
    for name in successors:
        if name in ahead[name] and name not in placed:
            loop = {other for other in ahead[name] if name in ahead[other]}
            placed |= loop
            loops.append(loop)
    return loops


def _ahead(successors: dict[str, list[str]], start: str) -> set[str]:
    """Nodes reached from `start` in one step or more (`start` itself only through a cycle)."""
    seen: set[str] = set()
    queue = deque(successors[start])
    while queue:
        name = queue.popleft()
        if name not in seen:
            seen.add(name)
            queue.extend(successors[name])
    return seen
