"""The web app (web/, built into api/static/app): its page at `/` and its assets at `/assets`, served by
this process from files in the repository, so nothing is fetched from elsewhere. The app routes by the
URL's fragment (`/#/conversations/…`), so no other path has to fall back to the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from litestar import Response, get
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

APP_DIR: Final = Path(__file__).with_name("static") / "app"
# The app talks to this origin only; no inline script, no frame, no plugin.
POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS: Final = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff"}


@get("/", include_in_schema=False, sync_to_thread=False)
def page() -> Response[bytes]:
    index = APP_DIR / "index.html"
    if not index.is_file():
        return Response(_NOT_BUILT, media_type="text/plain", status_code=503)
    return Response(index.read_bytes(), media_type="text/html", headers=HEADERS)


def routes() -> list[Any]:
    """The page, and its assets: their names carry a hash of their content, so they are kept for good."""
    assets = create_static_files_router(
        path="/assets",
        directories=[APP_DIR / "assets"],
        include_in_schema=False,
        cache_control=CacheControlHeader(public=True, max_age=31_536_000, immutable=True),
        after_request=_nosniff,
    )
    return [page, assets]


async def _nosniff(response: Response[Any]) -> Response[Any]:
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


_NOT_BUILT = b"The web app is not built: run `make web` (it needs Node.js 20), or use the API at /v1.\n"
