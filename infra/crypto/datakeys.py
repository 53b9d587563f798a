"""Data keys: one random AES-256 key per subject (a conversation), kept in Redis only wrapped.

Two levels, as key-management services keep them (docs/adr/0025): each tenant has a random *wrapping key*,
stored only encapsulated to the tenant's KEK with X-Wing (infra/crypto/kem.py, infra/crypto/keyring.py);
each data key is stored sealed by AES-256-GCM under that wrapping key, its associated data binding the
tenant, the subject, the key id and the wrapping key id. A new subject then costs one AES-GCM call and one
Redis round trip, and rotating the master re-encapsulates one key per tenant. Data keys made before the
wrapping keys existed are encapsulated to the KEK directly; they still open, and rotation moves them under
the wrapping key.

A key is made the first time a subject needs one; two processes making it at once agree on the first
stored (one script). A tenant may group subjects under a customer it names (`enroll`): shredding the
customer shreds every member with it, in the same script. Shredding replaces a wrapped key by a tombstone,
so the subject can never get a new key that would make its old events look readable again, and tells every
process (pub/sub) to drop what it cached; cached keys also expire on their own, for a process that missed
the message.
"""

from __future__ import annotations

import base64
import functools
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.errors import InvalidTransition, ShreddedSubject
from infra.crypto.fields import ALGORITHM, KEY_BYTES, NONCE_BYTES, digest_mac
from infra.crypto.kem import XWING, Kem, kem_named
from infra.crypto.keyring import Keyring
from infra.keys import KeySpace

CACHE_S: Final = 60.0
CURRENT: Final = "current"  # the wrapping keys' field naming the one new data keys go under


class WrappedKey(msgspec.Struct, frozen=True, kw_only=True, tag="wrapped"):
    """A secret encapsulated to the tenant's KEK of `kek_version`: a wrapping key (or an older data key)."""

    key_id: str
    kek_version: int
    algorithm: str
    wrapped: str  # base64
    created_at: datetime


class SealedKey(msgspec.Struct, frozen=True, kw_only=True, tag="sealed"):
    """A data key sealed under one of the tenant's wrapping keys; `group` is the customer it belongs to."""

    key_id: str
    wrapping_key: str
    algorithm: str = ALGORITHM
    wrapped: str  # base64 of nonce ‖ ciphertext
    group: str | None = None
    created_at: datetime


class Group(msgspec.Struct, frozen=True, kw_only=True, tag="group"):
    """A customer a tenant named: no key of its own, its members are shredded with it."""

    created_at: datetime


class Tombstone(msgspec.Struct, frozen=True, kw_only=True, tag="shredded"):
    key_id: str | None
    shredded_at: datetime


Record = WrappedKey | SealedKey | Group | Tombstone
_record = msgspec.json.Decoder(Record)
_wrapping = msgspec.json.Decoder(WrappedKey)


@dataclass(frozen=True)
class DataKey:
    key_id: str
    secret: bytes

    def __repr__(self) -> str:
        return f"DataKey(key_id={self.key_id!r}, secret=<hidden>)"

    @functools.cached_property
    def aead(self) -> AESGCM:
        """Built once per key: sealing a field then costs one AES-GCM call."""
        return AESGCM(self.secret)

    @functools.cached_property
    def mac(self) -> hmac.HMAC:
        """Prepared once per key: an event's keyed digest then costs one copy and one update."""
        return digest_mac(self.secret)


