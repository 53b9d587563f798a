"""The one generic command path: load, fold, decide, append with the version read; retry conflicts.

Loading reads the aggregate's newest snapshot and only the events after it (commands/snapshots.py), so a
command costs the same on the 10,000th event of a conversation as on the 10th.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from commands.context import CommandContext, CommandResult
from commands.ports import EventStore
from commands.snapshots import Snapshot, load_snapshot, save_snapshot
from domain.envelope import DomainEvent, NewEvent, Position
from domain.errors import ConcurrencyConflict, DuplicateEventId, EventIdTaken, NotFound

MAX_ATTEMPTS = 8
MAX_EARLIER_EVENTS = 16  # more than any command decides at once
SNAPSHOT_EVERY = 100  # events folded past the newest snapshot before a new one is kept
C = TypeVar("C")
S = TypeVar("S")


@dataclass(frozen=True, kw_only=True)
class StateFold(Generic[S]):
    """How a stream becomes a state: what `load` needs."""

    fold: Callable[[Iterable[DomainEvent], S], S]  # the state after the events, from a given state
    initial: S
    state_type: Any  # the union of state classes, for decoding snapshots
    schema: str  # "<name>.<n>": its snapshots are kept under the name; another n is ignored
    snapshot_every: int = SNAPSHOT_EVERY

    @property
    def name(self) -> str:
        return self.schema.rsplit(".", 1)[0]


@dataclass(frozen=True, kw_only=True)
class Decider(StateFold[S], Generic[C, S]):
    decide: Callable[[C, S], list[DomainEvent]]


@dataclass(frozen=True)
class Loaded(Generic[S]):
    state: S
    version: int
    tenant: str | None  # None: the stream has no event yet


async def load(store: EventStore, decider: StateFold[S], stream: str) -> Loaded[S]:
    """The aggregate's state at its current version, from the newest snapshot and the events after it."""
    snapshot = await load_snapshot(store, stream, decider)
    after = snapshot.version if snapshot else 0
    events = await store.read_stream(stream, from_version=after + 1)
    tenant = snapshot.tenant if snapshot else (events[0].envelope.tenant if events else None)
    state = decider.fold((e.envelope.data for e in events), snapshot.state if snapshot else decider.initial)
    loaded = Loaded(state=state, version=after + len(events), tenant=tenant)
    if tenant is not None and len(events) >= decider.snapshot_every:
        snapshot = Snapshot(schema=decider.schema, version=loaded.version, tenant=tenant, state=loaded.state)
        await save_snapshot(store, stream, decider.name, snapshot)
    return loaded


async def execute(
    store: EventStore, decider: Decider[C, S], stream: str, command: C, ctx: CommandContext
) -> CommandResult:
    for attempt in range(MAX_ATTEMPTS):
        current = await load(store, decider, stream)
        if current.tenant is not None and current.tenant != ctx.tenant:
            raise NotFound("no such resource")  # another tenant's: indistinguishable from absent
        payloads = decider.decide(command, current.state)
        if not payloads:  # nothing to do, perhaps because this very command already did it
            earlier = await _ran_before(store, ctx, stream)
            return earlier or CommandResult(
                stream=stream, event_ids=(), positions=(), version=current.version
            )
        events = [_new(ctx, stream, i, payload) for i, payload in enumerate(payloads)]
        try:
            positions = await store.append(stream, events, current.version, ctx.origin)
        except ConcurrencyConflict:
            # Jittered backoff: writers that collided do not collide again in lockstep.
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
            continue
        except (EventIdTaken, DuplicateEventId):
            earlier = await _ran_before(store, ctx, stream)
            if earlier is None:
                raise
            return earlier
        return CommandResult(
            stream=stream,
            event_ids=tuple(e.id for e in events),
            positions=tuple(positions),
            version=positions[-1].version,
        )
    raise ConcurrencyConflict(stream, -1, -1)


async def _ran_before(store: EventStore, ctx: CommandContext, stream: str) -> CommandResult | None:
    """The result of this very command (same idempotency key) when it already landed on `stream`.

    Its ids derive from the key and their index in the batch, never from the stream's version: a step
    redone after the stream moved on (a redelivery, a recreated consumer group, a request re-run after
    its claim expired) finds what it appended then, instead of deciding again and acting twice."""
    if ctx.idempotency_key is None:
        return None
    candidates = [ctx.event_id(stream, i) for i in range(MAX_EARLIER_EVENTS)]
    found = await store.positions_of(stream, candidates)
    landed: list[Position] = []
    for position in found:
        if position is None:
            break
        landed.append(position)
    if not landed:
        return None
    return CommandResult(
        stream=stream,
        event_ids=tuple(candidates[: len(landed)]),
        positions=tuple(landed),
        version=landed[-1].version,
    )


def _new(ctx: CommandContext, stream: str, index: int, payload: DomainEvent) -> NewEvent:
    return NewEvent(
        data=payload,
        id=ctx.event_id(stream, index),
        time=ctx.now,
        correlationid=ctx.correlation_id,
        causationid=ctx.causation_id,
        traceparent=ctx.traceparent,
    )
