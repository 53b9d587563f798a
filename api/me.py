"""/v1/me: who the caller is — tenant, role, key id — so a client shows what that role may do."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get

from api.auth import READ
from domain.types import Role
from infra.api_keys import Principal


class Me(msgspec.Struct, frozen=True, kw_only=True):
    tenant: str
    role: Role
    key_id: str


@get("/v1/me", opt=READ, tags=["keys"], summary="The caller's tenant, role and key id", sync_to_thread=False)
def me(request: Request[Any, Any, Any]) -> Me:
    principal: Principal = request.user
    return Me(tenant=principal.tenant, role=principal.role, key_id=principal.key_id)
