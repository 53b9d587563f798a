"""Writers that record, client-side, every append the store acknowledged, and retry through faults with
the same event ids (so a batch that landed before its answer was lost is not written twice)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from redis.exceptions import RedisError

from domain.envelope import NewEvent
from domain.errors import ConcurrencyConflict
from infra.event_store import DurabilityNotConfirmed, RedisEventStore
from tests.support.events import ORIGIN, batch, new, started

RETRY_S = 0.05


@dataclass
class Writer:
    """Appends batches of messages to its own conversation, one after another."""

    store: RedisEventStore
    name: str
    batch_size: int = 2
    acked: list[str] = field(default_factory=list)  # event ids, in the order they were acknowledged
    failures: int = 0  # tries that raised (the client's own retries on a lost connection are inside one)
    longest_s: float = 0.0  # the longest wait for one acknowledgement, retries included
    diverged: str | None = None  # the store's answer when the log no longer holds what it acknowledged

    @property
    def stream(self) -> str:
        return f"conversation-{self.name}"

    async def run(self, stop: asyncio.Event) -> None:
        version = 0
        pending: list[NewEvent] = [new(started(self.name))]
        while not stop.is_set() and self.diverged is None:
            await self._append(pending, version, stop)
            if len(self.acked) == version + len(pending):
                version += len(pending)
                pending = batch(self.batch_size, text=self.name)
            await asyncio.sleep(0)

    async def _append(self, events: list[NewEvent], version: int, stop: asyncio.Event) -> None:
        began = time.monotonic()
        while True:
            try:
                await self.store.append(self.stream, events, expected_version=version, origin=ORIGIN)
            except ConcurrencyConflict as conflict:
                self.diverged = str(conflict)
                return
            except (RedisError, OSError, TimeoutError, DurabilityNotConfirmed):
                self.failures += 1
                if stop.is_set():
                    return  # not acknowledged: nothing is claimed for it
                await asyncio.sleep(RETRY_S)
                continue
            self.acked += [event.id for event in events]
            self.longest_s = max(self.longest_s, time.monotonic() - began)
            return
