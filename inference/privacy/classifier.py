"""classify(text): every detector over the text, overlaps settled, the sensitivity they add up to."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import msgspec

from domain.types import Sensitivity
from inference.privacy.digits import DIGITS
from inference.privacy.emails import scan_emails
from inference.privacy.invoices import scan_invoices
from inference.privacy.runs import scan_numbers
from inference.privacy.types import CONFIDENCE_RANK, PUBLIC, Classification, Finding, max_sensitivity

# Every kind needs a digit or an "@" (an invoice needs an amount, a number or an id): none, nothing to do.
_WORTH_A_LOOK = re.compile(f"[{DIGITS}@]")
# A UUID (8-4-4-4-12 hex digits) is an identifier a program made; its digit runs read as an RC or a CCP
# in about 1 of 125 random ones, which sealed workflows (node ids) that hold nothing sensitive.
_UUID = re.compile(
    r"(?<![0-9A-Fa-f-])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f-])"
)


def classify(text: str) -> Classification:
    if not _WORTH_A_LOOK.search(text):
        return PUBLIC
    entities = _outside_uuids(text, _without_overlaps([*scan_numbers(text), *scan_emails(text)]))
    # An invoice is a context around entities, not an entity: it may contain the NIF it quotes.
    findings = sorted([*entities, *scan_invoices(text)], key=lambda finding: (finding.start, finding.end))
    return _classification(findings)


def sensitivity_of(text: str) -> Sensitivity:
    """The verdict alone, failing closed: should the classifier itself fail, the text is sensitive (a
    failure must never let data through as public)."""
    try:
        return classify(text).sensitivity
    except Exception:
        return Sensitivity.SENSITIVE


def classify_many(texts: Iterable[str]) -> Classification:
    """One verdict for texts that travel together; each finding's `text_index` says whose it is."""
    findings = [
        msgspec.structs.replace(finding, text_index=index)
        for index, text in enumerate(texts)
        for finding in classify(text).findings
    ]
    return _classification(findings)


def _classification(findings: list[Finding]) -> Classification:
    if not findings:
        return PUBLIC
    level = max_sensitivity(finding.sensitivity for finding in findings)
    return Classification(sensitivity=level, findings=tuple(findings))


def _outside_uuids(text: str, findings: list[Finding]) -> list[Finding]:
    """Findings wholly inside a UUID are the UUID's digits, not a number someone wrote."""
    spans = [m.span() for m in _UUID.finditer(text)] if "-" in text else []
    if not spans:
        return findings
    return [f for f in findings if not any(start <= f.start and f.end <= end for start, end in spans)]


def _without_overlaps(findings: list[Finding]) -> list[Finding]:
    """Where entities overlap, the more sensitive, then longer, then surer one stays."""
    kept: list[Finding] = []
    for cluster in _overlapping(sorted(findings, key=lambda finding: finding.start)):
        if len(cluster) == 1:
            kept += cluster
            continue
        chosen: list[Finding] = []
        for finding in sorted(cluster, key=_priority):
            if all(finding.end <= other.start or finding.start >= other.end for other in chosen):
                chosen.append(finding)
        kept += chosen
    return kept


def _overlapping(findings: list[Finding]) -> Iterator[list[Finding]]:
    cluster: list[Finding] = []
    end = 0
    for finding in findings:
        if cluster and finding.start >= end:
            yield cluster
            cluster = []
        cluster.append(finding)
        end = max(end, finding.end)
    if cluster:
        yield cluster


def _priority(finding: Finding) -> tuple[int, int, int, int]:
    size = finding.end - finding.start
    return (-finding.sensitivity.rank, -size, -CONFIDENCE_RANK[finding.confidence], finding.start)
