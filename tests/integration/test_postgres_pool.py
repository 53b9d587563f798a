"""The pool releases connections without asyncpg's reset query; what must not leak still does not."""

from __future__ import annotations

import uuid

import asyncpg

from infra.postgres import create_pool


async def test_a_transaction_left_open_is_rolled_back_on_release(database_url: str) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    pool = await create_pool(database_url, schema=schema, max_size=1)
    try:
        await pool.execute("CREATE TABLE notes (n integer)")
        async with pool.acquire() as conn:  # a caller that forgot to commit or roll back
            await conn.execute("BEGIN")
            await conn.execute("INSERT INTO notes VALUES (1)")
            assert conn.is_in_transaction()
        async with pool.acquire() as conn:  # max_size=1: the same server connection
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM notes") == 0
            assert await conn.fetchval("SHOW search_path") == schema  # the pool's own setting stays
    finally:
        await pool.close()
        admin = await asyncpg.connect(database_url)
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


async def test_a_transaction_scoped_advisory_lock_ends_with_its_transaction(database_url: str) -> None:
    pool = await create_pool(database_url, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(4242)")
        other = await asyncpg.connect(database_url)
        try:
            assert await other.fetchval("SELECT pg_try_advisory_lock(4242)")
            await other.execute("SELECT pg_advisory_unlock(4242)")
        finally:
            await other.close()
    finally:
        await pool.close()
