"""The one generic command path: load, fold, decide, append with the version read; retry conflicts."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from commands.context import CommandContext, CommandResult
from commands.ports import EventStore
from domain.envelope import DomainEvent, NewEvent
from domain.errors import ConcurrencyConflict, NotFound

MAX_ATTEMPTS = 8
C = TypeVar("C")
S = TypeVar("S")


@dataclass(frozen=True)
class Decider(Generic[C, S]):
    decide: Callable[[C, S], list[DomainEvent]]
    fold: Callable[[Iterable[DomainEvent]], S]


async def execute(
    store: EventStore, decider: Decider[C, S], stream: str, command: C, ctx: CommandContext
) -> CommandResult:
    for attempt in range(MAX_ATTEMPTS):
        history = await store.read_stream(stream)
        if history and history[0].envelope.tenant != ctx.tenant:
            raise NotFound("no such resource")  # another tenant's: indistinguishable from absent
        payloads = decider.decide(command, decider.fold(e.envelope.data for e in history))
        if not payloads:
            return CommandResult(stream=stream, event_ids=(), positions=(), version=len(history))
        events = [_new(ctx, stream, len(history) + i, payload) for i, payload in enumerate(payloads)]
        try:
            positions = await store.append(stream, events, len(history), ctx.origin)
        except ConcurrencyConflict:
            # Jittered backoff: writers that collided do not collide again in lockstep.
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
            continue
        return CommandResult(
            stream=stream,
            event_ids=tuple(e.id for e in events),
            positions=tuple(positions),
            version=positions[-1].version,
        )
    raise ConcurrencyConflict(stream, -1, -1)


def _new(ctx: CommandContext, stream: str, index: int, payload: DomainEvent) -> NewEvent:
    return NewEvent(
        data=payload,
        id=ctx.event_id(stream, index),
        time=ctx.now,
        correlationid=ctx.correlation_id,
        causationid=ctx.causation_id,
        traceparent=ctx.traceparent,
    )
