"""Provider reports on real Redis: a process that runs the managers reports at once and takes its report
away when it stops; one that runs none reports nothing; a dead process's report goes at the next start."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from domain.provider_status import ProviderStatus
from infra.event_store import RedisEventStore
from infra.provider_reports import ProviderReport, process_name, publish, read_reports, reporting_providers
from infra.redis_cmds import hgetall

OFFLINE = ProviderStatus(
    target="offline",
    name="offline",
    model="offline-planner-1",
    locality="local",
    circuit="closed",
    failures=0,
)


async def test_a_process_that_runs_managers_reports_at_once_and_takes_its_report_away_when_it_stops(
    standalone_store: RedisEventStore,
) -> None:
    client, keys = standalone_store.redis.client, standalone_store.keys
    notes: list[str] = []

    async with reporting_providers(client, keys, lambda: [OFFLINE], notes, interval_s=0.05):
        async with asyncio.timeout(5):
            while not await hgetall(client, keys.provider_reports):  # noqa: ASYNC110 - Redis has no event
                await asyncio.sleep(0.01)
        running = await read_reports(client, keys, datetime.now(UTC))

    assert [(r.process, r.providers) for r in running] == [(process_name(), [OFFLINE])]
    assert notes == [f"provider reports: every 0.05s as {process_name()}"]
    assert await hgetall(client, keys.provider_reports) == {}


async def test_a_process_that_runs_no_managers_reports_nothing(standalone_store: RedisEventStore) -> None:
    client, keys = standalone_store.redis.client, standalone_store.keys
    notes: list[str] = []

    async with reporting_providers(client, keys, None, notes, interval_s=0.05):
        pass

    assert await hgetall(client, keys.provider_reports) == {}
    assert notes == []


async def test_the_report_of_a_process_long_gone_is_deleted_by_the_next_one_to_start(
    standalone_store: RedisEventStore,
) -> None:
    client, keys = standalone_store.redis.client, standalone_store.keys
    now = datetime.now(UTC)
    for process, age in (("gone:1", timedelta(days=2)), ("recent:2", timedelta(seconds=30))):
        report = ProviderReport(process=process, reported_at=now - age, interval_s=5, providers=[OFFLINE])
        await publish(client, keys, report)

    async with reporting_providers(client, keys, lambda: [OFFLINE], [], interval_s=60):
        fields = set(await hgetall(client, keys.provider_reports))

    assert b"gone:1" not in fields
    assert b"recent:2" in fields  # stale for the API, but a host's clock may run ahead: not erased
