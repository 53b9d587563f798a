"""Provider reports: a reader keeps the fresh ones; the periodic reporter stops when told."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from domain.provider_status import ProviderStatus
from infra.provider_reports import STALE_PERIODS, ProviderReport, fresh_reports
from tests.support.events import NOW

OFFLINE = ProviderStatus(
    target="offline",
    name="offline",
    model="offline-planner-1",
    locality="local",
    circuit="closed",
    failures=0,
)


def stored(*reports: ProviderReport) -> dict[bytes, bytes]:
    return {report.process.encode(): msgspec.json.encode(report) for report in reports}


def report(process: str, age_s: float, interval_s: float = 5.0) -> ProviderReport:
    at = NOW - timedelta(seconds=age_s)
    return ProviderReport(process=process, reported_at=at, interval_s=interval_s, providers=[OFFLINE])


def test_a_report_older_than_three_of_its_own_periods_is_left_out() -> None:
    reports = stored(
        report("host:1", age_s=1),
        report("host:2", age_s=STALE_PERIODS * 5 + 1),
        report("host:3", age_s=STALE_PERIODS * 5 + 1, interval_s=60),  # a slower reporter: still fresh
    )

    assert [r.process for r in fresh_reports(reports, NOW)] == ["host:1", "host:3"]


def test_a_field_that_is_not_a_report_is_skipped() -> None:
    reports = {**stored(report("host:1", age_s=0)), b"host:9": b"not json", b"host:8": b'{"process": 1}'}

    assert [r.process for r in fresh_reports(reports, NOW)] == ["host:1"]
