"""`Idempotency-Key`: the same key and body get the same answer without appending twice; the same key
with another body (or route) is refused. Requests with one key are serialised by an advisory lock.

A record lives `ttl_s` (a day by default): older, it counts as absent and the request runs as new. The
ids a request derives come from `identity_of` (the key *and* the request), so a key reused after its record
expired cannot be mistaken for the first request by the store's deduplication."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from api.problems import ProblemError
from projections.read_model import Conn

log = logging.getLogger(__name__)
MAX_KEY_CHARS = 200
SWEEP_EVERY_S = 300.0
FIRST_SWEEP_AFTER_S = 5.0


def identity_of(key: str, scope: str, body: bytes) -> str:
    """What ids derive from: the same key and request give the same identity, another request another."""
    digest = hashlib.sha256(scope.encode() + b"\n" + body).hexdigest()[:32]
    return f"{key}:{digest}"


async def once(
    pool: asyncpg.Pool,
    *,
    tenant: str,
    key: str,
    scope: str,
    body: bytes,
    ttl_s: float,
    run: Callable[[], Awaitable[tuple[int, bytes]]],
) -> tuple[int, bytes]:
    if not key or len(key) > MAX_KEY_CHARS:
        raise ProblemError(
            422, "validation", "The request is not valid", f"Idempotency-Key: 1 to {MAX_KEY_CHARS} characters"
        )
    digest = hashlib.sha256(body).hexdigest()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{tenant}\x1f{key}")
        row = await _stored(conn, tenant, key, ttl_s)
        if row is not None:
            if row["scope"] != scope or row["body_sha256"] != digest:
                raise ProblemError(
                    422,
                    "idempotency-key-reused",
                    "Idempotency-Key reused with another request",
                    "this key was first used with a different body or route; use a new key",
                )
            return row["status_code"], row["response"].encode()
        status, response = await run()
        await conn.execute(
            "INSERT INTO idempotency_keys (tenant, key, scope, body_sha256, status_code, response) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            tenant,
            key,
            scope,
            digest,
            status,
            response.decode(),
        )
        return status, response


async def _stored(conn: Conn, tenant: str, key: str, ttl_s: float) -> asyncpg.Record | None:
    """The live record of a key; an expired one is deleted (under the caller's lock) and counts as absent."""
    row = await conn.fetchrow(
        "SELECT scope, body_sha256, status_code, response, "
        "created_at < now() - make_interval(secs => $1) AS expired "
        "FROM idempotency_keys WHERE tenant = $2 AND key = $3",
        ttl_s,
        tenant,
        key,
    )
    if row is None or not row["expired"]:
        return row
    await conn.execute("DELETE FROM idempotency_keys WHERE tenant = $1 AND key = $2", tenant, key)
    return None


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
