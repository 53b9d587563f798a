"""The folded state of recently commanded streams, kept per store in this process (issue 15).

A command used to read its aggregate's snapshot and every event after it, and to decode and fold them
all again; most of that was the same as for the previous command on the stream. Here the state at a
version is kept, and the next load reads only what came after it, together with the stream's head, in
one round trip (`read_after`). The entry is used only when that read proves it current:

- the head is exactly the kept version plus the events read after it (an append landing between the
  two reads, or a stream shorter than the entry, is refused: the load then starts from the snapshot);
- the first event read chains to the kept hash, or, with none read, the head's hash is the kept one.

Events up to a version never change, so the fold of them never does either. What a cache hit cannot
know, a concurrent writer after the read, the append's expected version still decides, exactly as
without the cache: a conflict is retried from a fresh load. States are immutable (frozen structs), so
an entry is never changed by a fold made from it.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from commands.ports import StreamHead
from domain.envelope import StoredEvent

S = TypeVar("S")
MAX_STREAMS = 4096  # per store; the least recently used goes first (a miss only costs a cold load)


@dataclass(frozen=True, kw_only=True)
class Folded(Generic[S]):
    state: S
    version: int
    hash: str  # the hash of the event at `version`: what the next event must chain to
    tenant: str
    since_snapshot: int  # events folded past the newest snapshot this process knows of


class FoldCache:
    def __init__(self, size: int = MAX_STREAMS) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, str], Folded[Any]] = OrderedDict()

    def get(self, schema: str, stream: str) -> Folded[Any] | None:
        entry = self._entries.get((schema, stream))
        if entry is not None:
            self._entries.move_to_end((schema, stream))
        return entry

    def put(self, schema: str, stream: str, entry: Folded[Any]) -> None:
        self._entries[(schema, stream)] = entry
        self._entries.move_to_end((schema, stream))
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def drop(self, schema: str, stream: str) -> None:
        self._entries.pop((schema, stream), None)

    def drop_tenant(self, tenant: str) -> None:
        for key in [key for key, entry in self._entries.items() if entry.tenant == tenant]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)


def continues(entry: Folded[Any], events: list[StoredEvent], head: StreamHead) -> bool:
    """Whether `events` (read after `entry.version`) and `head` show the entry is the stream's prefix."""
    if head.version != entry.version + len(events):
        return False
    if not events:
        return head.hash == entry.hash
    return events[0].envelope.prevhash == entry.hash and events[-1].envelope.hash == head.hash


_CACHES: weakref.WeakKeyDictionary[object, FoldCache] = weakref.WeakKeyDictionary()


def forget_tenant(tenant: str) -> None:
    """A shredding was announced: a kept fold may hold what the shredded keys sealed (a conversation's
    turns), and crypto-shredding promises nothing readable is left, so the tenant's folds go."""
    for cache in list(_CACHES.values()):
        cache.drop_tenant(tenant)


def cache_of(store: object) -> FoldCache:
    """The store's own cache: two stores (two key prefixes) may hold streams of the same name."""
    cache = _CACHES.get(store)
    if cache is None:
        cache = _CACHES[store] = FoldCache()
    return cache
