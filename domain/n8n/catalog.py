"""What n8n knows: the node types of one n8n release, their typeVersions, triggers and parameters.

The catalogue was read from an installed n8n (`n8n-nodes-base/dist/types/nodes.json`); it describes
that release only, so it carries its n8n version and a new release means a new catalogue file.
`inputs` / `outputs` are those of the type's first version: either a list of connection types or an
n8n expression that computes them from the node's parameters (see `domain.n8n.ports`).
`credential_rules` and `defaults` say which credential a node needs (see `domain.n8n.credentials`);
the file is written by `infra.n8n.catalog_build`.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any, Final

import msgspec

CATALOG_FILE: Final = "n8n-2.8.4-node-catalog.json"
STICKY_NOTE: Final = "n8n-nodes-base.stickyNote"


Conditions = dict[str, tuple[Any, ...]]  # n8n's displayOptions `show` / `hide`: parameter → accepted values


class CredentialRule(msgspec.Struct, frozen=True, kw_only=True):
    """One credential of a node class's description: for its `versions`, when `show` / `hide` let it be
    displayed and it is `required`, n8n refuses to activate the node without it."""

    name: str
    required: bool
    versions: tuple[float, ...]
    show: Conditions = {}
    hide: Conditions = {}


class ParameterDefault(msgspec.Struct, frozen=True, kw_only=True):
    """A parameter's default value for `versions`, as one property of the description declares it; that
    property counts only where its own `show` / `hide` (other than `@version`) let it be displayed.
    Only the parameters that credential rules depend on are listed, in the description's order."""

    name: str
    versions: tuple[float, ...]
    value: Any
    show: Conditions = {}
    hide: Conditions = {}


class NodeType(msgspec.Struct, frozen=True, kw_only=True):
    display_name: str = msgspec.field(name="displayName")
    versions: tuple[float, ...]
    trigger: bool
    credentials: frozenset[str]
    parameters: frozenset[str]  # top-level parameter names, over every version
    inputs: tuple[str, ...] | str
    outputs: tuple[str, ...] | str
    credential_rules: tuple[CredentialRule, ...] = ()
    defaults: tuple[ParameterDefault, ...] = ()

    def has_version(self, version: float) -> bool:
        return version in self.versions


class NodeCatalog(msgspec.Struct, frozen=True, kw_only=True):
    n8n_version: str = msgspec.field(name="n8n")
    package: str
    package_version: str
    nodes: dict[str, NodeType]

    def get(self, node_type: str) -> NodeType | None:
        return self.nodes.get(node_type)


def parse_catalog(document: bytes | str) -> NodeCatalog:
    return msgspec.json.decode(document, type=NodeCatalog)


@functools.cache
def default_catalog() -> NodeCatalog:
    """The catalogue shipped beside this module, read once per process."""
    return parse_catalog(resources.files(__package__).joinpath(CATALOG_FILE).read_bytes())
