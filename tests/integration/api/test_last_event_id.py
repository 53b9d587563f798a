"""`Last-Event-ID` resumes a bounded replay: the partitions it does not name start from now, and an id that
is not one this API issued (or is older than the replay window) is a 400 problem, never a replay."""

from __future__ import annotations

import asyncio

import pytest

from api import streams
from commands.context import decode_token
from tests.integration.api.conftest import Stack
from tests.integration.api.test_commands_and_reads import PROBLEM, start
from tests.integration.api.test_streams_and_contracts import collect, say

PARTITIONS = 4  # the test store's (tests/integration/conftest.py fresh_keys)


async def test_an_id_naming_one_partition_does_not_replay_the_others_from_the_beginning(
    stack: Stack,
) -> None:
    """Regression: partitions the id did not name were replayed from 0-0, every event they ever held."""
    started = [await start(stack, title=f"t{n}") for n in range(8)]
    partitions = {p for s in started for p in decode_token(str(s["consistency_token"]))}
    assert len(partitions) > 1  # the old events are spread over several partitions
    token = str(started[-1]["consistency_token"])  # a consistency token names the partitions written

    listening = asyncio.create_task(collect(stack, "/v1/stream", 1, last_event_id=token))
    await stack.subscribed(1)
    await say(stack, started[0]["conversation_id"], "nouveau")
    [first] = await asyncio.wait_for(listening, timeout=10)

    assert first.data["data"]["text"] == "nouveau"  # type: ignore[index]
    assert set(decode_token(first.id)) == set(range(PARTITIONS))  # the id it gives names them all


@pytest.mark.parametrize(
    "last_event_id",
    [
        "nope",
        "0:abc",
        ",",
        f"{PARTITIONS}:0-0",
        "0:0-0,0:0-0",
        "0:99999999999999999-0",
        "0:1-99999999999999999999999",
        "0:1-0,1:0-0",
    ],
)
async def test_an_id_this_api_did_not_issue_is_a_400_problem(stack: Stack, last_event_id: str) -> None:
    await start(stack)  # some entries, so that 0:1-0 could only be a forged position
    async with stack.client() as http:
        response = await http.get("/v1/stream", headers={"Last-Event-ID": last_event_id})

    assert response.status_code == 400
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["type"].endswith("/bad-last-event-id")
    assert "Last-Event-ID" in response.json()["detail"]


@pytest.mark.parametrize("last_event_id", ["abc", "-1", "3"])
async def test_a_conversation_version_it_does_not_have_is_a_400_problem(
    stack: Stack, last_event_id: str
) -> None:
    cid = (await start(stack))["conversation_id"]
    await say(stack, cid, "un")
    async with stack.client() as http:
        response = await http.get(f"/v1/conversations/{cid}/stream", headers={"Last-Event-ID": last_event_id})

    assert response.status_code == 400
    assert response.json()["type"].endswith("/bad-last-event-id")


async def test_an_id_further_behind_than_the_replay_window_is_refused_and_one_within_it_resumes(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = await start(stack)
    await asyncio.sleep(0.01)
    async with stack.client() as http:
        said = await http.post(f"/v1/conversations/{started['conversation_id']}/messages", json={"text": "a"})
    old, newest = str(started["consistency_token"]), said.json()["consistency_token"]
    [partition] = decode_token(newest)
    monkeypatch.setattr(streams, "REPLAY_WINDOW_S", 0)

    async with stack.client() as http:
        too_old = await http.get("/v1/stream", headers={"Last-Event-ID": old})
        from_start = await http.get("/v1/stream", headers={"Last-Event-ID": f"{partition}:0-0"})
        async with http.stream("GET", "/v1/stream", headers={"Last-Event-ID": newest}) as current:
            resumed = current.status_code

    assert too_old.status_code == 400
    assert too_old.json()["type"].endswith("/last-event-id-too-old")
    assert "/v1/events" in too_old.json()["detail"]
    assert from_start.status_code == 400
    assert resumed == 200
