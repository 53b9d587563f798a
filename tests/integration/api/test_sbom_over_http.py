"""The SBOM of a workflow over HTTP: the stored bytes with their ETag, conditional GETs, revisions, tenants,
and what the command line prints."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from typing import Any

import asyncpg

from projections.sbom import MEDIA_TYPE
from projections.sbom_schema import check_sbom
from tests.integration.api.conftest import Stack
from tests.integration.api.test_main_job_over_http import until_listed
from tests.integration.managers.test_main_job import DEMO
from tests.integration.test_cli import aiwf
from tests.support.postgres import fresh_database


async def approved_workflow(stack: Stack) -> tuple[str, str]:
    """A workflow drafted from the demo message and approved: its id and the approval's token."""
    async with stack.client() as http:
        cid = (await http.post("/v1/conversations", json={})).json()["conversation_id"]
        await http.post(f"/v1/conversations/{cid}/messages", json={"text": DEMO})
        validated = lambda items: [w["status"] for w in items] == ["validated"]  # noqa: E731
        [summary] = await until_listed(http, "/v1/workflows", validated, conversation_id=cid)
        approved = await http.post(f"/v1/workflows/{summary['workflow_id']}/approve", json={"revision": 1})
    assert approved.status_code == 202
    return summary["workflow_id"], approved.json()["consistency_token"]


async def test_the_sbom_is_served_as_stored_with_its_etag_and_a_304_when_unchanged(main_stack: Stack) -> None:
    workflow_id, token = await approved_workflow(main_stack)
    path = f"/v1/workflows/{workflow_id}/sbom"
    async with main_stack.client() as http:
        current = await http.get(path, headers={"X-Consistency-Token": token})
        same = await http.get(path, params={"revision": 1})
        unchanged = await http.get(path, headers={"If-None-Match": current.headers["etag"]})
        other = await http.get(path, headers={"If-None-Match": '"0000"'})
        workflow = (
            await http.get(f"/v1/workflows/{workflow_id}", headers={"X-Consistency-Token": token})
        ).json()
    stored = await main_stack.pool.fetchrow(
        "SELECT document, etag FROM sboms WHERE workflow_id = $1 AND revision = 1", workflow_id
    )

    assert current.status_code == 200, current.text
    assert current.headers["content-type"] == MEDIA_TYPE
    assert current.content == stored["document"].encode()
    assert (
        current.headers["etag"] == f'"{hashlib.sha256(current.content).hexdigest()}"' == f'"{stored["etag"]}"'
    )
    document = json.loads(current.content)
    check_sbom(document)
    properties = {p["name"]: p["value"] for p in document["metadata"]["component"]["properties"]}
    assert properties["aiwf:workflow:id"] == workflow_id
    assert properties["aiwf:approval:by"] == workflow["approved"]["by"]
    assert properties["aiwf:workflow:status"] == "approved"
    assert same.content == current.content
    assert (unchanged.status_code, unchanged.content, unchanged.headers["etag"]) == (
        304,
        b"",
        current.headers["etag"],
    )
    assert other.status_code == 200


async def test_a_missing_revision_another_tenant_and_bad_numbers_are_problems(main_stack: Stack) -> None:
    workflow_id, token = await approved_workflow(main_stack)
    path = f"/v1/workflows/{workflow_id}/sbom"
    async with main_stack.client() as http:
        await http.get(path, headers={"X-Consistency-Token": token})
        beyond = await http.get(path, params={"revision": 9})
        zero = await http.get(path, params={"revision": 0})
        word = await http.get(path, params={"revision": "two"})
        unknown = await http.get("/v1/workflows/no-such-workflow/sbom")
    async with main_stack.client("globex-member") as other:
        foreign = await other.get(path)
    async with main_stack.client(None) as anonymous:
        unauthenticated = await anonymous.get(path)

    problems: list[tuple[int, Any]] = [
        (r.status_code, r.headers["content-type"]) for r in (beyond, zero, word, unknown, foreign)
    ]
    assert [status for status, _ in problems] == [404, 422, 422, 404, 404]
    assert all(kind == "application/problem+json" for _, kind in problems)
    assert "no revision 9" in beyond.json()["detail"]
    assert foreign.json()["detail"] == unknown.json()["detail"] == "no such workflow"
    assert unauthenticated.status_code == 401


async def test_the_command_line_prints_the_stored_sbom_and_says_clearly_what_is_missing(
    redis_url: str, database_url: str
) -> None:
    async with fresh_database(database_url) as database:
        demo = await asyncio.to_thread(aiwf, "demo", redis_url=redis_url, database_url=database)
        found = re.search(r"workflow (\S+) revision 1 drafted", demo.stdout)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert found is not None, demo.stdout
        workflow_id = found.group(1)

        def sbom(*args: str) -> Any:
            return aiwf("sbom", *args, redis_url=redis_url, database_url=database)

        printed, other, beyond, zero = await asyncio.gather(
            asyncio.to_thread(sbom, "--tenant", "demo", workflow_id),
            asyncio.to_thread(sbom, "--tenant", "globex", workflow_id),
            asyncio.to_thread(sbom, "--tenant", "demo", workflow_id, "--revision", "9"),
            asyncio.to_thread(sbom, "--tenant", "demo", workflow_id, "--revision", "0"),
        )
        connection = await asyncpg.connect(database)
        try:
            etag = await connection.fetchval("SELECT etag FROM sboms WHERE workflow_id = $1", workflow_id)
        finally:
            await connection.close()

    assert printed.returncode == 0, printed.stderr
    assert hashlib.sha256(printed.stdout.encode()).hexdigest() == etag
    check_sbom(json.loads(printed.stdout))
    assert (other.returncode, other.stdout) == (1, "")
    assert f"tenant 'globex' has no workflow {workflow_id!r}" in other.stderr
    assert (beyond.returncode, zero.returncode) == (1, 2)
    assert "has no revision 9" in beyond.stderr
    assert "--revision must be 1 or more" in zero.stderr
