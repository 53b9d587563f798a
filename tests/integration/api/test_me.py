"""/v1/me: a client learns its tenant and role from its key, and nothing without one."""

from __future__ import annotations

from tests.integration.api.conftest import Stack


async def test_each_key_learns_its_own_tenant_and_role(stack: Stack) -> None:
    seen = {}
    for who in ("acme-member", "acme-auditor", "acme-admin", "globex-member"):
        async with stack.client(who) as http:
            seen[who] = (await http.get("/v1/me")).json()
    async with stack.client(None) as anonymous:
        refused = await anonymous.get("/v1/me")

    assert {who: (me["tenant"], me["role"]) for who, me in seen.items()} == {
        "acme-member": ("acme", "member"),
        "acme-auditor": ("acme", "auditor"),
        "acme-admin": ("acme", "admin"),
        "globex-member": ("globex", "member"),
    }
    assert len({me["key_id"] for me in seen.values()}) == 4
    assert (refused.status_code, refused.headers["content-type"]) == (401, "application/problem+json")
