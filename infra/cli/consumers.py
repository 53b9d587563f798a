"""`aiwf consumers create|list|revoke`: Redis users for external consumers of the partition logs
(docs/consumers.md). Needs Redis only, never PostgreSQL."""

from __future__ import annotations

import argparse
import sys

from infra.consumers import (
    Consumer,
    ConsumerError,
    Grant,
    create_consumer,
    foreign_consumers,
    list_consumers,
    revoke_consumer,
)
from infra.runtime import keyspace, open_redis
from infra.settings import Settings

_NOT_PERSISTED = (
    "the server has no ACL file (or does not say): this change lives until the server restarts; "
    "configure `aclfile` and run `ACL SAVE`, or run this command again after a restart"
)


async def create(settings: Settings, args: argparse.Namespace) -> int:
    async with open_redis(settings, []) as (redis, redis_url):
        try:
            grant = await create_consumer(
                redis, keyspace(settings), redis_url, args.name, from_start=not args.from_now
            )
        except ConsumerError as exc:
            return _refused(exc)
    _print_grant(settings, grant, from_start=not args.from_now)
    return 0


async def revoke(settings: Settings, args: argparse.Namespace) -> int:
    async with open_redis(settings, []) as (redis, _):
        try:
            persisted = await revoke_consumer(redis, keyspace(settings), args.name)
        except ConsumerError as exc:
            return _refused(exc)
    print(f"consumer {args.name}: user deleted, its connections closed, its groups destroyed")
    if not persisted:
        print(f"note: {_NOT_PERSISTED}", file=sys.stderr)
    return 0


async def list_all(settings: Settings, _args: argparse.Namespace) -> int:
    from handlers.app import is_consumer_name  # noqa: PLC0415 - the handlers load slowly

    keys = keyspace(settings)
    async with open_redis(settings, []) as (redis, _):
        consumers = await list_consumers(redis, keys)
        foreign = await foreign_consumers(redis, keys, is_consumer_name)
    print(f"{'consumer':<40} {'enabled':<7} {'part':>4} {'lag':>8} {'pending':>8} {'readers':>7}")
    for consumer in consumers:
        _print_consumer(consumer)
    if not consumers:
        print("(no consumers)")
    for seen in foreign:
        print(
            f"warning: {seen.log} group {seen.group} has a consumer we did not start: {seen.consumer!r} "
            f"({seen.pending} pending, idle {seen.idle_ms / 1000:.0f} s); an external consumer may be "
            "reading our group (docs/consumers.md, 'What a consumer could do')",
            file=sys.stderr,
        )
    return 0


def _print_consumer(consumer: Consumer) -> None:
    for group in consumer.groups:
        if not group.exists:
            print(f"{consumer.name:<40} {_yes(consumer.enabled):<7} {group.partition:>4} {'no group':>8}")
            continue
        lag = "?" if group.lag is None else str(group.lag)
        print(
            f"{consumer.name:<40} {_yes(consumer.enabled):<7} {group.partition:>4} {lag:>8} "
            f"{group.pending:>8} {group.consumers:>7}"
        )


def _print_grant(settings: Settings, grant: Grant, *, from_start: bool) -> None:
    start = "the first entry" if from_start else "the entries appended from now on"
    print(
        f"consumer {grant.name}: ACL user {grant.user}, group {grant.name!r} on each of the "
        f"{grant.partitions} partition logs, reading from {start}"
    )
    print(grant.url)
    print("(the password is shown once: store it now)", file=sys.stderr)
    if grant.kept_groups:
        print(
            f"note: {grant.kept_groups} groups named {grant.name!r} existed: kept where they stood",
            file=sys.stderr,
        )
    if not grant.persisted:
        print(f"note: {_NOT_PERSISTED}", file=sys.stderr)
    if settings.redis_url is None:
        print(
            "note: the embedded Valkey listens on 127.0.0.1 only, on a port chosen each time it starts: "
            "the URL holds while the `aiwf run` that started it serves",
            file=sys.stderr,
        )


def _refused(exc: ConsumerError) -> int:
    print(f"aiwf: {exc}", file=sys.stderr)
    return 2


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
