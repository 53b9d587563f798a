"""Stops that cannot hang: wait for tasks with a bound, cancel what is left, wait with a bound again, and
leave behind (logged) whatever still runs.

Cancellation is not a reliable stop here: a client library below may swallow it (redis-py's asyncio
client and asyncpg's pool release were seen doing so), and `asyncio.timeout` turns a cancellation that
meets its own deadline into a TimeoutError and *uncancels* the task. `asyncio.gather` of such a task, and
`asyncio.wait_for` around one (Python 3.11 waits for the inner task to finish after cancelling it), then
wait for ever, holding a process's shutdown. `asyncio.wait` with a timeout never does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable
from typing import Any, Final

log = logging.getLogger(__name__)

STOP_TIMEOUT_S: Final = 5.0


async def settle(
    tasks: Iterable[asyncio.Future[Any]], timeout_s: float, what: str, *, cancel_first: bool = False
) -> set[asyncio.Future[Any]]:
    """Let `tasks` finish within `timeout_s` (or cancel them at once with `cancel_first`), cancel those
    that did not, give them `timeout_s` more; returns the ones left running, after logging them."""
    running = {task for task in tasks if not task.done()}
    waits = 1 if cancel_first else 2
    if running and not cancel_first:
        _, running = await asyncio.wait(running, timeout=timeout_s)
    if not running:
        return set()
    for task in running:
        task.cancel()
    _, running = await asyncio.wait(running, timeout=timeout_s)
    if running:
        names = ", ".join(sorted(_name(task) for task in running))
        log.warning(
            "%s: %d task(s) still running after %.0f s, left behind: %s",
            what,
            len(running),
            waits * timeout_s,
            names,
        )
    return running


async def bounded(step: Awaitable[Any], timeout_s: float, what: str) -> bool:
    """Run one stop step within the bound (then cancelled, then left behind); True when it finished."""
    task = asyncio.ensure_future(step)
    return not await settle({task}, timeout_s, what)


def _name(task: asyncio.Future[Any]) -> str:
    return task.get_name() if isinstance(task, asyncio.Task) else repr(task)
