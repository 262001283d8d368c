"""The report document: an `AuditResult` turned into what every renderer shows.

The JSON object built here is the report contract (`rolewatch.report/v1`, README.md); the text, Markdown
and SARIF renderers read the same grouping and summary so the formats never disagree on counts.
Pure: no AWS calls, no I/O.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rolewatch.model import AuditResult, Finding, Severity, worst_first

REPORT_SCHEMA = "rolewatch.report/v1"

# Worst first, the order every renderer lists severities in.
SEVERITIES_WORST_FIRST: tuple[Severity, ...] = tuple(sorted(Severity, key=lambda s: -s.rank))


@dataclass(frozen=True)
class RoleSection:
    """One role of the report: its open findings and its suppressed ones, each worst first."""

    resource: str
    findings: tuple[Finding, ...]
    suppressed: tuple[Finding, ...]

    @property
    def worst(self) -> Severity | None:
        return self.findings[0].severity if self.findings else None


@dataclass(frozen=True)
class Suppression:
    """A suppressed finding's `suppressed_by`, split for display."""

    justification: str
    until: str | None


def is_open(finding: Finding) -> bool:
    return finding.suppressed_by is None


def group_by_role(findings: Iterable[Finding]) -> list[RoleSection]:
    """Every role once, worst first: by its worst open finding, then by how many it has, then by ARN.

    A role whose findings are all suppressed comes after every role with an open finding.
    """
    by_role: dict[str, list[Finding]] = {}
    for finding in findings:
        by_role.setdefault(finding.resource, []).append(finding)
    sections = [
        RoleSection(
            resource=resource,
            findings=tuple(worst_first(f for f in role_findings if is_open(f))),
            suppressed=tuple(worst_first(f for f in role_findings if not is_open(f))),
        )
        for resource, role_findings in by_role.items()
    ]
    return sorted(sections, key=_role_order)


def _role_order(section: RoleSection) -> tuple[int, int, str]:
    worst_rank = section.worst.rank if section.worst is not None else -1
    return (-worst_rank, -len(section.findings), section.resource)


_UNTIL = re.compile(r"^(?P<justification>.*?)\s*\(until (?P<until>[^)]+)\)\s*$", re.DOTALL)


def parse_suppression(suppressed_by: str) -> Suppression:
    """The engine writes `justification (until YYYY-MM-DD)`; anything else is kept whole."""
    match = _UNTIL.match(suppressed_by)
    if match is None:
        return Suppression(justification=suppressed_by, until=None)
    return Suppression(justification=match["justification"], until=match["until"])


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Open findings per severity, with every severity present (zero included), worst first."""
    counts = Counter(f.severity for f in findings if is_open(f))
    return {severity.value: counts.get(severity, 0) for severity in SEVERITIES_WORST_FIRST}


def category_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Open findings per category; only categories that occur, sorted by name for stable output."""
    counts = Counter(f.category for f in findings if is_open(f))
    return dict(sorted(counts.items()))


def build_summary(result: AuditResult) -> dict[str, Any]:
    open_findings = [f for f in result.findings if is_open(f)]
    return {
        "roles": result.roles_audited,
        "findings": len(open_findings),
        "suppressed": len(result.findings) - len(open_findings),
        "by_severity": severity_counts(open_findings),
        "by_category": category_counts(open_findings),
        # service-linked is always present so consumers need not guess whether skipping was on.
        "skipped": {"service-linked": 0, **result.roles_skipped},
        "errors": len(result.errors),
        "notes": list(result.notes),
    }


def format_timestamp(moment: datetime | None) -> str:
    """ISO 8601 in UTC with seconds; a naive datetime is taken to be UTC already."""
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_report(
    result: AuditResult,
    *,
    sources: Sequence[str] = (),
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The JSON report object (`rolewatch.report/v1`). Suppressed findings stay listed but are not counted."""
    return {
        "schema": REPORT_SCHEMA,
        "generated_at": format_timestamp(generated_at),
        "sources": [str(source) for source in sources],
        "findings": [finding.to_dict() for finding in worst_first(result.findings)],
        "errors": [error.to_dict() for error in result.errors],
        "summary": build_summary(result),
    }
