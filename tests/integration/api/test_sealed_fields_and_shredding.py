"""Sensitive data sealed before it reaches Redis, opened for the tenant that owns it, and shredded for
good: after `DELETE /v1/subjects/{id}`, no byte of it is left in Redis or PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import subprocess

import httpx

from domain.conversation_events import UserMessageReceived
from infra.api_keys import create_key
from infra.audit import verify_store
from infra.crypto.fields import PREFIX, SHREDDED
from tests.integration.api.conftest import Stack
from tests.integration.api.test_main_job_over_http import until_listed
from tests.integration.api.test_streams_and_contracts import collect

RIP = "00799999002345678165"
MESSAGE = (
    "Every Friday, email my accountant the list of supplier payments still to be made "
    f"from our RIP {RIP}, with the totals in DZD."
)


async def redis_dump(stack: Stack) -> bytes:
    """Every value under the store's prefix, whatever its type."""
    client, out = stack.store.redis.client, []
    async for key in client.scan_iter(match=f"{stack.store.keys.prefix}:*", count=1000):
        kind = (await client.type(key)).decode()
        if kind == "string":
            out.append(await client.get(key))
        elif kind == "hash":
            out += [k + b"=" + v for k, v in (await client.hgetall(key)).items()]
        elif kind == "stream":
            out += [b"".join(k + v for k, v in fields.items()) for _, fields in await client.xrange(key)]
        elif kind in ("set", "zset", "list"):
            out += [str(await client.execute_command("DUMP", key)).encode()]
        out.append(key)
    return b"\n".join(out)


