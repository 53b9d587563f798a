"""JSON Schemas of the events as a consumer reads them, derived once from the registry: the whole
CloudEvent envelope of each type (attributes, extensions and `data`) for the AsyncAPI document and
`GET /v1/schemas/{type}/envelope`, and cut from it the schema of `data` alone for
`GET /v1/schemas/{type}`, whose `$id` is the `dataschema` the store stamps on every event of the type
(CloudEvents 1.0: "the schema that `data` adheres to")."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from api.contract import json_document
from api.etags import NOT_MODIFIED, IfNoneMatch, etag_response
from api.problems import ProblemError
from domain.envelope import EnvelopeHeader
from domain.registry import EventRegistry
from infra.dataschema import ENVELOPE_SUFFIX, SCHEMAS_PATH, SchemaLocator

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_JSON = "application/schema+json"
_DEFS = "#/$defs/{name}"


def envelope_schemas(
    registry: EventRegistry, event_types: Sequence[str], ref_template: str
) -> tuple[Sequence[dict[str, Any]], dict[str, Any]]:
    """One `$ref` per type (in `event_types`' order) and the components they point into."""
    envelopes = [_envelope_type(name, registry.struct_for(name)) for name in event_types]
    refs, components = msgspec.json.schema_components(envelopes, ref_template=ref_template)
    for name, ref in zip(event_types, refs, strict=True):
        envelope = components[_name(ref)]
        envelope["properties"]["type"] = {"const": name}
        envelope["description"] = f"CloudEvent `{name}`"
    return refs, components


class SchemaDocuments(msgspec.Struct, frozen=True, kw_only=True):
    """The two self-contained draft 2020-12 schemas of one type, every definition under `$defs`."""

    data: dict[str, Any]  # of `data` alone, `$id` the `dataschema` URL
    envelope: dict[str, Any]  # of the whole CloudEvent; its `data` property is `data`, embedded


def schema_documents(registry: EventRegistry, event_type: str, locator: SchemaLocator) -> SchemaDocuments:
    """Both documents of a type from its one envelope derivation. The envelope embeds the data document
    whole (with its `$id` and `$defs`, minus `$schema`), so one fetch validates a whole event."""
    [ref], components = envelope_schemas(registry, [event_type], _DEFS)
    envelope = components[_name(ref)]
    payload = components[_name(envelope["properties"]["data"])]
    data = {
        "$schema": DRAFT,
        "$id": locator.data_url(event_type),
        "title": f"{event_type} data",
        "description": " ".join(
            filter(None, [f"The `data` of a CloudEvent of type `{event_type}`.", payload.get("description")])
        ),
        **{key: value for key, value in payload.items() if key not in {"title", "description"}},
        **_defs(payload, components),
    }
    header = {name: value for name, value in envelope["properties"].items() if name != "data"}
    embedded = {key: value for key, value in data.items() if key != "$schema"}
    whole = {
        "$schema": DRAFT,
        "$id": locator.envelope_url(event_type),
        **envelope,
        "properties": {**header, "data": embedded},
        **_defs(header, components),
    }
    return SchemaDocuments(data=data, envelope=whole)


class PublishedSchema(msgspec.Struct, frozen=True, kw_only=True):
    body: bytes
    etag: str


class SchemaLink(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    data_schema: str  # the `dataschema` of this type's events: the schema of their `data`
    envelope_schema: str  # the schema of their whole CloudEvent


class SchemaIndex(msgspec.Struct, frozen=True, kw_only=True):
    schemas: list[SchemaLink]


class EventSchemas:
    """Every type's documents, encoded once with their ETags: the schemas change only with the code."""

    def __init__(self, registry: EventRegistry, locator: SchemaLocator) -> None:
        types = registry.types()
        self.index = SchemaIndex(
            schemas=[
                SchemaLink(
                    type=name, data_schema=locator.data_url(name), envelope_schema=locator.envelope_url(name)
                )
                for name in types
            ]
        )
        documents = {name: schema_documents(registry, name, locator) for name in types}
        self._data = {name: _published(document.data) for name, document in documents.items()}
        self._envelopes = {name: _published(document.envelope) for name, document in documents.items()}

    def data(self, event_type: str) -> PublishedSchema | None:
        return self._data.get(event_type)

    def envelope(self, event_type: str) -> PublishedSchema | None:
        return self._envelopes.get(event_type)


class SchemasController(Controller):
    """Public, like /asyncapi.json: consumers resolve an event's `dataschema` without an API key."""

    path = SCHEMAS_PATH
    tags = ["contracts"]  # noqa: RUF012 - Litestar reads it as an instance attribute

    @get("/", sync_to_thread=False, summary="Every event type and the URLs of its two JSON Schemas")
    def list_schemas(self, schemas: NamedDependency[EventSchemas]) -> SchemaIndex:
        return schemas.index

    @get(
        "/{event_type:str}",
        sync_to_thread=False,
        media_type=SCHEMA_JSON,
        summary="The JSON Schema (draft 2020-12) of one event type's `data`: its events' `dataschema`",
        responses={200: json_document(SCHEMA_JSON, "The schema (see ETag)"), 304: NOT_MODIFIED},
    )
    def get_data_schema(
        self,
        schemas: NamedDependency[EventSchemas],
        event_type: FromPath[str],
        if_none_match: IfNoneMatch = None,
    ) -> Response[bytes]:
        return schema_response(schemas.data(event_type), event_type, if_none_match)

    @get(
        "/{event_type:str}" + ENVELOPE_SUFFIX,
        sync_to_thread=False,
        media_type=SCHEMA_JSON,
        summary="The JSON Schema (draft 2020-12) of one event type's whole CloudEvent",
        responses={200: json_document(SCHEMA_JSON, "The schema (see ETag)"), 304: NOT_MODIFIED},
    )
    def get_envelope_schema(
        self,
        schemas: NamedDependency[EventSchemas],
        event_type: FromPath[str],
        if_none_match: IfNoneMatch = None,
    ) -> Response[bytes]:
        return schema_response(schemas.envelope(event_type), event_type, if_none_match)


def schema_response(
    published: PublishedSchema | None, event_type: str, if_none_match: str | None
) -> Response[bytes]:
    if published is None:
        raise ProblemError(
            404, "not-found", "Not found", f"no event type {event_type!r}; {SCHEMAS_PATH} lists them"
        )
    return etag_response(published.body, published.etag, if_none_match, SCHEMA_JSON)


def _published(document: dict[str, Any]) -> PublishedSchema:
    body = msgspec.json.encode(document)
    return PublishedSchema(body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"')


def _defs(schema: Any, components: dict[str, Any]) -> dict[str, Any]:
    """`{"$defs": …}` with every component `schema` refers to, however deep; `{}` when it refers to none."""
    found: dict[str, Any] = {}
    pending = [schema]
    while pending:
        for name in _ref_names(pending.pop()):
            if name not in found:
                found[name] = components[name]
                pending.append(found[name])
    return {"$defs": found} if found else {}


def _ref_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield _name(node)
            else:
                yield from _ref_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _ref_names(value)


def _name(ref: dict[str, Any]) -> str:
    """`{"$ref": "#/$defs/Name"}` → `Name`."""
    return str(ref["$ref"]).rsplit("/", 1)[1]


def _envelope_type(name: str, payload: type[Any]) -> type[msgspec.Struct]:
    title = "".join(part.capitalize() for part in name.removeprefix("aiwf.").replace(".", "_").split("_"))
    return msgspec.defstruct(title, [("data", payload)], bases=(EnvelopeHeader,), kw_only=True, frozen=True)
