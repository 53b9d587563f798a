"""Requests at the edges of what the OpenAPI document allows, each answered as it says: what Schemathesis
found when the document became the contract (docs/adr/0027)."""

from __future__ import annotations

from tests.integration.api.conftest import Stack
from tests.integration.api.test_commands_and_reads import PROBLEM, start


async def test_a_cursor_past_every_version_reads_an_empty_page_not_a_server_error(stack: Stack) -> None:
    """A version cursor is up to 18 digits; compared with an `integer` column it overflowed the
    parameter's type in asyncpg, a 500 (`?cursor=82818096863425`), for messages and for the feed."""
    started = await start(stack)
    cid, token = started["conversation_id"], str(started["consistency_token"])
    async with stack.client() as member, stack.client("acme-admin") as admin:
        messages = await member.get(
            f"/v1/conversations/{cid}/messages",
            params={"cursor": "82818096863425"},
            headers={"X-Consistency-Token": token},
        )
        events = await admin.get("/v1/events", params={"cursor": "1.71221040304.conversation-x"})

    assert (messages.status_code, messages.json()["items"]) == (200, [])
    assert events.status_code == 200, events.text


async def test_a_number_is_not_a_time_for_the_feed(stack: Stack) -> None:
    """`until=0.5` read as a Unix time (msgspec's lax conversion of a query value), where the document
    says an RFC 3339 date-time."""
    async with stack.client("acme-admin") as admin:
        answer = await admin.get("/v1/events", params={"until": "0.5"})

    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert "until" in answer.json()["detail"]


async def test_a_body_that_does_not_say_it_is_json_is_a_415_problem(stack: Stack) -> None:
    body = b'{"title": "Ventes"}'
    async with stack.client() as http:
        plain = await http.post("/v1/conversations", content=body, headers={"Content-Type": "text/plain"})
        form = await http.post("/v1/conversations", data={"title": "Ventes"})
        unnamed = await http.post("/v1/conversations", content=body)
        as_json = await http.post(
            "/v1/conversations", content=body, headers={"Content-Type": "application/json"}
        )
        without_body = await http.post(f"/v1/conversations/{as_json.json()['conversation_id']}/close")

    for answer in (plain, form, unnamed):
        assert answer.status_code == 415, answer.text
        assert answer.headers["content-type"].startswith(PROBLEM)
    assert (as_json.status_code, without_body.status_code) == (202, 202)


async def test_a_consistency_token_that_is_not_one_we_issue_is_refused_by_its_pattern(stack: Stack) -> None:
    async with stack.client() as http:
        header = await http.get("/v1/conversations", headers={"X-Consistency-Token": "null"})
        query = await http.get("/v1/conversations", params={"consistency_token": "0:1"})

    for answer in (header, query):
        assert answer.status_code == 422
        assert answer.headers["content-type"].startswith(PROBLEM)
