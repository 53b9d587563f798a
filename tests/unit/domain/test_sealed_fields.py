"""Which fields are sealed: what a message, a model and a finding say above public, nothing else."""

from __future__ import annotations

import msgspec

from domain import subject_events
from domain.conversation_events import AgentFindingRecorded, Fact, InferenceDecided
from domain.sealed_fields import map_paths, sealed_paths
from domain.subject_events import ShredSubject, SubjectShredded
from domain.types import AgentRole, Sensitivity
from tests.support.events import NOW, message


def decided(sensitivity: Sensitivity, output: str = '{"x": 1}') -> InferenceDecided:
    return InferenceDecided(
        inference_id="i1",
        purpose=AgentRole.SALES,
        provider="vllm",
        model="m",
        route_reason="r",
        sensitivity=sensitivity,
        template_id="t",
        template_version=1,
        template_sha256="a" * 64,
        output=output,
        decided_at=NOW,
    )


def finding(sensitivity: Sensitivity) -> AgentFindingRecorded:
    facts = (Fact(key="account", value="RIP 0079"), Fact(key="total", value="99960 DA"))
    return AgentFindingRecorded(
        delegation_id="d1",
        agent=AgentRole.FINANCE,
        summary="s",
        facts=facts,
        sensitivity=sensitivity,
        recorded_at=NOW,
    )


def test_above_public_the_text_the_answer_and_the_findings_are_sealed() -> None:
    for level in (Sensitivity.INTERNAL, Sensitivity.SENSITIVE):
        assert sealed_paths(msgspec.structs.replace(message("x"), sensitivity=level)) == ("text",)
        assert sealed_paths(decided(level)) == ("output",)
        assert sealed_paths(finding(level)) == ("summary", "facts.0.value", "facts.1.value")


def test_public_events_and_answers_with_nothing_to_hide_are_left_as_they_are() -> None:
    assert sealed_paths(message("x")) == ()
    assert sealed_paths(decided(Sensitivity.PUBLIC)) == ()
    assert sealed_paths(decided(Sensitivity.SENSITIVE, output="")) == ()
    assert sealed_paths(finding(Sensitivity.PUBLIC)) == ()


def test_a_mapped_copy_changes_only_the_paths_named() -> None:
    original = finding(Sensitivity.SENSITIVE)

    changed = map_paths(original, ("summary", "facts.1.value"), lambda path, value: f"<{path}:{value}>")

    assert isinstance(changed, AgentFindingRecorded)
    assert changed.summary == "<summary:s>"
    assert [f.value for f in changed.facts] == ["RIP 0079", "<facts.1.value:99960 DA>"]
    assert (changed.delegation_id, changed.recorded_at) == (original.delegation_id, original.recorded_at)
    assert map_paths(original, (), lambda _p, _v: "x") is original


def test_a_subject_is_shredded_once() -> None:
    command = ShredSubject(subject_id="c1", shredded_by="admin-key", reason="asked", at=NOW)

    first = subject_events.decide(command, shredded=False)

    assert first == [
        SubjectShredded(subject_id="c1", shredded_by="admin-key", reason="asked", shredded_at=NOW)
    ]
    assert subject_events.fold(first) is True
    assert subject_events.decide(command, shredded=subject_events.fold(first)) == []
    assert subject_events.stream_of("acme", "c1") == "subject-c1"
