"""Read model `inference_costs` (projector `operations_views`): what a tenant's model calls cost, per
day, provider and model, folded from `InferenceDecided` and `InferenceRefused`.

A row per (tenant, day, provider, model, partition), not per (tenant, day, provider, model): the
partitions of a projector are folded at the same time, each by its own holder, and a row two holders
loaded, folded and wrote back would keep only one holder's calls. Rows of one partition never meet
another's; the read sums them. The day is the call's own (`decided_at`, `refused_at`), in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec

from domain.conversation_events import InferenceDecided, InferenceRefused
from projections.events import ProjectedEvent

NO_PROVIDER = "none"  # a refused call reached no provider: it counts under this provider and model


class CostRow(msgspec.Struct, frozen=True, kw_only=True):
    bucket: str  # the other key columns as one text, the key a document model loads rows by
    tenant: str
    day: date
    provider: str
    model: str
    partition: int
    calls: int = 0  # decided calls, whatever their outcome (an invalid answer was paid for too)
    refused: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_micro_usd: int = 0


class DailyCost(msgspec.Struct, frozen=True, kw_only=True):
    """One day of one model's calls for a tenant, summed over partitions: what the API answers."""

    day: date
    provider: str
    model: str
    calls: int
    refused: int
    input_tokens: int
    output_tokens: int
    cost_micro_usd: int


def cost_key(event: ProjectedEvent) -> str | None:
    row = _empty_row(event)
    return row.bucket if row is not None else None


def evolve_cost(row: CostRow | None, event: ProjectedEvent) -> CostRow | None:
    data = event.envelope.data
    row = row or _empty_row(event)
    if row is None:
        return None
    if isinstance(data, InferenceDecided):
        return msgspec.structs.replace(
            row,
            calls=row.calls + 1,
            input_tokens=row.input_tokens + data.input_tokens,
            output_tokens=row.output_tokens + data.output_tokens,
            cost_micro_usd=row.cost_micro_usd + data.cost_micro_usd,
        )
    if isinstance(data, InferenceRefused):
        return msgspec.structs.replace(row, refused=row.refused + 1)
    return row


def _empty_row(event: ProjectedEvent) -> CostRow | None:
    """The zero row of the event's bucket, or None for an event that is not about a model call."""
    data = event.envelope.data
    if isinstance(data, InferenceDecided):
        return _row(event, _day(data.decided_at), data.provider, data.model)
    if isinstance(data, InferenceRefused):
        return _row(event, _day(data.refused_at), NO_PROVIDER, NO_PROVIDER)
    return None


def _row(event: ProjectedEvent, day: date, provider: str, model: str) -> CostRow:
    tenant = event.envelope.tenant
    # JSON, so no tenant, provider or model text can make two buckets' keys equal.
    bucket = msgspec.json.encode([tenant, day.isoformat(), provider, model, event.partition]).decode()
    return CostRow(
        bucket=bucket, tenant=tenant, day=day, provider=provider, model=model, partition=event.partition
    )


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()
