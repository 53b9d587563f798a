"""Under `aiwf run`, any API process's `/metrics` serves what every process counted: the agents'
delegations and model calls happen in a worker process, the message is recorded by an API process."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_run_processes import _env, platform
from tests.support.cluster import free_port
from tests.support.postgres import fresh_database

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, lbl), v in samples.items() if n == name and wanted <= set(lbl))


async def test_metrics_from_an_api_process_include_what_the_worker_processes_counted(
    tmp_path: Path, redis_url: str, database_url: str
) -> None:
    async with fresh_database(database_url) as database:
        env = _env(
            tmp_path, free_port(), redis_url, database, AIWF_API_PROCESSES="2", AIWF_WORKER_PROCESSES="1"
        )
        await asyncio.to_thread(_one_message_then_scrape, tmp_path, env)


def _one_message_then_scrape(tmp_path: Path, env: dict[str, str]) -> None:
    port = int(env["AIWF_PORT"])
    with platform(env) as run:
        key = (tmp_path / "dev-api-key").read_text().strip()
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=10
        ) as api:
            started = api.post("/v1/conversations", json={}).json()
            sent = api.post(
                f"/v1/conversations/{started['conversation_id']}/messages", json={"text": "salam"}
            )
            assert sent.status_code == 202, sent.text

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            scrapes = [scrape(port) for _ in range(6)]  # the kernel hands each to one of the 2 API processes
            if all(total(s, "aiwf_messages_received_total") >= 1 for s in scrapes) and all(
                total(s, "aiwf_intents_classified_total") >= 2 for s in scrapes
            ):
                break
            time.sleep(0.2)
        for samples in scrapes:
            assert total(samples, "aiwf_messages_received_total") >= 1  # appended by an API process
            # the demo conversation's and ours, decided by the managers' process
            assert total(samples, "aiwf_intents_classified_total") >= 2
            assert total(samples, "aiwf_model_calls_total", provider="offline", outcome="ok") >= 2
            assert total(samples, "aiwf_manager_step_seconds_count", manager="orchestrator") >= 2
            assert total(samples, "aiwf_projector_batch_seconds_count") >= 1  # the projectors' process
            assert not [k for k in samples if k[0] == "aiwf_projection_lag" and dict(k[1]).get("pid")]
        folder = next(Path(p) for p in _multiproc_dirs(run.pid))
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=60)

    assert run.returncode == 0, stderr
    assert not folder.exists()  # the run's own folder goes with it


def _multiproc_dirs(pid: int) -> list[str]:
    return [
        child.environ()["PROMETHEUS_MULTIPROC_DIR"]
        for child in psutil.Process(pid).children()
        if "PROMETHEUS_MULTIPROC_DIR" in child.environ()
    ]
