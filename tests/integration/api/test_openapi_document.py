"""The OpenAPI document is the contract the web app's typed client is generated from (docs/adr/0027):
web/openapi.json is the document the API serves, every operation says what it answers and whether it
needs a key, and the page at /schema shows it with nothing fetched from elsewhere.

`AIWF_WRITE_OPENAPI=1 pytest tests/integration/api/test_openapi_document.py` writes web/openapi.json
from the served document (then commit it with the change that altered the API)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from api.contract import is_public
from tests.integration.api.conftest import Stack

WEB_OPENAPI = Path(__file__).parents[3] / "web" / "openapi.json"
REGENERATE = "regenerate it: AIWF_WRITE_OPENAPI=1 pytest tests/integration/api/test_openapi_document.py"
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
METHODS = {"get", "put", "post", "delete", "patch"}


async def served(stack: Stack) -> dict[str, Any]:
    async with stack.client(None) as anyone:
        answer = await anyone.get("/schema/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


async def test_web_openapi_json_is_the_document_the_api_serves(stack: Stack) -> None:
    document = await served(stack)
    if os.environ.get("AIWF_WRITE_OPENAPI") == "1":
        WEB_OPENAPI.write_text(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")

    assert WEB_OPENAPI.is_file(), f"{WEB_OPENAPI} is missing: {REGENERATE}"
    assert json.loads(WEB_OPENAPI.read_text()) == document, (
        f"{WEB_OPENAPI} is not what the API serves: {REGENERATE}"
    )


async def test_every_error_is_documented_as_a_problem_and_every_guard_says_what_it_answers(
    stack: Stack,
) -> None:
    document = await served(stack)

    for path, method, operation in operations(document):
        responses = operation["responses"]
        for status, response in responses.items():
            if int(status) >= 400 and (path, status) != ("/health/ready", "503"):
                assert response["content"] == PROBLEM, (method, path, status)
        if is_public(path):
            assert operation["security"] == [], (method, path)
            assert "401" not in responses, (method, path)
        else:
            assert "security" not in operation, (method, path)  # the document's: a bearer key
            assert {"401", "422", "429"} <= responses.keys(), (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        if "requestBody" in operation:
            assert {"400", "413", "415", "422"} <= responses.keys(), (method, path)
        else:
            assert "400" not in responses, (method, path)


async def test_request_bodies_refuse_unknown_fields_as_the_document_says(stack: Stack) -> None:
    document = await served(stack)
    bodies = [
        re.sub(r"^#/components/schemas/", "", ref)
        for _, _, operation in operations(document)
        for ref in re.findall(r'"\$ref": "([^"]+)"', json.dumps(operation.get("requestBody", {})))
    ]

    assert len(bodies) >= 8
    for name in bodies:
        assert document["components"]["schemas"][name]["additionalProperties"] is False, name


async def test_a_command_documents_what_it_accepts_and_the_token_to_read_it(stack: Stack) -> None:
    document = await served(stack)
    accepted = document["paths"]["/v1/conversations/{conversation_id}/messages"]["post"]["responses"]["202"]
    headers = document["paths"]["/v1/conversations"]["post"]["parameters"]

    assert accepted["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Accepted"}
    assert accepted["headers"]["X-Consistency-Token"]["required"] is True
    key = next(h for h in headers if h["name"] == "Idempotency-Key")
    assert (key["schema"]["minLength"], key["schema"]["maxLength"]) == (1, 200)


async def test_a_route_that_answers_304_documents_the_etag_it_sends(stack: Stack) -> None:
    document = await served(stack)
    conditional = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
        and any(p.get("name") == "If-None-Match" for p in operation.get("parameters", []))
    ]
    async with stack.client() as http:
        first = (await http.get("/v1/schemas")).json()["schemas"][0]["type"]
        sent = (await http.get(f"/v1/schemas/{first}")).headers.get("etag")

    paths = {path for path, _, _ in conditional}
    assert paths >= {"/v1/workflows/{workflow_id}/sbom", "/v1/schemas/{event_type}"}
    for path, method, operation in conditional:
        for status in ("200", "304"):
            etag = operation["responses"][status]["headers"]["ETag"]
            assert etag["required"] is True, (path, method, status)
    assert sent  # what the document promises, the route sends


@pytest.mark.parametrize(
    ("path", "methods"),
    [("/v1/conversations", "GET, OPTIONS, POST"), ("/v1/credentials", "GET, OPTIONS, POST")],
)
async def test_options_lists_every_method_of_the_path(stack: Stack, path: str, methods: str) -> None:
    """Litestar answered `GET, OPTIONS` here, or `OPTIONS, POST`: the methods of the route made by the
    path's first handler, before the second one joined it."""
    async with stack.client() as http:
        answer = await http.options(path)

    assert answer.headers["allow"] == methods


async def test_the_schema_page_loads_its_script_style_and_icon_from_this_server(stack: Stack) -> None:
    async with stack.client(None) as anyone:
        page = await anyone.get("/schema")
        loaded = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
        assets = {url: await anyone.get(url) for url in loaded}

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "SwaggerUIBundle" in page.text
    assert len(loaded) == 4
    assert all(url.startswith("/schema/ui/") for url in loaded), loaded  # no CDN: it works offline
    for url, asset in assets.items():
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].split(";")[0] in {"text/javascript", "text/css", "image/png"}
