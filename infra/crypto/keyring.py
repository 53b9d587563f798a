"""The keyring: versioned master secrets from which every tenant's key-encryption key derives, and the
versioned signing keys of audits and SBOMs.

Where it comes from: `AIWF_KEYRING_JSON` (the document itself, e.g. from a secret store), else the file
`AIWF_KEYRING` (default `<AIWF_DATA_DIR>/keyring.json`, created on first start with mode 0600 when it is
the default). A file readable by anyone but its owner is refused at start-up. A KMS can come later behind
the same class.

A tenant's KEK of version v is an X-Wing key pair whose seed is HKDF-SHA256(master v, "aiwf kek/<tenant>"):
the file holds one secret per version, not one per tenant, and a new tenant needs no write. Rotating adds a
version; data keys are then re-wrapped under it (`aiwf keys rotate`), and the old versions stay so that
anything not yet re-wrapped still opens.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import mldsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from infra.crypto.kem import SEED_BYTES

FORMAT: Final = "aiwf-keyring-1"
SIGNING_ALGORITHM: Final = "ML-DSA-65"


class KeyringError(Exception):
    """The keyring cannot be used as it is; the message says what to change (it never quotes a secret)."""


class MasterVersion(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    secret: str  # base64 of 32 random bytes
    created_at: datetime


class SigningVersion(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    algorithm: Literal["ML-DSA-65"] = SIGNING_ALGORITHM
    seed: str  # base64 of the 32-byte ML-DSA seed
    created_at: datetime


class KeyringDocument(msgspec.Struct, frozen=True, kw_only=True):
    format: Literal["aiwf-keyring-1"] = FORMAT
    masters: tuple[MasterVersion, ...]
    signing: tuple[SigningVersion, ...]


class Keyring:
    def __init__(self, document: KeyringDocument, source: str) -> None:
        if not document.masters or not document.signing:
            raise KeyringError(f"the keyring from {source} has no master or no signing key")
        self.document = document
        self.source = source
        self._masters = {m.version: _secret(m.secret, source) for m in document.masters}
        self._signing = {s.version: _secret(s.seed, source) for s in document.signing}

    def __repr__(self) -> str:
        versions = f"masters={sorted(self._masters)}, signing={sorted(self._signing)}"
        return f"Keyring(source={self.source!r}, {versions})"

    @property
    def current(self) -> int:
        """The master version new data keys are wrapped under."""
        return max(self._masters)

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self._masters))

    def kek_seed(self, tenant: str, version: int) -> bytes:
        master = self._masters.get(version)
        if master is None:
            raise KeyringError(f"the keyring from {self.source} has no master version {version}")
        derive = HKDF(
            algorithm=hashes.SHA256(), length=SEED_BYTES, salt=None, info=f"aiwf kek/{tenant}".encode()
        )
        return derive.derive(master)

    def secret(self, purpose: str) -> bytes:
        """A stable secret for one purpose (HMAC keys): from the first master, so that a rotation does
        not change what it computes."""
        derive = HKDF(
            algorithm=hashes.SHA256(), length=SEED_BYTES, salt=None, info=f"aiwf secret/{purpose}".encode()
        )
        return derive.derive(self._masters[min(self._masters)])

    @property
    def signing_version(self) -> int:
        return max(self._signing)

    def signing_key(self, version: int | None = None) -> mldsa.MLDSA65PrivateKey:
        seed = self._signing.get(self.signing_version if version is None else version)
        if seed is None:
            raise KeyringError(f"the keyring from {self.source} has no signing key version {version}")
        return mldsa.MLDSA65PrivateKey.from_seed_bytes(seed)


def new_document(now: datetime | None = None) -> KeyringDocument:
    at = now or datetime.now(UTC)
    return KeyringDocument(
        masters=(MasterVersion(version=1, secret=_random(), created_at=at),),
        signing=(SigningVersion(version=1, seed=_random(), created_at=at),),
    )


def with_new_master(document: KeyringDocument, now: datetime | None = None) -> KeyringDocument:
    version = max(m.version for m in document.masters) + 1
    master = MasterVersion(version=version, secret=_random(), created_at=now or datetime.now(UTC))
    return msgspec.structs.replace(document, masters=(*document.masters, master))


def load_keyring(path: Path, *, from_environment: str | None, create: bool) -> Keyring:
    """From the environment's document, else the file (created when `create` and missing)."""
    if from_environment is not None:
        return Keyring(_decode(from_environment.encode(), "AIWF_KEYRING_JSON"), "AIWF_KEYRING_JSON")
    if not path.exists():
        if not create:
            raise KeyringError(
                f"no keyring at {path}: set AIWF_KEYRING to an existing file (mode 0600), or unset it "
                "for the one the platform makes on its first start"
            )
        _create(path, new_document())
    check_permissions(path)
    return Keyring(_decode(path.read_bytes(), str(path)), str(path))


def write_keyring(path: Path, document: KeyringDocument) -> None:
    """Replace the file atomically (a rotation: one operator at a time)."""
    temporary = _written(path, document)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _create(path: Path, document: KeyringDocument) -> None:
    """Made once: a process that loses the race to another reads the winner's (two keyrings would wrap
    data keys under masters the other never sees)."""
    temporary = _written(path, document)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)


def _written(path: Path, document: KeyringDocument) -> Path:
    """The document in a new file beside `path`, mode 0600 from the first byte, flushed to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(msgspec.json.format(msgspec.json.encode(document), indent=2))
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def check_permissions(path: Path) -> None:
    info = path.stat()
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyringError(
            f"the keyring {path} is open to others (mode {stat.S_IMODE(info.st_mode):o}): chmod 600 {path}"
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise KeyringError(f"the keyring {path} belongs to another user (uid {info.st_uid})")


def _decode(raw: bytes, source: str) -> KeyringDocument:
    try:
        return msgspec.json.decode(raw, type=KeyringDocument)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        # msgspec's message names the path and the expected type, never the value.
        raise KeyringError(f"the keyring from {source} is not an {FORMAT} document: {exc}") from None


def _secret(value: str, source: str) -> bytes:
    try:
        secret = base64.b64decode(value, validate=True)
    except ValueError:
        raise KeyringError(f"the keyring from {source} holds a secret that is not base64") from None
    if len(secret) != SEED_BYTES:
        raise KeyringError(
            f"the keyring from {source} holds a secret of {len(secret)} bytes, not {SEED_BYTES}"
        )
    return secret


def _random() -> str:
    return base64.b64encode(secrets.token_bytes(SEED_BYTES)).decode()
