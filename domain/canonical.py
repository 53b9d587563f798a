"""Canonical bytes and the per-stream hash chain (see docs/adr/0004-canonical-form-and-hash-chain.md).

Canonical form: the event's JSON with `hash` removed, object keys sorted, no insignificant whitespace,
UTF-8, strings escaped as RFC 8785 (JCS) does. Events carry no floating-point numbers (the registry
refuses float fields), so JCS number formatting never comes into play and any JSON library can
re-verify a chain: parse, drop `hash`, serialise sorted and compact, hash.

    hash = sha256(bytes.fromhex(prevhash) || canonical_bytes)
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from domain.envelope import Envelope, EnvelopeHeader

_encoder = msgspec.json.Encoder(order="sorted")


def canonical_bytes(event: EnvelopeHeader) -> bytes:
    """The bytes that are hashed: the event without its `hash`, sorted and compact."""
    if event.hash is not None:
        event = msgspec.structs.replace(event, hash=None)
    return _encoder.encode(event)


def chain_hash(prevhash: str, canonical: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prevhash) + canonical).hexdigest()


def seal(event: Envelope) -> tuple[Envelope, bytes]:
    """Stamp the event with its hash; return it with the exact bytes to store."""
    digest = chain_hash(event.prevhash, canonical_bytes(event))
    sealed = msgspec.structs.replace(event, hash=digest)
    return sealed, _encoder.encode(sealed)


def content_digest(data: Any) -> str:
    """What an event says, as the store compares it when an id is re-sent (ADR 0015): its type and
    payload, canonical. Envelope time and tracing are facts of one delivery: a retry may differ."""
    return hashlib.sha256(_encoder.encode([type(data).event_type, data])).hexdigest()


def canonical_of_document(document: dict[str, Any]) -> bytes:
    """Canonical bytes of a stored event parsed as plain JSON, as a foreign verifier would compute."""
    unhashed = {key: value for key, value in document.items() if key != "hash"}
    return _encoder.encode(unhashed)


def canonical_json(unhashed: dict[str, Any]) -> bytes:
    """Canonical bytes of a parsed event that has no `hash` member any more (the caller removed it)."""
    return _encoder.encode(unhashed)
