"""Data keys on a real Redis: made once under a race, kept only wrapped, shredded for good, re-wrapped on
rotation without changing, and dropped from every process's cache when shredded."""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from domain.errors import ShreddedSubject
from infra.crypto.datakeys import DataKeys
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

    assert await writer.shred("acme", "c1") is True
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
    assert await writer.shred("acme", "never-had-one") is False


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


async def test_rotation_rewraps_every_key_under_the_new_master_and_the_keys_stay_the_same(
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

    assert (count, again) == (2, 0)
    fresh = DataKeys(standalone.client, space, after)
    assert [await fresh.existing("acme", f"c{i}") for i in range(3)] == [made[0], made[1], None]
    stored = await standalone.client.hget(space.data_keys("acme"), "c0")
    assert b'"kek_version":2' in stored


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
    assert "acme: 1 data keys re-wrapped" in rotated.stdout
    after = load_keyring(tmp_path / "keyring.json", from_environment=None, create=False)
    assert await DataKeys(standalone.client, space, after).existing("acme", "c1") == made
    assert missing.returncode == 2
    assert "no keyring at" in missing.stderr
