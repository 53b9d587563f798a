"""Given model calls, when folded, then a row per tenant, day, provider, model and partition."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import msgspec

from domain.envelope import DomainEvent
from projections.events import ProjectedEvent
from projections.inference_costs import NO_PROVIDER, CostRow, cost_key, evolve_cost
from tests.support.events import NOW, decided, message, refused
from tests.unit.domain.test_registry import envelope_of


def projected(data: DomainEvent, *, tenant: str = "acme", partition: int = 0) -> ProjectedEvent:
    envelope = msgspec.structs.replace(envelope_of(data), tenant=tenant)
    return ProjectedEvent(partition=partition, log_id="100-1", raw=b"{}", envelope=envelope)


def folded(*events: ProjectedEvent) -> dict[str, CostRow]:
    """What a document model does: each event folded into the row of its key."""
    rows: dict[str, CostRow] = {}
    for event in events:
        key = cost_key(event)
        if key is not None and (row := evolve_cost(rows.get(key), event)) is not None:
            rows[key] = row
    return rows


def test_decided_calls_add_their_tokens_and_cost_to_their_day_provider_and_model() -> None:
    calls = [decided(tokens=(100, 20), cost_micro_usd=7), decided(tokens=(50, 5), cost_micro_usd=3)]

    [row] = folded(*(projected(call) for call in calls)).values()

    assert (row.tenant, row.day, row.provider, row.model) == (
        "acme",
        NOW.date(),
        "offline",
        "offline-planner-1",
    )
    assert (row.calls, row.refused, row.input_tokens, row.output_tokens, row.cost_micro_usd) == (
        2,
        0,
        150,
        25,
        10,
    )


def test_a_refused_call_counts_as_refused_under_no_provider() -> None:
    [row] = folded(projected(refused())).values()

    assert (row.provider, row.model) == (NO_PROVIDER, NO_PROVIDER)
    assert (row.calls, row.refused, row.cost_micro_usd) == (0, 1, 0)


def test_calls_of_other_days_models_tenants_or_partitions_fold_into_rows_of_their_own() -> None:
    rows = folded(
        projected(decided()),
        projected(decided(at=NOW + timedelta(days=1))),
        projected(decided(model="claude")),
        projected(decided(), tenant="globex"),
        projected(decided(), partition=3),
    )

    assert len(rows) == 5
    assert all(row.calls == 1 for row in rows.values())


def test_the_day_is_the_calls_own_in_utc() -> None:
    late_in_algiers = datetime(2026, 11, 26, 0, 30, tzinfo=timezone(timedelta(hours=1)))

    [row] = folded(projected(decided(at=late_in_algiers))).values()

    assert row.day == date(2026, 11, 25)
    assert late_in_algiers.astimezone(UTC).date() == row.day


def test_an_event_that_is_not_a_model_call_has_no_row() -> None:
    event = projected(message("bonjour"))

    assert cost_key(event) is None
    assert evolve_cost(None, event) is None
