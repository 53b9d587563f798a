"""External consumers of the partition logs: a Redis ACL user each, and a consumer group of their own on
every partition log (docs/consumers.md, docs/adr/0020-external-consumers.md).

A consumer's user may read the partition logs and move its group along, nothing else: no other key, no
write to a stream, no XGROUP (its group is made here, on every log, when the user is). Redis ACLs
cannot tell one group of a key from another, so the user could also read or acknowledge in *our*
groups; `foreign_consumers` finds the traces such a read leaves.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import msgspec
from redis.asyncio import RedisCluster
from redis.exceptions import ResponseError

from infra.keys import KeySpace
from infra.redis_conn import RedisConnection, ServerFacts

_NAME = re.compile(r"^[a-z0-9_-]{1,40}$")
# What a consumer may run. Reads of the logs; its group's deliveries, acknowledgements and pending
# entries (XREADGROUP also registers the consumer names it reads as); connection set-up.
_COMMANDS = (
    "+xreadgroup +xack +xpending +xclaim +xautoclaim +xread +xrange +xrevrange +xlen "
    "+xinfo|stream +xinfo|groups +xinfo|consumers "
    "+ping +hello +auth +select +client|setname +client|getname"
)
_SINCE_7_2 = "+client|setinfo"  # clients send it on connect; older servers refuse the rule itself
# Cluster clients learn the slot map, and redis-py the key positions of every command (COMMAND).
_CLUSTER = "+cluster|slots +cluster|shards +cluster|nodes +readonly +readwrite +asking +command"


class ConsumerError(ValueError):
    """A name that cannot be a consumer's, or a consumer that is not there; the message says which."""


class Grant(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    user: str
    url: str  # with the password: shown once
    partitions: int
    kept_groups: int  # groups of that name that already existed (left where they were)
    persisted: bool  # written to the server's ACL file; False: the user lives until the server restarts


class GroupState(msgspec.Struct, frozen=True, kw_only=True):
    partition: int
    exists: bool
    lag: int | None = None  # entries not yet delivered to the group (None: the server cannot tell)
    pending: int = 0  # delivered, not yet acknowledged
    consumers: int = 0


class Consumer(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    user: str
    enabled: bool
    groups: list[GroupState]


class ForeignConsumer(msgspec.Struct, frozen=True, kw_only=True):
    log: str
    group: str
    consumer: str
    pending: int
    idle_ms: int


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConsumerError(
            f"consumer name {name!r}: expected 1 to 40 lower-case letters, digits, '-' or '_'"
        )
    return name


def user_of(keys: KeySpace, name: str) -> str:
    """The ACL user of a consumer; the key prefix keeps two deployments on one server apart."""
    return f"{_user_prefix(keys)}{check_name(name)}"


def _user_prefix(keys: KeySpace) -> str:
    return f"{keys.prefix}-consumer-"


def acl_rules(keys: KeySpace, facts: ServerFacts, password: str) -> list[str]:
    """`ACL SETUSER` rules: the password as its SHA-256 (the clear text never reaches the server), one
    exact key pattern per partition log, no channels, the commands above."""
    commands = _COMMANDS.split()
    if facts.product == "valkey" or facts.version_tuple >= (7, 2):
        commands += _SINCE_7_2.split()
    if facts.cluster:
        commands += _CLUSTER.split()
    patterns = [f"~{_glob_literal(partition.log)}" for partition in keys.all_partitions()]
    digest = hashlib.sha256(password.encode()).hexdigest()
    return ["reset", "on", f"#{digest}", "resetchannels", *patterns, *commands]


def connection_url(redis_url: str, user: str, password: str) -> str:
    """The server's URL with the consumer's credentials instead of ours (ours never leave)."""
    parts = urlsplit(redis_url)
    host = parts.netloc.rpartition("@")[2]
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in {"username", "password"}])
    path = parts.path if parts.path not in {"", "/"} or parts.scheme == "unix" else "/0"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, path, query, ""))


