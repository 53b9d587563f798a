"""`aiwf run`'s processes write their metrics to one folder; any API process serves the sum of all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from infra.cli.supervisor import MetricsDir
from infra.observability import MULTIPROC_DIR

ROOT = Path(__file__).parents[3]

COUNT = """
from infra.main_job_metrics import count_appended, timed_step
from tests.support.events import decided, message, new
count_appended([new(message()), new(decided())])
with timed_step("orchestrator"):
    pass
"""

SERVE = """
import sys
from prometheus_client.core import GaugeMetricFamily
from infra.observability import exposition
lag = GaugeMetricFamily("aiwf_projection_lag", "lag", labels=["group", "partition"])
lag.add_metric(["projection.conversations", "0"], 7)
sys.stdout.write(exposition([lag]).decode())
"""


def run(code: str, folder: Path | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != MULTIPROC_DIR}
    if folder is not None:
        env[MULTIPROC_DIR] = str(folder)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_counts_of_two_processes_are_served_summed_and_a_live_gauge_once(tmp_path: Path) -> None:
    folder = MetricsDir({MULTIPROC_DIR: str(tmp_path / "metrics")})
    run(COUNT, folder.path)
    run(COUNT, folder.path)  # both exited: their counts stay, as what they counted did happen

    served = samples(run(SERVE, folder.path))

    assert served[("aiwf_messages_received_total", (("sensitivity", "public"),))] == 2
    calls = (("model", "offline-planner-1"), ("outcome", "ok"), ("provider", "offline"), ("purpose", "sales"))
    assert served[("aiwf_model_calls_total", calls)] == 2
    assert (
        served[
            (
                "aiwf_model_tokens_total",
                (("kind", "input"), ("model", "offline-planner-1"), ("provider", "offline")),
            )
        ]
        == 200
    )
    assert served[("aiwf_manager_step_seconds_count", (("manager", "orchestrator"), ("outcome", "ok")))] == 2
    # read by the serving process at scrape time: shown as read, with no pid label, not summed
    assert served[("aiwf_projection_lag", (("group", "projection.conversations"), ("partition", "0")))] == 7
    assert not any(name == "aiwf_projection_lag" and dict(labels).get("pid") for name, labels in served)


def test_without_the_folder_a_process_serves_its_own_counts_as_before(tmp_path: Path) -> None:
    served = samples(run(COUNT + SERVE, None))

    assert served[("aiwf_messages_received_total", (("sensitivity", "public"),))] == 1
    assert not list(tmp_path.iterdir())


def test_a_new_run_starts_from_an_empty_folder_and_removes_the_one_it_made(tmp_path: Path) -> None:
    given = tmp_path / "operator"
    run(COUNT, MetricsDir({MULTIPROC_DIR: str(given)}).path)
    assert list(given.glob("*.db"))

    again = MetricsDir({MULTIPROC_DIR: str(given)})  # an earlier run's files would be summed with ours
    assert not list(given.glob("*.db"))
    again.remove()
    assert given.is_dir()  # the operator's folder is theirs to remove

    made = MetricsDir({})
    assert made.path.is_dir()
    made.remove()
    assert not made.path.exists()


def test_a_dead_process_keeps_its_counts_in_the_sum(tmp_path: Path) -> None:
    folder = MetricsDir({MULTIPROC_DIR: str(tmp_path)})
    child = subprocess.Popen(
        [sys.executable, "-c", COUNT], cwd=ROOT, env={**os.environ, MULTIPROC_DIR: str(tmp_path)}
    )
    child.wait(timeout=30)
    folder.process_dead(child.pid)

    served = samples(run(SERVE, folder.path))

    assert served[("aiwf_messages_received_total", (("sensitivity", "public"),))] == 1
