"""A stop step finishes within its bound whatever the task below does with a cancellation."""

from __future__ import annotations

import asyncio
import time

import pytest

from infra.stopping import bounded, settle


async def stubborn(on_cancel: str, started: asyncio.Event) -> None:
    """A step in the middle of a long read when the stop comes, misbehaving with the cancellation as
    client libraries were seen to."""
    started.set()
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if on_cancel == "uncancel" and task is not None:
            task.uncancel()  # what asyncio.timeout does when a cancel meets its own deadline
        if on_cancel in ("ignore", "uncancel"):
            await asyncio.sleep(10)
        if on_cancel == "raise":
            raise


@pytest.mark.parametrize("on_cancel", ["raise", "swallow", "uncancel", "ignore"])
async def test_a_stop_step_returns_within_twice_its_bound_whatever_the_step_does_with_the_cancel(
    on_cancel: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression: `asyncio.gather` (and Python 3.11's `wait_for`) of a task that outlives its
    cancellation waited for ever, and a test suite's teardown hung for 5 minutes."""
    started = asyncio.Event()
    task = asyncio.create_task(stubborn(on_cancel, started), name="stubborn read")
    await started.wait()
    stopping_at = time.monotonic()

    left = await settle({task}, 0.1, "test stop")

    assert time.monotonic() - stopping_at < 1.0
    assert bool(left) == (on_cancel in ("ignore", "uncancel"))
    assert ("stubborn read" in caplog.text) == bool(left)
    task.cancel()  # the test's own clean-up: the task is still sleeping in its handler
    await asyncio.wait({task}, timeout=1)


async def test_a_step_that_ends_on_its_own_is_waited_for_and_not_cancelled() -> None:
    async def finishes() -> str:
        await asyncio.sleep(0.05)
        return "done"

    task = asyncio.create_task(finishes())
    assert await settle({task}, 1.0, "test stop") == set()
    assert task.result() == "done"
    assert await bounded(asyncio.sleep(0.01), 1.0, "test step")


async def test_cancel_first_does_not_wait_for_the_bound_before_cancelling() -> None:
    task = asyncio.create_task(asyncio.sleep(10))
    stopping_at = time.monotonic()
    assert await settle({task}, 5.0, "test stop", cancel_first=True) == set()
    assert task.cancelled()
    assert time.monotonic() - stopping_at < 1.0


async def test_a_step_stuck_past_the_bound_is_reported_as_unfinished() -> None:
    started = asyncio.Event()
    step = stubborn("ignore", started)
    assert not await bounded(step, 0.05, "test step")
