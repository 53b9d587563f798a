"""ML-DSA-65 signatures of checkpoints and documents with the keyring's versioned keys."""

from __future__ import annotations

import base64
import hashlib

import msgspec
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA65PublicKey

from infra.crypto.keyring import Keyring, SigningVersion, new_document
from infra.crypto.signing import DocumentSigner, Verifier, public_keys, sign

KEYRING = Keyring(new_document(), "tests")


def rotated(keyring: Keyring) -> Keyring:
    document = keyring.document
    newer = SigningVersion(
        version=2, seed=base64.b64encode(bytes(32)).decode(), created_at=document.signing[0].created_at
    )
    return Keyring(msgspec.structs.replace(document, signing=(*document.signing, newer)), "tests")


def test_a_signature_verifies_with_any_fips_204_verifier_and_the_empty_context() -> None:
    signature = sign(KEYRING, b"aiwf-checkpoint/v1\n")
    [key] = public_keys(KEYRING)
    public = MLDSA65PublicKey.from_public_bytes(base64.b64decode(key.public_key))

    public.verify(signature.signature, b"aiwf-checkpoint/v1\n")
    public.verify(signature.signature, b"aiwf-checkpoint/v1\n", b"")
    assert (signature.algorithm, signature.key_version) == ("ML-DSA-65", 1)
    assert key.sha256 == hashlib.sha256(base64.b64decode(key.public_key)).hexdigest()


def test_the_verifier_names_what_does_not_hold() -> None:
    verifier = Verifier.of(KEYRING)
    signature = sign(KEYRING, b"bytes")

    assert verifier.problem(signature, b"bytes") is None
    assert "does not verify" in (verifier.problem(signature, b"other bytes") or "")
    unknown = msgspec.structs.replace(signature, key_version=7)
    assert "no signing key version 7" in (verifier.problem(unknown, b"bytes") or "")
    renamed = msgspec.structs.replace(signature, algorithm="Ed25519")
    assert "is not ML-DSA-65" in (verifier.problem(renamed, b"bytes") or "")


def test_old_signatures_still_verify_after_a_new_signing_key() -> None:
    old = sign(KEYRING, b"bytes")
    keyring = rotated(KEYRING)
    new = sign(keyring, b"bytes")

    verifier = Verifier(Verifier.of(keyring).raw)  # as another process rebuilds it from public keys
    assert new.key_version == 2
    assert verifier.problem(old, b"bytes") is None
    assert verifier.problem(new, b"bytes") is None
    assert [k.key_version for k in public_keys(keyring)] == [1, 2]


def test_a_document_asked_for_twice_gets_the_same_signature() -> None:
    signer = DocumentSigner(KEYRING, remembered=2)
    digest, first = signer.sign(b"{}")
    _, again = signer.sign(b"{}")
    signer.sign(b"[1]")
    signer.sign(b"[2]")  # {} is forgotten now
    _, later = signer.sign(b"{}")

    assert digest == hashlib.sha256(b"{}").hexdigest()
    assert again == first
    assert later != first  # signing is hedged: a new signature, as valid
    assert Verifier.of(KEYRING).problem(later, b"{}") is None
