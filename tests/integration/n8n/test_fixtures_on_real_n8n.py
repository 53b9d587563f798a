"""The hand-written valid workflows, on a real n8n 2.8.4: created through the public API, linked to
dummy credentials of the types their nodes name, and activated.

This is what makes the fixtures a reference for the validator: each passes our validator with
no problem (tests/unit/domain/n8n) and is accepted and activated by the n8n it describes. Fixtures
started by an app trigger (Shopify Trigger, ...) are only created: at activation such a trigger
registers its webhook with the app, which these machines cannot reach.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.n8n import N8n
from tests.support.n8n_credentials import create_credential

pytestmark = pytest.mark.n8n

FIXTURES = sorted((Path(__file__).parents[2] / "fixtures" / "n8n" / "valid").glob("*.json"))
# Triggers that activate without calling anything outside n8n.
LOCAL_TRIGGERS = frozenset(
    "n8n-nodes-base." + t
    for t in ("scheduleTrigger", "webhook", "formTrigger", "errorTrigger", "cron", "interval")
)


def _document(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def activates_here(path: Path) -> bool:
    triggers = [
        n["type"] for n in _document(path)["nodes"] if n["type"].endswith(("Trigger", ".webhook", ".cron"))
    ]
    return bool(triggers) and all(t in LOCAL_TRIGGERS for t in triggers)


ACTIVATING = [path for path in FIXTURES if activates_here(path)]


class Credentials:
    """One dummy credential per type, made on first use and shared by every fixture."""

    def __init__(self, api: httpx.Client) -> None:
        self._api = api
        self._made: dict[str, dict[str, str]] = {}

    def link(self, document: dict[str, Any]) -> dict[str, Any]:
        linked = copy.deepcopy(document)
        for node in linked["nodes"]:
            for kind in node.get("credentials", {}):
                if kind not in self._made:
                    self._made[kind] = create_credential(self._api, kind)
                node["credentials"][kind] = self._made[kind]
        return linked


@pytest.fixture(scope="module")
def api(n8n: N8n) -> Iterator[httpx.Client]:
    with n8n.api() as client:
        yield client


@pytest.fixture(scope="module")
def credentials(api: httpx.Client) -> Credentials:
    return Credentials(api)


def _create(api: httpx.Client, credentials: Credentials, path: Path) -> dict[str, Any]:
    response = api.post("/workflows", json=credentials.link(_document(path)))
    assert response.status_code == 200, (
        f"{path.name}: create answered {response.status_code} {response.text[:600]}"
    )
    created: dict[str, Any] = response.json()
    return created


def test_at_least_twenty_fixtures_activate_on_this_machine() -> None:
    assert len(ACTIVATING) >= 20, [p.name for p in ACTIVATING]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_n8n_creates_the_fixture_as_written(api: httpx.Client, credentials: Credentials, path: Path) -> None:
    created = _create(api, credentials, path)
    written = _document(path)
    assert created["active"] is False
    assert [n["name"] for n in created["nodes"]] == [n["name"] for n in written["nodes"]]
    assert created["connections"] == written["connections"]
    api.delete(f"/workflows/{created['id']}").raise_for_status()


@pytest.mark.parametrize("path", ACTIVATING, ids=lambda p: p.stem)
def test_n8n_activates_the_fixture(api: httpx.Client, credentials: Credentials, path: Path) -> None:
    workflow_id = _create(api, credentials, path)["id"]
    try:
        activated = api.post(f"/workflows/{workflow_id}/activate")
        assert activated.status_code == 200, f"{path.name}: {activated.status_code} {activated.text[:800]}"
        assert api.get(f"/workflows/{workflow_id}").json()["active"] is True
    finally:
        api.post(f"/workflows/{workflow_id}/deactivate")
        api.delete(f"/workflows/{workflow_id}")


def test_an_activated_webhook_fixture_answers_through_its_respond_to_webhook_nodes(
    n8n: N8n, api: httpx.Client, credentials: Credentials
) -> None:
    """The order API fixture: IF output 0 answers 201, output 1 answers 422, at /webhook/<path>."""
    path = next(p for p in FIXTURES if p.stem.startswith("12-"))
    workflow_id = _create(api, credentials, path)["id"]
    try:
        assert api.post(f"/workflows/{workflow_id}/activate").status_code == 200
        url = f"{n8n.base_url}/webhook/api/commandes"
        accepted = httpx.post(url, json={"telephone": "+213 550 12 34 56"}, timeout=30)
        refused = httpx.post(url, json={"telephone": "12345"}, timeout=30)
    finally:
        api.post(f"/workflows/{workflow_id}/deactivate")
        api.delete(f"/workflows/{workflow_id}")
    assert (accepted.status_code, accepted.json()) == (201, {"statut": "acceptée", "telephone": "0550123456"})
    assert refused.status_code == 422
    assert refused.json()["statut"] == "refusée"
