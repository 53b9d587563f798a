"""The `aiwf` command: clear messages and non-zero exits on bad input, `--help` everywhere."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from domain.catalog import REGISTRY
from domain.conversation_events import InferenceDecided
from infra.event_store import RedisEventStore
from infra.keys import KeySpace
from infra.redis_conn import connect
from tests.support.cluster import free_port
from tests.support.postgres import fresh_database


def aiwf(*args: str, redis_url: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "AIWF_KEY_PREFIX": f"cli{uuid.uuid4().hex[:8]}",
    }
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["api"],
        ["worker"],
        ["demo"],
        ["migrate"],
        ["keys", "create"],
        ["events", "tail"],
        ["projections", "verify"],
        ["audit", "verify"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli", *command, "--help"], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0
    assert "usage: aiwf" in result.stdout


def test_keys_are_created_listed_and_revoked_with_clear_errors(redis_url: str, database_url: str) -> None:
    created = aiwf(
        "keys",
        "create",
        "--tenant",
        "cli-test",
        "--role",
        "auditor",
        redis_url=redis_url,
        database_url=database_url,
    )
    key_id = created.stdout.split()[1]
    listed = aiwf("keys", "list", "--tenant", "cli-test", redis_url=redis_url, database_url=database_url)
    bad_tenant = aiwf(
        "keys",
        "create",
        "--tenant",
        "Not Valid",
        "--role",
        "member",
        redis_url=redis_url,
        database_url=database_url,
    )
    bad_role = aiwf(
        "keys", "create", "--tenant", "x", "--role", "owner", redis_url=redis_url, database_url=database_url
    )
    revoked = aiwf("keys", "revoke", key_id, redis_url=redis_url, database_url=database_url)
    again = aiwf("keys", "revoke", key_id, redis_url=redis_url, database_url=database_url)

    assert created.returncode == 0
    assert created.stdout.splitlines()[1].startswith("aiwf_")
    assert key_id in listed.stdout
    assert (bad_tenant.returncode, bad_role.returncode) == (2, 2)
    assert "tenant 'Not Valid'" in bad_tenant.stderr
    assert "invalid choice: 'owner'" in bad_role.stderr
    assert revoked.returncode == 0
    assert again.returncode == 1
    assert "no active key" in again.stderr


def test_an_unknown_projector_is_named_in_the_error(redis_url: str, database_url: str) -> None:
    result = aiwf("projections", "verify", "nonexistent", redis_url=redis_url, database_url=database_url)

    assert result.returncode == 2
    assert "no projector named 'nonexistent'" in result.stderr


def test_events_tail_prints_the_log_as_json_lines(redis_url: str, database_url: str) -> None:
    result = aiwf("events", "tail", "--from-start", "--once", redis_url=redis_url, database_url=database_url)

    assert result.returncode == 0
    assert result.stdout == ""  # a fresh key prefix: an empty log, and `--once` returns when caught up


def test_privacy_scan_reads_standard_input_and_prints_every_finding() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli", "privacy", "scan"],
        input="Virement sur le RIP 007 99999 0012345678 97 svp, ou appelle le 0661 23 45 67",
        capture_output=True,
        text=True,
        check=False,
    )

    report = json.loads(result.stdout)
    assert result.returncode == 0
    assert report["sensitivity"] == "sensitive"
    assert {f["kind"] for f in report["findings"]} == {"rip", "phone"}


async def test_infer_records_its_decision_as_an_event(redis_url: str, database_url: str) -> None:
    env_prefix = f"cli{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "AIWF_VLLM"))}
    env |= {"REDIS_URL": redis_url, "DATABASE_URL": database_url, "AIWF_KEY_PREFIX": env_prefix}
    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "infra.cli",
            "infer",
            "--purpose",
            "orchestrator",
            "Kol sbah b3athli total ta3 les commandes",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    decision = json.loads(result.stdout[: result.stdout.index("\n}\n") + 2])

    conn = await connect(redis_url)
    try:
        store = RedisEventStore(conn, KeySpace(prefix=env_prefix, partitions=8), REGISTRY, wait_fsync_ms=None)
        [stored] = await store.read_stream(decision["stream"])
    finally:
        await conn.close()
    assert result.returncode == 0, result.stderr
    assert decision["decision"]["provider"] == "offline"
    assert isinstance(stored.envelope.data, InferenceDecided)
    assert stored.envelope.data.template_id == "aiwf.orchestrator"
    assert json.loads(stored.envelope.data.output)["intents"]


@pytest.mark.parametrize("after_s", [0.0, 0.15, 0.3, 0.6, 1.0, 2.0])
def test_sigterm_at_any_moment_of_start_up_stops_a_worker_cleanly(
    after_s: float, redis_url: str, database_url: str
) -> None:
    """Regression: a worker stopped while it was still starting died by the signal (exit -15)."""
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url}
    env["AIWF_KEY_PREFIX"] = f"cli{uuid.uuid4().hex[:8]}"
    worker = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "worker"], env=env, stderr=subprocess.PIPE, text=True
    )
    while not catches_sigterm(worker.pid) and worker.poll() is None:  # before that, no program can
        time.sleep(0.005)
    time.sleep(after_s)  # into the imports (about 0.5 s), the start-up, then the running worker
    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=60)

    assert worker.returncode == 0, stderr
    assert "Traceback" not in stderr


def catches_sigterm(pid: int) -> bool:
    """Whether the process has a SIGTERM handler yet (bit 15 of SigCgt in /proc/<pid>/status)."""
    with open(f"/proc/{pid}/status") as status:
        caught = next(line for line in status if line.startswith("SigCgt:")).split()[1]
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_to_the_whole_process_group_stops_the_workers_before_the_embedded_valkey(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """Regression: Ctrl-C reached the embedded Valkey too, which died under workers still reading
    ("Message fetch error ... Connection closed by server"); it now runs in a session of its own and
    `aiwf` stops it after its workers."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env["AIWF_DATA_DIR"] = str(tmp_path)
    env["AIWF_PORT"] = str(free_port())
    worker = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a terminal's foreground process group of its own
    )
    assert worker.stdout is not None
    for line in worker.stdout:
        if "serving on" in line:
            break
    time.sleep(0.5)  # the subscribers are reading
    valkey = json.loads((tmp_path / "valkey" / "server.json").read_text())["pid"]
    os.killpg(worker.pid, signum)
    _, stderr = worker.communicate(timeout=60)

    assert worker.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "fetch error" not in stderr
    with pytest.raises(ProcessLookupError):
        os.kill(valkey, 0)  # stopped by aiwf on its way out


