"""What the validator answers: the problems it found, each with a code, the node and how to fix it."""

from __future__ import annotations

from typing import Literal

import msgspec

Severity = Literal["error", "warning"]


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    code: str  # stable snake_case: operators grep for it, the repair loop is tested against it
    node: str | None  # the node's name, or None for the workflow as a whole
    message: str  # what is wrong and how to fix it, for a person or a designer model
    severity: Severity


class ValidationReport(msgspec.Struct, frozen=True, kw_only=True):
    valid: bool  # false iff one problem is an error; warnings alone leave a workflow valid
    problems: tuple[Problem, ...]
    checks: tuple[str, ...]  # the rule codes that were checked (a malformed document stops early)


def error(code: str, node: str | None, message: str) -> Problem:
    return Problem(code=code, node=node, message=message, severity="error")


def warning(code: str, node: str | None, message: str) -> Problem:
    return Problem(code=code, node=node, message=message, severity="warning")


def report(problems: tuple[Problem, ...], checks: tuple[str, ...]) -> ValidationReport:
    valid = not any(p.severity == "error" for p in problems)
    return ValidationReport(valid=valid, problems=problems, checks=checks)
