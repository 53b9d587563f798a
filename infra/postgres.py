"""PostgreSQL: the connection pool and the migration runner (plain SQL files, applied in order)."""

from __future__ import annotations

import hashlib
import logging
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import asyncpg
import msgspec

log = logging.getLogger(__name__)

MIGRATIONS_PACKAGE = "projections.migrations"
# Only one migrator at a time: concurrent `aiwf run` / `aiwf migrate` wait for each other.
_MIGRATION_LOCK = 7_315_002


class Migration(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    """An applied migration's file changed, or a migration failed; the message names it."""


def load_migrations(folder: Traversable | None = None) -> list[Migration]:
    folder = folder or files(MIGRATIONS_PACKAGE)
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(
                Migration(version=int(number), name=rest.removesuffix(".sql"), sql=entry.read_text())
            )
    found.sort(key=lambda m: m.version)
    if len({m.version for m in found}) != len(found):
        raise MigrationError("two migration files share a number")
    return found


async def migrate(pool: asyncpg.Pool, migrations: list[Migration] | None = None) -> list[str]:
    """Apply what is missing, each in its own transaction; returns the names applied."""
    async with pool.acquire() as conn:
        return await _migrate(conn, load_migrations() if migrations is None else migrations)


async def _migrate(conn: Any, migrations: list[Migration]) -> list[str]:
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = {r["version"]: r["checksum"] for r in await conn.fetch("SELECT * FROM schema_migrations")}
        done = []
        for migration in migrations:
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version}_{migration.name} changed after it ran"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            done.append(f"{migration.version:04d}_{migration.name}")
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)


class SessionlessConnection(asyncpg.Connection):
    """A pooled connection released without asyncpg's reset round trip (advisory unlock, CLOSE ALL,
    UNLISTEN, RESET ALL: a sixth of an API read's CPU). Our pooled connections keep no session state:
    LISTEN has its own connection (api/consistency.py), no code runs a session-level SET, advisory
    locks are transaction-scoped but the migration lock, which is released in a `finally`. asyncpg still
    rolls back a transaction left open and drops listeners when a connection is released."""

    def get_reset_query(self) -> str:
        return ""


async def create_pool(
    url: str, *, min_size: int = 1, max_size: int = 10, schema: str | None = None
) -> asyncpg.Pool:
    """A pool; `schema` puts every table of this pool in its own schema (tests, side-by-side stores)."""
    settings = {"search_path": schema} if schema else {}
    if schema:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        finally:
            await conn.close()
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        command_timeout=60,
        server_settings=settings,
        connection_class=SessionlessConnection,
    )
    if pool is None:  # only when the pool is used as an awaitable before init; keeps mypy honest
        raise RuntimeError("could not create the PostgreSQL pool")
    return pool
