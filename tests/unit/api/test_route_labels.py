"""The access log and the request latency histogram name a request by the whole route template it
matched, from the application's root: two controllers whose handlers share a relative path stay apart,
and a path as sent (the caller's text) is never a label."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from litestar import Controller, Litestar, get
from litestar.params import FromPath
from litestar.testing import TestClient, create_test_client

from api.app import observe_every_request
from api.context import request_context
from api.problems import EXCEPTION_HANDLERS
from infra.observability import REGISTRY

CCP = "0012345678 90"


class Conversations(Controller):
    path = "/v1/conversations"

    @get("/{item_id:str}/stream")
    async def stream(self, item_id: FromPath[str]) -> str:
        return item_id


class Workflows(Controller):
    path = "/v1/workflows"

    @get("/{item_id:str}/stream")
    async def stream(self, item_id: FromPath[str]) -> str:
        return item_id


def serve() -> TestClient[Any]:
    return create_test_client(
        route_handlers=[Conversations, Workflows], middleware=[request_context], logging_config=None
    )


def _count(route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "aiwf_http_request_seconds_count", {"method": "GET", "route": route, "status": status}
    )
    return value or 0.0


def test_routes_of_two_controllers_with_the_same_relative_path_are_told_apart(
    caplog: pytest.LogCaptureFixture,
) -> None:
    conversations, workflows = "/v1/conversations/{item_id}/stream", "/v1/workflows/{item_id}/stream"
    before = _count(conversations, "200"), _count(workflows, "200")
    caplog.set_level(logging.INFO, logger="aiwf.http")

    with serve() as http:
        assert http.get(f"/v1/conversations/{CCP}/stream").status_code == 200
        assert http.get(f"/v1/workflows/{CCP}/stream").status_code == 200
        assert http.get(f"/v1/workflows/{CCP}/stream").status_code == 200

    routes = [r.fields["route"] for r in caplog.records if r.name == "aiwf.http"]  # type: ignore[attr-defined]
    assert routes == [conversations, workflows, workflows]
    assert (_count(conversations, "200"), _count(workflows, "200")) == (before[0] + 1, before[1] + 2)
    assert all("0012345678" not in r.getMessage() for r in caplog.records if r.name == "aiwf.http")


def test_a_path_no_route_matches_is_logged_counted_and_answered_as_a_problem(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Litestar runs an application's middleware only after routing: without the wrapper around
    routing, these requests left no access line and no latency sample."""
    app = observe_every_request(
        Litestar(route_handlers=[Conversations], exception_handlers=EXCEPTION_HANDLERS, logging_config=None)
    )
    before = _count("unmatched", "404")
    caplog.set_level(logging.INFO, logger="aiwf.http")

    with TestClient(app) as http:
        response = http.get(f"/v1/no-such-thing/{CCP}")
        assert http.post(f"/v1/conversations/{CCP}/stream").status_code == 405

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert len(response.headers["x-request-id"]) == 32
    lines = [r for r in caplog.records if r.name == "aiwf.http"]
    said = [(r.fields["route"], r.fields["status"]) for r in lines]  # type: ignore[attr-defined]
    assert said == [("unmatched", 404), ("unmatched", 405)]
    assert _count("unmatched", "404") == before + 1
    assert all("0012345678" not in r.getMessage() for r in lines)


def test_a_matched_route_is_logged_once_with_the_wrapper_around_routing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = observe_every_request(Litestar(route_handlers=[Workflows], logging_config=None))
    caplog.set_level(logging.INFO, logger="aiwf.http")

    with TestClient(app) as http:
        assert http.get(f"/v1/workflows/{CCP}/stream").status_code == 200

    routes = [r.fields["route"] for r in caplog.records if r.name == "aiwf.http"]  # type: ignore[attr-defined]
    assert routes == ["/v1/workflows/{item_id}/stream"]
