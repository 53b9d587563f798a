"""Problem details say what went wrong without repeating what the caller sent, and without telling one
tenant that another holds a resource."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from litestar import get, post
from litestar.params import FromPath, FromQuery
from litestar.testing import TestClient, create_test_client

from api.context import request_context
from api.problems import EXCEPTION_HANDLERS
from commands.context import BadToken, decode_token
from domain.errors import StreamOfAnotherTenant
from domain.types import Role

CCP = "0012345678 90"


@post("/v1/conversations/{conversation_id:str}/messages")
async def send(conversation_id: FromPath[str]) -> None:
    raise StreamOfAnotherTenant(f"conversation-{conversation_id}", "globex")


@get("/v1/keys")
async def keys(role: FromQuery[Role]) -> None:
    return None


def serve() -> TestClient[Any]:
    return create_test_client(
        route_handlers=[send, keys], exception_handlers=EXCEPTION_HANDLERS, middleware=[request_context]
    )


def test_another_tenants_stream_is_a_404_that_reads_like_any_missing_resource() -> None:
    with serve() as http:
        response = http.post("/v1/conversations/c1/messages")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {k: body[k] for k in ("type", "title", "status", "detail")} == {
        "type": "https://aiwf.dev/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "no such resource",
    }


def test_the_instance_names_the_request_not_the_path_it_was_sent_to() -> None:
    with serve() as http:
        response = http.post(f"/v1/conversations/{CCP}/messages")

    assert response.json()["instance"] == f"urn:uuid:{uuid.UUID(hex=response.headers['x-request-id'])}"
    assert "0012345678" not in response.text


def test_a_validation_problem_names_the_field_and_never_the_value() -> None:
    with serve() as http:
        response = http.get("/v1/keys", params={"role": CCP})

    assert response.status_code == 422
    assert [(e["field"], e["message"]) for e in response.json()["errors"]] == [("role", "Invalid enum value")]
    assert "0012345678" not in response.text


def test_a_malformed_token_is_refused_naming_its_part_not_its_text() -> None:
    with pytest.raises(BadToken) as caught:
        decode_token(f"0:1-0,{CCP}")

    assert str(caught.value) == "part 2 is not <partition>:<ms>-<seq>"


def test_a_token_with_a_digit_int_cannot_read_is_a_bad_token_not_a_server_error() -> None:
    """`Last-Event-ID: ²:1-0` (a Latin-1 header) was a 500: "²".isdigit() is true, int("²") fails."""
    for token in ("²:1-0", "0:١-0", "0:1-³"):
        with pytest.raises(BadToken):
            decode_token(token)


def _dies_mid_transaction() -> None:
    """What asyncpg raises when a transaction ends on a connection that died under it."""
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError:
        raise asyncpg.InterfaceError(
            "cannot call Transaction.__aexit__(): the underlying connection is closed"
        ) from None


@post("/v1/died")
async def died() -> None:
    _dies_mid_transaction()


@post("/v1/misused")
async def misused() -> None:
    raise asyncpg.InterfaceError("cannot perform operation: another operation is in progress")


@post("/v1/left-mid-operation")
async def left_mid_operation() -> None:
    raise asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress")


@pytest.mark.parametrize(
    ("path", "status"),
    [("/v1/died", 503), ("/v1/left-mid-operation", 503), ("/v1/misused", 500)],
    ids=["outage", "cut-mid-operation", "our-bug"],
)
def test_a_connection_that_died_under_a_transaction_is_a_503_other_driver_errors_a_500(
    path: str, status: int
) -> None:
    with create_test_client(
        route_handlers=[died, left_mid_operation, misused],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[request_context],
    ) as http:
        response = http.post(path)

    assert response.status_code == status
    assert ("retry-after" in response.headers) is (status == 503)
