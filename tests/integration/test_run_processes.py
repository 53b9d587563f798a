"""`aiwf run` on every core: the API and the handlers in processes of their own, supervised."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.cluster import free_port
from tests.support.postgres import fresh_database

START_S = 90.0  # migrations, the demo conversation played once, the children started


def _env(home: Path, port: int, redis_url: str, database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "AIWF_KEY_PREFIX": f"run{uuid.uuid4().hex[:8]}",
        "AIWF_DATA_DIR": str(home),
        "AIWF_PORT": str(port),
        "AIWF_LEASE_TTL_MS": "1500",
        **extra,
    }


@contextmanager
def platform(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + START_S
        for line in process.stdout:
            if "serving on" in line or time.monotonic() > deadline:
                break
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        for child in _children(process.pid):
            child.kill()


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return []


def _kinds(pid: int) -> dict[str, list[psutil.Process]]:
    kinds: dict[str, list[psutil.Process]] = {"api": [], "projectors": [], "managers": []}
    for child in _children(pid):
        try:
            command = child.cmdline()
        except psutil.Error:  # gone, or dead and not yet reaped by `aiwf run`
            continue
        for kind, found in kinds.items():
            if kind in command:
                found.append(child)
    return kinds


def _until(check: object, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(check) and check():
            return True
        time.sleep(0.1)
    return False


def _live(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


async def test_the_api_and_the_handlers_run_apart_a_dead_one_is_restarted_and_sigterm_stops_all(
    tmp_path: Path, redis_url: str, database_url: str
) -> None:
    async with fresh_database(database_url) as database:
        env = _env(
            tmp_path, free_port(), redis_url, database, AIWF_API_PROCESSES="2", AIWF_WORKER_PROCESSES="1"
        )
        await asyncio.to_thread(_kill_one_then_stop_all, tmp_path, env)


def _kill_one_then_stop_all(tmp_path: Path, env: dict[str, str]) -> None:
    port = int(env["AIWF_PORT"])
    with platform(env) as run:
        kinds = _kinds(run.pid)
        assert [len(kinds["api"]), len(kinds["projectors"]), len(kinds["managers"])] == [2, 1, 1]
        key = (tmp_path / "dev-api-key").read_text().strip()
        headers = {"Authorization": f"Bearer {key}"}
        answered = httpx.get(f"http://127.0.0.1:{port}/v1/conversations", headers=headers, timeout=5)
        assert answered.status_code == 200
        assert answered.json()["items"]  # the demo conversation, answered by the worker process

        killed = kinds["api"][0].pid
        os.kill(killed, signal.SIGKILL)
        assert _until(lambda: len(_kinds(run.pid)["api"]) == 2 and killed not in _pids(run.pid))
        assert all(_live(port) for _ in range(20))  # the other one served meanwhile, on the same port

        children = [child.pid for child in _children(run.pid)]
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=60)

    assert run.returncode == 0, stderr
    assert "exited with code -9; restarting it" in stderr
    assert "Traceback" not in stderr
    assert all(_gone(pid) for pid in children)


def _pids(pid: int) -> set[int]:
    return {child.pid for child in _children(pid)}


async def test_the_children_stop_when_aiwf_run_is_killed(
    tmp_path: Path, redis_url: str, database_url: str
) -> None:
    async with fresh_database(database_url) as database:
        env = _env(
            tmp_path, free_port(), redis_url, database, AIWF_API_PROCESSES="1", AIWF_WORKER_PROCESSES="1"
        )
        await asyncio.to_thread(_kill_the_supervisor, env)


def _kill_the_supervisor(env: dict[str, str]) -> None:
    with platform(env) as run:
        children = [child.pid for child in _children(run.pid)]
        assert len(children) == 3  # the API, the projectors, the agents
        run.kill()
        run.wait(timeout=10)

        assert _until(lambda: all(_gone(pid) for pid in children))


async def test_api_processes_0_runs_everything_in_one_process(
    tmp_path: Path, redis_url: str, database_url: str
) -> None:
    async with fresh_database(database_url) as database:
        env = _env(tmp_path, free_port(), redis_url, database, AIWF_API_PROCESSES="0")
        await asyncio.to_thread(_one_process, env)


def _one_process(env: dict[str, str]) -> None:
    port = int(env["AIWF_PORT"])
    with platform(env) as run:
        assert _until(lambda: _live(port))  # here "serving on" comes just before the socket is bound
        assert _children(run.pid) == []
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=60)

    assert run.returncode == 0, stderr


async def test_a_port_in_use_is_a_clear_error(tmp_path: Path, redis_url: str, database_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with fresh_database(database_url) as database:
            result = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "infra.cli", "run"],
                env=_env(tmp_path, port, redis_url, database, AIWF_API_PROCESSES="1"),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )

    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["-1", "many", "300"])
def test_a_bad_process_count_stops_start_up_with_its_name(value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli", "run"],
        env={**os.environ, "AIWF_API_PROCESSES": value},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert f"AIWF_API_PROCESSES='{value}' is not valid" in result.stderr
