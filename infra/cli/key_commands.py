"""`aiwf keys rotate`: a new master version in the keyring, then every tenant's wrapping key (and any data
key made before wrapping keys) re-wrapped under it."""

from __future__ import annotations

import argparse
import sys

from infra.crypto.datakeys import DataKeys
from infra.crypto.keyring import KeyringError, load_keyring, with_new_master, write_keyring
from infra.runtime import keyspace, open_redis
from infra.settings import Settings


async def rotate(settings: Settings, _args: argparse.Namespace) -> int:
    if settings.keyring_json is not None:
        print("aiwf: the keyring comes from AIWF_KEYRING_JSON: rotate it where it is kept", file=sys.stderr)
        return 2
    path = settings.keyring_file
    try:
        before = load_keyring(path, from_environment=None, create=False)
        write_keyring(path, with_new_master(before.document))
        keyring = load_keyring(path, from_environment=None, create=False)
    except KeyringError as exc:
        print(f"aiwf: {exc}", file=sys.stderr)
        return 2
    notes: list[str] = []
    async with open_redis(settings, notes) as (redis, _url):
        keys = DataKeys(redis.client, keyspace(settings), keyring)
        counts = {tenant: await keys.rewrap(tenant) for tenant in await keys.tenants()}
    print(f"keyring {path}: master v{keyring.current} (older versions kept for keys not re-wrapped yet)")
    for tenant, count in counts.items():
        print(f"  {tenant}: {count} keys re-wrapped")
    return 0
