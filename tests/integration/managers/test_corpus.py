"""The corpus of merchants' requests (tests/corpus/main_job.json): well-formed, and played through the
main job on real Redis and PostgreSQL with the offline planner, above the eval's thresholds."""

from __future__ import annotations

import re

import pytest

from domain.n8n.catalog import default_catalog
from domain.types import AgentRole, Sensitivity
from inference.offline import answer
from inference.privacy import classify
from infra.cli import _parser
from infra.cli import eval as corpus_eval
from infra.cli.eval import (
    LANGUAGES,
    MIN_ROUTING,
    CorpusCase,
    Outcome,
    Report,
    Verdict,
    evaluate,
    load_corpus,
)
from tests.integration.managers.conftest import MainJob

CASES = load_corpus()
ARABIC = re.compile("[\u0600-\u06ff]")


async def test_the_corpus_played_through_the_main_job_meets_the_thresholds(main_job: MainJob) -> None:
    report = await evaluate(main_job.store, CASES)

    table = corpus_eval.render(report)
    assert all(v.outcome.reply_kind is not None for v in report.verdicts), table
    assert [row.label for row in report.rows] == [*LANGUAGES, "all"]
    overall = report.overall
    assert overall.routing is not None
    assert overall.routing >= MIN_ROUTING, table
    assert overall.workflows >= sum(case.wants_workflow for case in CASES) * MIN_ROUTING, table
    assert overall.valid == 1.0, table
    assert overall.sensitive == (sum(case.sensitive for case in CASES),) * 2, table
    assert report.problems() == [], table


async def test_what_the_findings_say_does_not_change_the_workflow_the_request_asks_for(
    main_job: MainJob,
) -> None:
    """Regression: a store the user never named, written by the sales specialist as a fact ("source:
    Shopify"), was read back by the designer and turned orders sent to a webhook into a Shopify trigger."""
    report = await evaluate(main_job.store, [case for case in CASES if case.wants_workflow])

    for verdict in report.verdicts:
        alone = answer(AgentRole.DESIGNER, verdict.case.text)
        assert verdict.outcome.node_types == {node.type for node in alone.nodes}, verdict.case.id


def test_the_corpus_has_enough_cases_of_every_kind() -> None:
    assert len(CASES) >= 60
    assert len({case.id for case in CASES}) == len(CASES)
    assert sum(not case.wants_workflow for case in CASES) >= 10
    assert sum(case.sensitive for case in CASES) >= 5
    for language in LANGUAGES:  # roughly balanced
        assert sum(case.language == language for case in CASES) >= len(CASES) / 5, language
    assert {case.trigger for case in CASES} == {"schedule", "webhook", "app_event", "none"}
    assert {s for case in CASES for s in case.specialists} == {"sales", "logistics", "finance"}
    assert sum(len(case.specialists) >= 2 for case in CASES) >= 10  # mixtures
    assert sum(len(case.specialists) == 3 for case in CASES) >= 4


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_case_is_consistent_and_names_real_n8n_node_types(case: CorpusCase) -> None:
    catalog = default_catalog()

    assert case.wants_workflow == bool(case.specialists) == bool(case.nodes)
    for key in case.nodes:
        for node_type in key.split("|"):
            assert catalog.get(node_type) is not None, node_type
    if case.language == "darija":
        assert not ARABIC.search(case.text)  # Darija in Latin script
    if case.language == "ar":
        assert len(ARABIC.findall(case.text)) > len(case.text) / 2


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_the_privacy_classifier_agrees_with_the_sensitive_flag(case: CorpusCase) -> None:
    found = classify(case.text)

    assert (found.sensitivity is Sensitivity.SENSITIVE) == case.sensitive, sorted(found.kinds)


def _verdict(case: CorpusCase, delegated: set[str], drafts: tuple[bool, ...]) -> Verdict:
    outcome = Outcome(
        reply_kind="workflow" if drafts else "answer",
        delegated=frozenset(delegated),
        drafts=drafts,
        trigger=case.trigger if drafts else "none",
        node_types=frozenset(n.split("|")[0] for n in case.nodes),
        sensitivities=("sensitive",) if case.sensitive else ("public",),
    )
    return Verdict(case=case, outcome=outcome)


def test_the_eval_fails_below_the_routing_threshold_or_on_a_workflow_left_invalid() -> None:
    wanted = [case for case in CASES if case.wants_workflow][:20]
    right = [_verdict(case, set(case.specialists), (True,)) for case in wanted]
    misrouted = _verdict(wanted[0], {"finance", "sales", "logistics"} - set(wanted[0].specialists), (True,))
    repaired = _verdict(wanted[1], set(wanted[1].specialists), (False, False, True))
    broken = _verdict(wanted[2], set(wanted[2].specialists), (False, False, False, False))

    assert Report(verdicts=(*right, repaired)).problems() == []
    assert Report(verdicts=(*right, repaired)).overall.repairs == pytest.approx(2 / 21)
    assert Report(verdicts=(*right[1:], misrouted)).overall.routing == pytest.approx(19 / 20)
    assert Report(verdicts=(*right[2:], misrouted, misrouted)).problems() == ["routing 90.0% < 95%"]
    assert Report(verdicts=(*right, broken)).problems() == ["valid workflows 95.2% < 100% (of 21 drafted)"]
    assert "workflow still invalid after 4 drafts" in broken.failures()


def test_a_case_without_a_workflow_is_routed_only_when_answered_without_delegation() -> None:
    greeting = next(case for case in CASES if not case.wants_workflow)

    assert _verdict(greeting, set(), ()).routed
    assert not _verdict(greeting, {"sales"}, (True,)).routed
    silent = Verdict(case=greeting, outcome=Outcome(reply_kind=None, delegated=frozenset()))
    assert not silent.routed
    assert "no reply within 30 s" in silent.failures()


def test_aiwf_eval_takes_a_corpus_path() -> None:
    args = _parser().parse_args(["eval", "--corpus", "other.json"])

    assert (args.command, args.corpus) == (corpus_eval.run, "other.json")
