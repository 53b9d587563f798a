"""Conditional GET: a body served with its ETag, and 304 when the client holds that one already."""

from __future__ import annotations

from typing import Annotated

from litestar import Response
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter

IfNoneMatch = Annotated[
    str | None, HeaderParameter(name="If-None-Match", description="the ETag you hold: 304 when it is current")
]
NOT_MODIFIED = ResponseSpec(None, description="Not modified: the ETag in If-None-Match is current")


def matches(etag: str, if_none_match: str | None) -> bool:
    """RFC 9110 §13.1.2: weak comparison; `*` matches any current representation."""
    if if_none_match is None:
        return False
    wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return bool({etag.removeprefix("W/"), "*"} & wanted)


def etag_response(body: bytes, etag: str, if_none_match: str | None, media_type: str) -> Response[bytes]:
    headers = {"ETag": etag}
    if matches(etag, if_none_match):
        return Response(b"", status_code=304, headers=headers, media_type=media_type)
    return Response(body, headers=headers, media_type=media_type)
