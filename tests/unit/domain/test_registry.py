from __future__ import annotations

from typing import Any, ClassVar

import msgspec
import pytest

from domain.canonical import seal
from domain.catalog import REGISTRY
from domain.conversation_events import CONVERSATION_EVENTS, UserMessageReceived
from domain.credential_events import CREDENTIAL_EVENTS
from domain.envelope import DomainEvent, Envelope
from domain.errors import MalformedEvent, UnknownEventType
from domain.registry import EventRegistry
from domain.subject_events import SUBJECT_EVENTS
from domain.workflow_events import WORKFLOW_EVENTS
from tests.support.events import NOW, message


def envelope_of(data: DomainEvent, event_type: str | None = None) -> Envelope:
    return Envelope(
        specversion="1.0",
        id="e1",
        source="aiwf://tests",
        type=event_type or getattr(type(data), "event_type", ""),
        time=NOW,
        datacontenttype="application/json",
        tenant="acme",
        stream="conversation-c1",
        version=1,
        prevhash="0" * 64,
        data=data,
    )


def test_every_event_of_the_catalogue_has_a_versioned_type_name() -> None:
    names = REGISTRY.types()
    catalogue = (*CONVERSATION_EVENTS, *WORKFLOW_EVENTS, *CREDENTIAL_EVENTS, *SUBJECT_EVENTS)
    assert len(names) == len(catalogue)
    assert all(name.startswith("aiwf.") and name.rsplit(".", 1)[1].startswith("v") for name in names)


def test_an_envelope_round_trips_through_its_stored_bytes() -> None:
    sealed, raw = seal(envelope_of(message("salam")))

    decoded = REGISTRY.decode(raw)

    assert isinstance(decoded, Envelope)  # a per-type subclass, decoded in one pass
    assert msgspec.structs.asdict(decoded) == msgspec.structs.asdict(sealed)
    assert isinstance(decoded.data, UserMessageReceived)


def test_absent_attributes_are_omitted_not_null() -> None:
    _, raw = seal(envelope_of(message()))

    document = msgspec.json.decode(raw)
    assert "subject" not in document
    assert "keyid" not in document
    assert {"specversion", "id", "source", "type", "time", "datacontenttype"} <= document.keys()


def test_an_unknown_type_is_named_in_the_error() -> None:
    _, raw = seal(envelope_of(message()))
    raw = raw.replace(b"aiwf.conversation.user_message_received.v1", b"aiwf.conversation.unheard_of.v1")

    with pytest.raises(UnknownEventType, match="unheard_of"):
        REGISTRY.decode(raw)


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"type": "aiwf.conversation.started.v1"}'])
def test_garbage_is_a_malformed_event_not_a_crash(raw: bytes) -> None:
    with pytest.raises(MalformedEvent):
        REGISTRY.decode(raw)


def test_a_naive_time_in_a_payload_is_refused() -> None:
    _, raw = seal(envelope_of(message()))
    raw = raw.replace(b'"received_at":"2026-11-25T09:00:00Z"', b'"received_at":"2026-11-25T09:00:00"')

    with pytest.raises(MalformedEvent):
        REGISTRY.decode(raw)


class NoteV1(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.note.written.v1"
    text: str


class NoteV2(DomainEvent, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "aiwf.note.written.v2"
    body: str
    language: str


def test_an_old_version_is_read_as_the_new_one_through_its_upcaster() -> None:
    registry = EventRegistry([NoteV2])

    def v1_to_v2(old: dict[str, Any]) -> dict[str, Any]:
        return {"body": old["text"], "language": "fr"}

    registry.register_upcaster("aiwf.note.written.v1", "aiwf.note.written.v2", v1_to_v2)
    _, raw = seal(envelope_of(NoteV1(text="bonjour")))

    assert registry.decode(raw).data == NoteV2(body="bonjour", language="fr")


def test_an_event_with_a_float_field_cannot_be_registered() -> None:
    class Priced(DomainEvent, frozen=True, kw_only=True):
        event_type: ClassVar[str] = "aiwf.price.set.v1"
        amounts: tuple[float, ...]

    with pytest.raises(TypeError, match="float"):
        EventRegistry([Priced])


def test_a_type_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="twice"):
        EventRegistry([NoteV1, NoteV1])


def test_every_type_exports_a_json_schema() -> None:
    schemas = REGISTRY.json_schemas()

    assert set(schemas) == set(REGISTRY.types())
    schema = schemas["aiwf.conversation.user_message_received.v1"]
    assert schema["$defs"]["UserMessageReceived"]["required"] == [
        "message_id",
        "text",
        "sensitivity",
        "received_at",
    ]
