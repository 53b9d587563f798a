"""Authentication, roles, and the tenant-isolation matrix: another tenant's resources are absent."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from api.deps import Limits
from tests.integration.api.conftest import Stack, running_stack
from tests.integration.api.test_commands_and_reads import PROBLEM, start
from tests.integration.api.test_read_cache import until


@pytest.mark.parametrize(
    "authorization", [None, "Bearer nope", "Basic abc", "Bearer aiwf_000000000000_" + "x" * 43]
)
async def test_a_missing_or_wrong_key_is_a_401_problem(stack: Stack, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with httpx.AsyncClient(base_url=stack.url, headers=headers) as http:
        response = await http.get("/v1/conversations")

    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Traceback" not in response.text


async def test_only_the_public_paths_themselves_skip_authentication(stack: Stack) -> None:
    """Regression (found by the fuzz): the exemption patterns matched anywhere in a path, so
    `/v1/conversations/schemas` skipped authentication and its handler failed (500)."""
    tricky = ["schemas", "schema", "metrics", "asyncapi.json", "health"]
    async with httpx.AsyncClient(base_url=stack.url) as anonymous, stack.client() as member:
        without_key = [await anonymous.get(f"/v1/conversations/{path}") for path in tricky]
        with_key = [await member.get(f"/v1/conversations/{path}") for path in tricky[:4]]
        public = [await anonymous.get(path) for path in ("/health/live", "/metrics", "/schema/openapi.json")]

    assert [r.status_code for r in without_key] == [401] * len(tricky)
    assert [r.status_code for r in with_key] == [404] * 4
    assert [r.status_code for r in public] == [200, 200, 200]


async def test_roles_decide_what_a_key_may_do(stack: Stack) -> None:
    async with stack.client("acme-auditor") as auditor, stack.client("acme-member") as member:
        auditor_post = await auditor.post("/v1/conversations", json={})
        auditor_events = await auditor.get("/v1/events")
        member_events = await member.get("/v1/events")
        member_reads = await member.get("/v1/conversations")

    assert auditor_post.status_code == 403
    assert auditor_post.headers["content-type"].startswith(PROBLEM)
    assert auditor_events.status_code == 200
    assert member_events.status_code == 403
    assert member_reads.status_code == 200


async def test_another_tenants_resources_answer_404_everywhere(stack: Stack) -> None:
    started = await start(stack, "acme-member")
    cid, token = started["conversation_id"], str(started["consistency_token"])
    async with stack.client("acme-member") as acme:
        assert (
            await acme.get(f"/v1/conversations/{cid}", headers={"X-Consistency-Token": token})
        ).status_code == 200
    reads = [
        f"/v1/conversations/{cid}",
        f"/v1/conversations/{cid}/messages",
        f"/v1/conversations/{cid}/agent-state",
        f"/v1/conversations/{cid}/stream",
    ]
    writes = {
        f"/v1/conversations/{cid}/messages": {"text": "hi"},
        f"/v1/conversations/{cid}/close": {"reason": ""},
    }
    async with stack.client("globex-member") as globex:
        for path in reads:
            assert (await globex.get(path)).status_code == 404, path
        for path, body in writes.items():
            assert (await globex.post(path, json=body)).status_code == 404, path
        listed = (await globex.get("/v1/conversations")).json()["items"]
    assert listed == []
    assert len(await stack.store.read_stream(f"conversation-{cid}")) == 1  # nothing appended by globex


async def test_the_audit_feed_and_the_live_stream_show_only_the_callers_tenant(stack: Stack) -> None:
    received: list[str] = []

    async def listen() -> None:
        async with stack.client("globex-member") as globex, globex.stream("GET", "/v1/stream") as response:
            async for line in response.aiter_lines():  # appended as they come: the task is cancelled later
                received.append(line)  # noqa: PERF401

    listener = asyncio.create_task(listen())
    await stack.subscribed(1)
    started = await start(stack, "acme-member")
    async with stack.client("acme-member") as acme:
        await acme.post(f"/v1/conversations/{started['conversation_id']}/messages", json={"text": "salam"})
    own = await start(stack, "globex-member")
    await stack.runtime.wait_caught_up(10)
    await until(lambda: any(own["conversation_id"] in line for line in received))
    listener.cancel()
    async with stack.client("acme-auditor") as auditor:
        acme_feed = (await auditor.get("/v1/events")).json()["items"]

    data = [line for line in received if line.startswith("data:")]
    assert len(data) == 1
    assert own["conversation_id"] in data[0]
    assert all("acme" not in line for line in data)
    assert {event["stream"] for event in acme_feed} == {f"conversation-{started['conversation_id']}"}


async def test_a_key_over_its_rate_is_told_when_to_come_back(
    standalone_store,
    pg_pool,
    database_url: str,
    redis_url: str,  # type: ignore[no-untyped-def]
) -> None:
    async with (
        running_stack(
            standalone_store, pg_pool, database_url, redis_url, Limits(rate_per_s=1, burst=3)
        ) as stack,
        stack.client() as http,
    ):
        statuses = [(await http.get("/v1/conversations")).status_code for _ in range(5)]
        limited = await http.get("/v1/conversations")

    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses
    assert limited.status_code == 429
    assert limited.headers["content-type"].startswith(PROBLEM)
    assert int(limited.headers["retry-after"]) >= 1
