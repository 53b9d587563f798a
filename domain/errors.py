"""Errors the domain and its ports speak in; no I/O here."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a caller may want to turn into a clear answer."""


class ConcurrencyConflict(DomainError):
    """The stream moved on since it was read: retry with a fresh read, or answer 409."""

    def __init__(self, stream: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream!r}: expected version {expected}, found {actual}")
        self.stream = stream
        self.expected = expected
        self.actual = actual


class ChainBroken(DomainError):
    """The head hash a writer chained from is not the stored head: a stale or tampered chain."""

    def __init__(self, stream: str, expected: str, actual: str) -> None:
        super().__init__(f"stream {stream!r}: chained from {expected[:12]}…, head is {actual[:12]}…")
        self.stream = stream


class DuplicateEventId(DomainError):
    """Some, not all, of a batch's event ids are already stored: not a clean retry."""


class EventIdTaken(DomainError):
    """An event id is already stored for another stream, or with other content: not a retry of the
    batch that holds it, so nothing is appended and the caller must choose another id."""

    def __init__(self, event_id: str, stored_stream: str, why: str) -> None:
        detail = f"for stream {stored_stream!r}" if why == "stream" else "with other content"
        super().__init__(f"event id {event_id!r} is already stored {detail}")
        self.event_id = event_id
        self.stored_stream = stored_stream
        self.why = why


class UnknownEventType(DomainError):
    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type


class MalformedEvent(DomainError):
    """Bytes that do not decode into one of our envelopes."""


class NotFound(DomainError):
    """The aggregate does not exist (or belongs to another tenant: the same answer, on purpose)."""


class StreamOfAnotherTenant(NotFound):
    """An append to a stream whose first event fixed another tenant: refused, and answered as a missing
    one would be (the message names only what the caller already knows: the stream and its own tenant)."""

    def __init__(self, stream: str, tenant: str) -> None:
        super().__init__(f"stream {stream!r}: tenant {tenant!r} has no such stream")
        self.stream = stream
        self.tenant = tenant


class InvalidTransition(DomainError):
    """The command does not apply to the aggregate in its current state; the message says why."""


class InvalidInput(DomainError):
    """A value the read models could not store as given (PostgreSQL text holds no NUL character)."""

    def __init__(self, fields: list[str], where: str = "") -> None:
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{', '.join(fields)}: the NUL character (U+0000) is not allowed in text")
        self.fields = fields


class PersonalDataInReference(DomainError):
    """A reference that stays readable in the log (a customer's) looks like personal data itself."""

    def __init__(self, field: str, sensitivity: str) -> None:
        super().__init__(
            f"{field} looks like personal data ({sensitivity}): use your own opaque reference of the "
            "customer (a CRM or account id); it stays readable in the log after the customer is shredded"
        )
        self.field = field


class CredentialDataInvalid(DomainError):
    """Credential data n8n's schema for its type refuses; each problem names a field, never a value."""

    def __init__(self, credential_type: str, problems: list[str]) -> None:
        super().__init__(f"the {credential_type} credential data is not valid: {'; '.join(problems)}")
        self.credential_type = credential_type
        self.problems = problems


class NotConfigured(DomainError):
    """What the request needs is not set up for this tenant (no n8n instance, say); the message says how."""


class ShreddedSubject(DomainError):
    """The subject's data keys were destroyed: nothing can be written for it, and its sealed fields read
    `[shredded]` for ever."""

    def __init__(self, tenant: str, subject: str) -> None:
        super().__init__(f"subject {subject} was shredded: its data can no longer be written or read")
        self.tenant, self.subject = tenant, subject
