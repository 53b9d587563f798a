"""Check a credential's data against the JSON Schema n8n 2.8.4 publishes for its type
(`GET /api/v1/credentials/schema/{type}`), before sending it to n8n.

n8n builds that schema itself (`toJsonSchema` in its public API) and checks it with the `jsonschema`
package of npm, which accepts what a strict validator refuses: a property of `"type": "notice"`
(unknown types pass), or `"exclusiveMinimum": [3]`. So this follows that package on the keywords n8n
emits — type, enum, const, pattern, bounds, required, additionalProperties, properties, allOf,
if/then/else, not — rather than a general validator. A problem names the field, never its value: the
data is a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

_TYPES: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def credential_problems(schema: Mapping[str, Any], data: object) -> list[str]:
    """Every reason n8n would refuse `data`, as a sentence naming the field; empty when it accepts it."""
    if not isinstance(data, dict):
        return ["the data must be a JSON object of the credential's fields"]
    return list(dict.fromkeys(_object_problems(schema, data)))


def _object_problems(schema: Mapping[str, Any], data: dict[str, Any]) -> Iterator[str]:
    yield from _field_problems(schema, data)
    for part in schema.get("allOf") or ():
        yield from _object_problems(part, data)
    if "if" in schema:
        branch = schema.get("then") if _holds(schema["if"], data) else schema.get("else")
        if isinstance(branch, Mapping):
            yield from _object_problems(branch, data)
    if "not" in schema and _holds(schema["not"], data):
        fields = schema["not"].get("required") or ()
        for name in fields:
            yield f"field {name!r} is not expected with the other values given: leave it out"
        if not fields:
            yield "the data has a combination of fields n8n does not accept for this type"


def _field_problems(schema: Mapping[str, Any], data: dict[str, Any]) -> Iterator[str]:
    properties: Mapping[str, Any] = schema.get("properties") or {}
    if schema.get("additionalProperties") is False:
        for name in data:
            if name not in properties:
                known = ", ".join(sorted(properties)) or "none"
                yield f"unexpected field {name!r} (the fields of this type: {known})"
    for name in schema.get("required") or ():
        if name not in data:
            yield f"missing required field {name!r}"
    for name, rule in properties.items():
        if name in data and isinstance(rule, Mapping):
            yield from _value_problems(name, rule, data[name])


def _holds(schema: Mapping[str, Any], data: dict[str, Any]) -> bool:
    return next(_object_problems(schema, data), None) is None


def _value_problems(name: str, rule: Mapping[str, Any], value: object) -> Iterator[str]:
    kind = rule.get("type")
    check = _TYPES.get(kind) if isinstance(kind, str) else None
    if check is not None and not check(value):
        yield f"field {name!r} must be a {kind}"
        return
    if "enum" in rule and value not in rule["enum"]:
        yield f"field {name!r} must be one of: {', '.join(map(str, rule['enum']))}"
    if "const" in rule and value not in _listed(rule["const"]):
        yield f"field {name!r} has a value this type does not accept here"
    pattern = rule.get("pattern")
    if isinstance(pattern, str) and isinstance(value, str) and re.search(pattern, value) is None:
        yield f"field {name!r} is not in the expected form"
    if isinstance(value, int | float) and not isinstance(value, bool) and not _within(rule, value):
        yield f"field {name!r} is out of range"


def _listed(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def _within(rule: Mapping[str, Any], value: float) -> bool:
    def bound(key: str) -> float | None:
        raw = rule.get(key)
        first = raw[0] if isinstance(raw, list) and raw else raw
        return float(first) if isinstance(first, int | float) and not isinstance(first, bool) else None

    low, high = bound("minimum"), bound("maximum")
    above, below = bound("exclusiveMinimum"), bound("exclusiveMaximum")
    return not (
        (low is not None and value < low)
        or (high is not None and value > high)
        or (above is not None and value <= above)
        or (below is not None and value >= below)
    )
