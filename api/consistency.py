"""Read-your-writes: a read that carries a consistency token waits (bounded) until the projector that
serves it has folded every position in the token. Projectors NOTIFY on commit; we also re-read the
checkpoints now and then, so a lost notification only costs a little latency.

The same notifications tell the read cache (api/read_cache.py) when a partition's rows may have changed:
`stamp` names the state of a (projection, partition), and is None whenever we might miss a change.

Other channels can be heard on the same connection (`heard`: channel → what to do with a payload; the key
revocations, docs/adr/0033); `on_listen` runs at every (re)connection, when a notification may have been
missed."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg

from infra.stopping import STOP_TIMEOUT_S, settle
from projections.events import log_position

log = logging.getLogger(__name__)
CHANNEL = "aiwf_checkpoints"
REFRESH_S = 0.25
Position = tuple[int, int]
RELISTEN_FIRST_S, RELISTEN_MAX_S = 0.5, 10.0


class ConsistencyWaiter:
    def __init__(
        self,
        pool: asyncpg.Pool,
        database_url: str,
        *,
        heard: Mapping[str, Callable[[str], None]] | None = None,
        on_listen: Callable[[], None] | None = None,
    ) -> None:
        self._pool, self._url = pool, database_url
        self._heard, self._on_listen = dict(heard or {}), on_listen
        self._positions: dict[tuple[str, int], Position] = {}
        self._generations: dict[str, int] = {}  # bumped when a rebuild swaps a projection's tables
        # Reads waiting, by the (projection, partition) they wait on, the nearest position first: a
        # checkpoint wakes only the reads it satisfies. Waking every read at every checkpoint of every
        # projector costs reads × checkpoints, and both grow with the command rate.
        self._waiting: dict[tuple[str, int], list[tuple[Position, int, asyncio.Future[None]]]] = {}
        self._order = itertools.count()  # breaks ties between equal positions: futures do not compare
        self._gone: dict[tuple[str, int], int] = {}  # entries of reads no longer waiting, by heap
        self._refreshing: asyncio.Future[None] | None = None
        self._refreshed_at = float("-inf")  # loop time at which the last refresh began
        self._listener: asyncpg.Connection | None = None
        self._listens = 0  # bumped at every (re)connection: a notification may have been missed before
        self._relisten: asyncio.Task[None] | None = None
        self._stopping = False
        self.listening = False

    async def start(self) -> None:
        if not await self._listen():  # _listen read the checkpoints when it succeeded
            self._relisten = asyncio.create_task(self._listen_again())
            await self._refresh()

    async def stop(self) -> None:
        self._stopping, self.listening = True, False
        if self._relisten is not None:
            await settle({self._relisten}, STOP_TIMEOUT_S, "LISTEN retry", cancel_first=True)
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close(timeout=STOP_TIMEOUT_S)

    async def _listen(self) -> bool:
        listener: asyncpg.Connection | None = None
        try:
            listener = await asyncpg.connect(self._url)
            await listener.add_listener(CHANNEL, self._on_notify)
            for channel in self._heard:
                await listener.add_listener(channel, self._on_heard)
            await self._refresh()  # after LISTEN: whatever committed meanwhile is in the table
        except Exception:  # without LISTEN we poll the table (and nothing is cached) until it is back
            log.warning(
                "no LISTEN on %s: consistency waits poll, reads are not cached", CHANNEL, exc_info=True
            )
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.close()
            return False
        listener.add_termination_listener(self._on_lost)
        self._listener = listener
        self._listens += 1
        self.listening = True
        if self._on_listen is not None:
            self._on_listen()
        return True

    def _on_lost(self, _conn: Any) -> None:
        self.listening = False
        if not self._stopping:
            log.warning("the LISTEN connection to PostgreSQL closed: reads are not cached until it is back")
            self._relisten = asyncio.get_running_loop().create_task(self._listen_again())

    async def _listen_again(self) -> None:
        delay = RELISTEN_FIRST_S
        while not self._stopping:
            await asyncio.sleep(delay)
            if await self._listen():
                log.info("LISTEN on %s is back", CHANNEL)
                return
            delay = min(delay * 2, RELISTEN_MAX_S)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        match str(payload).split(" "):
            case [projection, partition, log_id]:
                self._advance(projection, int(partition), log_id)
            case [projection, "swapped"]:
                self._generations[projection] = self._generations.get(projection, 0) + 1
                self._wake_all(projection)
            case _:
                log.warning("unexpected %s payload: %r", CHANNEL, payload)

    def _on_heard(self, _conn: Any, _pid: int, channel: str, payload: object) -> None:
        try:
            self._heard[channel](str(payload))
        except Exception:  # one bad payload must not stop the next ones
            log.exception("%s: the notification %r could not be handled", channel, payload)

    @property
    def listener_pid(self) -> int | None:
        """The PostgreSQL backend of the LISTEN connection (operators match it in pg_stat_activity)."""
        return self._listener.get_server_pid() if self._listener is not None and self.listening else None

    def stamp(self, projection: str, partition: int) -> tuple[int, int, int, int] | None:
        """Changes whenever the projection's rows on `partition` may have changed, as far as the
        notifications tell; None when they cannot tell (no LISTEN connection)."""
        if not self.listening:
            return None
        ms, seq = self._positions.get((projection, partition), (0, 0))
        return self._listens, self._generations.get(projection, 0), ms, seq

    def _advance(self, projection: str, partition: int, log_id: str) -> None:
        key, position = (projection, partition), log_position(log_id)
        if position > self._positions.get(key, (0, 0)):
            self._positions[key] = position
            self._wake_reached(key, position)

    def _wake_reached(self, key: tuple[str, int], position: Position) -> None:
        waiting = self._waiting.get(key)
        while waiting and waiting[0][0] <= position:
            _, _, woken = heapq.heappop(waiting)
            if not woken.done():
                woken.set_result(None)
            elif key in self._gone:
                self._gone[key] -= 1
        if not waiting:
            self._waiting.pop(key, None)
            self._gone.pop(key, None)

    def _wake_all(self, projection: str) -> None:
        for key in [key for key in self._waiting if key[0] == projection]:
            self._gone.pop(key, None)
            for _, _, woken in self._waiting.pop(key):
                if not woken.done():
                    woken.set_result(None)

    async def _refresh(self) -> None:
        self._refreshed_at = asyncio.get_running_loop().time()
        for row in await self._pool.fetch(
            "SELECT projection, partition, position FROM projection_checkpoints"
        ):
            self._advance(row["projection"], row["partition"], row["position"])

    async def _refresh_since(self, since: float) -> None:
        """The checkpoints read again if no refresh began since `since`; one query at a time, however
        many reads wait: a query per waiting read every `REFRESH_S` grows with the reads."""
        if self._refreshed_at >= since:
            return
        if self._refreshing is None:
            self._refreshing = asyncio.ensure_future(self._refresh())
            self._refreshing.add_done_callback(self._refreshed)
        await asyncio.shield(self._refreshing)  # one read that gives up must not cancel the others'

    def _refreshed(self, done: asyncio.Future[None]) -> None:
        self._refreshing = None
        if not done.cancelled():
            done.exception()  # raised to each read that awaited it; retrieved here if none is left

    def waiting(self) -> int:
        """Entries kept for reads that wait, and for reads gone until they are swept."""
        return sum(len(waiting) for waiting in self._waiting.values())

    def reached(self, projection: str, token: dict[int, str]) -> bool:
        return self._unreached(projection, token) is None

    def _unreached(self, projection: str, token: dict[int, str]) -> tuple[int, Position] | None:
        """A partition of the token the projection has not folded yet, and the position it needs."""
        for partition, pos in token.items():
            needed = log_position(pos)
            if self._positions.get((projection, partition), (0, 0)) < needed:
                return partition, needed
        return None

    async def wait_for(self, projection: str, token: dict[int, str], timeout_s: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (unreached := self._unreached(projection, token)) is not None:
            key, needed = (projection, unreached[0]), unreached[1]
            woken: asyncio.Future[None] = loop.create_future()
            heapq.heappush(self._waiting.setdefault(key, []), (needed, next(self._order), woken))
            try:
                while not woken.done():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        return False
                    began = loop.time()
                    await asyncio.wait((woken,), timeout=min(remaining, REFRESH_S))
                    if not woken.done():  # a notification may have been lost: the table says
                        await self._refresh_since(began)
            finally:
                self._forget(key, woken)
        return True

    def _forget(self, key: tuple[str, int], woken: asyncio.Future[None]) -> None:
        """A read that stopped waiting before its position came (timed out, cancelled): its entry stays
        in the heap until then, and the heap is swept once such entries are half of it."""
        if woken.done():
            return
        woken.cancel()
        self._gone[key] = gone = self._gone.get(key, 0) + 1
        waiting = self._waiting.get(key, [])
        if gone >= max(len(waiting) // 2, 16):
            kept = [entry for entry in waiting if not entry[2].done()]
            heapq.heapify(kept)
            if kept:
                self._waiting[key] = kept
            else:
                self._waiting.pop(key, None)
            self._gone.pop(key, None)
