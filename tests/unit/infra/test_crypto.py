"""The crypto layer on its own: the X-Wing KEM, the keyring file, sealed fields."""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

import msgspec
import pytest

from infra.crypto.fields import (
    PREFIX,
    FieldContext,
    FieldTampered,
    is_sealed,
    keyed_digest,
    open_field,
    seal_field,
)
from infra.crypto.kem import KEMS, XWING, kem_named, liboqs_present
from infra.crypto.keyring import (
    Keyring,
    KeyringError,
    load_keyring,
    new_document,
    with_new_master,
    write_keyring,
)

CONTEXT = FieldContext(tenant="acme", stream="conversation-c1", version=3, event_id="e-3", field="text")


def test_a_wrapped_secret_opens_with_its_seed_and_info_only() -> None:
    seed, other = secrets.token_bytes(32), secrets.token_bytes(32)
    wrapped = XWING.wrap(b"k" * 32, seed, b"aiwf|acme|c1")

    assert XWING.unwrap(wrapped, seed, b"aiwf|acme|c1") == b"k" * 32
    assert wrapped != XWING.wrap(b"k" * 32, seed, b"aiwf|acme|c1")  # a fresh encapsulation each time
    for seed_, info in ((other, b"aiwf|acme|c1"), (seed, b"aiwf|globex|c1")):
        with pytest.raises(Exception):  # noqa: B017, PT011 - cryptography's own error, whichever it is
            XWING.unwrap(wrapped, seed_, info)


def test_every_kem_is_found_by_the_algorithm_its_keys_name() -> None:
    assert kem_named(XWING.algorithm) is XWING
    assert set(KEMS) == {XWING.algorithm}
    with pytest.raises(ValueError, match="no KEM 'rot13'"):
        kem_named("rot13")
    assert isinstance(liboqs_present(), bool)  # asked of the dynamic loader: `oqs` is never imported


def test_a_field_opens_only_in_the_place_it_was_sealed_for() -> None:
    key = secrets.token_bytes(32)
    sealed = seal_field(key, CONTEXT, "Mon RIP 00799999001234567845")

    assert is_sealed(sealed)
    assert sealed.startswith(PREFIX)
    assert "00799999001234567845" not in sealed
    assert open_field(key, CONTEXT, sealed) == "Mon RIP 00799999001234567845"
    assert seal_field(key, CONTEXT, "x") != seal_field(key, CONTEXT, "x")  # a fresh nonce each time
    moved = [
        msgspec.structs.replace(CONTEXT, tenant="globex"),
        msgspec.structs.replace(CONTEXT, stream="conversation-c2"),
        msgspec.structs.replace(CONTEXT, version=4),
        msgspec.structs.replace(CONTEXT, event_id="e-4"),
        msgspec.structs.replace(CONTEXT, field="summary"),
    ]
    for place in moved:
        with pytest.raises(FieldTampered):
            open_field(key, place, sealed)
    with pytest.raises(FieldTampered):
        open_field(secrets.token_bytes(32), CONTEXT, sealed)
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(FieldTampered):
        open_field(key, CONTEXT, flipped)
    with pytest.raises(FieldTampered):
        open_field(key, CONTEXT, "plain text")


def test_the_keyed_digest_depends_on_the_key_and_the_content() -> None:
    key = secrets.token_bytes(32)

    assert keyed_digest(key, b"a") == keyed_digest(key, b"a")
    assert keyed_digest(key, b"a") != keyed_digest(key, b"b")
    assert keyed_digest(key, b"a") != keyed_digest(secrets.token_bytes(32), b"a")


def test_the_default_keyring_is_made_once_mode_0600_and_reread(tmp_path: Path) -> None:
    path = tmp_path / "data" / "keyring.json"

    first = load_keyring(path, from_environment=None, create=True)
    again = load_keyring(path, from_environment=None, create=True)

    assert (path.stat().st_mode & 0o777) == 0o600
    assert first.kek_seed("acme", 1) == again.kek_seed("acme", 1)
    assert first.kek_seed("acme", 1) != first.kek_seed("globex", 1)
    assert first.signing_key().public_key() == again.signing_key().public_key()
    assert "secret" not in repr(first)


def test_processes_racing_to_make_the_keyring_all_read_the_same_one(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    seeds: list[bytes] = []
    start = threading.Barrier(8)

    def make() -> None:
        start.wait()
        seeds.append(load_keyring(path, from_environment=None, create=True).kek_seed("acme", 1))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(seeds)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["keyring.json"]


def test_a_keyring_open_to_others_or_missing_when_named_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    load_keyring(path, from_environment=None, create=True)
    os.chmod(path, 0o644)

    with pytest.raises(KeyringError, match=r"open to others \(mode 644\): chmod 600"):
        load_keyring(path, from_environment=None, create=True)
    with pytest.raises(KeyringError, match=r"no keyring at .*: set AIWF_KEYRING"):
        load_keyring(tmp_path / "absent.json", from_environment=None, create=False)


def test_a_keyring_from_the_environment_needs_no_file_and_bad_ones_say_why(tmp_path: Path) -> None:
    made = new_document()
    document = msgspec.json.encode(made).decode()

    keyring = load_keyring(tmp_path / "never.json", from_environment=document, create=True)

    assert keyring.source == "AIWF_KEYRING_JSON"
    assert not (tmp_path / "never.json").exists()
    with pytest.raises(KeyringError, match="not an aiwf-keyring-1 document"):
        load_keyring(tmp_path / "x", from_environment='{"masters": 3}', create=True)
    short = document.replace(made.masters[0].secret, "c2hvcnQ=")
    with pytest.raises(KeyringError, match="a secret of 5 bytes, not 32"):
        load_keyring(tmp_path / "x", from_environment=short, create=True)


def test_a_new_master_version_becomes_current_and_the_old_ones_still_derive(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    before = load_keyring(path, from_environment=None, create=True)
    write_keyring(path, with_new_master(before.document))

    after = load_keyring(path, from_environment=None, create=True)

    assert (before.current, after.current, after.versions) == (1, 2, (1, 2))
    assert after.kek_seed("acme", 1) == before.kek_seed("acme", 1)
    assert after.kek_seed("acme", 2) != after.kek_seed("acme", 1)
    assert (path.stat().st_mode & 0o777) == 0o600
    with pytest.raises(KeyringError, match="no master version 9"):
        after.kek_seed("acme", 9)
    assert isinstance(Keyring(after.document, "test"), Keyring)
