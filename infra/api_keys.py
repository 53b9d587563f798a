"""API keys: `aiwf_<key id>_<secret>`, shown once; PostgreSQL keeps the tenant, role and sha256(secret)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Collection
from datetime import datetime

import asyncpg
import msgspec

from domain.tenancy import RESERVED_TENANTS, is_reserved
from domain.types import Role

_TOKEN = re.compile(r"^aiwf_([a-z0-9]{12})_([A-Za-z0-9_-]{32,64})$")
_TENANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
KEY_REVOKED = "aiwf_key_revoked"  # the PostgreSQL channel of revocations; the payload is the key id


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str
    tenant: str
    role: Role


class KeyInfo(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str
    tenant: str
    role: Role
    label: str
    created_at: datetime
    revoked_at: datetime | None


class KeyError_(ValueError):  # noqa: N801 - not the builtin KeyError
    """A tenant or role we cannot issue a key for."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    match = _TOKEN.match(token)
    return (match.group(1), match.group(2)) if match else None


async def create_key(pool: asyncpg.Pool, tenant: str, role: str, label: str = "") -> tuple[str, Principal]:
    if not _TENANT.match(tenant):
        raise KeyError_(f"tenant {tenant!r}: lower-case letters, digits, '-' and '_' (up to 63)")
    if is_reserved(tenant):
        reserved = ", ".join(sorted(RESERVED_TENANTS))
        raise KeyError_(f"tenant {tenant!r} is reserved for the platform's own use ({reserved})")
    try:
        chosen = Role(role)
    except ValueError:
        raise KeyError_(f"role {role!r}: one of {', '.join(r.value for r in Role)}") from None
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    await pool.execute(
        "INSERT INTO api_keys (key_id, tenant, role, secret_hash, label) VALUES ($1, $2, $3, $4, $5)",
        key_id,
        tenant,
        chosen.value,
        _hash(secret),
        label,
    )
    return f"aiwf_{key_id}_{secret}", Principal(key_id=key_id, tenant=tenant, role=chosen)


async def authenticate(pool: asyncpg.Pool, token: str) -> Principal | None:
    parsed = parse_token(token)
    if parsed is None:
        return None
    key_id, secret = parsed
    row = await pool.fetchrow(
        "SELECT tenant, role, secret_hash FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL", key_id
    )
    if row is None or not hmac.compare_digest(row["secret_hash"], _hash(secret)):
        return None
    if is_reserved(row["tenant"]):  # a key issued before the name was reserved
        return None
    return Principal(key_id=key_id, tenant=row["tenant"], role=Role(row["role"]))


async def active_keys(pool: asyncpg.Pool, key_ids: Collection[str]) -> set[str]:
    """Which of `key_ids` are still valid (not revoked, not of a reserved tenant), in one query."""
    rows = await pool.fetch(
        "SELECT key_id, tenant FROM api_keys WHERE key_id = ANY($1::text[]) AND revoked_at IS NULL",
        list(key_ids),
    )
    return {row["key_id"] for row in rows if not is_reserved(row["tenant"])}


async def list_keys(pool: asyncpg.Pool, tenant: str | None = None) -> list[KeyInfo]:
    rows = await pool.fetch(
        "SELECT key_id, tenant, role, label, created_at, revoked_at FROM api_keys "
        "WHERE $1::text IS NULL OR tenant = $1 ORDER BY tenant, created_at",
        tenant,
    )
    return [KeyInfo(**dict(row)) for row in rows]


async def revoke_key(pool: asyncpg.Pool, key_id: str) -> bool:
    """Revoke, and announce it on KEY_REVOKED in the same statement (so the same transaction): every API
    process hears of it at commit, never before."""
    revoked = await pool.fetch(
        "WITH revoked AS (UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL "
        "RETURNING key_id) SELECT pg_notify($2, key_id) FROM revoked",
        key_id,
        KEY_REVOKED,
    )
    return len(revoked) == 1
