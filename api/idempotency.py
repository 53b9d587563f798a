"""`Idempotency-Key`: the same key and body get the same answer without appending twice; the same key
with another body (or route) is refused.

A request claims its key in one short transaction, runs its command with no connection held, then stores
its answer: a slow append never pins a pool connection. A second request with the key waits (bounded) for
the first one's answer. A claim whose owner died is taken over after `CLAIM_S`; the re-run gets the first
run's time, so the decider makes the same events with the same derived ids and the store dedupes them.

A record lives `ttl_s` (a day by default): older, it counts as absent and the request runs as new. The
ids a request derives come from `identity_of` (the key *and* the request), so a key reused after its record
expired cannot be mistaken for the first request by the store's deduplication."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg
import msgspec

from api.problems import ProblemError
from projections.read_model import Conn

log = logging.getLogger(__name__)
MAX_KEY_CHARS = 200
SWEEP_EVERY_S = 300.0
FIRST_SWEEP_AFTER_S = 5.0
CLAIM_S = 30.0  # far above a command's bounded append retries
IN_FLIGHT_WAIT_S = 10.0
_POLL_S = 0.02


def identity_of(key: str, scope: str, body: bytes, secret: bytes) -> str:
    """What ids derive from: the same key and request give the same identity, another request another.
    Keyed: event ids stay in the log for ever, and a plain hash of a body would let anyone confirm a
    guess of a message that was sealed, or shredded."""
    digest = body_digest(scope.encode() + b"\n" + body, secret)
    return f"{key}:{digest[:32]}"


def body_digest(body: bytes, secret: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


class IdempotentRequest(msgspec.Struct, frozen=True, kw_only=True):
    tenant: str
    key: str
    scope: str  # method and route template
    body_sha256: str


class Answered(msgspec.Struct, frozen=True):
    status: int
    response: bytes


class Claimed(msgspec.Struct, frozen=True):
    claim: str
    started_at: datetime  # the command's time, also on a taken-over re-run


class InFlight(msgspec.Struct, frozen=True):
    pass


async def once(
    pool: asyncpg.Pool,
    *,
    tenant: str,
    key: str,
    scope: str,
    body: bytes,
    ttl_s: float,
    now: datetime,
    run: Callable[[datetime], Awaitable[tuple[int, bytes]]],
    secret: bytes = b"",
) -> tuple[int, bytes]:
    """The stored answer for this key, or `run(started_at)`'s, stored for the next request."""
    if not key or len(key) > MAX_KEY_CHARS:
        raise ProblemError(
            422, "validation", "The request is not valid", f"Idempotency-Key: 1 to {MAX_KEY_CHARS} characters"
        )
    request = IdempotentRequest(tenant=tenant, key=key, scope=scope, body_sha256=body_digest(body, secret))
    outcome = await _claim_or_answer(pool, request, ttl_s, now)
    if isinstance(outcome, Answered):
        return outcome.status, outcome.response
    try:
        status, response = await run(outcome.started_at)
    except BaseException:
        with contextlib.suppress(Exception):  # the error is the caller's answer; a stale claim expires
            await _release(pool, request, outcome.claim)
        raise
    await _store_answer(pool, request, outcome.claim, status, response)
    return status, response


async def _claim_or_answer(
    pool: asyncpg.Pool, request: IdempotentRequest, ttl_s: float, now: datetime
) -> Answered | Claimed:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + IN_FLIGHT_WAIT_S
    while True:
        outcome = await _claim(pool, request, ttl_s, now)
        if not isinstance(outcome, InFlight):
            return outcome
        if loop.time() > deadline:
            raise ProblemError(
                409,
                "idempotency-key-in-flight",
                "A request with this Idempotency-Key is still running",
                f"the first request with this key has not answered after {IN_FLIGHT_WAIT_S:g}s; retry later",
                headers={"Retry-After": "1"},
            )
        await asyncio.sleep(_POLL_S)


_INSERT = (
    "INSERT INTO idempotency_keys (tenant, key, scope, body_sha256, created_at, claim, claimed_until) "
    "VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7)) "
    "ON CONFLICT (tenant, key) DO NOTHING RETURNING true"
)


