"""An async client of n8n's public API v1 (`<base>/api/v1/...`, key in `X-N8N-API-KEY`), as n8n 2.8.4 has it.

Every call has a timeout and bounded retries with full-jitter backoff on 429, 5xx, dropped connections
and timeouts; other 4xx are n8n's answer and are raised at once (`N8nError`, retryable False).

Creating a workflow or a credential is not idempotent: a second POST after one that n8n processed but
did not answer makes a duplicate. So a create is retried only when the request cannot have reached
n8n (connection refused, connect timeout) or was refused unprocessed (429); after a 5xx or a timeout
or drop once sent it raises `N8nError(retryable=True)` at once, and the caller, which looks up by name
before creating, decides. Reads, updates, deletes, activation and tag creation (n8n keeps tag names
unique, so a replay answers 409) are replayed freely.

A credential's `data` never reaches an exception, a log line or a repr; no body or key is ever logged.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Self, TypeVar
from urllib.parse import quote

import httpx
import msgspec
from opentelemetry.trace import SpanKind, StatusCode

from infra import tracing
from infra.main_job_metrics import count_n8n_retry
from infra.n8n.errors import N8nError, N8nUnavailable, cap, n8n_message, redact, secret_strings

__all__ = [
    "N8nClient",
    "N8nCredential",
    "N8nError",
    "N8nExecution",
    "N8nInstance",
    "N8nTag",
    "N8nUnavailable",
    "N8nWorkflow",
    "RetryPolicy",
]

logger = logging.getLogger(__name__)

_API = "/api/v1"
_PAGE_LIMIT = 250  # the most n8n's public API gives in one page
_T = TypeVar("_T")
_SENTRY_META = re.compile(rb'<meta name="n8n:config:sentry" content="([A-Za-z0-9+/=]+)"')


class N8nInstance(msgspec.Struct, frozen=True, kw_only=True):
    """Where an n8n is and its API key; `webhook_url` is the base of production webhook URLs when n8n
    is reached there by others (its WEBHOOK_URL), else `url` is."""

    url: str
    api_key: str
    webhook_url: str | None = None

    def __post_init__(self) -> None:
        for field in ("url", "webhook_url"):
            value = getattr(self, field)
            if value is None:
                continue
            if not value.startswith(("http://", "https://")):
                raise ValueError(f"n8n {field} must be an http(s) URL, not {value!r}")
            msgspec.structs.force_setattr(self, field, value.rstrip("/"))

    def webhook_base(self) -> str:
        """The base of production webhook URLs, without a trailing slash: `<base>/webhook/<path>`."""
        return self.webhook_url or self.url

    def __repr__(self) -> str:
        return f"N8nInstance(url={self.url!r}, api_key='***', webhook_url={self.webhook_url!r})"

    def __rich_repr__(self) -> Any:
        yield "url", self.url
        yield "webhook_url", self.webhook_url


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """`attempts` tries in all; before try n+1 a sleep of uniform(0, min(max_delay_s, base_delay_s * 2**n)),
    or a 429/503's Retry-After seconds capped by max_delay_s. `timeout_s` bounds each try."""

    attempts: int = 4
    base_delay_s: float = 0.2
    max_delay_s: float = 3.0
    timeout_s: float = 15.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.timeout_s <= 0 or self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError(f"a retry policy needs attempts >= 1, timeout_s > 0 and delays >= 0: {self!r}")


class N8nTag(msgspec.Struct, frozen=True):
    id: str
    name: str


class N8nWorkflow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    active: bool
    version_id: str | None = msgspec.field(name="versionId")
    nodes: list[dict[str, Any]]
    connections: dict[str, Any]
    settings: dict[str, Any] = {}
    tags: list[N8nTag] = []


class N8nCredential(msgspec.Struct, frozen=True):
    id: str
    name: str
    type: str


