"""Snapshots of an aggregate's state: a command reads the newest one and only the events after it.

A snapshot is a cache, never a source of truth: it is the fold of the stream's first `version` events,
which never change, so any writer's snapshot at a version is the same. One that cannot be read (another
`schema`, a state class that changed shape, garbage) is ignored and the stream is folded from its start.
Bump a decider's `schema` whenever its `evolve` or its state changes meaning.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from commands.ports import EventStore

if TYPE_CHECKING:
    from commands.execute import StateFold

log = logging.getLogger(__name__)
S = TypeVar("S")


class Snapshot(msgspec.Struct, Generic[S], frozen=True, kw_only=True):
    schema: str
    version: int
    tenant: str
    state: S


async def load_snapshot(store: EventStore, stream: str, fold: StateFold[S]) -> Snapshot[S] | None:
    raw = await store.load_snapshot(stream, fold.name)
    if raw is None:
        return None
    try:
        snapshot: Snapshot[S] = msgspec.json.decode(raw, type=Snapshot[fold.state_type])  # type: ignore[name-defined]
    except (msgspec.DecodeError, msgspec.ValidationError):
        log.warning("snapshot of %s does not decode as %s; folding from the start", stream, fold.schema)
        return None
    return snapshot if snapshot.schema == fold.schema else None


async def save_snapshot(store: EventStore, stream: str, name: str, snapshot: Snapshot[Any]) -> None:
    await store.save_snapshot(
        stream, name, snapshot.version, msgspec.json.encode(snapshot), tenant=snapshot.tenant
    )
