"""Dummy n8n credentials for tests, made through n8n's public API (data: infra/n8n/dummy_credentials.py)."""

from __future__ import annotations

import httpx

from infra.n8n.dummy_credentials import dummy_data


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