class N8nExecution(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    workflow_id: str
    status: str
    finished: bool
    mode: str
    started_at: datetime | None
    stopped_at: datetime | None


class _Page(msgspec.Struct, Generic[_T]):
    data: list[_T]
    next_cursor: str | None = msgspec.field(default=None, name="nextCursor")


class _ExecutionAnswer(msgspec.Struct):
    """An execution as n8n writes it: its ids are numbers in the spec and strings in practice."""

    id: str | int
    workflow_id: str | int = msgspec.field(name="workflowId")
    finished: bool = False
    mode: str = "unknown"
    status: str = "unknown"
    started_at: datetime | None = msgspec.field(default=None, name="startedAt")
    stopped_at: datetime | None = msgspec.field(default=None, name="stoppedAt")

    def to_execution(self) -> N8nExecution:
        return N8nExecution(
            id=str(self.id),
            workflow_id=str(self.workflow_id),
            status=self.status,
            finished=self.finished,
            mode=self.mode,
            started_at=self.started_at,
            stopped_at=self.stopped_at,
        )


@dataclass(frozen=True)
class _Failure:
    """One try that did not succeed: only strings and numbers, never the request or its body."""

    status: int | None
    message: str
    retryable: bool
    sent: bool  # the request may have reached n8n (and been processed)
    retry_after: float | None = None

    def error_for(self, operation: str, attempts: int, secrets: frozenset[str]) -> N8nError:
        kind = N8nUnavailable if self.status is None else N8nError
        return kind(
            operation,
            status=self.status,
            message=cap(redact(self.message, secrets)),
            retryable=self.retryable,
            attempts=attempts,
        )


def _segment(value: str) -> str:
    return quote(value, safe="")


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None  # absent, or an HTTP date: the backoff decides


class N8nClient:
    """The public API of one n8n. Use as `async with N8nClient(instance) as n8n: ...`."""

    def __init__(
        self,
        instance: N8nInstance,
        *,
        policy: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, shared safely
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._instance = instance
        self._policy = policy
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=instance.url,
            timeout=httpx.Timeout(policy.timeout_s),
            follow_redirects=False,
            # Node closes an idle connection after 5 s: reusing one as it closes would fail a create
            # that cannot be replayed, so idle connections are dropped first.
            limits=httpx.Limits(keepalive_expiry=2.0),
        )

    def __repr__(self) -> str:
        return f"N8nClient({self._instance!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def version(self) -> str | None:
        """n8n's version, asked without the key: `data.versionCli` of `/rest/settings` where n8n tells it
        there (2.8.4 tells it only to a browser session, not in the settings it gives anyone), else the
        release of the Sentry config n8n writes into its editor page ("n8n@2.8.4"); None when neither
        tells it. Raises N8nUnavailable when n8n does not answer."""
        settings = await self._unkeyed("read n8n settings", "/rest/settings", "application/json")
        found = None if settings is None else _settings_version(settings)
        if found is None:
            page = await self._unkeyed("read n8n editor page", "/", "text/html")
            found = None if page is None else _editor_version(page)
        return found

    async def _unkeyed(self, operation: str, path: str, accept: str) -> bytes | None:
        """A page outside the API, asked without the key; None when n8n refuses it (a 4xx)."""
        try:
            response = await self._call(operation, "GET", path, keyed=False, accept=accept)
        except N8nError as err:
            if err.retryable:
                raise
            return None
        return response.content

    async def create_workflow(
        self,
        name: str,
        nodes: Sequence[Mapping[str, Any]],
        connections: Mapping[str, Any],
        settings: Mapping[str, Any],
    ) -> N8nWorkflow:
        """A new, inactive workflow. Not replayed once n8n may have received it: see the module doc."""
        body = _workflow_body(name, nodes, connections, settings)
        op = f"create workflow {name!r}"
        response = await self._call(op, "POST", f"{_API}/workflows", body=body, replayable=False)
        return self._decode(op, response, N8nWorkflow)

    async def get_workflow(self, workflow_id: str) -> N8nWorkflow:
        op = f"get workflow {workflow_id}"
        return self._decode(op, await self._call(op, "GET", _workflow_path(workflow_id)), N8nWorkflow)

    async def find_workflows(
        self, *, name: str | None = None, tags: Sequence[str] = (), active: bool | None = None
    ) -> list[N8nWorkflow]:
        """Every workflow with exactly this name (n8n itself matches a part of the name), all of these
        tag names, and this activeness; through every page."""
        params: dict[str, str] = {}
        if name is not None:
            params["name"] = name
        if tags:
            params["tags"] = ",".join(tags)
        if active is not None:
            params["active"] = "true" if active else "false"
        found = await self._pages("find workflows", f"{_API}/workflows", params, _Page[N8nWorkflow])
        return [w for w in found if name is None or w.name == name]

    async def update_workflow(
        self,
        workflow_id: str,
        name: str,
        nodes: Sequence[Mapping[str, Any]],
        connections: Mapping[str, Any],
        settings: Mapping[str, Any],
    ) -> N8nWorkflow:
        """Replaces the four fields; on an active workflow the change takes effect at once."""
        op = f"update workflow {workflow_id}"
        body = _workflow_body(name, nodes, connections, settings)
        response = await self._call(op, "PUT", _workflow_path(workflow_id), body=body)
        return self._decode(op, response, N8nWorkflow)

    async def activate(self, workflow_id: str) -> N8nWorkflow:
        op = f"activate workflow {workflow_id}"
        # n8n reads the optional versionId from the body: without one it fails on an undefined body.
        response = await self._call(op, "POST", f"{_workflow_path(workflow_id)}/activate", body={})
        return self._decode(op, response, N8nWorkflow)

    async def deactivate(self, workflow_id: str) -> N8nWorkflow:
        op = f"deactivate workflow {workflow_id}"
        response = await self._call(op, "POST", f"{_workflow_path(workflow_id)}/deactivate")
        return self._decode(op, response, N8nWorkflow)

    async def delete_workflow(self, workflow_id: str) -> None:
        """Deleted, or already gone after a try whose answer was lost (a 404 on a later attempt)."""
        await self._delete(f"delete workflow {workflow_id}", _workflow_path(workflow_id))

    async def list_tags(self) -> list[N8nTag]:
        return await self._pages("list tags", f"{_API}/tags", {}, _Page[N8nTag])

    async def create_tag(self, name: str) -> N8nTag:
        op = f"create tag {name!r}"
        response = await self._call(op, "POST", f"{_API}/tags", body={"name": name})
        return self._decode(op, response, N8nTag)

    async def ensure_tag(self, name: str) -> N8nTag:
        """The tag of this name (n8n trims names), created when there is none."""
        wanted = name.strip()
        for tag in await self.list_tags():
            if tag.name == wanted:
                return tag
        try:
            return await self.create_tag(wanted)
        except N8nError as err:
            if err.status != 409:
                raise
            for tag in await self.list_tags():  # made meanwhile by someone else, or by our lost try
                if tag.name == wanted:
                    return tag
            raise

    async def set_workflow_tags(self, workflow_id: str, tag_ids: Sequence[str]) -> list[N8nTag]:
        """Replaces the workflow's tags with these; answers the tags it now has."""
        op = f"set tags of workflow {workflow_id}"
        body = [{"id": tag_id} for tag_id in tag_ids]
        response = await self._call(op, "PUT", f"{_workflow_path(workflow_id)}/tags", body=body)
        return self._decode(op, response, list[N8nTag])

    async def list_credentials(self) -> list[N8nCredential]:
        """Every credential's id, name and type (n8n never gives their data), through every page."""
        return await self._pages("list credentials", f"{_API}/credentials", {}, _Page[N8nCredential])

    async def create_credential(self, name: str, type: str, data: Mapping[str, Any]) -> N8nCredential:
        """A new credential. `data` is never logged and its values are masked (***) in any error
        n8n answers. Not replayed once n8n may have received it: see the module doc."""
        op = f"create credential {name!r} of type {type}"
        body = {"name": name, "type": type, "data": dict(data)}
        response = await self._call(
            op, "POST", f"{_API}/credentials", body=body, replayable=False, secrets=secret_strings(data)
        )
        return self._decode(op, response, N8nCredential)

    async def credential_schema(self, type: str) -> dict[str, Any]:
        """The JSON Schema of a credential type's `data` (required fields, conditions)."""
        op = f"read credential schema {type}"
        response = await self._call(op, "GET", f"{_API}/credentials/schema/{_segment(type)}")
        return self._decode(op, response, dict[str, Any])

    async def delete_credential(self, credential_id: str) -> None:
        """Deleted, or already gone after a try whose answer was lost (a 404 on a later attempt)."""
        path = f"{_API}/credentials/{_segment(credential_id)}"
        await self._delete(f"delete credential {credential_id}", path)

    async def list_executions(
        self, *, workflow_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[N8nExecution]:
        """The newest `limit` executions (n8n orders them newest first), through pages as needed."""
        params: dict[str, str] = {}
        if workflow_id is not None:
            params["workflowId"] = workflow_id
        if status is not None:
            params["status"] = status
        answers = await self._pages(
            "list executions", f"{_API}/executions", params, _Page[_ExecutionAnswer], limit=limit
        )
        return [answer.to_execution() for answer in answers]

    async def get_execution(self, execution_id: str) -> N8nExecution:
        op = f"get execution {execution_id}"
        response = await self._call(op, "GET", f"{_API}/executions/{_segment(execution_id)}")
        return self._decode(op, response, _ExecutionAnswer).to_execution()

    async def _delete(self, operation: str, path: str) -> None:
        try:
            await self._call(operation, "DELETE", path)
        except N8nError as err:
            if err.status == 404 and err.attempts > 1:
                return  # an earlier try deleted it and its answer was lost
            raise

    async def _pages(
        self, operation: str, path: str, params: Mapping[str, str], page: type[_Page[_T]], limit: int = 0
    ) -> list[_T]:
        """Every item through n8n's `nextCursor`, or the first `limit` of them when limit > 0."""
        items: list[_T] = []
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            query = {**params, "limit": str(min(limit or _PAGE_LIMIT, _PAGE_LIMIT))}
            if cursor is not None:
                query["cursor"] = cursor
            answer = self._decode(operation, await self._call(operation, "GET", path, params=query), page)
            items.extend(answer.data)
            cursor = answer.next_cursor
            if not cursor or (limit and len(items) >= limit):
                return items[:limit] if limit else items
            if cursor in seen:
                raise N8nError(
                    operation, status=200, message="n8n repeated a page cursor", retryable=False, attempts=1
                )
            seen.add(cursor)

    async def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        replayable: bool = True,
        secrets: frozenset[str] = frozenset(),
        keyed: bool = True,
        accept: str = "application/json",
    ) -> httpx.Response:
        content = None if body is None else msgspec.json.encode(body)
        headers = {"Accept": accept}
        if content is not None:
            headers["Content-Type"] = "application/json"
        if keyed:
            headers["X-N8N-API-KEY"] = self._instance.api_key
        total = self._policy.attempts
        for attempt in range(1, total + 1):
            outcome = await self._try(
                operation, attempt, method=method, path=path, content=content, params=params, headers=headers
            )
            if isinstance(outcome, httpx.Response):
                logger.debug("n8n %s: %d on attempt %d", operation, outcome.status_code, attempt)
                return outcome
            replay_unsafe = outcome.retryable and outcome.sent and not replayable
            if not outcome.retryable or attempt == total or replay_unsafe:
                logger.log(
                    logging.WARNING if outcome.retryable else logging.DEBUG,  # a 4xx is an answer
                    "n8n %s failed: status %s on attempt %d of %d%s",
                    operation,
                    outcome.status,
                    attempt,
                    total,
                    ", not replayed (it may have been processed)" if replay_unsafe else "",
                )
                raise outcome.error_for(operation, attempt, secrets)
            delay = self._backoff(attempt, outcome.retry_after)
            logger.warning(
                "n8n %s: status %s on attempt %d of %d, retrying in %.2f s",
                operation,
                outcome.status,
                attempt,
                total,
                delay,
            )
            count_n8n_retry(operation, outcome.status)
            await self._sleep(delay)
        raise AssertionError("the last attempt returns or raises")

    async def _try(
        self,
        operation: str,
        attempt: int,
        *,
        method: str,
        path: str,
        content: bytes | None,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
    ) -> httpx.Response | _Failure:
        """One HTTP request, an HTTP client span of its own when traces are on (each retry one more)."""
        if not tracing.enabled():
            return await self._send(method, path, content, params, headers)
        base = self._http.base_url
        attributes: dict[str, str | int] = {
            "http.request.method": method,
            # Never a query (page cursors) nor userinfo: the scheme, the host and the path only.
            "url.full": f"{base.scheme}://{base.netloc.decode()}{base.path.rstrip('/')}{path}",
            "server.address": base.host,
            "server.port": base.port or (443 if base.scheme == "https" else 80),
            "aiwf.n8n.operation": operation,
        }
        if attempt > 1:
            attributes["http.request.resend_count"] = attempt - 1
        with tracing.tracer().start_as_current_span(
            method, kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            carried = {**headers, "traceparent": tracing.current_traceparent(None) or ""}
            outcome = await self._send(method, path, content, params, carried)
            status = outcome.status_code if isinstance(outcome, httpx.Response) else outcome.status
            if status is not None:
                span.set_attribute("http.response.status_code", status)
            if isinstance(outcome, _Failure):
                span.set_attribute("error.type", str(status) if status is not None else "transport")
                span.set_status(StatusCode.ERROR)
            return outcome

    async def _send(
        self,
        method: str,
        path: str,
        content: bytes | None,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
    ) -> httpx.Response | _Failure:
        try:
            async with asyncio.timeout(self._policy.timeout_s):
                response = await self._http.request(
                    method, path, content=content, params=params, headers=headers
                )
        except httpx.UnsupportedProtocol as err:
            return _Failure(status=None, message=_describe(err), retryable=False, sent=False)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as err:
            return _Failure(status=None, message=_describe(err), retryable=True, sent=False)
        except (httpx.TransportError, TimeoutError) as err:
            return _Failure(status=None, message=_describe(err), retryable=True, sent=True)
        if response.is_success:
            return response
        status = response.status_code
        return _Failure(
            status=status,
            message=n8n_message(response.content, response.reason_phrase or f"HTTP {status}"),
            retryable=status == 429 or status >= 500,
            sent=status != 429,  # a 429 is refused before anything is done
            retry_after=_retry_after(response) if status in (429, 503) else None,
        )

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._policy.max_delay_s)
        ceiling = min(self._policy.max_delay_s, self._policy.base_delay_s * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)

    def _decode(self, operation: str, response: httpx.Response, kind: type[_T]) -> _T:
        try:
            return msgspec.json.decode(response.content, type=kind)
        except (msgspec.DecodeError, msgspec.ValidationError) as err:
            message = f"an answer this client does not understand: {err}"
        raise N8nError(
            operation, status=response.status_code, message=cap(message), retryable=False, attempts=1
        )


def _workflow_path(workflow_id: str) -> str:
    return f"{_API}/workflows/{_segment(workflow_id)}"


def _workflow_body(
    name: str,
    nodes: Sequence[Mapping[str, Any]],
    connections: Mapping[str, Any],
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """Exactly the four fields n8n's schema lets a client write: any other one is a 400."""
    return {
        "name": name,
        "nodes": [dict(node) for node in nodes],
        "connections": dict(connections),
        "settings": dict(settings),
    }


def _settings_version(content: bytes) -> str | None:
    try:
        settings: Any = msgspec.json.decode(content)
    except msgspec.DecodeError:
        return None
    data = settings.get("data") if isinstance(settings, dict) else None
    version = data.get("versionCli") if isinstance(data, dict) else None
    return version if isinstance(version, str) and version else None


def _editor_version(page: bytes) -> str | None:
    """From `<meta name="n8n:config:sentry" content="<base64 JSON>">`, whose `release` is "n8n@<version>"."""
    found = _SENTRY_META.search(page)
    if found is None:
        return None
    try:
        config: Any = msgspec.json.decode(base64.b64decode(found.group(1), validate=True))
    except (ValueError, msgspec.DecodeError):
        return None
    release = config.get("release") if isinstance(config, dict) else None
    if isinstance(release, str) and release.startswith("n8n@") and len(release) > 4:
        return release.removeprefix("n8n@")
    return None


def _describe(err: Exception) -> str:
    detail = str(err).strip()
    return f"{type(err).__name__}: {detail}" if detail else type(err).__name__
