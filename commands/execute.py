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
from commands.fold_cache import Folded, cache_of, continues
from commands.ports import EventStore, StreamHead, verifying
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
    cached: bool = True  # keep the fold in this process between commands (commands/fold_cache.py)

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
    head: StreamHead | None = None  # the head this state was read at, when known: the append chains to it


async def load(store: EventStore, decider: StateFold[S], stream: str) -> Loaded[S]:
    """The aggregate's state at its current version: from this process's fold of it when a read of
    what came after proves that current (commands/fold_cache.py), else from the newest snapshot and the
    events after it."""
    if decider.cached and verifying(store):
        cache = cache_of(store)
        entry = cache.get(decider.schema, stream)
        if entry is not None:
            events, head = await store.read_after(stream, entry.version)
            if continues(entry, events, head):
                state = decider.fold((e.envelope.data for e in events), entry.state)
                loaded = Loaded(state=state, version=head.version, tenant=entry.tenant, head=head)
                await _keep(store, decider, stream, loaded, entry.since_snapshot + len(events))
                return loaded
            cache.drop(decider.schema, stream)
    return await _load_cold(store, decider, stream)


async def _load_cold(store: EventStore, decider: StateFold[S], stream: str) -> Loaded[S]:
    snapshot = await load_snapshot(store, stream, decider)
    after = snapshot.version if snapshot else 0
    head: StreamHead | None = None
    if verifying(store):
        events, head = await store.read_after(stream, after)
        if head.version != after + len(events):
            head = None  # an append between the two reads: this state is still valid, only not cached
    else:
        events = await store.read_stream(stream, from_version=after + 1)
    tenant = snapshot.tenant if snapshot else (events[0].envelope.tenant if events else None)
    state = decider.fold((e.envelope.data for e in events), snapshot.state if snapshot else decider.initial)
    loaded = Loaded(state=state, version=after + len(events), tenant=tenant, head=head)
    await _keep(store, decider, stream, loaded, len(events))
    return loaded


async def _keep(
    store: EventStore,
    decider: StateFold[S],
    stream: str,
    loaded: Loaded[S],
    since_snapshot: int,
) -> None:
    """A snapshot every `snapshot_every` events folded, and the fold cached (when its head is known)."""
    if loaded.tenant is None:
        return
    if since_snapshot >= decider.snapshot_every:
        snapshot = Snapshot(
            schema=decider.schema, version=loaded.version, tenant=loaded.tenant, state=loaded.state
        )
        await save_snapshot(store, stream, decider.name, snapshot)
        since_snapshot = 0
    if decider.cached and loaded.head is not None and verifying(store):
        entry = Folded(
            state=loaded.state,
            version=loaded.version,
            hash=loaded.head.hash,
            tenant=loaded.tenant,
            since_snapshot=since_snapshot,
        )
        cache_of(store).put(decider.schema, stream, entry)


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
            positions = await _append(store, stream, events, current, ctx)
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


async def _append(
    store: EventStore, stream: str, events: list[NewEvent], current: Loaded[Any], ctx: CommandContext
) -> list[Position]:
    """With the head the state was read at, the store need not read it again: if the stream moved since,
    the append's version check refuses it all the same."""
    if current.head is not None and verifying(store):
        return await store.append(stream, events, current.version, ctx.origin, head=current.head)
    return await store.append(stream, events, current.version, ctx.origin)


def _new(ctx: CommandContext, stream: str, index: int, payload: DomainEvent) -> NewEvent:
    return NewEvent(
        data=payload,
        id=ctx.event_id(stream, index),
        time=ctx.now,
        correlationid=ctx.correlation_id,
        causationid=ctx.causation_id,
        traceparent=ctx.traceparent,
    )
