"""Which credentials a workflow's nodes need, as n8n 2.8.4 decides it, and linking them.

n8n refuses to activate a workflow while a node lacks a credential that its description marks
`required` and displays for the node's parameters (n8n-workflow `validateNodeCredentials`,
`displayParameter`). It reads the parameters as the Workflow holds them (`getNodeParameters`): a
missing one is its default, one whose own displayOptions hide it is dropped. So a Slack node
without `authentication` needs `slackApi` (the default is `accessToken`), and a value that is an
expression (`={{...}}`) displays every credential it decides, since n8n cannot know it in advance.
The HTTP Request node names its credential type in parameters (`genericAuthType`,
`nodeCredentialType`): n8n activates it without, but every run fails, so it is a need too.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

import msgspec

from domain.n8n.catalog import Conditions, NodeCatalog, ParameterDefault
from domain.n8n.document import Node, is_number, read_workflow
from domain.n8n.ports import N8N

HTTP_REQUEST: Final = N8N + "httpRequest"
# The HTTP Request's choice of authentication → the parameter that names the credential type.
CHOSEN_TYPE: Final = {
    "genericCredentialType": "genericAuthType",
    "predefinedCredentialType": "nodeCredentialType",
}
# How far a default's displayOptions may depend on other defaults (n8n orders them; ours are shallow).
DEPTH: Final = 3


class _Missing:
    """JavaScript's `undefined`: a parameter that is not there, distinct from `null`."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
Values = Callable[[str], list[Any]]  # a displayOptions key → n8n's `getPropertyValues`


class CredentialNeed(msgspec.Struct, frozen=True, kw_only=True):
    node: str  # the node's name
    credential_type: str  # e.g. "slackApi"
    required_by_n8n: bool  # True: activation refuses without it; False: only its runs fail


def credential_needs(document: Mapping[str, Any], catalog: NodeCatalog) -> tuple[CredentialNeed, ...]:
    """Every node's needs, in node order; disabled nodes and types the catalogue lacks need nothing."""
    return tuple(need for node in read_workflow(document, catalog).nodes for need in node_needs(node))


def link_credentials(
    document: Mapping[str, Any], catalog: NodeCatalog, links: Mapping[str, tuple[str, str]]
) -> dict[str, Any]:
    """A copy where each node that needs a type of `links` (type → (n8n id, name)) is linked to it;
    its other credentials are kept."""
    linked = copy.deepcopy(dict(document))
    for node in read_workflow(linked, catalog).nodes:
        chosen = [need.credential_type for need in node_needs(node) if need.credential_type in links]
        if chosen and isinstance(node.fields, dict):
            current = node.fields.get("credentials")
            credentials = dict(current) if isinstance(current, dict) else {}
            for kind in chosen:
                credential_id, name = links[kind]
                credentials[kind] = {"id": credential_id, "name": name}
            node.fields["credentials"] = credentials
    return linked


def node_needs(node: Node) -> tuple[CredentialNeed, ...]:
    version = node.version
    if node.disabled or node.spec is None or version is None:
        return ()
    parameters = _Parameters(node.parameters, node.spec.defaults, version, node.type)
    values = _values(parameters.value, version, node.type)
    needs: dict[str, bool] = {}
    for rule in node.spec.credential_rules:
        if rule.required and version in rule.versions and displayed(rule.show, rule.hide, values):
            needs.setdefault(rule.name, True)
    for kind in _chosen_types(node, values):
        needs.setdefault(kind, False)
    return tuple(
        CredentialNeed(node=node.name, credential_type=kind, required_by_n8n=required)
        for kind, required in needs.items()
    )


def _chosen_types(node: Node, values: Values) -> Iterator[str]:
    if node.type != HTTP_REQUEST:
        return
    for authentication, parameter in CHOSEN_TYPE.items():
        kind = node.parameters.get(parameter)
        if (
            isinstance(kind, str)
            and kind
            and not kind.startswith("=")  # an expression: the type is only known at run time
            and displayed({"authentication": (authentication,)}, {}, values)
        ):
            yield kind


