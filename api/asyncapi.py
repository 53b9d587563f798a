"""The AsyncAPI 3.0 document of the partition logs: FastStream generates channels and operations, we
feed it the JSON Schema of every event type (FastStream derives schemas through pydantic, which does not
know msgspec Structs), so a consumer in any language knows what each entry holds."""

from __future__ import annotations

import json
from typing import Any

from faststream.redis import RedisBroker
from faststream.specification import AsyncAPI

from api.event_schemas import envelope_schemas
from domain.registry import EventRegistry
from infra.keys import KeySpace

REF = "#/components/schemas/{name}"
_CHANNEL = (
    "every event of the aggregates that hash to it, in append order. "
    "Each entry has one field, `event`: a structured-mode CloudEvent (JSON)."
)


def build_asyncapi(registry: EventRegistry, keys: KeySpace, server: str, version: str) -> dict[str, Any]:
    broker = RedisBroker(server)
    for partition in keys.all_partitions():
        broker.publisher(
            stream=partition.log,
            title=partition.log,
            description=f"Partition {partition.partition} of {keys.partitions}: {_CHANNEL}",
        )
    spec = AsyncAPI(broker, title="AI Workflow Platform event log", version=version, schema_version="3.0.0")
    document: dict[str, Any] = json.loads(spec.to_specification().to_json())
    entry_schema, components = _event_schemas(registry)
    document["components"]["schemas"].update(components)
    for name, message in document["components"]["messages"].items():
        document["components"]["schemas"][name + ":Payload"] = entry_schema
        message["correlationId"] = {"location": "$message.payload#/event/correlationid"}
        message["contentType"] = "application/json"
    return document


def _event_schemas(registry: EventRegistry) -> tuple[dict[str, Any], dict[str, Any]]:
    schemas, components = envelope_schemas(registry, registry.types(), REF)
    entry = {
        "type": "object",
        "required": ["event"],
        "properties": {
            "event": {
                "type": "string",
                "contentMediaType": "application/cloudevents+json",
                "description": "The CloudEvent, JSON-encoded. See the schemas per `type`.",
                "contentSchema": {"oneOf": schemas},
            }
        },
    }
    return entry, components
