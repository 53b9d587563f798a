"""API keys as `Authorization: Bearer …`, a role per key, one tenant per key; a token bucket per key,
and one per client address in front of every key lookup (docs/adr/0022), both shared by the API processes
(api/rate_limits.py, docs/adr/0033)."""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from typing import Any, Protocol, TypeVar

import asyncpg
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from api.problems import ProblemError
from domain.types import Role
from infra.api_keys import Principal, active_keys, authenticate, parse_token
from infra.observability import tenant as tenant_var

# Anchored: Litestar searches these patterns anywhere in the path, so "/schema" alone also exempted
# "/v1/conversations/schemas" from authentication.
PUBLIC_PATHS = {
    r"^/health/live$",
    r"^/health/ready$",
    r"^/metrics$",
    r"^/asyncapi\.json$",
    r"^/v1/schemas(/[^/]*|/[^/]+/envelope)?$",
    r"^/v1/audit/keys$",
    r"^/schema(/.*)?$",
    r"^/$",  # the web app's page and assets (api/webapp.py): it asks for a key itself
    r"^/assets/[^/]+$",
}
# How long a good key is trusted without asking PostgreSQL again. A revocation is heard at once (a NOTIFY,
# docs/adr/0033); this bounds it only while the API process has no LISTEN connection (open streams: hub.py).
CACHE_S = 30.0
MISS_S = 5.0  # an unknown token is answered from memory this long
CACHE_SIZE = 10_000  # entries of each cache (good keys, unknown tokens, address buckets)
Clock = Callable[[], float]
V = TypeVar("V")


class KeyLookup(Protocol):
    """Where keys are checked: PostgreSQL (`PostgresKeys`), or a fake in tests."""

    async def authenticate(self, token: str) -> Principal | None: ...

    async def active(self, key_ids: Collection[str]) -> set[str]: ...


class PostgresKeys:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def authenticate(self, token: str) -> Principal | None:
        return await authenticate(self._pool, token)

    async def active(self, key_ids: Collection[str]) -> set[str]:
        return await active_keys(self._pool, key_ids)


def remember(cache: OrderedDict[str, V], key: str, value: V, size: int) -> None:
    """Least recently used out first, one entry at a time: never the whole cache at once."""
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


class KeyCache:
    """Keys are checked in PostgreSQL once, then remembered briefly: reads must not pay a query each.
    Good keys (CACHE_S) and unknown tokens (MISS_S) are kept apart, each in a bounded LRU, so a spray of
    unknown tokens churns only the misses and never evicts a good key. A revocation heard from PostgreSQL
    drops the key at once (`forget_key`)."""

    def __init__(self, lookup: KeyLookup, *, size: int = CACHE_SIZE, clock: Clock = time.monotonic) -> None:
        self._lookup, self._size, self._clock = lookup, size, clock
        self._good: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._misses: OrderedDict[str, float] = OrderedDict()
        self._forgets = 0  # bumped by every revocation heard and every wholesale clear

    def fresh(self, token: str) -> Principal | None:
        """The principal of a good key checked less than CACHE_S ago, at no cost."""
        known = self._good.get(token)
        if known is None or known[1] <= self._clock():
            return None
        self._good.move_to_end(token)
        return known[0]

    def was_good(self, token: str) -> bool:
        """A key that was good when last checked (its re-check is bounded by the number of good keys)."""
        return token in self._good

    async def principal(self, token: str) -> Principal | None:
        principal = self.fresh(token)
        if principal is not None or parse_token(token) is None:  # malformed: no query, nothing kept
            return principal
        now = self._clock()
        missed = self._misses.get(token)
        if missed is not None and missed > now:
            return None
        forgets = self._forgets
        principal = await self._lookup.authenticate(token)
        if principal is None:
            self._good.pop(token, None)
            remember(self._misses, token, now + MISS_S, self._size)
        elif forgets == self._forgets:
            self._misses.pop(token, None)
            remember(self._good, token, (principal, now + CACHE_S), self._size)
        # else a revocation was heard while PostgreSQL answered: its answer may predate it, so the key is
        # not remembered (the next request asks again).
        return principal

    def forget_key(self, key_id: str) -> None:
        """A revocation heard: every cached token of `key_id` is asked for again."""
        self._forgets += 1
        for token in [t for t, (p, _) in self._good.items() if p.key_id == key_id]:
            del self._good[token]

    def forget_all(self) -> None:
        """After the LISTEN connection came back: a revocation may have gone unheard meanwhile, so every
        good key is checked again at its next use. Expired rather than dropped: a key that was good is
        re-checked without paying from its address's bucket (`was_good`)."""
        self._forgets += 1
        for token, (principal, _) in list(self._good.items()):
            self._good[token] = (principal, 0.0)

    async def revoked_among(self, key_ids: Collection[str]) -> set[str]:
        """Which of `key_ids` are no longer valid, asked of PostgreSQL (not of this cache), and
        forgotten here at once, so a client whose stream closes cannot come straight back."""
        revoked = set(key_ids) - await self._lookup.active(key_ids)
        if revoked:
            self._forgets += 1
        for token in [t for t, (p, _) in self._good.items() if p.key_id in revoked]:
            del self._good[token]
        return revoked


