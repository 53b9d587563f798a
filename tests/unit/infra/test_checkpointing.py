"""The periodic checkpointer stops when told, even when a client library below swallows the stop."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from infra.checkpoints import Checkpointer, checkpoint_periodically


class Swallowing:
    """What redis-py 8.1's asyncio client was seen doing: a cancellation mid-command is not raised."""

    def __init__(self) -> None:
        self.calls = 0
        self.started = asyncio.Event()

    async def checkpoint_all(self) -> list[Any]:
        self.calls += 1
        self.started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            return []
        return []


async def test_a_stop_swallowed_mid_checkpoint_still_stops_the_loop_at_once() -> None:
    """Regression: the loop went on to sleep its whole interval, holding `aiwf worker`'s shutdown."""
    checkpointer = Swallowing()
    task = asyncio.create_task(checkpoint_periodically(cast(Checkpointer, checkpointer), 3600))
    await checkpointer.started.wait()

    task.cancel()
    done, _ = await asyncio.wait([task], timeout=2)

    assert task in done
    assert task.cancelled()
    assert checkpointer.calls == 1