async def test_the_demo_without_an_n8n_says_that_it_skipped_deployment(
    redis_url: str, database_url: str
) -> None:
    async with fresh_database(database_url) as database:
        result = await asyncio.to_thread(aiwf, "demo", redis_url=redis_url, database_url=database)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "n8n: none configured (N8N_URL, N8N_API_KEY): deployment skipped" in result.stdout
    assert "demo: OK" in result.stdout


def test_an_n8n_url_without_its_key_stops_the_cli_and_a_bad_key_is_never_echoed() -> None:
    env = {**os.environ, "N8N_URL": "http://127.0.0.1:5678"}
    env.pop("N8N_API_KEY", None)
    alone = subprocess.run(
        [sys.executable, "-m", "infra.cli", "demo"], env=env, capture_output=True, text=True, check=False
    )
    bad_url = subprocess.run(
        [sys.executable, "-m", "infra.cli", "demo"],
        env={**env, "N8N_URL": "ftp://n8n", "N8N_API_KEY": "n8n_api_secret"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert alone.returncode == 2
    assert "N8N_URL and N8N_API_KEY go together" in alone.stderr
    assert bad_url.returncode == 2
    assert "N8N_URL='ftp://n8n' is not valid" in bad_url.stderr
    assert "n8n_api_secret" not in bad_url.stderr + bad_url.stdout
