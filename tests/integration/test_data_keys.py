"""Data keys on a real Redis: made once under a race, kept only sealed under the tenant's wrapping key
(itself encapsulated with X-Wing), shredded for good (a customer with every conversation it names),
re-wrapped on rotation without changing, and dropped from every process's cache when shredded."""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from cryptography.exceptions import InvalidTag

from domain.errors import InvalidTransition, ShreddedSubject
from infra.crypto.datakeys import DataKeys, WrappedKey
from infra.crypto.kem import XWING
from infra.crypto.keyring import Keyring, load_keyring, with_new_master, write_keyring
from infra.keys import KeySpace
from infra.redis_conn import RedisConnection
from tests.integration.conftest import fresh_keys


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return load_keyring(tmp_path / "keyring.json", from_environment=None, create=True)


@pytest.fixture
async def space(standalone: RedisConnection) -> AsyncIterator[KeySpace]:
    keys = fresh_keys()
    yield keys
    async for key in standalone.client.scan_iter(match=f"{keys.prefix}:*"):
        await standalone.client.delete(key)


async def test_processes_asking_at_once_get_the_same_key_and_only_its_wrapping_is_stored(
    standalone: RedisConnection, space: KeySpace, keyring: Keyring
) -> None:
    processes = [DataKeys(standalone.client, space, keyring) for _ in range(12)]

    keys = await asyncio.gather(*(p.for_subject("acme", "c1") for p in processes))

    assert len({(k.key_id, k.secret) for k in keys}) == 1
    stored = await standalone.client.hgetall(space.data_keys("acme"))
    assert list(stored) == [b"c1"]
    assert keys[0].secret not in stored[b"c1"]
    assert base64.b64encode(keys[0].secret) not in stored[b"c1"]
    assert "secret=<hidden>" in repr(keys[0])


async def test_subjects_and_tenants_have_keys_of_their_own(
    standalone: RedisConnection, space: KeySpace, keyring: Keyring
) -> None:
    keys = DataKeys(standalone.client, space, keyring)

    one, two, other = await asyncio.gather(
        keys.for_subject("acme", "c1"), keys.for_subject("acme", "c2"), keys.for_subject("globex", "c1")
    )

    assert len({one.secret, two.secret, other.secret}) == 3
    assert await keys.tenants() == ["acme", "globex"]
    assert await keys.existing("acme", "c3") is None


async def test_a_shredded_subject_gets_no_key_again_and_every_process_forgets_it(
    standalone: RedisConnection, space: KeySpace, keyring: Keyring
) -> None:
    writer, reader = DataKeys(standalone.client, space, keyring), DataKeys(standalone.client, space, keyring)
    key = await writer.for_subject("acme", "c1")
    assert await reader.existing("acme", "c1") == key  # now cached by the reader
    pubsub = standalone.client.pubsub()
    await pubsub.subscribe(space.data_keys_shredded)
    await pubsub.get_message(timeout=1.0)  # the subscription's confirmation

    assert await writer.shred("acme", "c1") == ["c1"]
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2.0)
    assert message is not None
    reader.forget_announced(message["data"])
    await pubsub.aclose()

    assert await reader.existing("acme", "c1") is None
    for keys in (writer, reader):
        with pytest.raises(ShreddedSubject, match="subject c1 was shredded"):
            await keys.for_subject("acme", "c1")
    dump = b"".join(v for v in (await standalone.client.hgetall(space.data_keys("acme"))).values())
    assert key.secret not in dump
    assert b"wrapped" not in dump
    assert await writer.shred("acme", "never-had-one") == []


async def test_a_cached_key_expires_for_a_process_that_missed_the_shredding(
    standalone: RedisConnection, space: KeySpace, keyring: Keyring
) -> None:
    now = [0.0]
    deaf = DataKeys(standalone.client, space, keyring, clock=lambda: now[0])
    await deaf.for_subject("acme", "c1")
    await DataKeys(standalone.client, space, keyring).shred("acme", "c1")

    assert await deaf.existing("acme", "c1") is not None  # still cached: it did not hear
    now[0] += 61
    assert await deaf.existing("acme", "c1") is None


