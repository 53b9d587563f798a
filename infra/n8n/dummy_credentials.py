"""Dummy n8n credential data, for demos and tests: what n8n's schema for a type accepts, nothing real.

`GET /api/v1/credentials/schema/{type}` answers a JSON Schema with `required`, `additionalProperties:
false` and `allOf` of `if`/`then`/`else` conditions on other fields (Slack wants `notice` while
`signatureSecret` is empty; the OAuth2 types want a client id and secret unless dynamic client
registration is on). An `if` on a field that is absent holds, as in JSON Schema, so its `then`
applies: the loop below adds what each holding condition requires until nothing changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_DUMMY: dict[str, Any] = {"string": "aiwf-dummy", "number": 1, "boolean": False, "json": "{}", "notice": ""}


def dummy_data(schema: Mapping[str, Any]) -> dict[str, Any]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    data: dict[str, Any] = {}
    wanted = set(schema.get("required", []))
    for _ in range(10):
        for name in sorted(wanted - data.keys()):
            data[name] = _value(properties.get(name, {}))
        more = wanted | _required_by_conditions(schema, data)
        if more == wanted:
            return data
        wanted = more
    return data


def _value(prop: Mapping[str, Any]) -> Any:
    if prop.get("enum"):
        return prop["enum"][0]
    return _DUMMY.get(prop.get("type", "string"), "aiwf-dummy")


def _required_by_conditions(schema: Mapping[str, Any], data: Mapping[str, Any]) -> set[str]:
    wanted: set[str] = set()
    for condition in schema.get("allOf", []):
        branch = condition.get("then") if _holds(condition.get("if", {}), data) else condition.get("else")
        for part in (branch or {}).get("allOf", []):
            wanted.update(part.get("required", []))
    return wanted


def _holds(test: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    for name, prop in test.get("properties", {}).items():
        if name in data and "enum" in prop and data[name] not in prop["enum"]:
            return False
    return True