async def _claim(
    pool: asyncpg.Pool, request: IdempotentRequest, ttl_s: float, now: datetime
) -> Answered | Claimed | InFlight:
    """A new key is claimed by one statement (its primary key decides between two racing requests);
    a key with a record is looked at in one short transaction, serialised per key by an advisory lock."""
    claim = secrets.token_hex(16)
    if await pool.fetchval(_INSERT, *_row(request, now, claim)):
        return Claimed(claim, now)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{request.tenant}\x1f{request.key}"
        )
        row = await _stored(conn, request, ttl_s)
        if row is None:
            # Absent when read, taken since by another request's one-statement claim (which takes no
            # lock): that request runs, this one waits for its answer.
            return (
                Claimed(claim, now)
                if await conn.fetchval(_INSERT, *_row(request, now, claim))
                else InFlight()
            )
        if row["scope"] != request.scope or row["body_sha256"] != request.body_sha256:
            raise ProblemError(
                422,
                "idempotency-key-reused",
                "Idempotency-Key reused with another request",
                "this key was first used with a different body or route; use a new key",
            )
        if row["status_code"] is not None:
            return Answered(row["status_code"], row["response"].encode())
        if not row["abandoned"]:
            return InFlight()
        log.warning("Idempotency-Key %r: taking over a claim whose request never answered", request.key)
        await conn.execute(
            "UPDATE idempotency_keys SET claim = $3, claimed_until = now() + make_interval(secs => $4) "
            "WHERE tenant = $1 AND key = $2",
            request.tenant,
            request.key,
            claim,
            CLAIM_S,
        )
        return Claimed(claim, row["created_at"])


def _row(request: IdempotentRequest, now: datetime, claim: str) -> tuple[object, ...]:
    return (request.tenant, request.key, request.scope, request.body_sha256, now, claim, CLAIM_S)


async def _stored(conn: Conn, request: IdempotentRequest, ttl_s: float) -> asyncpg.Record | None:
    """The live record of a key; an expired one is deleted (under the caller's lock) and counts as absent."""
    row = await conn.fetchrow(
        "SELECT scope, body_sha256, status_code, response, created_at, "
        "claimed_until < now() AS abandoned, "
        "created_at < now() - make_interval(secs => $1) AS expired "
        "FROM idempotency_keys WHERE tenant = $2 AND key = $3",
        ttl_s,
        request.tenant,
        request.key,
    )
    if row is None or not row["expired"]:
        return row
    await conn.execute(
        "DELETE FROM idempotency_keys WHERE tenant = $1 AND key = $2", request.tenant, request.key
    )
    return None


async def _store_answer(
    pool: asyncpg.Pool, request: IdempotentRequest, claim: str, status: int, response: bytes
) -> None:
    """Only the claim's holder answers: a request that was taken over leaves the newer run's answer."""
    await pool.execute(
        "UPDATE idempotency_keys SET status_code = $4, response = $5, claim = NULL, claimed_until = NULL "
        "WHERE tenant = $1 AND key = $2 AND claim = $3",
        request.tenant,
        request.key,
        claim,
        status,
        response.decode(),
    )


async def _release(pool: asyncpg.Pool, request: IdempotentRequest, claim: str) -> None:
    """A command that failed stores no answer: the next request with the key runs it again."""
    await pool.execute(
        "DELETE FROM idempotency_keys WHERE tenant = $1 AND key = $2 AND claim = $3 AND status_code IS NULL",
        request.tenant,
        request.key,
        claim,
    )


async def sweep_expired(pool: asyncpg.Pool, ttl_s: float, batch: int = 1000) -> int:
    """Delete expired records in batches of `batch` rows (short transactions); returns how many."""
    deleted = 0
    while True:
        status = await pool.execute(
            "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys "
            "WHERE created_at < now() - make_interval(secs => $1) LIMIT $2)",
            ttl_s,
            batch,
        )
        count = int(status.split()[-1])  # "DELETE <n>"
        deleted += count
        if count < batch:
            return deleted


async def sweep_periodically(
    pool: asyncpg.Pool,
    ttl_s: float,
    *,
    every_s: float = SWEEP_EVERY_S,
    first_after_s: float = FIRST_SWEEP_AFTER_S,
) -> None:
    """Sweep until cancelled; a failed sweep is logged and tried again the next period."""
    await asyncio.sleep(first_after_s)
    while True:
        try:
            if deleted := await sweep_expired(pool, ttl_s):
                log.info("idempotency sweep: %d expired keys deleted", deleted)
        except Exception:
            log.warning("idempotency sweep failed; retrying in %.0f s", every_s, exc_info=True)
        await asyncio.sleep(every_s)
