"""No false alarms: the hand-written fixtures (which a real n8n 2.8.4 creates and activates, see
tests/integration/n8n) and every workflow of the offline designer validate without a problem."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from domain.types import AgentRole
from inference.offline import answer
from tests.unit.domain.n8n.builders import check
from tests.unit.inference.offline_cases import CASES, UNCLEAR

FIXTURES = sorted((Path(__file__).parents[3] / "fixtures" / "n8n" / "valid").glob("*.json"))
DESIGNER_TEXTS = [*(case.text for case in CASES), *UNCLEAR]


def test_there_are_at_least_twenty_valid_fixtures() -> None:
    assert len(FIXTURES) >= 20


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_a_hand_written_workflow_that_n8n_activates_has_no_problem(path: Path) -> None:
    report = check(path.read_text(encoding="utf-8"))
    assert report.problems == ()
    assert report.valid


@pytest.mark.parametrize("text", DESIGNER_TEXTS, ids=lambda text: text[:40])
def test_the_offline_designer_s_workflow_has_no_error(text: str) -> None:
    report = check(msgspec.json.encode(answer(AgentRole.DESIGNER, text)).decode())
    assert [p for p in report.problems if p.severity == "error"] == []
    assert report.valid
