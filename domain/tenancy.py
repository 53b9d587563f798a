"""Whose data it is: every stream belongs to one tenant, and a few tenant names are the platform's own.

The first event of a stream fixes its tenant; the event store refuses an append by any other tenant
(docs/adr/0022). The names below are used by the platform itself (the operator's CLI, the demo), so no
customer may hold them: no API key is issued for them and none is accepted.
"""

from __future__ import annotations

from typing import Final

OPERATOR: Final = "operator"  # what `aiwf infer` records as when no tenant is named
DEMO: Final = "demo"  # `aiwf demo` plays its conversation as this tenant

RESERVED_TENANTS: Final = frozenset({OPERATOR, DEMO})


def is_reserved(tenant: str) -> bool:
    return tenant in RESERVED_TENANTS
