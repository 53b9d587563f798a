"""Erasure in an immutable log: a subject (a conversation, or a customer a tenant names) is shredded by
destroying its data keys. Its events stay, and still verify; their sealed fields read `[shredded]`.

A customer is named by the tenant's own reference (`customer:<reference>` as a subject): an opaque id from
its CRM, never personal data, since the reference itself stays readable in the log once shredded."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Final

import msgspec

from domain.envelope import DomainEvent
from domain.ids import derived_id
from domain.types import NonEmptyStr, UtcDatetime

CUSTOMER: Final = "customer:"
# A reference as a tenant's systems would have it (an account number, a CRM id), not a name or a phone.
CUSTOMER_REFERENCE: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


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


def customer_subject(reference: str) -> str:
    return CUSTOMER + reference


def is_customer(subject_id: str) -> bool:
    return subject_id.startswith(CUSTOMER)


def stream_of(tenant: str, subject_id: str) -> str:
    """A conversation's id is the platform's, unique across tenants; a customer's reference is the
    tenant's, so its stream is named by an id derived from both (two tenants may both have a customer 42)."""
    if is_customer(subject_id):
        return f"subject-{derived_id('subject', tenant, subject_id)}"
    return f"subject-{subject_id}"
