"""Credential commands: connect one (checked against the instance's schema, created in n8n, then
recorded) or remove one. The data goes to the vault and nowhere else.

A crash between n8n's answer and our append leaves a credential in n8n that the log does not know:
names are unique per type in the log, so the next attempt for that name finds it and deletes it
after recording the new one (never two of one name for one request).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commands.context import CommandContext, CommandResult
from commands.execute import Decider, execute, load
from commands.ports import CredentialVault, EventStore
from domain import credentials
from domain.credentials import ConnectCredential, Credentials, RemoveCredential
from domain.errors import CredentialDataInvalid, InvalidTransition, NotFound
from domain.n8n.credential_data import credential_problems

CREDENTIALS = Decider(
    decide=credentials.decide,
    fold=credentials.fold,
    initial=credentials.INITIAL,
    state_type=Credentials,
    schema="credentials.1",
)


async def list_credentials(store: EventStore, tenant: str) -> Credentials:
    return (await load(store, CREDENTIALS, credentials.stream_of(tenant))).state


async def connect_credential(
    store: EventStore,
    vault: CredentialVault,
    ctx: CommandContext,
    *,
    credential_type: str,
    name: str,
    data: Mapping[str, Any],
) -> tuple[CommandResult, str]:
    """The result and n8n's id of the new credential."""
    stream = credentials.stream_of(ctx.tenant)
    state = (await load(store, CREDENTIALS, stream)).state
    if state.named(credential_type, name) is not None:
        raise InvalidTransition(
            f"a {credential_type} credential named {name!r} is connected already: "
            "choose another name, or remove that one first"
        )
    schema = await vault.credential_schema(credential_type)
    if schema is None:
        raise CredentialDataInvalid(credential_type, [f"n8n has no credential type {credential_type!r}"])
    problems = credential_problems(schema, data)
    if problems:
        raise CredentialDataInvalid(credential_type, problems)
    orphans = [c.id for c in await vault.list_credentials() if c.type == credential_type and c.name == name]
    created = await vault.create_credential(name, credential_type, data)
    command = ConnectCredential(
        credential_id=created.id,
        credential_type=credential_type,
        name=name,
        connected_by=ctx.actor,
        connected_at=ctx.now,
    )
    try:
        result = await execute(store, CREDENTIALS, stream, command, ctx)
    except BaseException:
        await vault.delete_credential(created.id)  # recorded nowhere: n8n must not keep it either
        raise
    for orphan in orphans:
        await vault.delete_credential(orphan)
    return result, created.id


async def remove_credential(
    store: EventStore, vault: CredentialVault, ctx: CommandContext, credential_id: str
) -> CommandResult:
    """Recorded first, then deleted in n8n: a crash between leaves an n8n credential no node is
    linked to any more, never a log that names one n8n lost."""
    state = await list_credentials(store, ctx.tenant)
    if state.by_id(credential_id) is None:
        raise NotFound("no such credential")
    command = RemoveCredential(credential_id=credential_id, removed_by=ctx.actor, removed_at=ctx.now)
    result = await execute(store, CREDENTIALS, credentials.stream_of(ctx.tenant), command, ctx)
    await vault.delete_credential(credential_id)
    return result
