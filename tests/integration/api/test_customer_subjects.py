"""A customer the tenant names as a subject: conversations started for it are shredded with it, and only
they; its reference is the tenant's own opaque id, refused when it looks like personal data."""

from __future__ import annotations

import httpx

from infra.api_keys import create_key
from infra.audit import verify_store
from infra.crypto.fields import SHREDDED
from tests.integration.api.conftest import Stack
from tests.integration.api.test_main_job_over_http import until_listed
from tests.integration.api.test_sealed_fields_and_shredding import MESSAGE, RIP, pg_dump, redis_dump


async def customer_conversation(http: httpx.AsyncClient, customer: str) -> str:
    started = await http.post("/v1/conversations", json={"customer_id": customer})
    assert started.status_code == 202, started.text
    cid: str = started.json()["conversation_id"]
    sent = await http.post(f"/v1/conversations/{cid}/messages", json={"text": MESSAGE})
    assert sent.status_code == 202, sent.text
    replied = lambda items: any(m["role"] == "assistant" for m in items)  # noqa: E731
    await until_listed(http, f"/v1/conversations/{cid}/messages", replied)
    return cid


async def user_text(http: httpx.AsyncClient, cid: str) -> str:
    items = (await http.get(f"/v1/conversations/{cid}/messages")).json()["items"]
    return next(str(m["text"]) for m in items if m["role"] == "user")


async def test_shredding_a_customer_shreds_every_conversation_about_it_and_no_other(
    main_stack: Stack, database_url: str
) -> None:
    async with main_stack.client() as http:
        first = await customer_conversation(http, "cust-42")
        second = await customer_conversation(http, "cust-42")
        other = await customer_conversation(http, "cust-7")
        listed = await until_listed(
            http, "/v1/conversations", lambda items: len(items) == 2, customer_id="cust-42"
        )
    assert await main_stack.runtime.wait_caught_up(timeout_s=20)

    async with main_stack.client("acme-admin") as admin:
        shredded = await admin.delete("/v1/subjects/customer:cust-42", params={"reason": "asked to"})
    assert await main_stack.runtime.wait_caught_up(timeout_s=20)
    async with main_stack.client() as http:
        texts = [await user_text(http, cid) for cid in (first, second, other)]
        again = await http.post("/v1/conversations", json={"customer_id": "cust-42"})
        later = await http.post(f"/v1/conversations/{first}/messages", json={"text": f"encore {RIP}"})

    assert {row["conversation_id"] for row in listed} == {first, second}
    assert all(row["customer_id"] == "cust-42" for row in listed)
    assert shredded.status_code == 202, shredded.text
    assert texts == [SHREDDED, SHREDDED, MESSAGE]
    assert (again.status_code, again.headers["content-type"]) == (410, "application/problem+json")
    assert "customer:cust-42 was shredded" in again.json()["detail"]
    assert later.status_code == 410
    assert (await verify_store(main_stack.store)).problems == []
    schema = await main_stack.pool.fetchval("SELECT current_schema()")
    assert RIP.encode() not in await redis_dump(main_stack) + pg_dump(database_url, schema)
    keys = await main_stack.store.redis.client.hgetall(main_stack.store.keys.data_keys("acme"))
    assert all(b'"type":"shredded"' in keys[cid.encode()] for cid in (first, second))
    assert b'"type":"sealed"' in keys[other.encode()]


async def test_shredding_one_conversation_of_a_customer_leaves_the_customers_other_conversations(
    main_stack: Stack,
) -> None:
    async with main_stack.client() as http:
        first = await customer_conversation(http, "cust-9")
        second = await customer_conversation(http, "cust-9")
    async with main_stack.client("acme-admin") as admin:
        assert (await admin.delete(f"/v1/subjects/{first}")).status_code == 202
    async with main_stack.client() as http:
        texts = [await user_text(http, cid) for cid in (first, second)]

    assert texts == [SHREDDED, MESSAGE]


async def test_a_customer_reference_that_looks_like_personal_data_or_is_malformed_is_refused_unrecorded(
    main_stack: Stack,
) -> None:
    async with main_stack.client() as http:
        phone = await http.post("/v1/conversations", json={"customer_id": "0555123456"})
        spaced = await http.post("/v1/conversations", json={"customer_id": "Karim Benali"})
        listed = (await http.get("/v1/conversations")).json()["items"]

    assert (phone.status_code, phone.headers["content-type"]) == (422, "application/problem+json")
    assert phone.json()["errors"][0]["field"] == "customer_id"
    assert "0555123456" not in phone.text  # the problem names the kind of data, never the value
    assert spaced.status_code == 422
    assert listed == []


async def test_a_customer_of_another_tenant_or_of_nobody_is_not_found(main_stack: Stack) -> None:
    async with main_stack.client() as http:
        await customer_conversation(http, "cust-1")
    other_admin, _ = await create_key(main_stack.pool, "globex", "admin")
    async with httpx.AsyncClient(
        base_url=main_stack.url, headers={"Authorization": f"Bearer {other_admin}"}, timeout=10
    ) as other:
        foreign = await other.delete("/v1/subjects/customer:cust-1")
    async with main_stack.client("acme-admin") as admin:
        unknown = await admin.delete("/v1/subjects/customer:never-named")
    async with main_stack.client() as http:
        still = await http.get("/v1/conversations", params={"customer_id": "cust-1"})

    assert (foreign.status_code, unknown.status_code) == (404, 404)
    assert len(still.json()["items"]) == 1
