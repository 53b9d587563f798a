"""What the designer records of a draft beside the validator's verdict: how sensitive it is, and the names
anyone may read.

A draft is as sensitive as what its design read, or as its n8n JSON reads to the privacy classifier,
whichever is higher; above public its JSON is sealed. Its names are not: the workflow's name names its
copy in n8n (an instance tenants may share) and the outline shows its nodes' names without a key. So a
name the classifier rates above public is a validation problem (`sensitive_name`), repaired like any
other, and never recorded: the outline and the verdict show a placeholder in its stead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from domain.n8n.catalog import NodeCatalog
from domain.n8n.outline import outline
from domain.n8n.report import Problem, ValidationReport, error
from domain.types import Sensitivity
from domain.workflow_events import DraftedNode
from inference.privacy import sensitivity_of

SENSITIVE_NAME: Final = "sensitive_name"
WITHHELD: Final = "[sealed]"  # what a name rated above public is recorded as
_RENAME: Final = "holds data the privacy classifier rates {level}: name it by what it does, never by the data"


@dataclass(frozen=True)
class Draft:
    name: str  # the workflow's name as recorded
    nodes: tuple[DraftedNode, ...]  # the outline as recorded
    sensitivity: Sensitivity
    problems: tuple[Problem, ...] = ()  # one per name rated above public
    withheld: Mapping[str, str] = field(default_factory=dict)  # a node's name → as recorded

    def shown(self, node: str | None) -> str | None:
        """A node's name as the verdict may record it."""
        return self.withheld.get(node, node) if node is not None else None

    def checked(self, report: ValidationReport) -> ValidationReport:
        """The validator's report with this check's problems: a non-public name makes the draft invalid."""
        return ValidationReport(
            valid=report.valid and not self.problems,
            problems=(*report.problems, *self.problems),
            checks=(*report.checks, SENSITIVE_NAME),
        )


def examine(definition: str, derived: Sensitivity, catalog: NodeCatalog) -> Draft:
    """`derived`: what the design read (the turns, a person's reason)."""
    document = _decoded(definition)
    named = document.get("name")
    name = named if isinstance(named, str) and named else "workflow"
    problems: list[Problem] = []
    if (level := sensitivity_of(name)) != Sensitivity.PUBLIC:
        problems.append(error(SENSITIVE_NAME, None, f"the workflow's name {_RENAME.format(level=level)}"))
        name = WITHHELD
    nodes, withheld = list(outline(document, catalog)), dict[str, str]()
    for index, node in enumerate(nodes):
        if (level := sensitivity_of(node.name)) != Sensitivity.PUBLIC:
            what = f"the name of node {index + 1} ({node.node_type})"
            problems.append(error(SENSITIVE_NAME, None, f"{what} {_RENAME.format(level=level)}"))
            withheld[node.name] = f"{WITHHELD} {index + 1}"
            nodes[index] = msgspec.structs.replace(node, name=withheld[node.name])
    return Draft(
        name=name,
        nodes=tuple(nodes),
        sensitivity=derived.at_least(sensitivity_of(definition)),
        problems=tuple(problems),
        withheld=withheld,
    )


def _decoded(definition: str) -> dict[str, Any]:
    try:
        document = msgspec.json.decode(definition)
    except msgspec.DecodeError:
        return {}
    return document if isinstance(document, dict) else {}