def pg_dump(database_url: str, schema: str) -> bytes:
    """Every row of the test's schema (the database holds other tests' schemas too)."""
    command = ["pg_dump", "--data-only", "-n", schema, f"--dbname={database_url}"]
    done = subprocess.run(command, capture_output=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


async def sensitive_conversation(stack: Stack) -> str:
    async with stack.client() as http:
        cid = (await http.post("/v1/conversations", json={})).json()["conversation_id"]
        assert (
            await http.post(f"/v1/conversations/{cid}/messages", json={"text": MESSAGE})
        ).status_code == 202
        replied = lambda items: any(m["role"] == "assistant" for m in items)  # noqa: E731
        await until_listed(http, f"/v1/conversations/{cid}/messages", replied)
    assert await stack.runtime.wait_caught_up(timeout_s=20)
    return cid


async def test_sensitive_fields_are_sealed_in_the_log_and_the_read_models_and_opened_for_their_tenant(
    main_stack: Stack,
) -> None:
    cid = await sensitive_conversation(main_stack)
    events = await main_stack.store.read_log(
        main_stack.store.keys.for_stream(f"conversation-{cid}").partition
    )
    stored = await main_stack.pool.fetchval(
        "SELECT text FROM messages WHERE conversation_id = $1 AND role = 'user'", cid
    )
    async with main_stack.client() as http:
        messages = (await http.get(f"/v1/conversations/{cid}/messages")).json()["items"]
        state = (await http.get(f"/v1/conversations/{cid}/agent-state")).json()
    async with main_stack.client("acme-auditor") as auditor:
        feed = (await auditor.get("/v1/events", params={"stream": f"conversation-{cid}"})).json()["items"]

    raw = b"".join(e.raw or b"" for e in events)
    assert RIP.encode() not in raw
    assert b'"encalg":"AES-256-GCM"' in raw
    assert stored.startswith(PREFIX)
    assert RIP.encode() not in await redis_dump(main_stack)
    assert messages[0]["text"] == MESSAGE
    findings = [d["finding"] for d in state["delegations"] if d.get("finding")]
    assert findings
    assert all(not f["summary"].startswith(PREFIX) for f in findings)
    sealed = [e for e in feed if PREFIX in e["event"]]
    assert sealed
    assert all(e["opened"] is not None and PREFIX not in e["opened"] for e in sealed)
    assert any(RIP in e["opened"] for e in sealed)
    opened = await main_stack.store.read_stream(f"conversation-{cid}")
    said = [e.envelope.data for e in opened if isinstance(e.envelope.data, UserMessageReceived)]
    assert said[0].text == MESSAGE  # what the process managers read


async def test_a_shredded_subject_reads_shredded_everywhere_and_no_byte_of_it_is_left(
    main_stack: Stack, database_url: str
) -> None:
    cid = await sensitive_conversation(main_stack)
    async with main_stack.client("acme-member") as member:
        refused = await member.delete(f"/v1/subjects/{cid}")
    other_admin, _ = await create_key(main_stack.pool, "globex", "admin")
    async with httpx.AsyncClient(
        base_url=main_stack.url, headers={"Authorization": f"Bearer {other_admin}"}, timeout=10
    ) as other:
        foreign = await other.delete(f"/v1/subjects/{cid}")
    async with main_stack.client("acme-admin") as admin:
        shredded = await admin.delete(f"/v1/subjects/{cid}", params={"reason": "the customer asked"})
        again = await admin.delete(f"/v1/subjects/{cid}")
        unknown = await admin.delete("/v1/subjects/no-such-conversation")
    assert await main_stack.runtime.wait_caught_up(timeout_s=20)
    async with main_stack.client() as http:
        messages = (await http.get(f"/v1/conversations/{cid}/messages")).json()["items"]
        state = (await http.get(f"/v1/conversations/{cid}/agent-state")).json()
        later = await http.post(f"/v1/conversations/{cid}/messages", json={"text": f"encore {RIP}"})
    async with main_stack.client("acme-auditor") as auditor:
        feed = (await auditor.get("/v1/events", params={"stream": f"conversation-{cid}"})).json()["items"]
    audit = await verify_store(main_stack.store)

    assert (refused.status_code, foreign.status_code) == (403, 404)
    assert (shredded.status_code, again.status_code, unknown.status_code) == (202, 202, 404)
    assert len(again.json()["event_ids"]) == 0  # recorded once
    assert messages[0]["text"] == SHREDDED
    replies = [m for m in messages if m["role"] == "assistant"]
    assert replies
    assert all(m["text"] == SHREDDED for m in replies)  # drawn from the sensitive message: sealed too
    findings = [d["finding"] for d in state["delegations"] if d.get("finding")]
    assert all(f["summary"] == SHREDDED for f in findings)
    assert (later.status_code, later.headers["content-type"]) == (410, "application/problem+json")
    assert all(SHREDDED in e["opened"] for e in feed if e.get("opened"))
    assert audit.problems == []
    schema = await main_stack.pool.fetchval("SELECT current_schema()")
    dump = await redis_dump(main_stack) + pg_dump(database_url, schema)
    assert RIP.encode() not in dump
    record = await main_stack.store.redis.client.hget(main_stack.store.keys.data_keys("acme"), cid)
    assert b'"shredded"' in record
    assert b"wrapped" not in record


async def test_the_streams_send_sealed_fields_opened_to_their_tenant_live_and_on_catch_up(
    main_stack: Stack,
) -> None:
    async with main_stack.client() as http:
        cid = (await http.post("/v1/conversations", json={})).json()["conversation_id"]
    live = asyncio.create_task(collect(main_stack, "/v1/stream", 2))
    await main_stack.subscribed(1)  # before the message is sent
    async with main_stack.client() as http:
        assert (
            await http.post(f"/v1/conversations/{cid}/messages", json={"text": MESSAGE})
        ).status_code == 202
    heard = await asyncio.wait_for(live, timeout=20)
    caught_up = await collect(main_stack, f"/v1/conversations/{cid}/stream", 2)

    for frames in (heard, caught_up):
        said = [f.data for f in frames if f.event.endswith("user_message_received.v1")]
        assert said, [f.event for f in frames]
        assert said[0]["data"]["text"] == MESSAGE  # type: ignore[index]
        assert all(PREFIX not in json.dumps(f.data) for f in frames)
