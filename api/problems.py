"""RFC 9457 problem details for every error the API answers; never a stack trace."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import (
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from api.context import route_of
from commands.context import BadToken
from domain.errors import (
    ConcurrencyConflict,
    CredentialDataInvalid,
    DuplicateEventId,
    EventIdTaken,
    InvalidInput,
    InvalidTransition,
    NotConfigured,
    NotFound,
    PersonalDataInReference,
    ShreddedSubject,
    StreamOfAnotherTenant,
)
from domain.text import NUL_MESSAGE
from infra.event_store import DurabilityNotConfirmed
from infra.n8n.errors import N8nError
from infra.observability import request_id

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://aiwf.dev/problems/"
RETRY_AFTER_S = 1
# Redis or PostgreSQL out of reach for a moment (restarting, loading its AOF, in crash recovery, a
# connection cut): the request did not fail, it could not be served now. A command retried with its
# Idempotency-Key is safe whatever happened to it.
UNAVAILABLE: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    BusyLoadingError,
    DurabilityNotConfirmed,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.ConnectionDoesNotExistError,
    ConnectionError,
    TimeoutError,
)


class FieldError(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    message: str


class Problem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    type: str
    title: str
    status: int
    detail: str = ""
    instance: str = ""
    errors: tuple[FieldError, ...] = ()


class ProblemError(HTTPException):
    """Raise anywhere in the API to answer with a specific problem."""

    def __init__(
        self, status: int, slug: str, title: str, detail: str = "", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.slug, self.title = slug, title


def problem_response(
    request: Request[Any, Any, Any], problem: Problem, headers: dict[str, str] | None = None
) -> Response[Problem]:
    # The occurrence is named by the request's id (the X-Request-Id header, and every log line of the
    # request), not by its path: a path is the caller's text, and may hold anything.
    rid = request_id.get()
    instance = f"urn:uuid:{uuid.UUID(hex=rid)}" if rid else ""
    problem = msgspec.structs.replace(problem, instance=instance)
    return Response(problem, status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)


_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed for this key's role"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("too-large", "Request body too large"),
    429: ("rate-limited", "Too many requests"),
}


def on_problem(request: Request[Any, Any, Any], exc: ProblemError) -> Response[Problem]:
    problem = Problem(type=TYPE_BASE + exc.slug, title=exc.title, status=exc.status_code, detail=exc.detail)
    return problem_response(request, problem, exc.headers)


def on_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    slug, title = _TITLES.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if exc.detail and exc.detail != title else ""
    return problem_response(
        request,
        Problem(type=TYPE_BASE + slug, title=title, status=exc.status_code, detail=detail),
        exc.headers,
    )


# What a validation message quotes of the input ("Invalid enum value '…'"): dropped, the field is named.
_QUOTED_VALUE = re.compile(r"^(Invalid (?:enum )?value) (['\"]).*\2(?= - at `|$)")
# msgspec's words for a text that breaks NO_NUL (the pattern quoted with its backslash escaped).
_BREAKS_NO_NUL = re.compile(r"^Expected `str` matching regex '\^\[\^\\+u0000\]\*\$'")


def _said(item: dict[str, Any]) -> str:
    message = str(item.get("message", ""))
    if _BREAKS_NO_NUL.match(message):
        return NUL_MESSAGE
    return _QUOTED_VALUE.sub(r"\1", message)


def on_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Problem]:
    errors = tuple(
        FieldError(field=str(item.get("key") or item.get("source") or "body"), message=_said(item))
        for item in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(item, dict)
    )
    detail = exc.detail or ""
    # Litestar's "Validation failed for GET /path?query" repeats the query as sent.
    problem = Problem(
        type=TYPE_BASE + "validation",
        title="The request is not valid",
        status=HTTP_422_UNPROCESSABLE_ENTITY,
        detail="" if detail == "Bad Request" or detail.startswith("Validation failed for") else detail,
        errors=errors,
    )
    return problem_response(request, problem)


def on_not_found(request: Request[Any, Any, Any], exc: NotFound) -> Response[Problem]:
    return problem_response(
        request, Problem(type=TYPE_BASE + "not-found", title="Not found", status=404, detail=str(exc))
    )


def on_another_tenants_stream(
    request: Request[Any, Any, Any], exc: StreamOfAnotherTenant
) -> Response[Problem]:
    """404, worded as any missing resource is: a 403 or a distinct detail would tell the caller that
    another tenant holds that id."""
    log.warning("refused: tenant %r appended to %s, another tenant's stream", exc.tenant, exc.stream)
    return problem_response(
        request,
        Problem(type=TYPE_BASE + "not-found", title="Not found", status=404, detail="no such resource"),
    )


def on_conflict(
    request: Request[Any, Any, Any],
    exc: InvalidTransition | ConcurrencyConflict | EventIdTaken | DuplicateEventId,
) -> Response[Problem]:
    if isinstance(exc, ConcurrencyConflict):
        title = "The resource changed meanwhile"
    elif isinstance(exc, EventIdTaken | DuplicateEventId):
        title = "An event id of this request is already used"
    else:
        title = "Not possible in this state"
    problem = Problem(type=TYPE_BASE + "conflict", title=title, status=HTTP_409_CONFLICT, detail=str(exc))
    return problem_response(request, problem)


def on_bad_token(request: Request[Any, Any, Any], exc: BadToken) -> Response[Problem]:
    problem = Problem(
        type=TYPE_BASE + "validation",
        title="The request is not valid",
        status=HTTP_422_UNPROCESSABLE_ENTITY,
        errors=(FieldError(field="consistency_token", message=str(exc)),),
    )
    return problem_response(request, problem)


def on_invalid_input(request: Request[Any, Any, Any], exc: InvalidInput) -> Response[Problem]:
    problem = Problem(
        type=TYPE_BASE + "validation",
        title="The request is not valid",
        status=HTTP_422_UNPROCESSABLE_ENTITY,
        detail=str(exc),
        errors=tuple(FieldError(field=field, message=NUL_MESSAGE) for field in exc.fields),
    )
    return problem_response(request, problem)


def on_personal_reference(request: Request[Any, Any, Any], exc: PersonalDataInReference) -> Response[Problem]:
    """The message names the kind of data found, never the value."""
    problem = Problem(
        type=TYPE_BASE + "validation",
        title="The request is not valid",
        status=HTTP_422_UNPROCESSABLE_ENTITY,
        detail=str(exc),
        errors=(FieldError(field=exc.field, message=str(exc)),),
    )
    return problem_response(request, problem)


def on_credential_data(request: Request[Any, Any, Any], exc: CredentialDataInvalid) -> Response[Problem]:
    problem = Problem(
        type=TYPE_BASE + "validation",
        title="The credential data is not valid for its type",
        status=HTTP_422_UNPROCESSABLE_ENTITY,
        detail=f"n8n's schema for {exc.credential_type} refuses the data; nothing was stored",
        errors=tuple(FieldError(field="data", message=problem) for problem in exc.problems),
    )
    return problem_response(request, problem)


def on_not_configured(request: Request[Any, Any, Any], exc: NotConfigured) -> Response[Problem]:
    problem = Problem(
        type=TYPE_BASE + "not-configured", title="Not configured", status=HTTP_409_CONFLICT, detail=str(exc)
    )
    return problem_response(request, problem)


def on_shredded(request: Request[Any, Any, Any], exc: ShreddedSubject) -> Response[Problem]:
    problem = Problem(type=TYPE_BASE + "subject-shredded", title="Shredded", status=410, detail=str(exc))
    return problem_response(request, problem)


def on_n8n_error(request: Request[Any, Any, Any], exc: N8nError) -> Response[Problem]:
    """n8n's own message (its trace and any secret dropped by the client); 503 when it may pass."""
    status = 503 if exc.retryable else 502
    problem = Problem(
        type=TYPE_BASE + "n8n-error",
        title="n8n could not do it" if exc.status is not None else "n8n is unreachable",
        status=status,
        detail=str(exc),
    )
    return problem_response(request, problem)