async def create_consumer(
    redis: RedisConnection, keys: KeySpace, redis_url: str, name: str, *, from_start: bool = True
) -> Grant:
    """The group on every partition log first, then the user: a user never exists without its groups."""
    user = user_of(keys, name)
    if await _user_exists(redis, user):
        raise ConsumerError(f"consumer {name!r} exists (ACL user {user}); revoke it first")
    kept = 0
    for partition in keys.all_partitions():
        try:
            await redis.client.execute_command(
                "XGROUP", "CREATE", partition.log, name, "0" if from_start else "$", "MKSTREAM"
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            kept += 1
    password = secrets.token_urlsafe(32)
    await _on_every_node(redis, "ACL", "SETUSER", user, *acl_rules(keys, redis.facts, password))
    return Grant(
        name=name,
        user=user,
        url=connection_url(redis_url, user, password),
        partitions=keys.partitions,
        kept_groups=kept,
        persisted=await _save_acl(redis),
    )


async def revoke_consumer(redis: RedisConnection, keys: KeySpace, name: str) -> bool:
    """Delete the user (its connections are closed by the server) and destroy its groups.
    Returns whether the change is in the server's ACL file."""
    user = user_of(keys, name)
    deleted = sum(int(n) for n in await _on_every_node(redis, "ACL", "DELUSER", user))
    destroyed = 0
    for partition in keys.all_partitions():
        try:
            destroyed += int(await redis.client.execute_command("XGROUP", "DESTROY", partition.log, name))
        except ResponseError:  # no such log yet
            continue
    if not deleted and not destroyed:
        raise ConsumerError(f"no consumer {name!r} (no ACL user {user}, no group {name!r} on the logs)")
    return await _save_acl(redis)


async def list_consumers(redis: RedisConnection, keys: KeySpace) -> list[Consumer]:
    prefix = _user_prefix(keys)
    users = sorted({_text(u) for u in await _first_node(redis, "ACL", "USERS")})
    groups = [await _groups_of(redis, partition.log) for partition in keys.all_partitions()]
    consumers = []
    for user in (u for u in users if u.startswith(prefix)):
        name = user.removeprefix(prefix)
        flags = _reply_map(await _first_node(redis, "ACL", "GETUSER", user)).get("flags", [])
        states = [_group_state(n, by_name.get(name)) for n, by_name in enumerate(groups)]
        consumers.append(Consumer(name=name, user=user, enabled="on" in map(_text, flags), groups=states))
    return consumers


async def foreign_consumers(
    redis: RedisConnection, keys: KeySpace, is_ours: Callable[[str], bool]
) -> list[ForeignConsumer]:
    """Consumers in our own groups (every group that is not a consumer's: their names have no dot, ours
    do) whose names we do not give: the sign that someone read one of our groups. A heuristic: a name can
    be imitated, and an XACK alone leaves no consumer behind."""
    found = []
    for partition in keys.all_partitions():
        for group in await _groups_of(redis, partition.log):
            if _NAME.match(group):
                continue
            reply: Any = await redis.client.execute_command("XINFO", "CONSUMERS", partition.log, group)
            for consumer in map(_reply_map, reply):
                name = _text(consumer["name"])
                if not is_ours(name):
                    found.append(
                        ForeignConsumer(
                            log=partition.log,
                            group=group,
                            consumer=name,
                            pending=int(consumer.get("pending", 0)),
                            idle_ms=int(consumer.get("idle", 0)),
                        )
                    )
    return found


async def _groups_of(redis: RedisConnection, log: str) -> dict[str, dict[str, Any]]:
    try:
        reply: Any = await redis.client.execute_command("XINFO", "GROUPS", log)
    except ResponseError:  # no such log yet
        return {}
    groups = [_reply_map(group) for group in reply]
    return {_text(group["name"]): group for group in groups}


def _group_state(partition: int, group: dict[str, Any] | None) -> GroupState:
    if group is None:
        return GroupState(partition=partition, exists=False)
    lag = group.get("lag")
    return GroupState(
        partition=partition,
        exists=True,
        lag=None if lag is None else int(lag),
        pending=int(group.get("pending", 0)),
        consumers=int(group.get("consumers", 0)),
    )


async def _user_exists(redis: RedisConnection, user: str) -> bool:
    return await _first_node(redis, "ACL", "GETUSER", user) is not None


async def _save_acl(redis: RedisConnection) -> bool:
    """ACL SAVE where the server has an ACL file (on every node of a Cluster); False where it has none, or
    does not say (CONFIG refused, as managed servers do)."""
    try:
        configured = [
            _reply_map(r).get("aclfile") for r in await _on_every_node(redis, "CONFIG", "GET", "aclfile")
        ]
    except ResponseError:
        return False
    if not all(configured):
        return False
    await _on_every_node(redis, "ACL", "SAVE")
    return True


async def _on_every_node(redis: RedisConnection, *command: str) -> list[Any]:
    """ACLs are per server: on a Cluster, every primary and replica gets the command."""
    client: Any = redis.client  # redis-py leaves execute_command untyped
    if isinstance(client, RedisCluster):
        return [await client.execute_command(*command, target_nodes=node) for node in client.get_nodes()]
    return [await client.execute_command(*command)]


async def _first_node(redis: RedisConnection, *command: str) -> Any:
    client: Any = redis.client
    if isinstance(client, RedisCluster):
        return await client.execute_command(*command, target_nodes=client.get_nodes()[0])
    return await client.execute_command(*command)


def _reply_map(reply: Any) -> dict[str, Any]:
    """A reply as a dict of text keys, whether the client parsed it (RESP3, callbacks) or not (flat list)."""
    if reply is None:
        return {}
    if isinstance(reply, dict):
        return {_text(k): v for k, v in reply.items()}
    return {_text(k): v for k, v in zip(reply[::2], reply[1::2], strict=True)}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _glob_literal(key: str) -> str:
    """A key as an ACL pattern that matches it alone (our keys hold no glob characters; be sure)."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", key)
