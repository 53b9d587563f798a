"""The table every benchmark prints: a row per measure, with its baseline, ratio, goal and verdict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Row:
    measure: str
    result: str
    baseline: str = ""
    ratio: float | None = None
    goal: str = ""
    verdict: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def render(rows: Sequence[Row]) -> str:
    header = ("measure", "result", "baseline", "ratio", "goal", "verdict")
    cells = [header] + [
        (r.measure, r.result, r.baseline, "" if r.ratio is None else f"{r.ratio:.2f}x", r.goal, r.verdict)
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
