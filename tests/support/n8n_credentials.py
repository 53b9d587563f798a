"""Dummy n8n credentials for tests: data that n8n's credential schema accepts, and nothing real.

`GET /api/v1/credentials/schema/{type}` answers a JSON Schema with `required`, `additionalProperties:
false` and `allOf` of `if`/`then`/`else` conditions on other fields (Slack wants `notice` while
`signatureSecret` is empty; the OAuth2 types want a client id and secret unless dynamic client
registration is on). An `if` on a field that is absent holds, as in JSON Schema, so its `then`
applies: the loop below adds what each holding condition requires until nothing changes.
"""

from __future__ import annotations

from typing import Any

import httpx

_DUMMY: dict[str, Any] = {"string": "aiwf-dummy", "number": 1, "boolean": False, "json": "{}", "notice": ""}


def dummy_data(schema: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = schema.get("properties", {})
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


def _value(prop: dict[str, Any]) -> Any:
    if prop.get("enum"):
        return prop["enum"][0]
    return _DUMMY.get(prop.get("type", "string"), "aiwf-dummy")


def _required_by_conditions(schema: dict[str, Any], data: dict[str, Any]) -> set[str]:
    wanted: set[str] = set()
    for condition in schema.get("allOf", []):
        branch = condition.get("then") if _holds(condition.get("if", {}), data) else condition.get("else")
        for part in (branch or {}).get("allOf", []):
            wanted.update(part.get("required", []))
    return wanted


def _holds(test: dict[str, Any], data: dict[str, Any]) -> bool:
    for name, prop in test.get("properties", {}).items():
        if name in data and "enum" in prop and data[name] not in prop["enum"]:
            return False
    return True


def create_credential(api: httpx.Client, kind: str) -> dict[str, str]:
    """A credential of type `kind` with dummy data; answers the `{"id", "name"}` a node links."""
    schema = api.get(f"/credentials/schema/{kind}")
    schema.raise_for_status()
    name = f"aiwf dummy {kind}"
    created = api.post("/credentials", json={"name": name, "type": kind, "data": dummy_data(schema.json())})
    if created.status_code != 200:
        raise AssertionError(
            f"n8n refused a dummy {kind} credential: {created.status_code} {created.text[:400]}"
        )
    return {"id": str(created.json()["id"]), "name": name}