async def test_a_tenant_has_one_wrapping_key_encapsulated_with_x_wing_and_each_data_key_sealed_under_it(
    standalone: RedisConnection, space: KeySpace, keyring: Keyring
) -> None:
    processes = [DataKeys(standalone.client, space, keyring) for _ in range(6)]

    made = await asyncio.gather(*(p.for_subject("acme", f"c{i}") for i, p in enumerate(processes)))

    wrapping = await standalone.client.hgetall(space.wrapping_keys("acme"))
    current = wrapping.pop(b"current")
    assert list(wrapping) == [current]  # one, however many processes raced to make it
    assert b'"algorithm":"X-Wing/HPKE-HKDF-SHA256-AES-256-GCM"' in wrapping[current]
    records = await standalone.client.hgetall(space.data_keys("acme"))
    assert len(records) == 6
    under = b'"wrapping_key":"' + current + b'"'
    assert all(b'"type":"sealed"' in r and under in r for r in records.values())
    assert all(k.secret not in r for k in made for r in records.values())
    fresh = DataKeys(standalone.client, space, keyring)
    assert [await fresh.existing("acme", f"c{i}") for i in range(6)] == made


async def test_a_data_key_record_moved_to_another_subject_does_not_open_there(
    standalone: RedisConnection, space: KeySpace, keyring: Keyring
) -> None:
    keys = DataKeys(standalone.client, space, keyring)
    await keys.for_subject("acme", "c1")
    name = space.data_keys("acme")
    await standalone.client.hset(name, "c2", await standalone.client.hget(name, "c1"))

    with pytest.raises(InvalidTag):
        await DataKeys(standalone.client, space, keyring).existing("acme", "c2")


async def test_rotation_rewraps_the_wrapping_key_under_the_new_master_and_the_keys_stay_the_same(
    standalone: RedisConnection, space: KeySpace, tmp_path: Path
) -> None:
    path = tmp_path / "keyring.json"
    before = load_keyring(path, from_environment=None, create=True)
    keys = DataKeys(standalone.client, space, before)
    made = [await keys.for_subject("acme", f"c{i}") for i in range(3)]
    await keys.shred("acme", "c2")
    write_keyring(path, with_new_master(before.document))
    after = load_keyring(path, from_environment=None, create=True)
    rotated = DataKeys(standalone.client, space, after)

    count = await rotated.rewrap("acme")
    again = await rotated.rewrap("acme")

    assert (count, again) == (1, 0)  # one wrapping key, however many data keys
    fresh = DataKeys(standalone.client, space, after)
    assert [await fresh.existing("acme", f"c{i}") for i in range(3)] == [made[0], made[1], None]
    wrapping = await standalone.client.hgetall(space.wrapping_keys("acme"))
    assert b'"kek_version":2' in wrapping[wrapping[b"current"]]


async def test_a_key_encapsulated_directly_before_wrapping_keys_still_opens_and_rotation_moves_it_under_one(
    standalone: RedisConnection, space: KeySpace, keyring: Keyring
) -> None:
    secret = secrets.token_bytes(32)
    info = json.dumps(["aiwf-data-key-1", "acme", "c1", "dk-old"], separators=(",", ":")).encode()
    wrapped = XWING.wrap(secret, keyring.kek_seed("acme", keyring.current), info)
    record = WrappedKey(
        key_id="dk-old",
        kek_version=keyring.current,
        algorithm=XWING.algorithm,
        wrapped=base64.b64encode(wrapped).decode(),
        created_at=datetime.now(UTC),
    )
    await standalone.client.hset(space.data_keys("acme"), "c1", msgspec.json.encode(record))

    opened = await DataKeys(standalone.client, space, keyring).existing("acme", "c1")
    moved = await DataKeys(standalone.client, space, keyring).rewrap("acme")

    assert opened is not None
    assert (opened.key_id, opened.secret) == ("dk-old", secret)
    assert moved == 1
    stored = await standalone.client.hget(space.data_keys("acme"), "c1")
    assert b'"type":"sealed"' in stored
    assert await DataKeys(standalone.client, space, keyring).existing("acme", "c1") == opened


