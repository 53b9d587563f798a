"""Value types shared by every aggregate: times, sensitivity, agent roles."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated

import msgspec

# Every time in an event is timezone-aware UTC: a naive datetime is refused at decode time.
UtcDatetime = Annotated[datetime, msgspec.Meta(tz=True)]

NonEmptyStr = Annotated[str, msgspec.Meta(min_length=1)]
Sha256Hex = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Sensitivity(enum.StrEnum):
    """Privacy class of a text; ordered public < internal < sensitive."""

    PUBLIC = "public"
    INTERNAL = "internal"
    SENSITIVE = "sensitive"

    @property
    def rank(self) -> int:
        return _SENSITIVITY_RANK[self]

    def at_least(self, other: Sensitivity) -> Sensitivity:
        return self if self.rank >= other.rank else other


_SENSITIVITY_RANK = {Sensitivity.PUBLIC: 0, Sensitivity.INTERNAL: 1, Sensitivity.SENSITIVE: 2}


class AgentRole(enum.StrEnum):
    ORCHESTRATOR = "orchestrator"
    SALES = "sales"
    LOGISTICS = "logistics"
    FINANCE = "finance"
    DESIGNER = "designer"


class Role(enum.StrEnum):
    """What an API key may do: members chat and approve, auditors read events and audits, admins all."""

    MEMBER = "member"
    AUDITOR = "auditor"
    ADMIN = "admin"


TenantId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
