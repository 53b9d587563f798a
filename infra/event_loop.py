"""The event loop every long-running process of the platform runs on."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """uvloop where it is installed (Linux, macOS): a faster event loop for the API and the workers.
    Benchmarks run their in-process measures on it too, so they time what is deployed."""
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def name() -> str:
    """The loop `run` uses, as a report names it."""
    try:
        import uvloop  # noqa: PLC0415, F401
    except ImportError:
        return "asyncio (no uvloop)"
    return "uvloop"
