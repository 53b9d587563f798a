"""A settled process: what it built before serving is no longer scanned, and young objects are
collected less often, yet cyclic garbage made afterwards is still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from infra.collector import THRESHOLDS, settle_heap


@pytest.fixture
def restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_what_exists_is_frozen_and_the_thresholds_are_raised(restored: None) -> None:
    built = [Node() for _ in range(100)]

    settle_heap()

    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() >= len(built)
    assert not any(n in gc.get_objects(generation=2) for n in built)  # the permanent generation holds them


def test_a_cycle_made_after_settling_is_still_collected(restored: None) -> None:
    settle_heap()
    first, second = Node(), Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    del first, second

    gc.collect()

    assert gone() is None
