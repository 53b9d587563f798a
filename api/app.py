"""The Litestar application. For now: liveness and readiness; the REST and SSE API grows here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
from litestar import Litestar, get
from litestar.response import Response
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

ReadinessProbe = Callable[[], Awaitable[dict[str, bool]]]


class Health(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    checks: dict[str, bool] = msgspec.field(default_factory=dict)


def create_app(ready: ReadinessProbe) -> Litestar:
    @get("/health/live", sync_to_thread=False)
    def live() -> Health:
        return Health(status="ok")

    @get("/health/ready")
    async def readiness() -> Response[Health]:
        checks = await ready()
        ok = all(checks.values())
        status = HTTP_200_OK if ok else HTTP_503_SERVICE_UNAVAILABLE
        return Response(Health(status="ok" if ok else "unavailable", checks=checks), status_code=status)

    return Litestar(route_handlers=[live, readiness], openapi_config=None)
