"""`Idempotency-Key`: the same key and body get the same answer without appending twice; the same key
with another body (or route) is refused. Requests with one key are serialised by an advisory lock."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

import asyncpg

from api.problems import ProblemError

MAX_KEY_CHARS = 200


async def once(
    pool: asyncpg.Pool,
    *,
    tenant: str,
    key: str,
    scope: str,
    body: bytes,
    run: Callable[[], Awaitable[tuple[int, bytes]]],
) -> tuple[int, bytes]:
    if not key or len(key) > MAX_KEY_CHARS:
        raise ProblemError(
            422, "validation", "The request is not valid", f"Idempotency-Key: 1 to {MAX_KEY_CHARS} characters"
        )
    digest = hashlib.sha256(body).hexdigest()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{tenant}\x1f{key}")
        row = await conn.fetchrow(
            "SELECT scope, body_sha256, status_code, response FROM idempotency_keys "
            "WHERE tenant = $1 AND key = $2",
            tenant,
            key,
        )
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
