"""The canonical form is reproducible by any JSON library: here, Python's stdlib `json` plays the
foreign verifier."""

from __future__ import annotations

import hashlib
import json

import msgspec

from domain.canonical import canonical_bytes, chain_hash, seal
from domain.envelope import GENESIS_HASH
from tests.support.events import message
from tests.unit.domain.test_registry import envelope_of


def foreign_canonical(raw: bytes) -> bytes:
    document = json.loads(raw)
    document.pop("hash")
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_the_stored_hash_is_reproducible_with_the_stdlib_json() -> None:
    sealed, raw = seal(envelope_of(message('Chaque matin, envoie-moi le total — فاتورة "x"\n\t')))

    expected = hashlib.sha256(bytes.fromhex(GENESIS_HASH) + foreign_canonical(raw)).hexdigest()

    assert sealed.hash == expected


def test_canonical_bytes_leave_out_the_hash_and_sort_every_key() -> None:
    sealed, _ = seal(envelope_of(message()))

    canonical = canonical_bytes(sealed)
    document = msgspec.json.decode(canonical)

    assert "hash" not in document
    assert list(document) == sorted(document)
    assert list(document["data"]) == sorted(document["data"])
    assert b" " not in canonical.replace(b"bonjour", b"")


def test_the_stored_bytes_are_the_canonical_bytes_plus_the_hash() -> None:
    sealed, raw = seal(envelope_of(message()))

    assert foreign_canonical(raw) == canonical_bytes(sealed)


def test_a_different_predecessor_gives_a_different_hash() -> None:
    canonical = canonical_bytes(envelope_of(message()))

    assert chain_hash(GENESIS_HASH, canonical) != chain_hash("ab" * 32, canonical)


def test_a_known_vector_stays_stable() -> None:
    # Pinned: a change here means every stored chain would stop verifying.
    assert chain_hash(GENESIS_HASH, b'{"a":1}') == hashlib.sha256(b"\x00" * 32 + b'{"a":1}').hexdigest()
    assert (
        chain_hash(GENESIS_HASH, b'{"a":1}')
        == "b06a229070741292512e8760f470dd7a4c46ccfdf253df781d88dabe58c1ccb1"
    )
