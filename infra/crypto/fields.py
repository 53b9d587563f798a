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
import os
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
        return self.event_part() + _field_part(self.field)

    def event_part(self) -> bytes:
        """The associated data's opening, shared by every field of one event (built once per event)."""
        opening = ["aiwf-field-1", self.tenant, self.stream, self.version, self.event_id]
        return msgspec.json.encode(opening)[:-1]


class FieldSealer:
    """Seals the fields of one event: the key's cipher and the event's place are prepared once."""

    def __init__(self, key: AESGCM, place: FieldContext) -> None:
        self._aead, self._event = key, place.event_part()

    def __call__(self, path: str, plaintext: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), self._event + _field_part(path))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def _field_part(path: str) -> bytes:
    """`,"<path>"]`: the rest of `["aiwf-field-1", tenant, stream, version, event id, path]` as JSON."""
    return b"," + msgspec.json.encode(path) + b"]"


class FieldTampered(Exception):
    """The value does not open with this key in this place: moved, edited, or sealed under another key."""


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def seal_field(key: bytes | AESGCM, context: FieldContext, plaintext: str) -> str:
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = _aead(key).encrypt(nonce, plaintext.encode(), context.associated_data())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def open_field(key: bytes | AESGCM, context: FieldContext, value: str) -> str:
    if not is_sealed(value):
        raise FieldTampered(f"{context.field} of {context.event_id} is not a sealed value")
    body = value.removeprefix(PREFIX)
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        opened = _aead(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.associated_data())
    except (ValueError, InvalidTag):
        raise FieldTampered(f"{context.field} of {context.event_id} does not open here") from None
    return opened.decode()


def keyed_digest(key: bytes | hmac.HMAC, content: bytes) -> str:
    """The idempotency digest of an event with sealed fields: of its plaintext, keyed by its data key, so a
    retried append matches while nothing in the store lets anyone confirm a guess of the plaintext (and,
    once the key is shredded, nobody can). `key` may be the key's prepared MAC (`digest_mac`)."""
    mac = key.copy() if isinstance(key, hmac.HMAC) else digest_mac(key)
    mac.update(content)
    return mac.hexdigest()


def digest_mac(key: bytes) -> hmac.HMAC:
    """HMAC-SHA256 under `key`, already fed the digest's label: copied per event, never updated itself."""
    return hmac.new(key, b"aiwf-digest-1", hashlib.sha256)


def _aead(key: bytes | AESGCM) -> AESGCM:
    return key if isinstance(key, AESGCM) else AESGCM(key)
