"""Something a process does every so often for as long as it runs (audit checkpoints, provider reports),
stopped by an event rather than by cancellation alone: the loop waits on the event between ticks, and the
stop sets it, gives a tick in progress a bounded time to finish, then cancels with a bound
(infra/stopping.py says why cancellation alone is not enough).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from infra.stopping import STOP_TIMEOUT_S, settle

log = logging.getLogger(__name__)

Tick = Callable[[], Awaitable[None]]


async def repeat(tick: Tick, interval_s: float, stopping: asyncio.Event, what: str) -> None:
    """`tick()` now and every `interval_s` until `stopping` is set; a failed tick is logged and the next
    one tried on time."""
    while not stopping.is_set():
        try:
            await tick()
        except Exception:
            log.exception("%s failed; trying again in %ss", what, interval_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval_s)


@contextlib.asynccontextmanager
async def every(
    interval_s: float, tick: Tick, what: str, *, stop_timeout_s: float = STOP_TIMEOUT_S
) -> AsyncIterator[None]:
    """`tick` every `interval_s` in the background for as long as the block runs."""
    stopping = asyncio.Event()
    task = asyncio.create_task(repeat(tick, interval_s, stopping, what), name=what)
    try:
        yield
    finally:
        stopping.set()  # asked first; cancelled only if a tick outlasts the bound
        await settle({task}, stop_timeout_s, what)
