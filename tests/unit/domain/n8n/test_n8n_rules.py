"""Every rule of the n8n validator refuses its failing document and accepts its passing twin."""

from __future__ import annotations

import pytest

from domain.n8n import CODES
from tests.unit.domain.n8n.builders import check, problems
from tests.unit.domain.n8n.rule_cases import CASES, RuleCase


def _id(case: RuleCase) -> str:
    return f"{case.code}: {case.label}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_the_failing_document_is_reported_with_the_rule_s_code_and_severity(case: RuleCase) -> None:
    found = problems(case.bad, case.code)
    assert found, check(case.bad).problems
    assert {p.severity for p in found} == {case.severity}
    assert check(case.bad).valid is (case.severity == "warning")


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_the_passing_twin_raises_no_problem_at_all(case: RuleCase) -> None:
    report = check(case.good)
    assert report.problems == ()
    assert report.valid


def test_every_rule_code_has_a_failing_and_a_passing_document() -> None:
    assert {case.code for case in CASES} == set(CODES)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_a_message_says_what_to_do_and_names_the_node_it_is_about(case: RuleCase) -> None:
    for problem in problems(case.bad, case.code):
        assert ":" in problem.message
        assert problem.message.strip() == problem.message
        if problem.node is not None:
            assert f'"{problem.node}"' in problem.message


def test_a_report_lists_the_codes_it_checked() -> None:
    assert check(CASES[-1].good).checks == CODES
    assert check("not json").checks == ("invalid_json",)


def test_an_output_that_does_not_exist_is_explained_with_the_outputs_that_do() -> None:
    case = next(c for c in CASES if c.label == "IF output 2")
    [problem] = problems(case.bad, "output_index_out_of_range")
    assert problem.node == "Paid?"
    assert problem.message.startswith('node "Paid?": output index 2 (to "Post to Slack") does not exist: ')
    assert "an IF node has outputs 0 (true) and 1 (false)" in problem.message
    assert '"onError": "continueErrorOutput"' in problem.message