def on_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    log.warning(
        "%s %s: a store could not be reached: %s: %s",
        *(request.method, route_of(request.scope), type(exc).__name__, exc),
    )
    problem = Problem(
        type=TYPE_BASE + "unavailable",
        title="Temporarily unavailable",
        status=HTTP_503_SERVICE_UNAVAILABLE,
        detail="the event store or the database could not be reached just now: retry (a command with its"
        " Idempotency-Key)",
    )
    return problem_response(request, problem, {"Retry-After": str(RETRY_AFTER_S)})


def on_driver_misuse(
    request: Request[Any, Any, Any], exc: asyncpg.InterfaceError | asyncpg.InternalClientError
) -> Response[Problem]:
    """asyncpg raises InterfaceError when a transaction ends on a connection that died under it, and
    InternalClientError ("another operation is in progress") on a connection left mid-operation by a
    cut (seen under the chaos suite's PostgreSQL faults): outages. Any other such error is our bug."""
    cause = exc.__cause__ or exc.__context__
    cut = isinstance(exc, asyncpg.InternalClientError) and "another operation" in str(exc)
    if cut or isinstance(cause, UNAVAILABLE) or "connection is closed" in str(exc):
        return on_unavailable(request, exc)
    return on_unexpected(request, exc)


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    log.exception("unhandled error on %s %s", request.method, route_of(request.scope), exc_info=exc)
    problem = Problem(
        type=TYPE_BASE + "internal", title="Internal error", status=HTTP_500_INTERNAL_SERVER_ERROR
    )
    return problem_response(request, problem)


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    ProblemError: on_problem,
    ValidationException: on_validation,
    HTTPException: on_http,
    NotFound: on_not_found,
    StreamOfAnotherTenant: on_another_tenants_stream,
    InvalidTransition: on_conflict,
    ConcurrencyConflict: on_conflict,
    EventIdTaken: on_conflict,
    DuplicateEventId: on_conflict,
    BadToken: on_bad_token,
    InvalidInput: on_invalid_input,
    PersonalDataInReference: on_personal_reference,
    CredentialDataInvalid: on_credential_data,
    NotConfigured: on_not_configured,
    ShreddedSubject: on_shredded,
    N8nError: on_n8n_error,
    **dict.fromkeys(UNAVAILABLE, on_unavailable),
    asyncpg.InterfaceError: on_driver_misuse,
    asyncpg.InternalClientError: on_driver_misuse,
    Exception: on_unexpected,
}
