"""`/v1/schemas`: public, cacheable, and every event the main job appends names in its `dataschema` a
schema the API serves and that its `data` validates against, with the schema of the whole event next
to it (`…/envelope`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs
import msgspec

from domain.catalog import REGISTRY
from tests.integration.api.conftest import Stack
from tests.integration.api.test_commands_and_reads import PROBLEM
from tests.integration.api.test_main_job_over_http import until_listed
from tests.integration.managers.test_main_job import DEMO


async def test_the_schemas_are_public_listed_and_cached_by_etag(stack: Stack) -> None:
    started, locator = "aiwf.conversation.started.v1", stack.store.schemas
    async with stack.client(None) as anonymous:
        index = await anonymous.get("/v1/schemas")
        data = await anonymous.get(f"/v1/schemas/{started}")
        envelope = await anonymous.get(f"/v1/schemas/{started}/envelope")
        again = [
            await anonymous.get(path, headers={"If-None-Match": response.headers["etag"]})
            for path, response in [
                (f"/v1/schemas/{started}", data),
                (f"/v1/schemas/{started}/envelope", envelope),
            ]
        ]
        unknown = [
            await anonymous.get(f"/v1/schemas/aiwf.conversation.unheard_of.v1{suffix}")
            for suffix in ["", "/envelope"]
        ]

    assert index.status_code == 200
    assert index.json()["schemas"] == [
        {"type": name, "data_schema": locator.data_url(name), "envelope_schema": locator.envelope_url(name)}
        for name in REGISTRY.types()
    ]
    assert (data.status_code, envelope.status_code) == (200, 200)
    assert all(r.headers["content-type"].startswith("application/schema+json") for r in [data, envelope])
    assert data.json()["$id"] == locator.data_url(started)
    assert envelope.json()["$id"] == locator.envelope_url(started)
    assert envelope.json()["properties"]["data"]["$id"] == data.json()["$id"]
    assert data.headers["etag"] != envelope.headers["etag"]
    assert [(r.status_code, r.content, r.headers["etag"]) for r in again] == [
        (304, b"", data.headers["etag"]),
        (304, b"", envelope.headers["etag"]),
    ]
    assert [r.status_code for r in unknown] == [404, 404]
    assert all(r.headers["content-type"].startswith(PROBLEM) for r in unknown)
    assert all("aiwf.conversation.unheard_of.v1" in r.json()["detail"] for r in unknown)


async def test_the_data_of_every_event_of_the_main_job_validates_against_the_schema_its_dataschema_names(
    main_stack: Stack,
) -> None:
    """The API listens on a port of the test's own while the store stamps its configured base, so the
    URL's path is what is fetched here; each `$id` must be the whole URL."""
    async with main_stack.client() as http:
        cid = (await http.post("/v1/conversations", json={"title": "Ventes"})).json()["conversation_id"]
        await http.post(f"/v1/conversations/{cid}/messages", json={"text": DEMO})
        validated = lambda items: [w["status"] for w in items] == ["validated"]  # noqa: E731
        [summary] = await until_listed(http, "/v1/workflows", validated, conversation_id=cid)
        await http.post(f"/v1/workflows/{summary['workflow_id']}/approve", json={"revision": 1})
        await http.post(f"/v1/conversations/{cid}/close", json={})
        assert await main_stack.runtime.wait_caught_up(timeout_s=20)
        events = [
            msgspec.json.decode(entry.raw or b"")
            for partition in main_stack.store.keys.all_partitions()
            for entry in await main_stack.store.read_log(partition.partition)
        ]
        schemas: dict[str, Any] = {}
        for url in sorted({event["dataschema"] for event in events}):
            for schema_url in [url, url + "/envelope"]:
                response = await http.get(urlsplit(schema_url).path)
                assert response.status_code == 200, schema_url
                schemas[schema_url] = response.json()

    invalid = [
        (event["type"], what, error.message)
        for event in events
        for what, instance, url in [
            ("data", event["data"], event["dataschema"]),
            ("envelope", event, event["dataschema"] + "/envelope"),
        ]
        for error in jsonschema_rs.validator_for(schemas[url], validate_formats=True).iter_errors(instance)
    ]
    assert invalid == []
    assert all(schema["$id"] == url for url, schema in schemas.items())
    assert all(event["subject"] == event["stream"].split("-", 1)[1] for event in events)
    assert len({event["type"] for event in events}) >= 8  # conversation, inference and workflow events
