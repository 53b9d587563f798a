"""A periodic task stops when its block ends, whatever the code below it does with a cancellation."""

from __future__ import annotations

import asyncio
import time

import pytest

from infra.periodic import every


class Tick:
    """A tick that is in the middle of a long command when the stop comes, and misbehaves with it."""

    def __init__(self, on_cancel: str) -> None:
        self.on_cancel, self.calls, self.started = on_cancel, 0, asyncio.Event()

    async def __call__(self) -> None:
        self.calls += 1
        self.started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self.on_cancel == "uncancel" and task is not None:
                task.uncancel()  # what asyncio.timeout does when a cancel meets its own deadline
            if self.on_cancel == "ignore":
                await asyncio.sleep(10)


@pytest.mark.parametrize("on_cancel", ["swallow", "uncancel", "ignore"])
async def test_a_stop_mid_tick_returns_within_its_bound_whatever_the_tick_does_with_the_cancel(
    on_cancel: str,
) -> None:
    """Regression: a cancellation swallowed and uncancelled below (seen as a test-suite teardown hanging
    for 5 minutes) left the loop sleeping and ticking for ever, and the stop awaiting it."""
    tick = Tick(on_cancel)
    async with every(3600, tick, "test", stop_timeout_s=0.1):
        await tick.started.wait()
        stopping_at = time.monotonic()

    assert time.monotonic() - stopping_at < 1.0
    assert tick.calls == 1


async def test_ticks_come_on_time_and_a_failed_one_is_logged_and_tried_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[float] = []

    async def tick() -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("Redis went away")

    async with every(0.05, tick, "test ticks"):
        while len(calls) < 3:  # noqa: ASYNC110 - polling the test's own list
            await asyncio.sleep(0.01)

    assert "test ticks failed" in caplog.text
    assert calls[2] - calls[0] >= 0.09
