"""Week-over-week comparison of findings, keyed by their stable fingerprints. Pure.

A fingerprint is role ARN + rule + evidence hash (model.Finding.fingerprint), so the same problem on the
same role has the same fingerprint every week. The previous week is read from its JSON report (schema
rolewatch.report/v1, whose findings carry `fingerprint`), not from memory, so any earlier report can be
compared with any later one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rolewatch.model import Finding, Severity

FindingRecord = dict[str, Any]  # a finding as the JSON report holds it


@dataclass(frozen=True)
class WeekDiff:
    """What changed since the previous run. `resolved` and `suppressed` are the previous run's records."""

    previous_date: str | None
    new: tuple[Finding, ...] = ()
    resolved: tuple[FindingRecord, ...] = ()
    suppressed: tuple[FindingRecord, ...] = ()  # open last time, suppressed now (accepted, not fixed)
    unchanged: int = 0
    not_compared: int = 0  # previous findings on roles this run did not read (partial or selective read)
    unreadable: int = 0  # previous entries without a fingerprint

    @property
    def first_run(self) -> bool:
        return self.previous_date is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "previous": self.previous_date,
            "new": [f.fingerprint for f in self.new],
            "resolved": [r["fingerprint"] for r in self.resolved],
            "suppressed": [r["fingerprint"] for r in self.suppressed],
            "counts": {
                "new": len(self.new),
                "resolved": len(self.resolved),
                "suppressed": len(self.suppressed),
                "unchanged": self.unchanged,
                "not_compared": self.not_compared,
            },
        }


def previous_open_findings(report: Mapping[str, Any]) -> tuple[dict[str, FindingRecord], int]:
    """{fingerprint: record} of the open findings of a stored report, and how many entries were unusable."""
    records: dict[str, FindingRecord] = {}
    unusable = 0
    findings = report.get("findings")
    for record in findings if isinstance(findings, list) else []:
        if not isinstance(record, dict) or not isinstance(record.get("fingerprint"), str):
            unusable += 1
            continue
        if record.get("suppressed_by") is None:
            records[record["fingerprint"]] = record
    return records, unusable


def compare(
    current: Iterable[Finding],
    previous_report: Mapping[str, Any] | None,
    *,
    previous_date: str | None = None,
    roles_read: Collection[str] | None = None,
) -> WeekDiff:
    """New and resolved findings since `previous_report`.

    `roles_read` (role ARNs) limits "resolved" to roles this run actually read: when IAM failed part-way
    or only some roles were audited, a finding on a role that was not read is "not compared", never
    "resolved". None means the whole account was read (a deleted role's findings are then resolved).
    """
    findings = list(current)
    if previous_report is None:
        return WeekDiff(previous_date=None, unchanged=0)
    before, unusable = previous_open_findings(previous_report)
    open_now = {f.fingerprint: f for f in findings if f.suppressed_by is None}
    suppressed_now = {f.fingerprint for f in findings if f.suppressed_by is not None}
    new = tuple(f for fp, f in open_now.items() if fp not in before)
    resolved: list[FindingRecord] = []
    suppressed: list[FindingRecord] = []
    not_compared = 0
    for fingerprint, record in before.items():
        if fingerprint in open_now:
            continue
        if fingerprint in suppressed_now:
            suppressed.append(record)
        elif roles_read is not None and record.get("resource") not in roles_read:
            not_compared += 1
        else:
            resolved.append(record)
    return WeekDiff(
        previous_date=previous_date or str(previous_report.get("generated_at", "")) or None,
        new=new,
        resolved=tuple(sorted(resolved, key=_record_order)),
        suppressed=tuple(sorted(suppressed, key=_record_order)),
        unchanged=len(open_now) - len(new),
        not_compared=not_compared,
        unreadable=unusable,
    )


def _record_order(record: FindingRecord) -> tuple[int, str, str]:
    return (-Severity.rank_of(record.get("severity")), str(record.get("resource")), str(record.get("rule")))
