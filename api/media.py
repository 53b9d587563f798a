"""A request body is JSON and says so: a body of another (or no) Content-Type is a 415 problem before it
is read, on the routes that take one (those with a `data` parameter)."""

from __future__ import annotations

from typing import Any

from litestar import Request

from api.problems import ProblemError

JSON = "application/json"


async def refuse_other_media(request: Request[Any, Any, Any]) -> None:
    """The app's `before_request`: it runs before a handler's parameters and body are parsed. Async
    though it awaits nothing: Litestar runs a sync hook in its thread pool, on every request."""
    if "data" not in request.route_handler.parsed_fn_signature.parameters or not has_body(request):
        return
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != JSON:
        raise ProblemError(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"send the body as `Content-Type: {JSON}`",
        )


def has_body(request: Request[Any, Any, Any]) -> bool:
    length = request.headers.get("content-length")
    return "transfer-encoding" in request.headers or (length is not None and length.strip() not in {"", "0"})