class _Parameters:
    """A node's parameters as n8n's Workflow holds them, for the few the catalogue has defaults of."""

    def __init__(
        self, written: Mapping[str, Any], defaults: Sequence[ParameterDefault], version: float, node_type: str
    ):
        self._written = written
        self._version = version
        self._node_type = node_type
        self._defaults: dict[str, list[ParameterDefault]] = {}
        for default in defaults:
            if version in default.versions:
                self._defaults.setdefault(default.name, []).append(default)

    def value(self, name: str) -> Any:
        """Written or default, if one of its properties is displayed; else n8n drops it."""
        candidates = self._defaults.get(name)
        if not candidates:
            return self._written.get(name, MISSING)  # nothing known of it: as written
        for default in candidates:
            if self._shown(default, DEPTH):
                return self._written.get(name, default.value)
        return MISSING

    def _checked_value(self, name: str, depth: int) -> Any:
        """What n8n checks displayOptions against: written, or the default of the first property of
        that name that is displayed (of the only one: then it is not checked)."""
        if name in self._written:
            return self._written[name]
        candidates = self._defaults.get(name, [])
        for default in candidates:
            if len(candidates) == 1 or depth == 0 or self._shown(default, depth - 1):
                return default.value
        return MISSING

    def _shown(self, default: ParameterDefault, depth: int) -> bool:
        values = _values(lambda name: self._checked_value(name, depth), self._version, self._node_type)
        return displayed(default.show, default.hide, values)


def _values(parameter: Callable[[str], Any], version: float, node_type: str) -> Values:
    def property_values(key: str) -> list[Any]:
        if key == "@version":
            value: Any = version or 0
        elif key == "@tool":
            value = node_type.endswith("Tool")
        elif key == "@feature":
            return []  # no node of n8n-nodes-base 2.8.1 declares features
        else:
            first, *rest = key.removeprefix("/").split(".")
            value = _path(parameter(first), rest)
        if isinstance(value, dict) and value.get("__rl"):
            value = value.get("value", MISSING)  # a resource locator: its value
        return list(value) if isinstance(value, list) else [value]

    return property_values


def _path(value: Any, keys: Sequence[str]) -> Any:
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key, MISSING)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return MISSING
    return value


def displayed(show: Conditions, hide: Conditions, values: Values) -> bool:
    """n8n's `displayParameter`: every `show` key must hold (an expression holds, and ends the check);
    any `hide` key that holds hides."""
    for key, accepted in show.items():
        actual = values(key)
        if any(isinstance(value, str) and value.startswith("=") for value in actual):
            return True
        if not check_conditions(accepted, actual):
            return False
    for key, accepted in hide.items():
        actual = values(key)
        if actual and check_conditions(accepted, actual):
            return False
    return True


def check_conditions(accepted: Sequence[Any], actual: Sequence[Any]) -> bool:
    """n8n's `checkConditions`: one accepted value is among the actual ones, or one `{"_cnd": {op:
    target}}` holds for every actual value."""
    return any(_holds(condition, actual) for condition in accepted)


def _holds(condition: Any, actual: Sequence[Any]) -> bool:
    if isinstance(condition, dict) and len(condition) == 1 and isinstance(condition.get("_cnd"), dict):
        operations: dict[str, Any] = condition["_cnd"]
        if not operations:
            return False
        operation, target = next(iter(operations.items()))
        if not actual:
            return operation == "not"
        return all(_compare(operation, value, target) for value in actual)
    return any(_same(value, condition) for value in actual)


def _compare(operation: str, value: Any, target: Any) -> bool:
    if operation in ("eq", "not"):
        return _same(value, target) == (operation == "eq")
    if operation == "between":
        bounds = target if isinstance(target, dict) else {}
        return _ordered(bounds.get("from"), value) and _ordered(value, bounds.get("to"))
    if operation in ("gte", "gt"):
        return _ordered(target, value, strict=operation == "gt")
    if operation in ("lte", "lt"):
        return _ordered(value, target, strict=operation == "lt")
    if operation == "exists":
        return value is not MISSING and value is not None and value != ""
    if operation == "includes":
        if isinstance(value, list):
            return any(_same(item, target) for item in value)
        return isinstance(value, str) and isinstance(target, str) and target in value
    if not (isinstance(value, str) and isinstance(target, str)):
        return False
    if operation == "startsWith":
        return value.startswith(target)
    if operation == "endsWith":
        return value.endswith(target)
    if operation == "regex":
        try:
            return re.search(target, value) is not None
        except re.error:
            return False
    return False


def _ordered(low: Any, high: Any, *, strict: bool = False) -> bool:
    if (is_number(low) and is_number(high)) or (isinstance(low, str) and isinstance(high, str)):
        return bool(low < high) if strict else bool(low <= high)
    return False


def _same(left: Any, right: Any) -> bool:
    """JavaScript's strict equality, deep for lists and objects: `true` is not `1`, `1` is `1.0`."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[key], right[key]) for key in left)
    return bool(left == right)
