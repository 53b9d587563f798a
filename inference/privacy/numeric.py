"""A run of digit groups ("007 99999 0012345678 03", "0555-12-34-56") and what a shape makes of it.

Shapes (rib, ccp, phone, ...) look at the groups of a run from index `i` and either claim groups
`i..last` as one finding or decline; the scanner in `runs.py` tries them in order.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from inference.privacy.labels import Label
from inference.privacy.types import Confidence, Finding, Kind


class Group(msgspec.Struct, frozen=True, kw_only=True):
    start: int
    end: int
    digits: str  # Western digits


class Hit(msgspec.Struct, frozen=True, kw_only=True):
    finding: Finding
    last: int  # index of the last group the finding used


class Run(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    groups: tuple[Group, ...]
    left: tuple[int, ...]  # digits from group i to the end of the run
    label: Label | None  # the label right before the run; it speaks for its first group only

    def label_at(self, i: int) -> Label | None:
        return self.label if i == 0 else None

    def exact(self, i: int, size: int) -> int | None:
        """Index of the group where groups i.. hold exactly `size` digits, if a group ends there."""
        if self.left[i] < size:
            return None
        total = 0
        for j in range(i, len(self.groups)):
            total += len(self.groups[j].digits)
            if total >= size:
                return j if total == size else None
        return None

    def digits(self, i: int, last: int) -> str:
        return "".join(group.digits for group in self.groups[i : last + 1])

    def gap(self, i: int) -> str:
        """What separates group i from group i + 1, e.g. " ", "-", " - "."""
        return self.text[self.groups[i].end : self.groups[i + 1].start]

    def hit(
        self,
        kind: Kind,
        i: int,
        last: int,
        *,
        checksum: bool | None,
        confidence: Confidence,
        reason: str,
        start: int | None = None,
        end: int | None = None,
    ) -> Hit:
        start = self.groups[i].start if start is None else start
        end = self.groups[last].end if end is None else end
        finding = Finding(
            kind=kind,
            start=start,
            end=end,
            text=self.text[start:end],
            checksum_valid=checksum,
            confidence=confidence,
            reason=reason,
        )
        return Hit(finding=finding, last=last)


Shape = Callable[[Run, int], Hit | None]
