"""Everything the routes share, built once by the composition root and reached through `Provide`."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import asyncpg
from litestar import Request
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, QueryParameter

from api.auth import CACHE_S, KeyCache
from api.consistency import ConsistencyWaiter
from api.hub import StreamHub
from api.idempotency import MAX_KEY_CHARS
from api.problems import ProblemError
from api.rate_limits import SharedBucket
from api.read_cache import ConversationCaches
from commands.context import CommandContext, decode_token
from infra.api_keys import Principal
from infra.crypto.signing import DocumentSigner
from infra.event_store import RedisEventStore
from infra.n8n.instances import NO_N8N, N8nInstances
from infra.observability import correlation_id, request_id
from infra.tracing import current_traceparent

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True)
class Limits:
    read_wait_s: float = 2.0
    max_body_bytes: int = 64 * 1024
    rate_per_s: float = 50.0
    burst: int = 100
    # Requests that carry no recently checked key, per client address, before any key lookup.
    address_rate_per_s: float = 10.0
    address_burst: int = 50
    idempotency_ttl_s: float = 86400.0  # how long an Idempotency-Key's answer is kept
    key_check_s: float = CACHE_S  # how often the keys of open streams are checked for revocation
    checkpoint_interval_s: int = 60  # how often audit checkpoints are made (Retry-After of a fresh proof)
    verify_max_entries: int = 200_000  # log entries past which POST /v1/audit/verifications refuses


@dataclass
class ApiDeps:
    store: RedisEventStore
    pool: asyncpg.Pool
    waiter: ConsistencyWaiter
    hub: StreamHub
    limits: Limits
    lag: Any  # async () -> list[GroupLag]; the handler runtime's, when this process runs one
    caches: ConversationCaches
    keys: KeyCache
    key_rate: SharedBucket  # Limits.rate_per_s and burst, per API key
    address_rate: SharedBucket  # Limits.address_rate_per_s and address_burst, per client address
    n8n: N8nInstances = NO_N8N
    signer: DocumentSigner | None = None  # SBOM signatures and the public keys; None: no keyring


def traceparent_of(header: str | None) -> str:
    """The request's server span when traces are on (its parent is the caller's context); otherwise
    the caller's W3C trace context when valid, or a new trace, so every event has one."""
    if (served := current_traceparent(None)) is not None:
        return served
    value = (header or "").strip().lower()
    return value if _TRACEPARENT.match(value) else f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


@dataclass(frozen=True)
class CommandRequest:
    """A command route's request and the headers every command takes, declared (so validated and
    documented) by `command_request`, the route's `command` dependency."""

    request: Request[Any, Any, Any]
    idempotency_key: str | None = None
    correlation_id: str | None = None
    traceparent: str | None = None


IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_CHARS,
        description="the same key and body within AIWF_IDEMPOTENCY_TTL_S get the same answer, appended once",
    ),
]
CorrelationId = Annotated[
    str | None,
    HeaderParameter(name="X-Correlation-Id", description="recorded on every event the command appends"),
]
TraceParent = Annotated[
    str | None,
    HeaderParameter(
        name="traceparent", description="W3C trace context; a new trace when absent or not valid"
    ),
]


def command_request(
    request: Request[Any, Any, Any],
    deps: NamedDependency[ApiDeps],  # unused: see AFTER_DEPS
    idempotency_key: IdempotencyKey = None,
    x_correlation_id: CorrelationId = None,
    traceparent: TraceParent = None,
) -> CommandRequest:
    return CommandRequest(request, idempotency_key, x_correlation_id, traceparent)


# AFTER_DEPS: a route's dependencies that take `deps` come after it, one at a time. Litestar resolves the
# dependencies of one level together in an anyio task group (a task and a cancel scope each), a tenth of
# an authenticated read's CPU for two dependencies that await nothing.


def command_context(command: CommandRequest, correlation: str | None = None) -> CommandContext:
    principal: Principal = command.request.user
    return CommandContext(
        tenant=principal.tenant,
        actor=principal.key_id,
        now=datetime.now(UTC),
        correlation_id=command.correlation_id or correlation or correlation_id.get(),
        causation_id=request_id.get(),
        traceparent=traceparent_of(command.traceparent),
        idempotency_key=command.idempotency_key,
    )


# What format_token writes; decode_token reads a little more (empty parts), so whatever matches is read.
POSITIONS_PATTERN = r"^[0-9]+:[0-9]+-[0-9]+(,[0-9]+:[0-9]+-[0-9]+)*$"
_READ_AFTER = (
    "the `consistency_token` of a 202 answer: the read waits (AIWF_READ_WAIT_MS at most) to see that write"
)


def read_after(
    deps: NamedDependency[ApiDeps],  # unused: see AFTER_DEPS
    x_consistency_token: Annotated[
        str | None,
        HeaderParameter(name="X-Consistency-Token", pattern=POSITIONS_PATTERN, description=_READ_AFTER),
    ] = None,
    consistency_token: Annotated[
        str | None,
        QueryParameter(
            name="consistency_token", pattern=POSITIONS_PATTERN, description=f"{_READ_AFTER} (as the header)"
        ),
    ] = None,
) -> str | None:
    """A read's `read_after` dependency: the consistency token it must see, from the header or the query."""
    return x_consistency_token or consistency_token


async def await_consistency(deps: ApiDeps, projection: str, token: str | None) -> None:
    """Wait (bounded) until `projection` has folded what the caller's consistency token names."""
    if not token:
        return
    positions = decode_token(token)
    if not await deps.waiter.wait_for(projection, positions, deps.limits.read_wait_s):
        raise ProblemError(
            503,
            "not-yet-consistent",
            "The read model has not caught up yet",
            f"{projection} has not folded {token} after {deps.limits.read_wait_s:g}s; retry",
            headers={"Retry-After": "1"},
        )


T = TypeVar("T")


def tenant_of(request: Request[Any, Any, Any]) -> str:
    """The caller's tenant: every read is scoped to it."""
    principal: Principal = request.user
    return principal.tenant


def found(row: T | None, what: str) -> T:
    """The row, or a 404 that says what was looked for (another tenant's row is absent too)."""
    if row is None:
        raise ProblemError(404, "not-found", "Not found", f"no such {what}")
    return row


async def or_bad_cursor(query: Awaitable[T]) -> T:
    """A list read; a cursor this API did not issue is a 422, not a 500."""
    from projections.queries import BadCursor  # noqa: PLC0415 - the read side's error, named once

    try:
        return await query
    except BadCursor as exc:
        raise ProblemError(422, "validation", "The request is not valid", f"cursor: {exc}") from None