async def test_shredding_a_customer_shreds_every_conversation_enrolled_under_it_and_no_other(
    standalone: RedisConnection, space: KeySpace, keyring: Keyring
) -> None:
    keys = DataKeys(standalone.client, space, keyring)
    other_process = DataKeys(standalone.client, space, keyring)
    first = await keys.enroll("acme", "c1", "customer:42")
    again = await other_process.enroll("acme", "c1", "customer:42")  # a retried start: the same key
    await keys.enroll("acme", "c2", "customer:42")
    await keys.enroll("acme", "c3", "customer:7")
    await keys.for_subject("acme", "c4")
    await other_process.existing("acme", "c2")  # cached there

    destroyed = await keys.shred("acme", "customer:42")

    assert again == first
    assert sorted(destroyed) == ["c1", "c2"]
    assert await keys.group_of("acme", "c3") == "customer:7"
    assert [await keys.existing("acme", c) is None for c in ("c1", "c2", "c3", "c4")] == [
        True,
        True,
        False,
        False,
    ]
    with pytest.raises(ShreddedSubject, match="subject customer:42 was shredded"):
        await keys.enroll("acme", "c5", "customer:42")
    with pytest.raises(InvalidTransition):
        await keys.enroll("acme", "c4", "customer:7")  # c4 has a key of its own already
    assert await keys.is_group("acme", "customer:42")
    assert not await keys.is_group("acme", "c4")
    assert not await standalone.client.exists(space.subject_members("acme", "customer:42"))


async def test_shredding_one_conversation_of_a_customer_leaves_its_other_conversations(
    standalone: RedisConnection, space: KeySpace, keyring: Keyring
) -> None:
    keys = DataKeys(standalone.client, space, keyring)
    await keys.enroll("acme", "c1", "customer:42")
    kept = await keys.enroll("acme", "c2", "customer:42")

    assert await keys.shred("acme", "c1") == ["c1"]
    assert await DataKeys(standalone.client, space, keyring).existing("acme", "c2") == kept
    assert sorted(await keys.shred("acme", "customer:42")) == ["c2"]


async def test_aiwf_keys_rotate_adds_a_master_and_rewraps_what_is_stored(
    standalone: RedisConnection, space: KeySpace, tmp_path: Path, redis_url: str
) -> None:
    before = load_keyring(tmp_path / "keyring.json", from_environment=None, create=True)
    made = await DataKeys(standalone.client, space, before).for_subject("acme", "c1")
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "AIWF_DATA_DIR": str(tmp_path),
        "AIWF_KEY_PREFIX": space.prefix,
        "AIWF_PARTITIONS": str(space.partitions),
    }
    run = functools.partial(subprocess.run, capture_output=True, text=True, timeout=60, check=False)

    rotated = await asyncio.to_thread(run, [sys.executable, "-m", "infra.cli", "keys", "rotate"], env=env)
    missing = await asyncio.to_thread(
        run,
        [sys.executable, "-m", "infra.cli", "keys", "rotate"],
        env={**env, "AIWF_KEYRING": str(tmp_path / "absent.json")},
    )

    assert rotated.returncode == 0, rotated.stderr
    assert "master v2" in rotated.stdout
    assert "acme: 1 keys re-wrapped" in rotated.stdout
    after = load_keyring(tmp_path / "keyring.json", from_environment=None, create=False)
    assert await DataKeys(standalone.client, space, after).existing("acme", "c1") == made
    assert missing.returncode == 2
    assert "no keyring at" in missing.stderr
