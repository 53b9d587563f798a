"""The main job through the API: a message sent over HTTP becomes a workflow a person reads and approves."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.integration.api.conftest import Stack
from tests.integration.managers.test_main_job import DEMO


async def until_listed(http: Any, path: str, done: Any, **params: str) -> list[dict[str, Any]]:
    """The items of a list route once `done(items)`: the projectors fold on their own schedule."""
    async with asyncio.timeout(20):
        while True:
            response = await http.get(path, params=params)
            items: list[dict[str, Any]] = response.json()["items"] if response.status_code == 200 else []
            if done(items):
                return items
            await asyncio.sleep(0.05)


async def test_a_message_over_http_becomes_a_workflow_a_person_reads_and_approves(main_stack: Stack) -> None:
    async with main_stack.client() as http:
        cid = (await http.post("/v1/conversations", json={"title": "Ventes"})).json()["conversation_id"]
        sent = await http.post(f"/v1/conversations/{cid}/messages", json={"text": DEMO})
        assert sent.status_code == 202
        replied = lambda items: any(m["role"] == "assistant" for m in items)  # noqa: E731
        messages = await until_listed(http, f"/v1/conversations/{cid}/messages", replied)
        validated = lambda items: [w["status"] for w in items] == ["validated"]  # noqa: E731
        [summary] = await until_listed(http, "/v1/workflows", validated, conversation_id=cid)
        workflow = (await http.get(f"/v1/workflows/{summary['workflow_id']}")).json()
        revision = (await http.get(f"/v1/workflows/{summary['workflow_id']}/revisions/1")).json()
        missing = await http.get(f"/v1/workflows/{summary['workflow_id']}/revisions/9")
        approved = await http.post(f"/v1/workflows/{summary['workflow_id']}/approve", json={"revision": 1})
        token = approved.json()["consistency_token"]
        after = await http.get(
            f"/v1/workflows/{summary['workflow_id']}", headers={"X-Consistency-Token": token}
        )
        state = (await http.get(f"/v1/conversations/{cid}/agent-state")).json()
        at_message = (await http.get(f"/v1/conversations/{cid}/agent-state", params={"version": 2})).json()
        beyond = await http.get(f"/v1/conversations/{cid}/agent-state", params={"version": 999})
    async with main_stack.client("globex-member") as other:
        foreign = await other.get(f"/v1/workflows/{summary['workflow_id']}")

    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert "attend votre approbation" in messages[1]["text"]
    assert (summary["status"], summary["revision"], summary["conversation_id"]) == ("validated", 1, cid)
    assert workflow["revisions"][0]["validation"] == "valid"
    assert revision["definition"].startswith("{")
    assert revision["n8n_version"] == "2.8.4"
    assert missing.status_code == 404
    assert approved.status_code == 202
    assert after.json()["status"] == "approved"
    assert after.json()["approved"]["revision"] == 1
    assert {d["agent"] for d in state["delegations"]} == {"sales", "logistics"}
    assert all(d["finding"]["summary"] for d in state["delegations"])
    assert [r["purpose"] for r in state["decisions"]] == ["orchestrator", "sales", "logistics", "designer"]
    assert state["workflows"][0]["workflow_id"] == summary["workflow_id"]
    assert (at_message["last_version"], at_message["delegations"], at_message["decisions"]) == (2, [], [])
    assert beyond.status_code == 404
    assert foreign.status_code == 404


async def test_a_workflow_list_refuses_a_cursor_it_did_not_issue_and_an_unknown_status(
    main_stack: Stack,
) -> None:
    async with main_stack.client() as http:
        bad_cursor = await http.get("/v1/workflows", params={"cursor": "nope"})
        bad_status = await http.get("/v1/workflows", params={"status": "dancing"})
        bad_version = await http.get("/v1/conversations/x/agent-state", params={"version": 0})

    assert bad_cursor.status_code == 422
    assert bad_status.status_code in (400, 422)
    assert bad_version.status_code in (400, 422)
    assert bad_cursor.headers["content-type"].startswith("application/problem+json")
