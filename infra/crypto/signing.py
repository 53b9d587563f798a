"""Detached ML-DSA-65 signatures of audit checkpoints and SBOMs, with the keyring's versioned keys.

Signatures are over the exact bytes named (a checkpoint's text, an SBOM document as stored), with the
empty context string, so that any ML-DSA-65 (FIPS 204) verifier checks them with its defaults. Domain
separation comes from the bytes themselves: a checkpoint text begins `aiwf-checkpoint/v1\n`, an SBOM is
a JSON object. Signing is hedged (randomised, FIPS 204's default): the same bytes signed twice give two
different signatures, both valid.
"""

from __future__ import annotations

import base64
import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa

from infra.crypto.keyring import SIGNING_ALGORITHM, Keyring


class Signature(msgspec.Struct, frozen=True, kw_only=True):
    algorithm: str
    key_version: int
    signature: bytes


class PublicKey(msgspec.Struct, frozen=True, kw_only=True):
    """As served at GET /v1/audit/keys: the raw FIPS 204 public key, base64."""

    algorithm: str
    key_version: int
    public_key: str
    sha256: str  # of the raw public key: a fingerprint to pin
    created_at: datetime


def sign(keyring: Keyring, message: bytes) -> Signature:
    version = keyring.signing_version
    return Signature(
        algorithm=SIGNING_ALGORITHM,
        key_version=version,
        signature=keyring.signing_key(version).sign(message),
    )


class Verifier:
    """The public halves of every signing-key version (old versions still verify)."""

    def __init__(self, public_keys: Mapping[int, bytes]) -> None:
        self.raw = dict(public_keys)  # version → raw FIPS 204 public key: all another process needs
        self._keys = {v: mldsa.MLDSA65PublicKey.from_public_bytes(raw) for v, raw in public_keys.items()}

    @classmethod
    def of(cls, keyring: Keyring) -> Verifier:
        return cls({v.version: _public(keyring, v.version) for v in keyring.document.signing})

    def problem(self, signature: Signature, message: bytes) -> str | None:
        """Why the signature does not hold, or None when it does."""
        if signature.algorithm != SIGNING_ALGORITHM:
            return f"algorithm {signature.algorithm!r} is not {SIGNING_ALGORITHM}"
        key = self._keys.get(signature.key_version)
        if key is None:
            return f"the keyring has no signing key version {signature.key_version}"
        try:
            key.verify(signature.signature, message)
        except InvalidSignature:
            return f"the {SIGNING_ALGORITHM} signature (key version {signature.key_version}) does not verify"
        return None


def public_keys(keyring: Keyring) -> list[PublicKey]:
    out = []
    for version in sorted(keyring.document.signing, key=lambda v: v.version):
        raw = _public(keyring, version.version)
        out.append(
            PublicKey(
                algorithm=SIGNING_ALGORITHM,
                key_version=version.version,
                public_key=base64.b64encode(raw).decode(),
                sha256=hashlib.sha256(raw).hexdigest(),
                created_at=version.created_at,
            )
        )
    return out


def _public(keyring: Keyring, version: int) -> bytes:
    return keyring.signing_key(version).public_key().public_bytes_raw()


class DocumentSigner:
    """Signs documents on request, remembering the last few signatures by (sha256, key version): a
    document asked for twice gets the same signature from one process, without signing again."""

    def __init__(self, keyring: Keyring, remembered: int = 1024) -> None:
        self._keyring = keyring
        self.public_keys = public_keys(keyring)  # what GET /v1/audit/keys serves
        self.verifier = Verifier.of(keyring)  # what the API's audit verifications check signatures with
        self._remembered = remembered
        self._signed: OrderedDict[tuple[str, int], Signature] = OrderedDict()

    def sign(self, document: bytes) -> tuple[str, Signature]:
        digest = hashlib.sha256(document).hexdigest()
        key = (digest, self._keyring.signing_version)
        signature = self._signed.get(key)
        if signature is None:
            signature = sign(self._keyring, document)
            self._signed[key] = signature
            if len(self._signed) > self._remembered:
                self._signed.popitem(last=False)
        else:
            self._signed.move_to_end(key)
        return digest, signature
