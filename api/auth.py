"""API keys as `Authorization: Bearer …`, a role per key, one tenant per key; a token bucket per key."""

from __future__ import annotations

import time
from typing import Any

import asyncpg
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from api.problems import ProblemError
from domain.types import Role
from infra.api_keys import Principal, authenticate
from infra.observability import tenant as tenant_var

# Anchored: Litestar searches these patterns anywhere in the path, so "/schema" alone also exempted
# "/v1/conversations/schemas" from authentication.
PUBLIC_PATHS = {
    r"^/health/live$",
    r"^/health/ready$",
    r"^/metrics$",
    r"^/asyncapi\.json$",
    r"^/v1/schemas(/[^/]*|/[^/]+/envelope)?$",
    r"^/schema(/.*)?$",
}
CACHE_S = 30.0  # a revoked key keeps working this long in a running API process


class KeyCache:
    """Keys are checked in PostgreSQL once, then remembered briefly: reads must not pay a query each."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._known: dict[str, tuple[Principal | None, float]] = {}

    async def principal(self, token: str) -> Principal | None:
        now = time.monotonic()
        known = self._known.get(token)
        if known is not None and known[1] > now:
            return known[0]
        principal = await authenticate(self._pool, token)
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[token] = (principal, now + CACHE_S)
        return principal


class TokenBucket:
    """`rate` requests a second per key, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """0 when allowed, else the seconds to wait."""
        now = time.monotonic()
        tokens, then = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate


def bearer_auth(keys: KeyCache, limiter: TokenBucket) -> type[AbstractAuthenticationMiddleware]:
    class BearerAuth(AbstractAuthenticationMiddleware):
        def __init__(self, app: ASGIApp) -> None:
            super().__init__(app, exclude=sorted(PUBLIC_PATHS))

        async def authenticate_request(
            self, connection: ASGIConnection[Any, Any, Any, Any]
        ) -> AuthenticationResult:
            scheme, _, token = connection.headers.get("authorization", "").partition(" ")
            principal = await keys.principal(token.strip()) if scheme.lower() == "bearer" else None
            if principal is None:
                raise ProblemError(
                    401,
                    "unauthorized",
                    "Authentication required",
                    "send `Authorization: Bearer <API key>`",
                    headers={"WWW-Authenticate": 'Bearer realm="aiwf"'},
                )
            wait = limiter.take(principal.key_id)
            if wait > 0:
                raise ProblemError(
                    429,
                    "rate-limited",
                    "Too many requests",
                    f"retry in {wait:.2f}s",
                    headers={"Retry-After": str(max(1, round(wait)))},
                )
            check_role(principal, connection.scope.get("route_handler"))
            refuse_nul(connection.scope)
            tenant_var.set(principal.tenant)
            return AuthenticationResult(user=principal, auth=token)

    return BearerAuth


def allow(*roles: Role) -> dict[str, Any]:
    """A route's `opt`: the roles that may call it. Checked by the authentication middleware, not by a
    Litestar guard: Litestar copies the route handler for every guard call (7% of a read's CPU)."""
    return {"roles": frozenset(roles)}


def check_role(principal: Principal, route_handler: Any) -> None:
    """Fail closed: a route that names no roles admits nobody."""
    roles: frozenset[Role] = getattr(route_handler, "opt", {}).get("roles", frozenset())
    if principal.role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles)) or "none (the route declares no roles)"
        raise ProblemError(403, "forbidden", "Not allowed for this key's role", f"needs one of: {allowed}")


def refuse_nul(scope: Any) -> None:
    """U+0000 in a path or query value reaches PostgreSQL, which refuses it (domain/text.py)."""
    query: bytes = scope.get("query_string", b"")
    if "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query:
        raise ProblemError(
            422,
            "validation",
            "The request is not valid",
            "the NUL character (U+0000, %00) is not allowed in the path or the query",
        )


CHAT = allow(Role.MEMBER, Role.ADMIN)
READ = allow(Role.MEMBER, Role.AUDITOR, Role.ADMIN)
AUDIT = allow(Role.AUDITOR, Role.ADMIN)
