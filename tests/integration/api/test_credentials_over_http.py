"""/v1/credentials over HTTP against a local server that keeps n8n's public API rules: the data goes to
n8n and nowhere else — no event, no Redis key, no PostgreSQL row, no log line, no error carries it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from api.deps import Limits
from domain.credentials import stream_of as credentials_stream
from infra.event_store import RedisEventStore
from infra.n8n.client import N8nInstance, RetryPolicy
from infra.n8n.instances import N8nInstances
from tests.integration.api.conftest import Stack, running_stack
from tests.support.fake_n8n import FakeN8n

PROBLEM = "application/problem+json"
SECRET = "xoxb-very-secret-token-1234"
SLACK = {"type": "slackApi", "name": "Équipe ventes", "data": {"accessToken": SECRET, "notice": ""}}


@pytest.fixture
def fake() -> Iterator[FakeN8n]:
    with FakeN8n() as server:
        yield server


@pytest.fixture
async def n8n_stack(
    fake: FakeN8n, standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, database_url: str, redis_url: str
) -> AsyncIterator[Stack]:
    instances = N8nInstances(N8nInstance(url=fake.url, api_key=fake.api_key), policy=RetryPolicy(attempts=2))
    async with running_stack(
        standalone_store, pg_pool, database_url, redis_url, Limits(read_wait_s=5.0), n8n=instances
    ) as stack:
        yield stack
    await instances.aclose()


async def test_a_credential_is_created_in_n8n_and_only_its_type_name_and_id_are_kept(
    n8n_stack: Stack, fake: FakeN8n, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with n8n_stack.client() as http:
        created = await http.post("/v1/credentials", json=SLACK)
        listed = await http.get("/v1/credentials")

    assert created.status_code == 202, created.text
    credential_id = created.json()["credential_id"]
    assert fake.credentials[credential_id]["data"] == SLACK["data"]  # n8n has it
    assert listed.json()["items"] == [
        {
            "credential_id": credential_id,
            "type": "slackApi",
            "name": "Équipe ventes",
            "connected_at": listed.json()["items"][0]["connected_at"],
        }
    ]
    assert SECRET not in caplog.text
    await _nowhere_but_in_n8n(n8n_stack, SECRET)


async def test_data_that_n8n_s_schema_refuses_is_a_422_naming_the_fields_and_nothing_is_stored(
    n8n_stack: Stack, fake: FakeN8n
) -> None:
    bad = {"type": "slackApi", "name": "x", "data": {"token": SECRET}}
    async with n8n_stack.client() as http:
        refused = await http.post("/v1/credentials", json=bad)
        unknown = await http.post("/v1/credentials", json={"type": "noSuchApi", "name": "x", "data": {}})
        not_an_object = await http.post(
            "/v1/credentials", json={"type": "slackApi", "name": "x", "data": [1]}
        )

    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith(PROBLEM)
    messages = [e["message"] for e in refused.json()["errors"]]
    assert "missing required field 'accessToken'" in messages
    assert any("unexpected field 'token'" in m for m in messages)
    assert SECRET not in refused.text
    assert unknown.status_code == 422
    assert "n8n has no credential type 'noSuchApi'" in unknown.text
    assert not_an_object.status_code == 422
    assert fake.credentials == {}
    assert await n8n_stack.store.read_stream(credentials_stream("acme")) == []
    await _nowhere_but_in_n8n(n8n_stack, SECRET)


async def test_a_name_is_unique_per_type_removal_deletes_it_in_n8n_and_auditors_may_only_read(
    n8n_stack: Stack, fake: FakeN8n
) -> None:
    async with n8n_stack.client() as http, n8n_stack.client("acme-auditor") as auditor:
        first = await http.post("/v1/credentials", json=SLACK)
        again = await http.post("/v1/credentials", json=SLACK)
        by_auditor = await auditor.post("/v1/credentials", json=SLACK)
        credential_id = first.json()["credential_id"]
        removed = await http.delete(f"/v1/credentials/{credential_id}")
        removed_again = await http.delete(f"/v1/credentials/{credential_id}")
        listed = await auditor.get("/v1/credentials")

    assert again.status_code == 409
    assert "connected already" in again.json()["detail"]
    assert by_auditor.status_code == 403
    assert removed.status_code == 202
    assert removed_again.status_code == 404
    assert listed.json()["items"] == []
    assert fake.credentials == {}


async def test_n8n_down_is_a_503_problem_and_nothing_is_recorded(n8n_stack: Stack, fake: FakeN8n) -> None:
    fake.down = True
    async with n8n_stack.client() as http:
        answer = await http.post("/v1/credentials", json=SLACK)

    assert answer.status_code == 503
    assert answer.json()["title"] == "n8n is unreachable"
    assert SECRET not in answer.text
    assert await n8n_stack.store.read_stream(credentials_stream("acme")) == []


async def test_without_an_n8n_credentials_and_deployments_are_a_409_saying_what_to_set(stack: Stack) -> None:
    async with stack.client() as http:
        connect = await http.post("/v1/credentials", json=SLACK)
        deploy = await http.post("/v1/workflows/nope/deploy", json={})
        retire = await http.post("/v1/workflows/nope/retire", json={"reason": "x"})
        listed = await http.get("/v1/credentials")

    assert connect.status_code == 409
    assert "set N8N_URL and N8N_API_KEY" in connect.json()["detail"]
    assert deploy.status_code == 409
    assert retire.status_code == 404
    assert listed.json() == {"items": [], "awaited": []}


async def _nowhere_but_in_n8n(stack: Stack, secret: str) -> None:
    """Not in any Redis key of the store's prefix, nor in any row of the read models."""
    redis = stack.store.redis.client
    prefix = stack.store.keys.prefix
    async for key in redis.scan_iter(match=f"{prefix}*"):
        kind = await redis.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "stream":
            dumped = repr(await redis.xrange(key))
        elif kind == "hash":
            dumped = repr(await redis.hgetall(key))
        elif kind == "string":
            dumped = repr(await redis.get(key))
        else:
            dumped = ""
        assert secret not in dumped, key
    async with stack.pool.acquire() as conn:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        for table in tables:
            rows = await conn.fetch(f'SELECT * FROM "{table["table_name"]}"')
            assert secret not in repr([dict(r) for r in rows]), table["table_name"]
