"""A server span per HTTP request, parented by the caller's `traceparent` when it sent a valid one.

Added only when traces are on (infra/tracing.py). The span names the route template, never the path as
sent: a path is the caller's text and may hold anything (api/context.py says why)."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry.trace import SpanKind, Status, StatusCode

from api.context import route_of
from infra.tracing import context_of, tracer


def traced(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        method = scope.get("method", "")
        given = next((v for k, v in scope.get("headers", []) if k.lower() == b"traceparent"), b"")
        parent = context_of(given.decode("latin-1").strip().lower()) if given else None
        with tracer().start_as_current_span(
            method, context=parent, kind=SpanKind.SERVER, attributes={"http.request.method": method}
        ) as span:

            async def send_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            try:
                await app(scope, receive, send_status)
            finally:
                route = route_of(scope)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)

    return middleware
