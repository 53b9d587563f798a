"""Per request: an id, the correlation id, a JSON access log line and the latency histogram.

The access log names the route (`/v1/conversations/{conversation_id}/messages`), never the path as
sent: a path is the caller's text, and may hold anything (a phone number typed where an id goes)."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from infra.observability import REQUESTS, correlation_id, request_id

log = logging.getLogger("aiwf.http")
_CHILDREN_KEPT = 4096
_children: dict[tuple[str, str, int], Any] = {}


def request_context(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        rid = uuid.uuid4().hex
        given = next((v for k, v in scope.get("headers", []) if k.lower() == b"x-correlation-id"), b"")
        request_id.set(rid)
        correlation_id.set(given.decode("latin-1") or rid)
        status = [500]
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            method, route = scope.get("method", ""), route_of(scope)
            _latency(method, route, status[0]).observe(elapsed)
            if log.isEnabledFor(logging.INFO):  # nothing built for a line that is not written
                ms = round(elapsed * 1000, 2)
                fields = {"method": method, "route": route, "status": status[0], "ms": ms}
                log.info("%s %s %s %.2f ms", method, route, status[0], ms, extra={"fields": fields})

    return middleware


def _latency(method: str, route: str, status: int) -> Any:
    """The histogram's child for these labels: `.labels()` hashes and locks on every call, so each
    child is looked up once (routes and statuses are few; past `_CHILDREN_KEPT`, uncached)."""
    key = (method, route, status)
    child = _children.get(key)
    if child is None:
        child = REQUESTS.labels(method, route, str(status))
        if len(_children) < _CHILDREN_KEPT:
            _children[key] = child
    return child


def route_of(scope: Scope) -> str:
    """The whole route template the request matched, from the application's root
    (`/v1/conversations/{conversation_id}/messages`; "unmatched" when none did). A handler's own path is
    relative to its controller, so two controllers' routes could share it."""
    return str(scope.get("path_template") or "unmatched")
