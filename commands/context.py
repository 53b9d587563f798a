"""Who asks, on whose behalf, and how to name what they cause: everything a command carries besides
its own fields."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import msgspec

from domain.envelope import EventOrigin, Position
from domain.ids import derived_id, uuid7


class CommandContext(msgspec.Struct, frozen=True, kw_only=True):
    tenant: str
    actor: str  # the API key id or CLI user that asked
    now: datetime
    source: str = "aiwf://api"
    correlation_id: str | None = None
    causation_id: str | None = None  # the request id
    traceparent: str | None = None
    idempotency_key: str | None = None

    @property
    def origin(self) -> EventOrigin:
        return EventOrigin(tenant=self.tenant, source=self.source)

    def event_id(self, stream: str, index: int) -> str:
        """With an idempotency key, the same request derives the same ids (the store then dedupes)."""
        if self.idempotency_key is None:
            return uuid7()
        return derived_id("event", self.tenant, self.idempotency_key, stream, str(index))


class CommandResult(msgspec.Struct, frozen=True, kw_only=True):
    stream: str
    event_ids: tuple[str, ...]
    positions: tuple[Position, ...]
    version: int

    @property
    def consistency_token(self) -> str:
        return encode_token(self.positions)


def encode_token(positions: tuple[Position, ...] | list[Position]) -> str:
    """`<partition>:<log id>` per partition written, comma-separated: what a read must have folded."""
    newest: dict[int, str] = {}
    for position in positions:
        newest[position.partition] = position.log_id
    return format_token(newest)


def format_token(newest: Mapping[int, str]) -> str:
    """The token of the newest log id per partition (also an SSE event id: kept cheap, no Positions)."""
    return ",".join(f"{p}:{log_id}" for p, log_id in sorted(newest.items()))


class BadToken(ValueError):
    """A consistency token that is not one we issue."""


def _digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() is also true of "²", which int() refuses."""
    return text.isascii() and text.isdigit()


def decode_token(token: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for n, part in enumerate(filter(None, token.split(",")), start=1):
        partition, _, log_id = part.partition(":")
        ms, _, seq = log_id.partition("-")
        if not (_digits(partition) and _digits(ms) and _digits(seq)):
            # Which part, never what it holds: errors do not repeat what the caller sent.
            raise BadToken(f"part {n} is not <partition>:<ms>-<seq>")
        out[int(partition)] = log_id
    return out