class DataKeys:
    def __init__(
        self,
        client: Any,  # a redis.asyncio client (or cluster client): one slot per tenant
        keys: KeySpace,
        keyring: Keyring,
        *,
        kem: Kem = XWING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client, self._keys, self._kem, self._clock = client, keys, kem, clock
        self.keyring = keyring
        self._cache: dict[tuple[str, str], tuple[float, DataKey]] = {}
        self._wrapping_keys: dict[tuple[str, str], DataKey] = {}  # never shredded: kept for the process
        self._current: dict[str, DataKey] = {}

    async def for_subject(self, tenant: str, subject: str) -> DataKey:
        """The subject's key, made now if it has none. Raises ShreddedSubject."""
        cached = self._cached(tenant, subject)
        if cached is not None:
            return cached
        key, record = await self._new_key(tenant, subject, group=None)
        kept = await self._client.eval(_GET_OR_SET, 1, self._keys.data_keys(tenant), subject, record)
        if kept is None:
            return self._remember(tenant, subject, key)
        return await self._opened(tenant, subject, _record.decode(kept))

    async def enroll(self, tenant: str, subject: str, group: str) -> DataKey:
        """The subject's key as a member of `group` (a customer), made now if it has none. Raises
        ShreddedSubject when the group was shredded, InvalidTransition when the subject already has a key
        outside it (a conversation's customer is fixed when it starts)."""
        key, record = await self._new_key(tenant, subject, group=group)
        group_record = msgspec.json.encode(Group(created_at=datetime.now(UTC)))
        reply = await self._client.eval(
            _ENROLL,
            2,
            self._keys.data_keys(tenant),
            self._keys.subject_members(tenant, group),
            subject,
            record,
            group,
            group_record,
        )
        status = _text(reply[0])
        if status == "shredded":
            raise ShreddedSubject(tenant, group)
        if status == "made":
            return self._remember(tenant, subject, key)
        kept = _record.decode(reply[1])
        if not isinstance(kept, SealedKey) or kept.group != group:
            raise InvalidTransition(f"subject {subject} has a key already, outside {group}")
        return await self._opened(tenant, subject, kept)

    async def existing(self, tenant: str, subject: str) -> DataKey | None:
        """The subject's key if it has one; None if it never had or it was shredded."""
        cached = self._cached(tenant, subject)
        if cached is not None:
            return cached
        raw = await self._client.hget(self._keys.data_keys(tenant), subject)
        record = _record.decode(raw) if raw is not None else None
        if not isinstance(record, WrappedKey | SealedKey):
            return None
        return await self._opened(tenant, subject, record)

    async def group_of(self, tenant: str, subject: str) -> str | None:
        """The customer a subject belongs to, if any."""
        raw = await self._client.hget(self._keys.data_keys(tenant), subject)
        record = _record.decode(raw) if raw is not None else None
        return record.group if isinstance(record, SealedKey) else None

    async def is_group(self, tenant: str, subject: str) -> bool:
        """Whether `subject` is a customer the tenant named (shredded or not)."""
        raw = await self._client.hget(self._keys.data_keys(tenant), subject)
        return raw is not None and isinstance(_record.decode(raw), Group | Tombstone)

    async def shred(self, tenant: str, subject: str, now: datetime | None = None) -> list[str]:
        """Destroy the subject's key, and every member's when it is a customer; a tombstone is left either
        way. Returns the subjects whose keys were destroyed."""
        at = (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
        reply = await self._client.eval(
            _SHRED,
            2,
            self._keys.data_keys(tenant),
            self._keys.subject_members(tenant, subject),
            subject,
            at,
        )
        destroyed = [_text(s) for s in reply]
        for gone in {subject, *destroyed}:
            self.forget(tenant, gone)
            await self._client.publish(self._keys.data_keys_shredded, f"{tenant} {gone}")
        return destroyed

    def forget(self, tenant: str, subject: str) -> None:
        self._cache.pop((tenant, subject), None)

    def forget_announced(self, message: bytes | str) -> str:
        """A message of the shredding channel: `<tenant> <subject>`; returns the tenant."""
        tenant, _, subject = _text(message).partition(" ")
        self.forget(tenant, subject)
        return tenant

    async def rewrap(self, tenant: str) -> int:
        """The tenant's wrapping keys encapsulated to the keyring's current master, and data keys still
        encapsulated directly moved under the current wrapping key (the keys themselves stay the same, so
        every event still opens). Returns how many records were re-wrapped."""
        current = self.keyring.current
        count = 0
        name = self._keys.wrapping_keys(tenant)
        for field, raw in (await self._client.hgetall(name)).items():
            key_id = _text(field)
            if key_id == CURRENT:
                continue
            wrapping_record = _wrapping.decode(raw)
            if wrapping_record.kek_version == current:
                continue
            secret = self._unwrap(tenant, _wrapping_info(tenant, key_id), wrapping_record)
            fresh = self._encapsulated(tenant, key_id, secret, wrapping_record.created_at)
            count += await self._client.eval(_REPLACE_IF, 1, name, key_id, raw, fresh)
        name = self._keys.data_keys(tenant)
        for field, raw in (await self._client.hgetall(name)).items():
            record = _record.decode(raw)
            if not isinstance(record, WrappedKey):
                continue
            subject = _text(field)
            secret = self._unwrap(tenant, _legacy_info(tenant, subject, record.key_id), record)
            wrapping = await self._wrapping_key(tenant)
            kept = DataKey(key_id=record.key_id, secret=secret)
            moved = _sealed_record(
                tenant, subject, kept, wrapping=wrapping, group=None, created_at=record.created_at
            )
            # Only if it is still the record we read: a concurrent shredding wins.
            count += await self._client.eval(_REPLACE_IF, 1, name, subject, raw, moved)
        return count

    async def tenants(self) -> list[str]:
        pattern = self._keys.data_keys("*")
        prefix, suffix = pattern.split("*")
        found = [_text(k) async for k in self._client.scan_iter(match=pattern)]
        return sorted(k.removeprefix(prefix).removesuffix(suffix) for k in found)

    def _cached(self, tenant: str, subject: str) -> DataKey | None:
        hit = self._cache.get((tenant, subject))
        if hit is None or hit[0] < self._clock():
            return None
        return hit[1]

    def _remember(self, tenant: str, subject: str, key: DataKey) -> DataKey:
        self._cache[(tenant, subject)] = (self._clock() + CACHE_S, key)
        return key

    async def _new_key(self, tenant: str, subject: str, *, group: str | None) -> tuple[DataKey, bytes]:
        """A fresh data key and the record that keeps it, sealed under the tenant's wrapping key."""
        key = DataKey(key_id=f"dk-{secrets.token_hex(8)}", secret=secrets.token_bytes(KEY_BYTES))
        wrapping = await self._wrapping_key(tenant)
        now = datetime.now(UTC)
        return key, _sealed_record(tenant, subject, key, wrapping=wrapping, group=group, created_at=now)

    async def _opened(self, tenant: str, subject: str, record: Record) -> DataKey:
        if isinstance(record, SealedKey):
            wrapping = await self._wrapping_key(tenant, record.wrapping_key)
            raw = base64.b64decode(record.wrapped)
            aad = _data_key_aad(tenant, subject, record.key_id, wrapping.key_id)
            secret = wrapping.aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        elif isinstance(record, WrappedKey):
            secret = self._unwrap(tenant, _legacy_info(tenant, subject, record.key_id), record)
        else:
            raise ShreddedSubject(tenant, subject)
        return self._remember(tenant, subject, DataKey(key_id=record.key_id, secret=secret))

    async def _wrapping_key(self, tenant: str, key_id: str | None = None) -> DataKey:
        """The tenant's current wrapping key (made on its first data key), or the one named."""
        if key_id is None and tenant in self._current:
            return self._current[tenant]
        if key_id is not None and (tenant, key_id) in self._wrapping_keys:
            return self._wrapping_keys[(tenant, key_id)]
        name = self._keys.wrapping_keys(tenant)
        wanted = key_id
        if wanted is None:
            reply = await self._client.eval(_READ_CURRENT, 1, name)
            if reply is None:
                reply = await self._make_wrapping_key(tenant)
            key_id, raw = _text(reply[0]), reply[1]
        else:
            raw = await self._client.hget(name, wanted)
            if raw is None:
                raise LookupError(f"wrapping key {wanted} of {tenant} is missing")
            key_id = wanted
        secret = self._unwrap(tenant, _wrapping_info(tenant, key_id), _wrapping.decode(raw))
        key = self._wrapping_keys.setdefault((tenant, key_id), DataKey(key_id=key_id, secret=secret))
        if wanted is None:
            self._current[tenant] = key
        return key

    async def _make_wrapping_key(self, tenant: str) -> list[Any]:
        key_id = f"wk-{secrets.token_hex(8)}"
        record = self._encapsulated(tenant, key_id, secrets.token_bytes(KEY_BYTES), datetime.now(UTC))
        reply = await self._client.eval(_MAKE_CURRENT, 1, self._keys.wrapping_keys(tenant), key_id, record)
        return list(reply)

    def _encapsulated(self, tenant: str, key_id: str, secret: bytes, created_at: datetime) -> bytes:
        version = self.keyring.current
        seed = self.keyring.kek_seed(tenant, version)
        wrapped = self._kem.wrap(secret, seed, _wrapping_info(tenant, key_id))
        record = WrappedKey(
            key_id=key_id,
            kek_version=version,
            algorithm=self._kem.algorithm,
            wrapped=base64.b64encode(wrapped).decode(),
            created_at=created_at,
        )
        return msgspec.json.encode(record)

    def _unwrap(self, tenant: str, info: bytes, record: WrappedKey) -> bytes:
        seed = self.keyring.kek_seed(tenant, record.kek_version)
        return kem_named(record.algorithm).unwrap(base64.b64decode(record.wrapped), seed, info)


def _sealed_record(
    tenant: str,
    subject: str,
    key: DataKey,
    *,
    wrapping: DataKey,
    group: str | None,
    created_at: datetime,
) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    aad = _data_key_aad(tenant, subject, key.key_id, wrapping.key_id)
    sealed = wrapping.aead.encrypt(nonce, key.secret, aad)
    record = SealedKey(
        key_id=key.key_id,
        wrapping_key=wrapping.key_id,
        wrapped=base64.b64encode(nonce + sealed).decode(),
        group=group,
        created_at=created_at,
    )
    return msgspec.json.encode(record)


def _data_key_aad(tenant: str, subject: str, key_id: str, wrapping_key: str) -> bytes:
    """A sealed data key opens only for the tenant, subject and key id it was made for."""
    return msgspec.json.encode(["aiwf-data-key-2", tenant, subject, key_id, wrapping_key])


def _wrapping_info(tenant: str, key_id: str) -> bytes:
    """HPKE `info` of a wrapping key: it opens only for its tenant and id."""
    return msgspec.json.encode(["aiwf-wrapping-key-1", tenant, key_id])


def _legacy_info(tenant: str, subject: str, key_id: str) -> bytes:
    """HPKE `info` of a data key encapsulated directly (before wrapping keys)."""
    return msgspec.json.encode(["aiwf-data-key-1", tenant, subject, key_id])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


_GET_OR_SET = """
local kept = redis.call('HGET', KEYS[1], ARGV[1])
if kept then return kept end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return false
"""

_ENROLL = """
local group = redis.call('HGET', KEYS[1], ARGV[3])
if group and string.find(group, '"type":"shredded"', 1, true) then return {'shredded'} end
local kept = redis.call('HGET', KEYS[1], ARGV[1])
if kept then return {'kept', kept} end
if not group then redis.call('HSET', KEYS[1], ARGV[3], ARGV[4]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return {'made'}
"""

# The subject's record, and every member's, replaced by a tombstone naming the key it destroyed.
_SHRED = """
local function tombstone(subject)
  local kept = redis.call('HGET', KEYS[1], subject)
  if kept and string.find(kept, '"type":"shredded"', 1, true) then return false end
  local key_id = cjson.null
  if kept then
    local record = cjson.decode(kept)
    if record['key_id'] then key_id = record['key_id'] end
  end
  redis.call('HSET', KEYS[1], subject,
    cjson.encode({type = 'shredded', key_id = key_id, shredded_at = ARGV[2]}))
  return key_id ~= cjson.null
end
local destroyed = {}
if tombstone(ARGV[1]) then table.insert(destroyed, ARGV[1]) end
for _, member in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if tombstone(member) then table.insert(destroyed, member) end
end
redis.call('DEL', KEYS[2])
return destroyed
"""

_READ_CURRENT = """
local current = redis.call('HGET', KEYS[1], 'current')
if not current then return false end
return {current, redis.call('HGET', KEYS[1], current)}
"""

_MAKE_CURRENT = """
local current = redis.call('HGET', KEYS[1], 'current')
if current then return {current, redis.call('HGET', KEYS[1], current)} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], 'current', ARGV[1])
return {ARGV[1], ARGV[2]}
"""

_REPLACE_IF = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0
"""
