"""The two JSON Schemas of every event type are self-contained: the schema of `data` (`/v1/schemas/{type}`,
the events' `dataschema`) accepts the `data` the store writes, the schema of the whole CloudEvent
(`/v1/schemas/{type}/envelope`) the whole event: every type, with all its optional fields and with none."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import msgspec
import msgspec.inspect as mi
import pytest

from api.asyncapi import build_asyncapi
from api.auth import PUBLIC_PATHS
from api.event_schemas import DRAFT, EventSchemas, schema_documents
from domain.canonical import seal
from domain.catalog import REGISTRY
from domain.envelope import GENESIS_HASH, DomainEvent, NewEvent
from infra.dataschema import SchemaLocator
from infra.event_store import envelope_for
from infra.keys import KeySpace
from tests.support.events import NOW, ORIGIN

LOCATOR = SchemaLocator(public_url="https://aiwf.example/base/")
SCHEMAS = EventSchemas(REGISTRY, LOCATOR)


def example(t: mi.Type, *, full: bool) -> Any:
    """A value of type `t` that msgspec accepts; `full`: every optional field set too."""
    match t:
        case mi.StrType():
            return "0" * 64  # satisfies every string constraint the catalogue has (non-empty, sha256)
        case mi.IntType():
            return max(t.ge or 0, (t.gt or -1) + 1, 1) if t.le is None else t.le
        case mi.BoolType():
            return True
        case mi.DateTimeType():
            return NOW
        case mi.EnumType():
            return next(iter(t.cls)).value
        case mi.LiteralType():
            return t.values[0]
        case mi.UnionType():
            return example(next(u for u in t.types if not isinstance(u, mi.NoneType)), full=full)
        case mi.ListType() | mi.VarTupleType() | mi.SetType() | mi.FrozenSetType():
            return [example(t.item_type, full=full)]
        case mi.TupleType():
            return [example(item, full=full) for item in t.item_types]
        case mi.DictType():
            return {"k": example(t.value_type, full=full)}
        case mi.StructType():
            fields = (f for f in t.fields if full or f.required)
            return {f.encode_name: example(f.type, full=full) for f in fields}
    raise TypeError(f"no example for {t!r}")


def stored(event_type: str, *, full: bool) -> bytes:
    """The bytes the store writes for an event of this type, through the store's own envelope."""
    payload_type = REGISTRY.struct_for(event_type)
    data: DomainEvent = msgspec.convert(example(mi.type_info(payload_type), full=full), payload_type)
    event = NewEvent(data=data, id="e1", time=NOW, correlationid="c1", causationid="k1")
    envelope = envelope_for("conversation-c1", 1, GENESIS_HASH, event, origin=ORIGIN, schemas=LOCATOR)
    return seal(envelope)[1]


def data_schema(event_type: str) -> dict[str, Any]:
    published = SCHEMAS.data(event_type)
    assert published is not None
    document: dict[str, Any] = json.loads(published.body)
    return document


def envelope_schema(event_type: str) -> dict[str, Any]:
    published = SCHEMAS.envelope(event_type)
    assert published is not None
    document: dict[str, Any] = json.loads(published.body)
    return document


def validator(document: dict[str, Any]) -> jsonschema_rs.Validator:
    """Formats checked too; a schema that needs a fetch to resolve fails instead of reaching out."""
    return jsonschema_rs.validator_for(document, validate_formats=True, retriever=_no_fetch)


def wrong(t: mi.Type) -> Any:
    """A JSON value of another type than `t` takes."""
    return 42 if isinstance(t, mi.StrType | mi.EnumType | mi.DateTimeType) else "42"


@pytest.mark.parametrize("event_type", REGISTRY.types())
@pytest.mark.parametrize("full", [True, False], ids=["every-field", "required-only"])
def test_the_data_schema_of_every_type_accepts_the_data_the_store_writes(event_type: str, full: bool) -> None:
    event = json.loads(stored(event_type, full=full))

    errors = [error.message for error in validator(data_schema(event_type)).iter_errors(event["data"])]

    assert errors == []
    assert event["dataschema"] == data_schema(event_type)["$id"]


@pytest.mark.parametrize("event_type", REGISTRY.types())
@pytest.mark.parametrize("full", [True, False], ids=["every-field", "required-only"])
def test_the_envelope_schema_of_every_type_accepts_the_whole_event(event_type: str, full: bool) -> None:
    event = json.loads(stored(event_type, full=full))

    errors = [error.message for error in validator(envelope_schema(event_type)).iter_errors(event)]

    assert errors == []


