"""Which n8n instance serves a tenant. Today one instance (N8N_URL, N8N_API_KEY) serves every tenant;
the deployer and the credentials routes only ask this, so an instance per tenant changes this module
alone."""

from __future__ import annotations

from collections.abc import Mapping

from infra.n8n.client import N8nClient, N8nInstance, RetryPolicy
from infra.n8n.vault import N8nVault


class N8nInstances:
    def __init__(
        self,
        default: N8nInstance | None,
        per_tenant: Mapping[str, N8nInstance] | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._default, self._per_tenant = default, dict(per_tenant or {})
        self._policy = policy or RetryPolicy()
        self._clients: dict[str, N8nClient] = {}

    def instance_for(self, tenant: str) -> N8nInstance | None:
        return self._per_tenant.get(tenant, self._default)

    def client_for(self, tenant: str) -> N8nClient | None:
        """One client (one connection pool) per instance, shared by its tenants."""
        instance = self.instance_for(tenant)
        if instance is None:
            return None
        client = self._clients.get(instance.url)
        if client is None:
            client = self._clients[instance.url] = N8nClient(instance, policy=self._policy)
        return client

    def vault_for(self, tenant: str) -> N8nVault | None:
        client = self.client_for(tenant)
        return None if client is None else N8nVault(client)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


NO_N8N = N8nInstances(None)