class TokenBucket:
    """`rate` requests a second per key, bursts up to `burst`; at most `size` buckets (the least recently
    used goes first: forgetting one only refills it). This process's alone: the shared limit falls back on
    it while Redis is out of reach (api/rate_limits.py)."""

    def __init__(self, rate: float, burst: int, *, size: int = CACHE_SIZE, clock: Clock = time.monotonic):
        self.rate, self.burst, self._size, self._clock = rate, burst, size, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """0 when allowed, else the seconds to wait."""
        now = self._clock()
        tokens, then = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens >= 1:
            remember(self._buckets, key, (tokens - 1, now), self._size)
            return 0.0
        remember(self._buckets, key, (tokens, now), self._size)
        return (1 - tokens) / self.rate


def address_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The client's address as the rate limit sees it: an IPv6 client by its /64 (one host's share)."""
    host = connection.client.host if connection.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _within(wait: float) -> None:
    if wait > 0:
        raise ProblemError(
            429,
            "rate-limited",
            "Too many requests",
            f"retry in {wait:.2f}s",
            headers={"Retry-After": str(max(1, round(wait)))},
        )


class Limiter(Protocol):
    """A rate limit by key (api/rate_limits.py `SharedBucket`)."""

    def leased(self, key: str) -> bool:
        """A token taken at no cost (no I/O), or False: ask `take`."""
        ...

    async def take(self, key: str) -> float:
        """0 when allowed, else the seconds to wait."""
        ...


def bearer_auth(
    keys: KeyCache, limiter: Limiter, addresses: Limiter
) -> type[AbstractAuthenticationMiddleware]:
    class BearerAuth(AbstractAuthenticationMiddleware):
        def __init__(self, app: ASGIApp) -> None:
            super().__init__(app, exclude=sorted(PUBLIC_PATHS))

        async def authenticate_request(
            self, connection: ASGIConnection[Any, Any, Any, Any]
        ) -> AuthenticationResult:
            scheme, _, token = connection.headers.get("authorization", "").partition(" ")
            token = token.strip() if scheme.lower() == "bearer" else ""
            principal = keys.fresh(token)
            if principal is None:
                # Before any lookup, a request without a recently checked key pays from its address's
                # bucket: a spray of tokens costs at most the bucket in queries, a good key nothing.
                if not keys.was_good(token):
                    _within(await addresses.take(address_of(connection)))
                principal = await keys.principal(token)
            if principal is None:
                raise ProblemError(
                    401,
                    "unauthorized",
                    "Authentication required",
                    "send `Authorization: Bearer <API key>`",
                    headers={"WWW-Authenticate": 'Bearer realm="aiwf"'},
                )
            if not limiter.leased(principal.key_id):
                _within(await limiter.take(principal.key_id))
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
ADMIN = allow(Role.ADMIN)
