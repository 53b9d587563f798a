"""Imported first by the CLI: from then on, SIGTERM while the process loads (half a second of imports)
exits 0 instead of killing it by the signal; nothing is started yet, so stopping is clean. The command's
event loop then takes over SIGTERM (`until_handed_over`) until the command installs its own graceful stop
(`hand_over`, then uvicorn's handlers or `until_signalled`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


def _stop_before_the_loop(_signum: int, _frame: object) -> None:
    # Nothing has started yet. A SystemExit raised here could land inside an import's class creation,
    # where Python turns it into a RuntimeError (exit 1, a traceback): leave at once instead.
    os._exit(0)


def install() -> None:
    """Only in a main thread that has not chosen its own handling (never in a test runner)."""
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    ):
        signal.signal(signal.SIGTERM, _stop_before_the_loop)


_requested = False  # a SIGTERM arrived while the command was starting


def requested() -> bool:
    """Whether SIGTERM arrived during start-up. Its cancellation may have been swallowed by a client
    library below (infra/stopping.py), so a command that reaches its graceful wait must ask, or it
    would wait for a signal that has already come."""
    return _requested


async def until_handed_over(command: Awaitable[T]) -> T | int:
    """SIGTERM cancels the command while it starts, so its `finally` blocks (embedded servers, leases)
    run and the process exits 0 instead of dying by the signal."""
    task, terminated = asyncio.current_task(), asyncio.Event()

    def terminate() -> None:
        global _requested  # noqa: PLW0603 - one process, one start-up
        _requested = True
        terminated.set()
        if task is not None:
            task.cancel()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, terminate)
    try:
        return await command
    except asyncio.CancelledError:
        if terminated.is_set():
            return 0
        raise


def hand_over() -> None:
    """The command stops gracefully on its own from here (uvicorn installs its handlers with
    `signal.signal`; the loop's handler would still fire beside them and cancel the server mid-drain)."""
    with contextlib.suppress(RuntimeError, ValueError):
        asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)


install()
