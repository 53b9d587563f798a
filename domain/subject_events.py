"""Erasure in an immutable log: a subject (a conversation, or a customer a tenant names) is shredded by
destroying its data keys. Its events stay, and still verify; their sealed fields read `[shredded]`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import msgspec

from domain.envelope import DomainEvent
from domain.types import NonEmptyStr, UtcDatetime


class SubjectShredded(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.subject.shredded.v1"
    subject_id: NonEmptyStr
    shredded_by: NonEmptyStr
    reason: str = ""
    shredded_at: UtcDatetime


SUBJECT_EVENTS: tuple[type[DomainEvent], ...] = (SubjectShredded,)


class ShredSubject(msgspec.Struct, frozen=True, kw_only=True):
    subject_id: NonEmptyStr
    shredded_by: NonEmptyStr
    reason: str = ""
    at: UtcDatetime


def decide(command: ShredSubject, shredded: bool) -> list[DomainEvent]:
    """Once: shredding a shredded subject records nothing more."""
    if shredded:
        return []
    return [
        SubjectShredded(
            subject_id=command.subject_id,
            shredded_by=command.shredded_by,
            reason=command.reason,
            shredded_at=command.at,
        )
    ]


def fold(events: Iterable[DomainEvent], shredded: bool = False) -> bool:
    return shredded or any(isinstance(e, SubjectShredded) for e in events)


def stream_of(subject_id: str) -> str:
    return f"subject-{subject_id}"
