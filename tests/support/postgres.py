"""A PostgreSQL database of its own, for a test that runs a whole `aiwf` command (its migrations and
read models must not meet another test's rows)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg


@contextlib.asynccontextmanager
async def fresh_database(database_url: str) -> AsyncIterator[str]:
    """The URL of a new, empty database on the same server; dropped afterwards."""
    name = f"aiwf_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        parts = urlsplit(database_url)
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
