"""Imported first by the CLI: from then on, SIGTERM while the process loads (half a second of imports)
exits 0 instead of killing it by the signal; nothing is started yet, so stopping is clean. The command's
event loop then takes over SIGTERM (`infra.cli._stopped_by_sigterm`, later `until_signalled`)."""

from __future__ import annotations

import signal
import sys
import threading


def _stop_before_the_loop(_signum: int, _frame: object) -> None:
    sys.exit(0)


def install() -> None:
    """Only in a main thread that has not chosen its own handling (never in a test runner)."""
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    ):
        signal.signal(signal.SIGTERM, _stop_before_the_loop)


install()
