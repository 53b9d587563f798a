"""An audit verification's answer: each problem says which of the caller's streams and versions."""

from __future__ import annotations

from api.verifications import problem_of
from domain.chain import ChainProblem


def test_a_problems_place_is_split_into_its_stream_and_version() -> None:
    at_version = problem_of(ChainProblem(where="conversation-c1@3", kind="hash", detail="d"))
    at_head = problem_of(ChainProblem(where="conversation-c1@head", kind="head", detail="d"))

    assert (at_version.code, at_version.stream, at_version.version) == ("hash", "conversation-c1", 3)
    assert (at_head.stream, at_head.version) == ("conversation-c1", None)


def test_a_log_entry_or_a_checkpoint_is_about_no_stream() -> None:
    entry = problem_of(ChainProblem(where="aiwf:{p0}:log 17-0", kind="orphan", detail="d"))
    checkpoint = problem_of(
        ChainProblem(where="aiwf:{p1}:log checkpoint 8", kind="checkpoint_root", detail="d")
    )

    assert (entry.stream, entry.version, entry.where) == (None, None, "aiwf:{p0}:log 17-0")
    assert (checkpoint.code, checkpoint.stream) == ("checkpoint_root", None)
