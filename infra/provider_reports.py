"""Which model providers each process may call, and their circuits: published by every process that
runs the process managers (the gateway lives there), read by the API's operations route, which may run
in another process (docs/adr/0028-operations-api.md).

One Redis hash (`KeySpace.provider_reports`), one field per process (`<hostname>:<pid>`), each a JSON
`ProviderReport`. A process refreshes its field every REPORT_INTERVAL_S and removes it when it stops
cleanly; a reader leaves out a report older than STALE_PERIODS of its own period (its process died
without stopping, or hangs). Such leftovers are deleted by the next process that starts reporting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime, timedelta

import msgspec

from domain.provider_status import ProviderStatus
from domain.types import UtcDatetime, utc_now
from infra.keys import KeySpace
from infra.periodic import every
from infra.redis_cmds import hgetall
from infra.redis_conn import AnyRedis

log = logging.getLogger(__name__)

REPORT_INTERVAL_S = 5.0
STALE_PERIODS = 3  # a report older than this many of its periods is left out
WITHDRAW_TIMEOUT_S = 2.0  # how long a stopping process tries to take its report away
FORGET_AFTER = timedelta(hours=1)  # generous: a host whose clock runs ahead must not erase live reports
Status = Callable[[], list[ProviderStatus]]


class ProviderReport(msgspec.Struct, frozen=True, kw_only=True):
    process: str  # `<hostname>:<pid>`
    reported_at: UtcDatetime
    interval_s: float  # how often this process reports: what "stale" means for it
    providers: list[ProviderStatus]


_decoder = msgspec.json.Decoder(ProviderReport)


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def is_fresh(report: ProviderReport, now: datetime) -> bool:
    return now - report.reported_at <= timedelta(seconds=STALE_PERIODS * report.interval_s)


def fresh_reports(stored: Mapping[bytes, bytes], now: datetime) -> list[ProviderReport]:
    """The hash's reports that are fresh at `now`, by process; a field that is not a report is skipped
    (written by a newer version, or by hand)."""
    reports = []
    for raw in stored.values():
        try:
            report = _decoder.decode(raw)
        except msgspec.DecodeError:  # ValidationError included
            continue
        if is_fresh(report, now):
            reports.append(report)
    return sorted(reports, key=lambda report: report.process)


async def read_reports(client: AnyRedis, keys: KeySpace, now: datetime) -> list[ProviderReport]:
    return fresh_reports(await hgetall(client, keys.provider_reports), now)


async def publish(client: AnyRedis, keys: KeySpace, report: ProviderReport) -> None:
    await client.hset(keys.provider_reports, report.process, msgspec.json.encode(report))


async def forget_old(client: AnyRedis, keys: KeySpace, now: datetime) -> None:
    """Delete the reports of processes long gone (they died without removing their own)."""
    stored = await hgetall(client, keys.provider_reports)
    old = []
    for field, raw in stored.items():
        with contextlib.suppress(msgspec.DecodeError):
            if now - _decoder.decode(raw).reported_at > FORGET_AFTER:
                old.append(field)
    if old:
        await client.hdel(keys.provider_reports, *old)


async def report_once(
    client: AnyRedis,
    keys: KeySpace,
    status: Status,
    *,
    process: str,
    interval_s: float,
    clock: Callable[[], datetime] = utc_now,
) -> None:
    """This process's report, now; a failure is logged by the caller and retried at the next tick."""
    report = ProviderReport(process=process, reported_at=clock(), interval_s=interval_s, providers=status())
    await publish(client, keys, report)


@contextlib.asynccontextmanager
async def reporting_providers(
    client: AnyRedis,
    keys: KeySpace,
    status: Status | None,
    notes: list[str],
    *,
    interval_s: float = REPORT_INTERVAL_S,
) -> AsyncIterator[None]:
    """This process's provider reports, for as long as the block runs (`status` None: it calls no model,
    so it reports nothing); its field is removed on the way out."""
    if status is None:
        yield
        return
    process = process_name()
    notes.append(f"provider reports: every {interval_s:g}s as {process}")
    with contextlib.suppress(Exception):  # housekeeping only: never a reason not to start
        await forget_old(client, keys, utc_now())
    try:
        async with every(
            interval_s,
            lambda: report_once(client, keys, status, process=process, interval_s=interval_s),
            "provider reports",
        ):
            yield
    finally:
        with contextlib.suppress(Exception):  # Redis may be the reason we stop: never hold the stop for it
            async with asyncio.timeout(WITHDRAW_TIMEOUT_S):
                await client.hdel(keys.provider_reports, process)
