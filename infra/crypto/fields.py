"""One field of an event, encrypted: AES-256-GCM under the subject's data key, a fresh 96-bit nonce, and
associated data that binds the tenant, the stream, the version, the event id and the field's path, so a
ciphertext copied into another event or another field does not open.

A sealed field stays a JSON string (`aiwf:enc:1:` + base64url of nonce and ciphertext), so an event keeps
its shape for every consumer, and the envelope names the key (`keyid`) and the algorithm (`encalg`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Final

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ALGORITHM: Final = "AES-256-GCM"
PREFIX: Final = "aiwf:enc:1:"
SHREDDED: Final = "[shredded]"  # what a field reads as once its subject's keys are destroyed
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12


class FieldContext(msgspec.Struct, frozen=True, kw_only=True):
    """Where a sealed value belongs; all of it is authenticated."""

    tenant: str
    stream: str
    version: int
    event_id: str
    field: str  # the path in `data`, e.g. "text" or "facts.2.value"

    def associated_data(self) -> bytes:
        return msgspec.json.encode(
            ["aiwf-field-1", self.tenant, self.stream, self.version, self.event_id, self.field]
        )


class FieldTampered(Exception):
    """The value does not open with this key in this place: moved, edited, or sealed under another key."""


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def seal_field(key: bytes, context: FieldContext, plaintext: str) -> str:
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), context.associated_data())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def open_field(key: bytes, context: FieldContext, value: str) -> str:
    if not is_sealed(value):
        raise FieldTampered(f"{context.field} of {context.event_id} is not a sealed value")
    body = value.removeprefix(PREFIX)
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        opened = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.associated_data())
    except (ValueError, InvalidTag):
        raise FieldTampered(f"{context.field} of {context.event_id} does not open here") from None
    return opened.decode()


def keyed_digest(key: bytes, content: bytes) -> str:
    """The idempotency digest of an event with sealed fields: of its plaintext, keyed by its data key, so a
    retried append matches while nothing in the store lets anyone confirm a guess of the plaintext (and,
    once the key is shredded, nobody can)."""
    return hmac.new(key, b"aiwf-digest-1" + content, hashlib.sha256).hexdigest()
