"""Commands and reads through the real HTTP stack, good and bad cases side by side."""

from __future__ import annotations

import hashlib

from tests.integration.api.conftest import Stack
from tests.support.events import NOW, ORIGIN, new

PROBLEM = "application/problem+json"


async def start(stack: Stack, who: str = "acme-member", **body: str) -> dict[str, object]:
    async with stack.client(who) as http:
        response = await http.post("/v1/conversations", json=body or {"title": "Ventes", "language": "fr"})
    assert response.status_code == 202, response.text
    return dict(response.json())


async def test_a_started_conversation_is_readable_with_its_consistency_token(stack: Stack) -> None:
    started = await start(stack)
    cid, token = started["conversation_id"], started["consistency_token"]

    async with stack.client() as http:
        response = await http.get(f"/v1/conversations/{cid}", headers={"X-Consistency-Token": str(token)})

    assert response.status_code == 200
    assert response.json()["title"] == "Ventes"
    assert response.json()["status"] == "open"


async def test_messages_are_classified_and_listed_in_order(stack: Stack) -> None:
    cid = (await start(stack))["conversation_id"]
    async with stack.client() as http:
        first = await http.post(
            f"/v1/conversations/{cid}/messages", json={"text": "Chaque matin, le total Shopify"}
        )
        second = await http.post(
            f"/v1/conversations/{cid}/messages", json={"text": "Mon RIP: 00799999001234567845"}
        )
        listed = await http.get(
            f"/v1/conversations/{cid}/messages?consistency_token={second.json()['consistency_token']}"
        )
        state = await http.get(f"/v1/conversations/{cid}/agent-state")

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.headers["x-consistency-token"] == first.json()["consistency_token"]
    items = listed.json()["items"]
    assert [m["sensitivity"] for m in items] == ["public", "sensitive"]
    assert [m["version"] for m in items] == [2, 3]
    assert state.status_code == 200
    assert state.json()["conversation_id"] == cid


async def test_a_closed_conversation_refuses_messages_with_a_409_problem(stack: Stack) -> None:
    cid = (await start(stack))["conversation_id"]
    async with stack.client() as http:
        closed = await http.post(f"/v1/conversations/{cid}/close", json={"reason": "done"})
        refused = await http.post(f"/v1/conversations/{cid}/messages", json={"text": "encore"})

    assert closed.status_code == 202
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert refused.json()["detail"] == "the conversation is closed"


async def test_a_message_to_an_unknown_conversation_is_a_404_problem(stack: Stack) -> None:
    async with stack.client() as http:
        response = await http.post("/v1/conversations/nope/messages", json={"text": "salam"})

    assert response.status_code == 404
    assert response.json()["type"].endswith("/not-found")


async def test_invalid_bodies_are_422_problems_naming_the_field(stack: Stack) -> None:
    cid = (await start(stack))["conversation_id"]
    async with stack.client() as http:
        empty = await http.post(f"/v1/conversations/{cid}/messages", json={"text": ""})
        too_long = await http.post(f"/v1/conversations/{cid}/messages", json={"text": "x" * 8001})
        unknown = await http.post(f"/v1/conversations/{cid}/messages", json={"text": "a", "extra": 1})
        bad_language = await http.post("/v1/conversations", json={"language": "French!"})

    for response in (empty, too_long, unknown, bad_language):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["errors"] or response.json()["detail"]
    assert "text" in str(empty.json()["errors"])


async def test_a_body_over_the_limit_is_a_413_problem(stack: Stack) -> None:
    async with stack.client() as http:
        response = await http.post(
            "/v1/conversations",
            content=b'{"title":"' + b"x" * 70_000 + b'"}',
            headers={"Content-Type": "application/json"},
        )

    assert response.status_code == 413
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_the_same_idempotency_key_and_body_append_once_and_answer_the_same(stack: Stack) -> None:
    cid = (await start(stack))["conversation_id"]
    headers = {"Idempotency-Key": "msg-42"}
    async with stack.client() as http:
        first = await http.post(f"/v1/conversations/{cid}/messages", json={"text": "salam"}, headers=headers)
        again = await http.post(f"/v1/conversations/{cid}/messages", json={"text": "salam"}, headers=headers)
        other = await http.post(f"/v1/conversations/{cid}/messages", json={"text": "autre"}, headers=headers)

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert len(await stack.store.read_stream(f"conversation-{cid}")) == 2
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-key-reused")