@pytest.mark.parametrize("event_type", REGISTRY.types())
def test_both_schemas_of_every_type_refuse_a_field_of_the_wrong_type(event_type: str) -> None:
    payload_type = REGISTRY.struct_for(event_type)
    field = next(f for f in mi.type_info(payload_type).fields if f.required)
    event = json.loads(stored(event_type, full=True))
    event["data"][field.encode_name] = wrong(field.type)

    with pytest.raises(msgspec.ValidationError):  # the value is wrong for the code too
        msgspec.convert(event["data"], payload_type)
    assert not validator(data_schema(event_type)).is_valid(event["data"])
    assert not validator(envelope_schema(event_type)).is_valid(event)


@pytest.mark.parametrize("event_type", REGISTRY.types())
def test_every_schema_is_self_contained_draft_2020_12(event_type: str) -> None:
    data, envelope = data_schema(event_type), envelope_schema(event_type)

    assert (data["$schema"], envelope["$schema"]) == (DRAFT, DRAFT)
    assert data["$id"] == f"https://aiwf.example/base/v1/schemas/{event_type}"
    assert envelope["$id"] == f"https://aiwf.example/base/v1/schemas/{event_type}/envelope"
    assert event_type in data["title"]
    assert event_type in data["description"]
    assert envelope["properties"]["type"] == {"const": event_type}
    # The envelope embeds the data document itself (its `$id` and `$defs` with it): one fetch suffices.
    assert envelope["properties"]["data"] == {k: v for k, v in data.items() if k != "$schema"}
    assert all(ref.removeprefix("#/$defs/") in data.get("$defs", {}) for ref in _refs(data))
    header = {k: v for k, v in envelope["properties"].items() if k != "data"}
    assert all(ref.removeprefix("#/$defs/") in envelope.get("$defs", {}) for ref in _refs(header))


def test_a_schema_refuses_the_data_of_another_type_and_an_event_without_data() -> None:
    started = json.loads(stored("aiwf.conversation.started.v1", full=True))
    without_data = {k: v for k, v in started.items() if k != "data"}

    assert not validator(data_schema("aiwf.conversation.closed.v1")).is_valid(started["data"])
    assert not validator(envelope_schema("aiwf.conversation.closed.v1")).is_valid(started)
    assert not validator(envelope_schema("aiwf.conversation.started.v1")).is_valid(without_data)
    assert not validator(data_schema("aiwf.conversation.started.v1")).is_valid(started)  # not `data`


def test_the_index_names_every_type_with_both_urls_and_an_unknown_type_has_none() -> None:
    assert [link.type for link in SCHEMAS.index.schemas] == REGISTRY.types()
    assert all(link.data_schema == LOCATOR.data_url(link.type) for link in SCHEMAS.index.schemas)
    assert all(link.envelope_schema == LOCATOR.envelope_url(link.type) for link in SCHEMAS.index.schemas)
    assert SCHEMAS.data("aiwf.conversation.unheard_of.v1") is None
    assert SCHEMAS.envelope("aiwf.conversation.unheard_of.v1") is None


def test_the_asyncapi_document_and_the_schemas_derive_the_same_envelope_and_data() -> None:
    asyncapi = build_asyncapi(REGISTRY, KeySpace(prefix="aiwf", partitions=2), "redis://localhost", "0")
    components = asyncapi["components"]["schemas"]
    started = schema_documents(REGISTRY, "aiwf.conversation.started.v1", LOCATOR)
    envelope = started.envelope
    [in_asyncapi] = [c for c in components.values() if c.get("description") == envelope["description"]]
    data_in_asyncapi = components[in_asyncapi["properties"]["data"]["$ref"].rsplit("/", 1)[1]]

    assert in_asyncapi["properties"].keys() == envelope["properties"].keys()
    assert in_asyncapi["required"] == envelope["required"]
    assert _refs_as_defs(data_in_asyncapi["properties"]) == started.data["properties"]
    assert data_in_asyncapi["required"] == started.data["required"]


def _refs_as_defs(schema: object) -> object:
    """AsyncAPI keeps named schemas under components, a JSON Schema document under $defs: the same
    schema, referred to where each document keeps it."""
    text = json.dumps(schema).replace('"#/components/schemas/', '"#/$defs/')
    return json.loads(text)


@pytest.mark.parametrize(
    ("path", "public"),
    [
        ("/v1/schemas", True),
        ("/v1/schemas/aiwf.conversation.started.v1", True),
        ("/v1/schemas/aiwf.conversation.started.v1/envelope", True),
        ("/v1/schemas/aiwf.conversation.started.v1/other", False),
        ("/v1/schemas/a/b/envelope", False),
        ("/v1/conversations/schemas", False),
    ],
)
def test_both_schema_routes_are_public_and_nothing_below_them(path: str, public: bool) -> None:
    assert any(re.search(pattern, path) for pattern in PUBLIC_PATHS) is public


def _no_fetch(uri: str) -> Any:
    raise AssertionError(f"the schema is not self-contained: it refers to {uri}")


def _refs(node: Any) -> Iterator[str]:
    """Every `$ref` in a schema, however deep."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)
