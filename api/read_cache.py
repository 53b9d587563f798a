"""Rows of a read model kept in the API process, valid while the projection has not moved on their
partition: a repeated read costs no query, and no read is older than the notifications say.

A row cached under a stamp is served only while the waiter reports that same stamp for its partition;
any commit of the projector there (or a rebuild's swap) changes the stamp. Two loads racing under one
stamp keep the newer row (`version_of`), so a reader never goes back in time within a stamp."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, Protocol, TypeVar

from projections.agent_state import AgentStateDoc
from projections.conversations import ConversationRow

T = TypeVar("T")
Stamp = tuple[int, ...]


class Stamps(Protocol):
    def stamp(self, projection: str, partition: int) -> Stamp | None: ...


class RowCache(Generic[T]):
    def __init__(
        self, stamps: Stamps, projection: str, version_of: Callable[[T], int], capacity: int = 10_000
    ) -> None:
        self._stamps, self._projection, self._version_of = stamps, projection, version_of
        self._capacity = capacity
        self._rows: OrderedDict[Hashable, tuple[Stamp, T]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def get(self, key: Hashable, partition: int, load: Callable[[], Awaitable[T | None]]) -> T | None:
        stamp = self._stamps.stamp(self._projection, partition)  # taken BEFORE the query: never newer
        if stamp is None:
            return await load()
        cached = self._rows.get(key)
        if cached is not None and cached[0] == stamp:
            self.hits += 1
            self._rows.move_to_end(key)
            return cached[1]
        self.misses += 1
        row = await load()
        if row is not None:
            self._keep(key, stamp, row)
        return row

    def _keep(self, key: Hashable, stamp: Stamp, row: T) -> None:
        current = self._rows.get(key)
        if (
            current is not None
            and current[0] == stamp
            and self._version_of(current[1]) > self._version_of(row)
        ):
            return  # a slower load of an older row under the same stamp
        self._rows[key] = (stamp, row)
        self._rows.move_to_end(key)
        while len(self._rows) > self._capacity:
            self._rows.popitem(last=False)


class ConversationCaches:
    """What GET /v1/conversations/{id} and its agent-state serve (projection `conversation_views`)."""

    def __init__(self, stamps: Stamps, projection: str = "conversation_views") -> None:
        self.conversations: RowCache[ConversationRow] = RowCache(stamps, projection, _last_version)
        self.agent_states: RowCache[AgentStateDoc] = RowCache(stamps, projection, _last_version)


def _last_version(row: ConversationRow | AgentStateDoc) -> int:
    return row.last_version
