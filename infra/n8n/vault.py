"""The tenant's n8n as the credential vault of commands/credentials.py: n8n encrypts and keeps the data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from infra.n8n.client import N8nClient, N8nCredential
from infra.n8n.errors import N8nError


class N8nVault:
    def __init__(self, client: N8nClient) -> None:
        self._client = client

    async def credential_schema(self, type: str) -> dict[str, Any] | None:
        try:
            return await self._client.credential_schema(type)
        except N8nError as exc:
            if exc.status == 404:
                return None
            raise

    async def create_credential(self, name: str, type: str, data: Mapping[str, Any]) -> N8nCredential:
        return await self._client.create_credential(name, type, data)

    async def delete_credential(self, credential_id: str) -> None:
        try:
            await self._client.delete_credential(credential_id)
        except N8nError as exc:
            if exc.status != 404:  # gone already: what deleting wanted
                raise

    async def list_credentials(self) -> Sequence[N8nCredential]:
        return await self._client.list_credentials()
