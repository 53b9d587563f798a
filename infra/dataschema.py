"""Where the JSON Schemas of an event type are published: the schema of its `data`, which is the
CloudEvents `dataschema` of every envelope, and the schema of its whole envelope next to it.

The store stamps the first URL on every event it appends and the API serves both
(`GET /v1/schemas/{type}` and `…/{type}/envelope`, each `$id` its own URL), so both take them from one
`SchemaLocator` that the composition root builds from `AIWF_PUBLIC_URL`
(docs/adr/0020-external-consumers.md).
"""

from __future__ import annotations

import msgspec

SCHEMAS_PATH = "/v1/schemas"
ENVELOPE_SUFFIX = "/envelope"
LOCAL_PUBLIC_URL = "http://127.0.0.1:8080"  # `aiwf run` with AIWF_HOST and AIWF_PORT at their defaults


class SchemaLocator(msgspec.Struct, frozen=True, kw_only=True):
    public_url: str  # how consumers reach the API: scheme, host, port, and any path in front of it

    def data_url(self, event_type: str) -> str:
        """The schema of the `data` of this type's events: their `dataschema`."""
        return f"{self.public_url.rstrip('/')}{SCHEMAS_PATH}/{event_type}"

    def envelope_url(self, event_type: str) -> str:
        """The schema of this type's whole CloudEvent: attributes, extensions and `data`."""
        return f"{self.data_url(event_type)}{ENVELOPE_SUFFIX}"


LOCAL_SCHEMAS = SchemaLocator(public_url=LOCAL_PUBLIC_URL)
