"""The platform's processes, and the benchmarks' in-process measures, run on the same event loop."""

from __future__ import annotations

import asyncio

import uvloop

from infra import event_loop


async def _loop_type() -> type[asyncio.AbstractEventLoop]:
    return type(asyncio.get_running_loop())


def test_a_coroutine_runs_to_its_result_on_uvloop_where_it_is_installed() -> None:
    assert event_loop.run(_loop_type()) is uvloop.Loop
    assert event_loop.name() == "uvloop"
