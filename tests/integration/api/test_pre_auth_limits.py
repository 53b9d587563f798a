"""Before authentication: a spray of tokens from one address costs a bounded number of PostgreSQL
lookups and is answered 429; good keys stay cached through it; a known key from another address is not
affected (docs/adr/0022)."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from api import auth
from api.deps import Limits
from infra.api_keys import Principal
from infra.event_store import RedisEventStore
from tests.integration.api.conftest import Stack, running_stack
from tests.integration.api.test_commands_and_reads import PROBLEM

RATE, BURST = 2.0, 5


@pytest.fixture
async def limited(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, database_url: str, redis_url: str
) -> AsyncIterator[Stack]:
    limits = Limits(address_rate_per_s=RATE, address_burst=BURST)
    async with running_stack(standalone_store, pg_pool, database_url, redis_url, limits) as stack:
        yield stack


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every key lookup that reaches PostgreSQL, by token."""
    seen: list[str] = []
    real = auth.authenticate

    async def counted(pool: asyncpg.Pool, token: str) -> Principal | None:
        seen.append(token)
        return await real(pool, token)

    monkeypatch.setattr(auth, "authenticate", counted)
    return seen


def random_token() -> str:
    return f"aiwf_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


async def test_a_token_spray_from_one_address_costs_a_bounded_number_of_lookups_and_gets_429s(
    limited: Stack, lookups: list[str]
) -> None:
    async with limited.client("acme-member") as member:  # a good key, checked once before the spray
        assert (await member.get("/v1/conversations")).status_code == 200
    began = time.monotonic()
    async with httpx.AsyncClient(base_url=limited.url, timeout=10) as sprayer:
        sprayed = [
            await sprayer.get("/v1/conversations", headers={"Authorization": f"Bearer {random_token()}"})
            for _ in range(200)
        ]
    elapsed = time.monotonic() - began
    async with limited.client("acme-member") as member:
        during = (await member.get("/v1/conversations")).status_code

    statuses = [r.status_code for r in sprayed]
    sprayed_lookups = [t for t in lookups if t != limited.keys["acme-member"]]
    assert len(sprayed_lookups) <= BURST + RATE * elapsed + 1
    assert statuses.count(429) >= 200 - (BURST + RATE * elapsed + 1)
    assert set(statuses) <= {401, 429}
    limited_answer = next(r for r in sprayed if r.status_code == 429)
    assert limited_answer.headers["content-type"].startswith(PROBLEM)
    assert int(limited_answer.headers["retry-after"]) >= 1
    assert during == 200  # the good key, from the very address that sprayed
    assert lookups.count(limited.keys["acme-member"]) == 1  # still cached: not looked up again


async def test_a_known_key_from_another_address_is_not_affected_by_a_spray(
    limited: Stack, lookups: list[str]
) -> None:
    async with httpx.AsyncClient(base_url=limited.url, timeout=10) as sprayer:
        for _ in range(50):
            await sprayer.get("/v1/conversations", headers={"Authorization": f"Bearer {random_token()}"})
        assert (await sprayer.get("/v1/conversations")).status_code == 429  # 127.0.0.1 is spent
    elsewhere = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    headers = {"Authorization": f"Bearer {limited.keys['globex-member']}"}
    async with httpx.AsyncClient(
        base_url=limited.url, transport=elsewhere, headers=headers, timeout=10
    ) as other:
        answers = [(await other.get("/v1/conversations")).status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    assert lookups.count(limited.keys["globex-member"]) == 1
