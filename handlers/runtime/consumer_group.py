"""Consumer-group chores on a partition log: create the group, claim pending entries, dead-letter, lag."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from redis.exceptions import ResponseError

from handlers.runtime.lease import LeaseLost
from infra.keys import PartitionKeys
from infra.redis_cmds import Script
from infra.redis_conn import RedisConnection


class PendingEntry(msgspec.Struct, frozen=True, kw_only=True):
    log_id: str
    fields: tuple[bytes, ...]  # names and values in turn, as a read delivers them (records.Fields)
    deliveries: int


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    log_id: str
    raw: bytes | None
    reason: str


class GroupLag(msgspec.Struct, frozen=True, kw_only=True):
    group: str
    partition: int
    lag: int | None  # entries not yet delivered to the group (None: Redis cannot tell)
    pending: int  # delivered, not yet acknowledged


async def ensure_group(redis: RedisConnection, keys: PartitionKeys, group: str) -> None:
    """Idempotent: a new group starts at the beginning of the log; an existing one is left alone."""
    try:
        await redis.client.execute_command("XGROUP", "CREATE", keys.log, group, "0", "MKSTREAM")
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def claim_pending(
    redis: RedisConnection, keys: PartitionKeys, group: str, consumer: str, *, min_idle_ms: int, count: int
) -> list[PendingEntry]:
    """Take over entries pending for at least `min_idle_ms` (a dead consumer's), oldest first."""
    reply: Any = await redis.client.xautoclaim(keys.log, group, consumer, min_idle_ms, "0-0", count)
    entries = [(entry_id, fields) for entry_id, fields in reply[1] if fields]
    deleted = [entry_id for entry_id, fields in reply[1] if not fields] + list(
        reply[2] if len(reply) > 2 else []
    )
    if deleted:  # trimmed away under us: nothing left to process
        await redis.client.xack(keys.log, group, *deleted)
    if not entries:
        return []
    rows: Any = await redis.client.xpending_range(
        keys.log, group, min=entries[0][0], max=entries[-1][0], count=len(entries), consumername=consumer
    )
    counts = {row["message_id"]: int(row["times_delivered"]) for row in rows}
    return [
        PendingEntry(
            log_id=entry_id.decode(),
            fields=tuple(item for pair in fields.items() for item in pair),
            deliveries=counts.get(entry_id, 1),
        )
        for entry_id, fields in entries
    ]


async def pending_elsewhere(redis: RedisConnection, keys: PartitionKeys, group: str, consumer: str) -> int:
    """Entries of the group pending for consumers other than `consumer` (XPENDING's summary form)."""
    reply: Any = await redis.client.xpending(keys.log, group)
    owners = reply.get("consumers") or [] if isinstance(reply, dict) else []
    mine = {consumer, consumer.encode()}
    return sum(int(owner["pending"]) for owner in owners if owner["name"] not in mine)


async def oldest_pending_of(
    redis: RedisConnection, keys: PartitionKeys, group: str, consumer: str
) -> str | None:
    """The oldest entry pending with `consumer` (None: nothing)."""
    rows: Any = await redis.client.xpending_range(
        keys.log, group, min="-", max="+", count=1, consumername=consumer
    )
    if not rows:
        return None
    entry = rows[0]["message_id"]
    return entry.decode() if isinstance(entry, bytes) else str(entry)


# Only the lease holder of an ordered group may acknowledge or dead-letter (ARGV[2] is the holder,
# '' for unordered groups). A letter is moved only if it was still pending: its XACK and XADD happen
# together, so "still pending" means "not dead-lettered yet", and a redelivered poison entry is
# dead-lettered once. The index keeps it once when its group is deleted, recreated and reads it again.
_DEAD_LETTER = Script(
    """
if ARGV[2] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[2] then return -1 end
local moved = 0
for i = 3, #ARGV, 4 do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1
    and redis.call('HEXISTS', KEYS[4], ARGV[1] .. ' ' .. ARGV[i]) == 0 then
    local letter
    if ARGV[i + 3] == '1' then
      letter = redis.call('XADD', KEYS[2], '*', 'group', ARGV[1], 'original_id', ARGV[i],
        'reason', ARGV[i + 1], 'event', ARGV[i + 2])
    else
      letter = redis.call('XADD', KEYS[2], '*', 'group', ARGV[1], 'original_id', ARGV[i],
        'reason', ARGV[i + 1])
    end
    redis.call('HSET', KEYS[4], ARGV[1] .. ' ' .. ARGV[i], letter)
    moved = moved + 1
  end
end
return moved
"""
)
# The ids come as one space-separated argument: redis-py packs each argument in Python, and 500 of
# them cost more than the XACK (issue 15).
_ACKNOWLEDGE = Script(
    """
if ARGV[2] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[2] then return -1 end
local ids = {}
for id in string.gmatch(ARGV[3], '[^ ]+') do ids[#ids + 1] = id end
return redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
"""
)


async def acknowledge(
    redis: RedisConnection,
    keys: PartitionKeys,
    group: str,
    log_ids: Sequence[str],
    *,
    holder: str | None = None,
) -> bool:
    """XACK, unless `holder` no longer holds the group's lease (then False: the successor redoes them)."""
    if not log_ids:
        return True
    reply = await _ACKNOWLEDGE(
        redis.client, [keys.log, keys.lease(group)], [group, holder or "", " ".join(log_ids)]
    )
    return int(reply) >= 0


async def dead_letter(
    redis: RedisConnection,
    keys: PartitionKeys,
    group: str,
    letters: Sequence[DeadLetter],
    *,
    holder: str | None = None,
) -> int:
    """Move still-pending entries to the partition's dead-letter stream and acknowledge them, atomically;
    returns how many moved. Raises LeaseLost when `holder` no longer holds the lease."""
    if not letters:
        return 0
    args: list[str | bytes] = [group, holder or ""]
    for letter in letters:
        args += [letter.log_id, letter.reason, letter.raw or b"", "0" if letter.raw is None else "1"]
    moved = int(
        await _DEAD_LETTER(redis.client, [keys.log, keys.dlq, keys.lease(group), keys.dlq_index], args)
    )
    if moved < 0:
        raise LeaseLost(f"{group} p{keys.partition}: {holder} no longer holds the lease")
    return moved


async def group_lag(redis: RedisConnection, keys: PartitionKeys, group: str) -> GroupLag:
    try:
        groups: Any = await redis.client.xinfo_groups(keys.log)
    except ResponseError:  # no such stream yet
        groups = []
    for info in groups:
        if info.get(b"name", info.get("name")) in {group, group.encode()}:
            lag = info.get(b"lag", info.get("lag"))
            pending = int(info.get(b"pending", info.get("pending")) or 0)
            return GroupLag(
                group=group, partition=keys.partition, lag=None if lag is None else int(lag), pending=pending
            )
    return GroupLag(group=group, partition=keys.partition, lag=None, pending=0)
