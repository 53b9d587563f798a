"""/v1/credentials: the tenant's n8n credentials. Connecting one checks its data against the instance's
schema for the type, creates it in n8n (which encrypts and keeps it) and records its type, name and
n8n id; listing shows those and which workflows await a type; removing deletes it in n8n too."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api.auth import CHAT, READ
from api.commanding import accepted, run_command
from api.contract import problems
from api.deps import ApiDeps, CommandRequest, tenant_of
from api.schemas import (
    Accepted,
    ConnectCredentialBody,
    CredentialAwaited,
    CredentialItem,
    CredentialList,
)
from commands.context import CommandContext
from commands.credentials import connect_credential, list_credentials, remove_credential
from commands.ports import CredentialVault
from domain.errors import NotConfigured

N8N = problems(
    {
        409: "no n8n instance is configured for the tenant",
        502: "n8n refused or failed",
        503: "n8n is unreachable or busy: retry",
    }
)


def vault_of(deps: ApiDeps, tenant: str) -> CredentialVault:
    vault = deps.n8n.vault_for(tenant)
    if vault is None:
        raise NotConfigured(
            "no n8n instance is configured for this tenant: "
            "set N8N_URL and N8N_API_KEY, then connect credentials"
        )
    return vault


async def connect(deps: ApiDeps, body: ConnectCredentialBody, ctx: CommandContext) -> Accepted:
    vault = vault_of(deps, ctx.tenant)
    result, credential_id = await connect_credential(
        deps.store, vault, ctx, credential_type=body.type, name=body.name, data=body.data
    )
    return accepted(result, credential_id=credential_id)


async def remove(deps: ApiDeps, credential_id: str, ctx: CommandContext) -> Accepted:
    result = await remove_credential(deps.store, vault_of(deps, ctx.tenant), ctx, credential_id)
    return accepted(result, credential_id=credential_id)


class CredentialsController(Controller):
    path = "/v1/credentials"
    tags = ["credentials"]  # noqa: RUF012 - Litestar reads it as an instance attribute

    @post(
        "/",
        opt=CHAT,
        status_code=202,
        summary="Connect an n8n credential (its data goes to n8n only)",
        responses=N8N,
    )
    async def connect(
        self,
        command: NamedDependency[CommandRequest],
        deps: NamedDependency[ApiDeps],
        data: JSONBody[ConnectCredentialBody],
    ) -> Response[Accepted]:
        return await run_command(command, deps, lambda ctx: connect(deps, data, ctx))

    @get("/", opt=READ, summary="The connected credentials (type, name, n8n id) and what workflows await")
    async def list(self, request: Request[Any, Any, Any], deps: NamedDependency[ApiDeps]) -> CredentialList:
        state = await list_credentials(deps.store, tenant_of(request))
        items = [
            CredentialItem(
                credential_id=c.credential_id,
                type=c.credential_type,
                name=c.name,
                connected_at=c.connected_at,
            )
            for c in state.connected
        ]
        awaited = [
            CredentialAwaited(workflow_id=a.workflow_id, types=sorted(a.types)) for a in state.awaiting
        ]
        return CredentialList(items=items, awaited=awaited)

    @delete(
        "/{credential_id:str}",
        opt=CHAT,
        status_code=202,
        summary="Remove a credential, in n8n too",
        responses=N8N,
    )
    async def remove(
        self,
        command: NamedDependency[CommandRequest],
        deps: NamedDependency[ApiDeps],
        credential_id: FromPath[str],
    ) -> Response[Accepted]:
        return await run_command(command, deps, lambda ctx: remove(deps, credential_id, ctx))
