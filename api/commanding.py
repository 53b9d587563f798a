"""The shared path of every command route: context, idempotency, 202 with a consistency token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import msgspec
from litestar import Response

from api.deps import ApiDeps, CommandRequest, command_context
from api.idempotency import identity_of, once
from api.schemas import Accepted
from commands.context import CommandContext, CommandResult
from infra.api_keys import Principal

_accepted = msgspec.json.Decoder(Accepted)


def accepted(result: CommandResult, **ids: str) -> Accepted:
    return Accepted(
        stream=result.stream,
        version=result.version,
        event_ids=result.event_ids,
        consistency_token=result.consistency_token,
        **ids,
    )


def request_secret(deps: ApiDeps) -> bytes:
    """The key of request digests: from the keyring when the store has one (tests may run without)."""
    cipher = deps.store.cipher
    return cipher.keys.keyring.secret("idempotency") if cipher is not None else b""


async def run_command(
    command: CommandRequest,
    deps: ApiDeps,
    run: Callable[[CommandContext], Awaitable[Accepted]],
    correlation: str | None = None,
) -> Response[Accepted]:
    request = command.request
    ctx = command_context(command, correlation)
    key = ctx.idempotency_key
    if key is None:
        status, answer = 202, await run(ctx)
    else:
        scope = f"{request.method} {request.scope.get('path_template', request.url.path)}"
        content = await request.body()
        # Ids derive from the key and the request: after the record expires, the same request derives
        # the same ids again (the store dedupes) and another request new ones (never swallowed).
        secret = request_secret(deps)
        ctx = msgspec.structs.replace(ctx, idempotency_key=identity_of(key, scope, content, secret))

        async def go(started_at: datetime) -> tuple[int, bytes]:
            # A taken-over re-run keeps the first run's time: it decides the very same events.
            return 202, msgspec.json.encode(await run(msgspec.structs.replace(ctx, now=started_at)))

        principal: Principal = request.user
        status, body = await once(
            deps.pool,
            tenant=principal.tenant,
            key=key,
            scope=scope,
            body=content,
            ttl_s=deps.limits.idempotency_ttl_s,
            now=ctx.now,
            run=go,
            secret=secret,
        )
        answer = _accepted.decode(body)  # the stored answer, typed as the document says it
    return Response(answer, status_code=status, headers={"X-Consistency-Token": answer.consistency_token})
