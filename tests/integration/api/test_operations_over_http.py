"""/v1/operations over HTTP: what an admin's operations page reads, from the running stack."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.envelope import EventOrigin
from domain.ids import uuid7
from domain.provider_status import ProviderStatus
from infra.api_keys import create_key
from infra.event_store import RedisEventStore
from infra.provider_reports import ProviderReport, publish
from tests.integration.api.conftest import Stack
from tests.integration.api.test_main_job_over_http import until_listed
from tests.integration.managers.test_main_job import DEMO
from tests.support.events import decided, new, refused, started

OFFLINE = ProviderStatus(
    target="offline",
    name="offline",
    model="offline-planner-1",
    locality="local",
    circuit="closed",
    failures=0,
)


async def until(http: Any, done: Callable[[dict[str, Any]], bool], **params: Any) -> dict[str, Any]:
    """GET /v1/operations until `done(answer)`: the projectors fold on their own schedule."""
    async with asyncio.timeout(20):
        while True:
            answer = await http.get("/v1/operations", params=params)
            assert answer.status_code == 200, answer.text
            if done(answer.json()):
                return dict(answer.json())
            await asyncio.sleep(0.05)


def calls(operations: dict[str, Any]) -> int:
    return sum(row["calls"] + row["refused"] for row in operations["costs"])


async def called(store: RedisEventStore, tenant: str, *events: Any) -> None:
    """A conversation of `tenant` whose model calls are `events` (InferenceDecided / InferenceRefused)."""
    conversation = uuid7()
    batch = [new(started(conversation)), *(new(event) for event in events)]
    origin = EventOrigin(tenant=tenant, source="aiwf://tests")
    await store.append(f"conversation-{conversation}", batch, 0, origin)


async def test_an_admin_sees_lag_dead_letters_providers_and_costs_after_the_main_job_ran(
    main_stack: Stack,
) -> None:
    async with main_stack.client() as member:
        cid = (await member.post("/v1/conversations", json={"title": "Ventes"})).json()["conversation_id"]
        await member.post(f"/v1/conversations/{cid}/messages", json={"text": DEMO})
        validated = lambda items: [w["status"] for w in items] == ["validated"]  # noqa: E731
        await until_listed(member, "/v1/workflows", validated, conversation_id=cid)
        log = main_stack.store.keys.partition(0).log
        await main_stack.store.redis.client.execute_command("XADD", log, "*", "payload", "{}")  # not ours
        assert await main_stack.runtime.wait_caught_up(timeout_s=30)
        decisions = (await member.get(f"/v1/conversations/{cid}/agent-state")).json()["decisions"]

    async with main_stack.client("acme-admin") as admin:
        ops = await until(admin, lambda o: calls(o) == len(decisions))

    partitions = main_stack.store.keys.partitions
    groups = {row["group"] for row in ops["projections"]}
    assert {"projection.operations_views", "projection.conversation_views"} <= groups
    assert len(ops["projections"]) == len(groups) * partitions
    assert all(row["lag"] == 0 and row["pending"] == 0 for row in ops["projections"])
    assert [row["partition"] for row in ops["dead_letters"]] == list(range(partitions))
    assert ops["dead_letters"][0]["count"] >= 1
    assert [
        (p["target"], p["name"], p["locality"], p["circuit"], p["failures"]) for p in ops["providers"]
    ] == [("offline", "offline", "local", "closed", 0)]
    assert ops["providers"][0]["process"] == f"{socket.gethostname()}:{os.getpid()}"
    [cost] = ops["costs"]
    assert (cost["day"], cost["provider"], cost["calls"], cost["refused"]) == (
        datetime.now(UTC).date().isoformat(),
        "offline",
        len(decisions),
        0,
    )
    assert cost["model"] == decisions[0]["model"]
    assert cost["input_tokens"] > 0
    assert cost["output_tokens"] > 0


async def test_a_member_or_an_auditor_is_refused_the_operations_page(stack: Stack) -> None:
    for who in ("acme-member", "acme-auditor"):
        async with stack.client(who) as http:
            refused_here = await http.get("/v1/operations")
        assert (refused_here.status_code, refused_here.headers["content-type"]) == (
            403,
            "application/problem+json",
        )


async def test_costs_of_another_tenant_never_appear(stack: Stack) -> None:
    stack.keys["globex-admin"], _ = await create_key(stack.pool, "globex", "admin")
    now = datetime.now(UTC)
    await called(stack.store, "acme", decided(model="acme-model", cost_micro_usd=5, at=now), refused(now))
    await called(stack.store, "globex", decided(model="globex-model", cost_micro_usd=900, at=now))

    async with stack.client("acme-admin") as acme:
        mine = await until(acme, lambda o: calls(o) == 2)
        mine_text = (await acme.get("/v1/operations")).text
    async with stack.client("globex-admin") as globex:
        theirs = await until(globex, lambda o: calls(o) == 1)

    assert sorted((c["provider"], c["model"], c["calls"], c["refused"]) for c in mine["costs"]) == [
        ("none", "none", 0, 1),
        ("offline", "acme-model", 1, 0),
    ]
    assert sum(c["cost_micro_usd"] for c in mine["costs"]) == 5
    assert "globex" not in mine_text
    assert [(c["model"], c["cost_micro_usd"]) for c in theirs["costs"]] == [("globex-model", 900)]


async def test_costs_are_kept_to_the_days_asked_for(stack: Stack) -> None:
    now = datetime.now(UTC)
    await called(
        stack.store,
        "acme",
        decided(model="today", at=now),
        decided(model="older", at=now - timedelta(days=10)),
    )

    async with stack.client("acme-admin") as admin:
        month = await until(admin, lambda o: calls(o) == 2)
        week = (await admin.get("/v1/operations", params={"days": 7})).json()
        too_many = await admin.get("/v1/operations", params={"days": 91})
        none = await admin.get("/v1/operations", params={"days": 0})

    assert [c["model"] for c in month["costs"]] == ["older", "today"]  # oldest day first
    assert [c["model"] for c in week["costs"]] == ["today"]
    assert (too_many.status_code, none.status_code) == (422, 422)


async def test_a_provider_report_older_than_three_periods_is_left_out(stack: Stack) -> None:
    now = datetime.now(UTC)
    client, keys = stack.store.redis.client, stack.store.keys
    fresh = ProviderReport(process="worker-a:1", reported_at=now, interval_s=5, providers=[OFFLINE])
    stale = ProviderReport(
        process="worker-b:2", reported_at=now - timedelta(seconds=16), interval_s=5, providers=[OFFLINE]
    )
    await publish(client, keys, fresh)
    await publish(client, keys, stale)

    async with stack.client("acme-admin") as admin:
        ops = (await admin.get("/v1/operations")).json()

    assert [p["process"] for p in ops["providers"]] == ["worker-a:1"]
