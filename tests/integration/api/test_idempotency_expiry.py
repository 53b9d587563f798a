"""Idempotency-Key records expire: an old key runs again as new, the same request still appends once, and
another request under a reused key is appended (never swallowed by the store's deduplication)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import pytest

from api.idempotency import sweep_expired, sweep_periodically
from infra.postgres import create_pool
from tests.integration.api.conftest import Stack
from tests.integration.api.test_commands_and_reads import start

DAY_S = 86400.0  # the stack's TTL: Limits' default


async def age(pool: asyncpg.Pool, key: str, seconds: float) -> None:
    """Make a stored record `seconds` older, as if it had been written that long ago."""
    await pool.execute(
        "UPDATE idempotency_keys SET created_at = created_at - make_interval(secs => $2) WHERE key = $1",
        key,
        seconds,
    )


async def send(stack: Stack, cid: object, text: str, key: str) -> Any:
    async with stack.client() as http:
        return await http.post(
            f"/v1/conversations/{cid}/messages", json={"text": text}, headers={"Idempotency-Key": key}
        )


async def texts_and_ids(stack: Stack, cid: object) -> tuple[list[str], list[str]]:
    events = await stack.store.read_stream(f"conversation-{cid}")
    texts = [e.envelope.data.text for e in events if hasattr(e.envelope.data, "text")]
    return texts, [e.envelope.id for e in events]


async def test_an_expired_key_runs_again_and_the_same_message_is_not_appended_twice(stack: Stack) -> None:
    cid = (await start(stack))["conversation_id"]
    first = await send(stack, cid, "salam", "msg-1")
    before = await texts_and_ids(stack, cid)
    await age(stack.pool, "msg-1", 2 * DAY_S)

    again = await send(stack, cid, "salam", "msg-1")

    assert (first.status_code, again.status_code) == (202, 202)
    assert await texts_and_ids(stack, cid) == before == (["salam"], before[1])
    assert len(before[1]) == 2
    assert again.json()["version"] == first.json()["version"] == 2
    # Ran as new: the decider saw the same message id and decided nothing; the answer names what the
    # first run appended (ADR 0031), as a retry's would.
    assert again.json()["event_ids"] == first.json()["event_ids"]
    fresh = await stack.pool.fetchval(
        "SELECT created_at > now() - interval '1 minute' FROM idempotency_keys WHERE key = 'msg-1'"
    )
    assert fresh  # the expired record was replaced by this run's answer


async def test_an_expired_key_with_another_message_appends_it(stack: Stack) -> None:
    cid = (await start(stack))["conversation_id"]
    first = await send(stack, cid, "salam", "msg-2")
    await age(stack.pool, "msg-2", 2 * DAY_S)

    other = await send(stack, cid, "autre chose", "msg-2")

    assert other.status_code == 202, other.text
    texts, ids = await texts_and_ids(stack, cid)
    assert texts == ["salam", "autre chose"]
    assert other.json()["version"] == 3
    assert other.json()["event_ids"] == [ids[2]]
    assert ids[2] not in first.json()["event_ids"]


async def test_starting_again_with_an_expired_key_makes_no_second_conversation(stack: Stack) -> None:
    headers = {"Idempotency-Key": "start-old"}
    async with stack.client() as http:
        first = await http.post("/v1/conversations", json={"title": "A"}, headers=headers)
        await age(stack.pool, "start-old", 2 * DAY_S)
        again = await http.post("/v1/conversations", json={"title": "A"}, headers=headers)

    cid = first.json()["conversation_id"]
    # The same request derives the same conversation id; the decider sees it already started by the
    # same key and appends nothing, so the retry is answered like the first time.
    assert again.status_code == 202, again.text
    assert again.json()["conversation_id"] == cid
    assert again.json()["event_ids"] == first.json()["event_ids"]
    assert len(await stack.store.read_stream(f"conversation-{cid}")) == 1


async def test_an_expired_key_with_another_start_body_starts_another_conversation(stack: Stack) -> None:
    headers = {"Idempotency-Key": "start-reused"}
    async with stack.client() as http:
        first = await http.post("/v1/conversations", json={"title": "A"}, headers=headers)
        await age(stack.pool, "start-reused", 2 * DAY_S)
        other = await http.post("/v1/conversations", json={"title": "B"}, headers=headers)

    assert (first.status_code, other.status_code) == (202, 202)
    assert other.json()["conversation_id"] != first.json()["conversation_id"]
    started = await stack.store.read_stream(f"conversation-{other.json()['conversation_id']}")
    assert [e.envelope.data.title for e in started] == ["B"]  # type: ignore[attr-defined]


async def test_within_the_ttl_another_body_is_still_refused_and_the_same_gets_the_same_answer(
    stack: Stack,
) -> None:
    cid = (await start(stack))["conversation_id"]
    first = await send(stack, cid, "salam", "msg-3")
    await age(stack.pool, "msg-3", DAY_S - 3600)  # an hour left

    other = await send(stack, cid, "autre", "msg-3")
    again = await send(stack, cid, "salam", "msg-3")

    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-key-reused")
    assert again.status_code == 202
    assert again.json() == first.json()
    assert (await texts_and_ids(stack, cid))[0] == ["salam"]


class CountingPool:
    """The real pool, counting the statements sent through `execute`."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool, self.statements = pool, 0

    async def execute(self, *args: Any) -> str:
        self.statements += 1
        return str(await self.pool.execute(*args))


async def test_the_sweep_deletes_only_expired_records_in_batches(pg_pool: asyncpg.Pool) -> None:
    for i in range(7):
        await pg_pool.execute(
            "INSERT INTO idempotency_keys (tenant, key, scope, body_sha256, status_code, response,"
            " created_at) VALUES ('acme', $1, 'POST /v1/conversations', 'x', 202, '{}',"
            " now() - make_interval(secs => $2))",
            f"k{i}",
            2 * DAY_S if i < 5 else 60.0,
        )
    counting = CountingPool(pg_pool)

    deleted = await sweep_expired(counting, DAY_S, batch=2)  # type: ignore[arg-type]

    assert deleted == 5
    assert counting.statements == 3  # 2 + 2 + 1: the short batch ends the sweep
    left = await pg_pool.fetch("SELECT key FROM idempotency_keys ORDER BY key")
    assert [r["key"] for r in left] == ["k5", "k6"]
    assert await sweep_expired(pg_pool, DAY_S, batch=2) == 0


async def test_a_failing_sweep_is_logged_and_tried_again(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    broken = await create_pool(database_url, min_size=1, max_size=1)
    await broken.close()  # every statement now fails
    caplog.set_level(logging.WARNING, logger="api.idempotency")

    sweeper = asyncio.create_task(sweep_periodically(broken, DAY_S, every_s=0.01, first_after_s=0))
    for _ in range(500):
        if len([r for r in caplog.records if "sweep failed" in r.getMessage()]) >= 2:
            break
        await asyncio.sleep(0.01)
    running = not sweeper.done()
    sweeper.cancel()
    await asyncio.gather(sweeper, return_exceptions=True)

    assert running
    failures = [r for r in caplog.records if "sweep failed" in r.getMessage()]
    assert len(failures) >= 2
    assert all(r.levelno == logging.WARNING for r in failures)
    assert sweeper.cancelled()
