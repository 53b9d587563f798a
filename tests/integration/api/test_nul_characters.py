"""U+0000 is refused at the edge with a 422: the log never holds an event the read models cannot store
(it was accepted, then dead-lettered by every projector, so the conversation vanished from the reads)."""

from __future__ import annotations

from tests.integration.api.conftest import Stack
from tests.integration.api.test_commands_and_reads import PROBLEM, start


async def dead_letters(stack: Stack) -> int:
    return sum([await stack.store.redis.client.xlen(k.dlq) for k in stack.store.keys.all_partitions()])


async def test_a_command_with_a_nul_in_its_text_is_refused_and_nothing_is_appended(stack: Stack) -> None:
    started = await start(stack)
    cid = str(started["conversation_id"])
    async with stack.client() as http:
        refused_start = await http.post("/v1/conversations", json={"title": "Ven\x00tes"})
        refused_message = await http.post(f"/v1/conversations/{cid}/messages", json={"text": "sa\x00lam"})
        accepted = await http.post(f"/v1/conversations/{cid}/messages", json={"text": "salam"})

    for response in (refused_start, refused_message):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        assert "U+0000" in str(response.json()["errors"])
    assert [e["field"] for e in refused_message.json()["errors"]] == ["text"]  # the body's field
    assert accepted.json()["version"] == 2  # the refused message took no version
    assert await stack.runtime.wait_caught_up(timeout_s=20)
    assert await dead_letters(stack) == 0


async def test_a_nul_in_a_path_or_query_value_is_refused(stack: Stack) -> None:
    async with stack.client("acme-admin") as http:
        responses = [
            await http.get("/v1/conversations/a%00b"),
            await http.get("/v1/events", params={"type": "x\x00"}),
            await http.get("/v1/events", params={"stream": "conversation-\x00"}),
        ]
    assert [r.status_code for r in responses] == [422, 422, 422]
    assert all(r.headers["content-type"].startswith(PROBLEM) for r in responses)
