"""Data keys: one random AES-256 key per subject (a conversation, or a customer a tenant names), kept in
Redis only wrapped by the tenant's KEK (infra/crypto/kem.py, infra/crypto/keyring.py).

A key is made the first time a subject needs one; two processes making it at once agree on the first
stored (HSETNX). Shredding replaces the wrapped key by a tombstone, so the subject can never get a new key
that would make its old events look readable again, and tells every process (pub/sub) to drop what it
cached; cached keys also expire on their own, for a process that missed the message.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from domain.errors import ShreddedSubject
from infra.crypto.fields import KEY_BYTES
from infra.crypto.kem import XWING, Kem, kem_named
from infra.crypto.keyring import Keyring
from infra.keys import KeySpace

CACHE_S: Final = 60.0


class WrappedKey(msgspec.Struct, frozen=True, kw_only=True, tag="wrapped"):
    key_id: str
    kek_version: int
    algorithm: str
    wrapped: str  # base64
    created_at: datetime


class Tombstone(msgspec.Struct, frozen=True, kw_only=True, tag="shredded"):
    key_id: str | None
    shredded_at: datetime


Record = WrappedKey | Tombstone
_record = msgspec.json.Decoder(Record)


@dataclass(frozen=True)
class DataKey:
    key_id: str
    secret: bytes

    def __repr__(self) -> str:
        return f"DataKey(key_id={self.key_id!r}, secret=<hidden>)"


class DataKeys:
    def __init__(
        self,
        client: Any,  # a redis.asyncio client (or cluster client): one key per tenant
        keys: KeySpace,
        keyring: Keyring,
        *,
        kem: Kem = XWING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client, self._keys, self._kem, self._clock = client, keys, kem, clock
        self.keyring = keyring
        self._cache: dict[tuple[str, str], tuple[float, DataKey]] = {}

    async def for_subject(self, tenant: str, subject: str) -> DataKey:
        """The subject's key, made now if it has none. Raises ShreddedSubject."""
        cached = self._cached(tenant, subject)
        if cached is not None:
            return cached
        record = await self._read(tenant, subject)
        if record is None:
            key = DataKey(key_id=f"dk-{secrets.token_hex(8)}", secret=secrets.token_bytes(KEY_BYTES))
            wrapped = self._wrap(tenant, subject, key.key_id, key.secret, datetime.now(UTC))
            if await self._client.hsetnx(self._keys.data_keys(tenant), subject, wrapped):
                self._cache[(tenant, subject)] = (self._clock() + CACHE_S, key)
                return key
            record = await self._read(tenant, subject)  # another process stored one first: that one
        return self._opened(tenant, subject, record)

    async def existing(self, tenant: str, subject: str) -> DataKey | None:
        """The subject's key if it has one; None if it never had or it was shredded."""
        cached = self._cached(tenant, subject)
        if cached is not None:
            return cached
        record = await self._read(tenant, subject)
        if record is None or isinstance(record, Tombstone):
            return None
        return self._opened(tenant, subject, record)

    async def shred(self, tenant: str, subject: str, now: datetime | None = None) -> bool:
        """Destroy the subject's key; False when it had none (a tombstone is left either way)."""
        record = await self._read(tenant, subject)
        key_id = record.key_id if record is not None else None
        tombstone = Tombstone(key_id=key_id, shredded_at=now or datetime.now(UTC))
        await self._client.hset(self._keys.data_keys(tenant), subject, msgspec.json.encode(tombstone))
        self.forget(tenant, subject)
        await self._client.publish(self._keys.data_keys_shredded, f"{tenant} {subject}")
        return isinstance(record, WrappedKey)

    def forget(self, tenant: str, subject: str) -> None:
        self._cache.pop((tenant, subject), None)

    def forget_announced(self, message: bytes | str) -> None:
        """A message of the shredding channel: `<tenant> <subject>`."""
        text = message.decode() if isinstance(message, bytes) else message
        tenant, _, subject = text.partition(" ")
        self.forget(tenant, subject)

    async def rewrap(self, tenant: str) -> int:
        """Every key of the tenant wrapped under the keyring's current master (the keys themselves stay
        the same, so every event still opens). Returns how many were re-wrapped."""
        current = self.keyring.current
        name = self._keys.data_keys(tenant)
        count = 0
        for subject, raw in (await self._client.hgetall(name)).items():
            record = _record.decode(raw)
            if not isinstance(record, WrappedKey) or record.kek_version == current:
                continue
            subject_name = subject.decode() if isinstance(subject, bytes) else subject
            secret = self._unwrap(tenant, subject_name, record)
            fresh = self._wrap(tenant, subject_name, record.key_id, secret, record.created_at)
            # Only if it is still the record we read: a concurrent shredding wins.
            if await self._client.eval(_REPLACE_IF, 1, name, subject_name, raw, fresh):
                count += 1
        return count

    async def tenants(self) -> list[str]:
        pattern = self._keys.data_keys("*")
        prefix, suffix = pattern.split("*")
        found = [
            k.decode() if isinstance(k, bytes) else k async for k in self._client.scan_iter(match=pattern)
        ]
        return sorted(k.removeprefix(prefix).removesuffix(suffix) for k in found)

    def _cached(self, tenant: str, subject: str) -> DataKey | None:
        hit = self._cache.get((tenant, subject))
        if hit is None or hit[0] < self._clock():
            return None
        return hit[1]

    async def _read(self, tenant: str, subject: str) -> Record | None:
        raw = await self._client.hget(self._keys.data_keys(tenant), subject)
        return _record.decode(raw) if raw is not None else None

    def _opened(self, tenant: str, subject: str, record: Record | None) -> DataKey:
        if record is None or isinstance(record, Tombstone):
            raise ShreddedSubject(tenant, subject)
        key = DataKey(key_id=record.key_id, secret=self._unwrap(tenant, subject, record))
        self._cache[(tenant, subject)] = (self._clock() + CACHE_S, key)
        return key

    def _wrap(self, tenant: str, subject: str, key_id: str, secret: bytes, created_at: datetime) -> bytes:
        version = self.keyring.current
        wrapped = self._kem.wrap(
            secret, self.keyring.kek_seed(tenant, version), _info(tenant, subject, key_id)
        )
        record = WrappedKey(
            key_id=key_id,
            kek_version=version,
            algorithm=self._kem.algorithm,
            wrapped=base64.b64encode(wrapped).decode(),
            created_at=created_at,
        )
        return msgspec.json.encode(record)

    def _unwrap(self, tenant: str, subject: str, record: WrappedKey) -> bytes:
        seed = self.keyring.kek_seed(tenant, record.kek_version)
        kem = kem_named(record.algorithm)
        return kem.unwrap(base64.b64decode(record.wrapped), seed, _info(tenant, subject, record.key_id))


def _info(tenant: str, subject: str, key_id: str) -> bytes:
    """HPKE `info`: a wrapped key opens only for the tenant, subject and key id it was made for."""
    return msgspec.json.encode(["aiwf-data-key-1", tenant, subject, key_id])


_REPLACE_IF = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0
"""
