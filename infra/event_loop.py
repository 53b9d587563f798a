"""The event loop every long-running process of the platform runs on."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Coroutine
from types import ModuleType
from typing import Any, TypeVar

T = TypeVar("T")


def _uvloop() -> ModuleType | None:
    """uvloop where it is installed (Linux, macOS); imported only when a loop is wanted."""
    try:
        return importlib.import_module("uvloop")
    except ImportError:
        return None


def run(main: Coroutine[Any, Any, T]) -> T:
    """A faster event loop for the API and the workers where there is one. Benchmarks run their
    in-process measures on it too, so they time what is deployed."""
    uvloop = _uvloop()
    if uvloop is None:
        return asyncio.run(main)
    result: T = uvloop.run(main)
    return result


def name() -> str:
    """The loop `run` uses, as a report names it."""
    return "asyncio (no uvloop)" if _uvloop() is None else "uvloop"
