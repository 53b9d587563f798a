"""Our credential rule against a real n8n 2.8.4: the valid fixtures that activate here, stripped of
their credentials and linked to exactly what `credential_needs` computes, are activated (the rule is
not weaker than n8n's); leaving out any one need that n8n requires is refused with its type named
(nor stronger); and leaving out the needs n8n does not require still activates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.n8n import default_catalog
from domain.n8n.credentials import CredentialNeed, credential_needs, link_credentials
from tests.integration.n8n.test_fixtures_on_real_n8n import ACTIVATING
from tests.support.n8n import N8n
from tests.support.n8n_credentials import create_credential

pytestmark = pytest.mark.n8n


def _stripped(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for node in document["nodes"]:
        node.pop("credentials", None)
    return document


def _needs(path: Path) -> tuple[CredentialNeed, ...]:
    return credential_needs(_stripped(path), default_catalog())


REQUIRED = [(path, need) for path in ACTIVATING for need in _needs(path) if need.required_by_n8n]


@pytest.fixture(scope="module")
def api(n8n: N8n) -> Iterator[httpx.Client]:
    with n8n.api() as client:
        yield client


@pytest.fixture(scope="module")
def dummies(api: httpx.Client) -> dict[str, tuple[str, str]]:
    """One dummy credential of every type the fixtures need, as `link_credentials` takes them."""
    kinds = sorted({need.credential_type for path in ACTIVATING for need in _needs(path)})
    made = {kind: create_credential(api, kind) for kind in kinds}
    return {kind: (credential["id"], credential["name"]) for kind, credential in made.items()}


def _activation(api: httpx.Client, document: dict[str, Any]) -> httpx.Response:
    """Create the workflow, try to activate it, and remove it again."""
    created = api.post("/workflows", json=document)
    assert created.status_code == 200, f"create answered {created.status_code} {created.text[:600]}"
    workflow_id = created.json()["id"]
    try:
        return api.post(f"/workflows/{workflow_id}/activate")
    finally:
        api.post(f"/workflows/{workflow_id}/deactivate")
        api.delete(f"/workflows/{workflow_id}")


def test_some_fixtures_have_needs_n8n_requires() -> None:
    assert len({path for path, _ in REQUIRED}) >= 15


@pytest.mark.parametrize("path", ACTIVATING, ids=lambda p: p.stem)
def test_a_fixture_linked_to_exactly_its_computed_needs_activates(
    api: httpx.Client, dummies: dict[str, tuple[str, str]], path: Path
) -> None:
    linked = link_credentials(_stripped(path), default_catalog(), dummies)
    expected = {(need.node, need.credential_type) for need in _needs(path)}
    assert {(n["name"], kind) for n in linked["nodes"] for kind in n.get("credentials", {})} == expected
    activated = _activation(api, linked)
    assert activated.status_code == 200, f"{path.name}: {activated.status_code} {activated.text[:800]}"


@pytest.mark.parametrize("path", ACTIVATING, ids=lambda p: p.stem)
def test_a_fixture_without_the_needs_n8n_does_not_require_still_activates(
    api: httpx.Client, dummies: dict[str, tuple[str, str]], path: Path
) -> None:
    required = {need.credential_type for need in _needs(path) if need.required_by_n8n}
    links = {kind: link for kind, link in dummies.items() if kind in required}
    activated = _activation(api, link_credentials(_stripped(path), default_catalog(), links))
    assert activated.status_code == 200, f"{path.name}: {activated.status_code} {activated.text[:800]}"


@pytest.mark.parametrize(
    ("path", "left_out"), REQUIRED, ids=[f"{p.stem}-{n.node}-{n.credential_type}" for p, n in REQUIRED]
)
def test_leaving_out_one_need_n8n_requires_is_refused_naming_it(
    api: httpx.Client, dummies: dict[str, tuple[str, str]], path: Path, left_out: CredentialNeed
) -> None:
    linked = link_credentials(_stripped(path), default_catalog(), dummies)
    node = next(n for n in linked["nodes"] if n["name"] == left_out.node)
    del node["credentials"][left_out.credential_type]
    activated = _activation(api, linked)
    assert activated.status_code == 400, f"{path.name}: {activated.status_code} {activated.text[:800]}"
    message = activated.json()["message"]
    assert f'Node "{left_out.node}"' in message
    assert f"Missing required credential: {left_out.credential_type}" in message
