"""How many processes `aiwf run` starts."""

from __future__ import annotations

import pytest

from infra.cli.supervisor import ProcessPlan, plan_for


@pytest.mark.parametrize(
    ("cores", "api", "workers", "plan"),
    [
        (1, None, None, ProcessPlan(api=1, workers=1)),
        (2, None, None, ProcessPlan(api=1, workers=1)),
        (8, None, None, ProcessPlan(api=4, workers=4)),
        (8, 2, None, ProcessPlan(api=2, workers=6)),
        (8, None, 1, ProcessPlan(api=4, workers=1)),
        (2, 3, 2, ProcessPlan(api=3, workers=2)),
    ],
)
def test_half_the_cores_serve_http_and_the_rest_run_the_handlers(
    cores: int, api: int | None, workers: int | None, plan: ProcessPlan
) -> None:
    assert plan_for(cores, api, workers) == plan


def test_no_api_process_means_everything_in_one() -> None:
    plan = plan_for(8, 0, 3)

    assert plan.single
    assert not plan_for(8, 1, 1).single
