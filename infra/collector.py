"""The cycle collector of a long-running process: what it scans, and how often (ADR 0040).

CPython's collector scans every object that can hold a reference, and its oldest generation takes all
of them: the modules, classes and functions a worker imported (cyclonedx-python-lib, Litestar,
FastStream, OpenTelemetry...) and the entries it keeps decoded for its consumer groups. With the
default thresholds a projector catching up collected the oldest generation every few seconds, about
a tenth of a second each: 25-30 % of its CPU went to finding no garbage in objects that live as long
as the process.
"""

from __future__ import annotations

import gc
from typing import Final

# Allocations between young collections (default 700), and young collections per older one (10, 10).
THRESHOLDS: Final = (10_000, 10, 10)


def settle_heap() -> None:
    """Called once a process has built what it serves: what exists now lives as long as the process
    (frozen: never scanned again, never freed), and the young generations are collected less often.
    Cyclic garbage made later is still collected, later; what is not cyclic is freed at once, as
    always, by reference counting."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
