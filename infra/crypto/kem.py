"""Key encapsulation behind a small interface: wrap a secret (a data key) for the holder of a KEM key pair.

The key pair is kept as a 32-byte seed. The default is X-Wing (draft-connolly-cfrg-xwing-kem): ML-KEM-768
and X25519, used as HPKE's `MLKEM768-X25519` KEM with HKDF-SHA256 and AES-256-GCM (RFC 9180, single-shot),
all from `cryptography`; the seed expands into both private keys as X-Wing specifies (SHAKE256 to 96
bytes: the ML-KEM seed, then the X25519 scalar). Every wrapped key names its algorithm, so another KEM
can be registered in `KEMS` without touching callers.
"""

from __future__ import annotations

import ctypes.util
import functools
import hashlib
from typing import Final, Protocol

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

SEED_BYTES: Final = 32


class Kem(Protocol):
    algorithm: str  # as recorded next to every wrapped key

    def wrap(self, secret: bytes, seed: bytes, info: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, seed: bytes, info: bytes) -> bytes: ...


class XWing:
    """HPKE with the ML-KEM-768 + X25519 KEM (X-Wing), HKDF-SHA256, AES-256-GCM."""

    algorithm: str = "X-Wing/HPKE-HKDF-SHA256-AES-256-GCM"

    def __init__(self) -> None:
        self._suite = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)

    def wrap(self, secret: bytes, seed: bytes, info: bytes) -> bytes:
        return self._suite.encrypt(secret, _private_key(seed).public_key(), info=info)

    def unwrap(self, wrapped: bytes, seed: bytes, info: bytes) -> bytes:
        return self._suite.decrypt(wrapped, _private_key(seed), info=info)


@functools.lru_cache(maxsize=256)
def _private_key(seed: bytes) -> hpke.MLKEM768X25519PrivateKey:
    if len(seed) != SEED_BYTES:
        raise ValueError(f"an X-Wing seed is {SEED_BYTES} bytes, not {len(seed)}")
    expanded = hashlib.shake_256(seed).digest(96)
    return hpke.MLKEM768X25519PrivateKey(
        mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]),
        x25519.X25519PrivateKey.from_private_bytes(expanded[64:]),
    )


def liboqs_present() -> bool:
    """Whether the liboqs C library is installed. Importing `oqs` without it makes liboqs-python try to
    download and build it, and exit the process when it cannot: ask the dynamic loader first."""
    return ctypes.util.find_library("oqs") is not None


XWING: Final = XWing()
KEMS: Final[dict[str, Kem]] = {XWING.algorithm: XWING}


def kem_named(algorithm: str) -> Kem:
    try:
        return KEMS[algorithm]
    except KeyError:
        raise ValueError(f"no KEM {algorithm!r} here (known: {', '.join(KEMS)})") from None
