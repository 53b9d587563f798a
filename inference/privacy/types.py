"""What the classifier reports: findings with spans and reasons, and the sensitivity they add up to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal

import msgspec

from domain.types import Sensitivity

Kind = Literal["ccp", "rip", "rib", "nif", "nis", "rc", "phone", "email", "iban", "invoice"]
Confidence = Literal["high", "medium", "low"]

# The one place that says what each kind does to a text. Identifiers of money and of companies keep
# the text on the local model; contact details only need placeholders before a cloud call.
KIND_SENSITIVITY: Mapping[Kind, Sensitivity] = MappingProxyType(
    {
        "ccp": Sensitivity.SENSITIVE,
        "rip": Sensitivity.SENSITIVE,
        "rib": Sensitivity.SENSITIVE,
        "iban": Sensitivity.SENSITIVE,
        "nif": Sensitivity.SENSITIVE,
        "nis": Sensitivity.SENSITIVE,
        "rc": Sensitivity.SENSITIVE,
        "invoice": Sensitivity.SENSITIVE,
        "phone": Sensitivity.INTERNAL,
        "email": Sensitivity.INTERNAL,
    }
)

CONFIDENCE_RANK: Mapping[Confidence, int] = MappingProxyType({"low": 0, "medium": 1, "high": 2})


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """One detected value: `text == source[start:end]` of the text it was found in.

    `text_index` says which text of a `classify_many` call; it is 0 for `classify`.
    """

    kind: Kind
    start: int
    end: int
    text: str
    checksum_valid: bool | None
    confidence: Confidence
    reason: str
    text_index: int = 0

    @property
    def sensitivity(self) -> Sensitivity:
        return KIND_SENSITIVITY[self.kind]


class Classification(msgspec.Struct, frozen=True, kw_only=True):
    sensitivity: Sensitivity
    findings: tuple[Finding, ...] = ()

    @property
    def kinds(self) -> frozenset[Kind]:
        return frozenset(finding.kind for finding in self.findings)


def max_sensitivity(levels: Iterable[Sensitivity]) -> Sensitivity:
    """The highest level by rank (public < internal < sensitive), public when there is none."""
    return max(levels, key=lambda level: level.rank, default=Sensitivity.PUBLIC)


PUBLIC = Classification(sensitivity=Sensitivity.PUBLIC)