async def test_starting_twice_with_one_idempotency_key_gives_one_conversation(stack: Stack) -> None:
    headers = {"Idempotency-Key": "start-1"}
    async with stack.client() as http:
        first = await http.post("/v1/conversations", json={"title": "A"}, headers=headers)
        again = await http.post("/v1/conversations", json={"title": "A"}, headers=headers)

    assert first.json()["conversation_id"] == again.json()["conversation_id"]


async def test_a_validated_workflow_is_approved_and_a_second_approval_changes_nothing(stack: Stack) -> None:
    from domain.workflow_events import WorkflowDrafted, WorkflowValidated

    definition = '{"name":"w"}'
    drafted = WorkflowDrafted(
        workflow_id="w1",
        conversation_id="c1",
        revision=1,
        name="w",
        definition=definition,
        definition_sha256=hashlib.sha256(definition.encode()).hexdigest(),
        drafted_at=NOW,
    )
    validated = WorkflowValidated(revision=1, checks=("types",), n8n_version="2.8.4", validated_at=NOW)
    await stack.store.append("workflow-w1", [new(drafted)], expected_version=0, origin=ORIGIN)
    async with stack.client() as http:
        too_early = await http.post("/v1/workflows/w1/approve", json={})
        await stack.store.append("workflow-w1", [new(validated)], expected_version=1, origin=ORIGIN)
        stale = await http.post("/v1/workflows/w1/approve", json={"revision": 2})
        approved = await http.post("/v1/workflows/w1/approve", json={"revision": 1})
        again = await http.post("/v1/workflows/w1/approve")
        rejected = await http.post("/v1/workflows/w1/reject", json={"reason": "changed my mind"})
        missing = await http.post("/v1/workflows/nope/approve")

    assert too_early.status_code == 409
    assert stale.status_code == 409
    assert approved.status_code == 202
    assert again.status_code == 202
    assert again.json()["event_ids"] == []
    assert rejected.status_code == 409
    assert missing.status_code == 404


async def test_cursor_pagination_walks_every_conversation_once(stack: Stack) -> None:
    created = {str((await start(stack, title=f"c{n}"))["conversation_id"]) for n in range(5)}
    seen: list[str] = []
    cursor = None
    async with stack.client() as http:
        await stack.runtime.wait_caught_up(10)
        while True:
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (await http.get("/v1/conversations", params=params)).json()
            seen += [item["conversation_id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        bad = await http.get("/v1/conversations", params={"cursor": "garbage"})

    assert set(seen) == created
    assert len(seen) == 5
    assert bad.status_code == 422


async def test_the_callers_traceparent_and_correlation_id_are_carried_into_the_events(stack: Stack) -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    headers = {"traceparent": traceparent, "X-Correlation-Id": "order-77"}
    async with stack.client() as http:
        response = await http.post("/v1/conversations", json={"title": "t"}, headers=headers)
        untraced = await http.post(
            "/v1/conversations", json={"title": "u"}, headers={"traceparent": "garbage"}
        )

    [event] = await stack.store.read_stream(response.json()["stream"])
    [other] = await stack.store.read_stream(untraced.json()["stream"])
    assert event.envelope.traceparent == traceparent
    assert event.envelope.correlationid == "order-77"
    assert event.envelope.causationid == response.headers["x-request-id"]
    assert other.envelope.traceparent is not None
    assert other.envelope.traceparent.startswith("00-")
    assert other.envelope.traceparent != "garbage"


async def test_the_audit_feed_takes_a_time_window_and_reads_one_past_what_utc_holds_as_its_ends(
    stack: Stack,
) -> None:
    """Regression (found by the fuzz): a valid ISO date before year 1 once converted to UTC was a 500,
    then a 422, refusing a date-time the document allows: past the ends, a bound is the start or the end."""
    token = (await start(stack))["consistency_token"]
    async with stack.client("acme-auditor") as http:
        window = await http.get(
            "/v1/events",
            params={"since": "2000-01-01T00:00:00+01:00"},
            headers={"X-Consistency-Token": token},
        )
        before_year_one = await http.get("/v1/events", params={"until": "0001-01-01T00:10:11+05:00"})
        since_year_one = await http.get("/v1/events", params={"since": "0001-01-01T00:10:11+05:00"})
        after_9999 = await http.get("/v1/events", params={"since": "9999-12-31T23:59:59-05:00"})

    assert window.status_code == 200
    assert window.json()["items"]
    assert [r.status_code for r in (before_year_one, since_year_one, after_9999)] == [200, 200, 200]
    assert before_year_one.json()["items"] == after_9999.json()["items"] == []
    assert since_year_one.json()["items"]
