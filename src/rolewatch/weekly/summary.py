"""The weekly summary: what a security team reads in its inbox before opening the full report. Pure.

Counts by severity and category, what is new and what was resolved since the previous run, the ten worst
roles one line each, what could not be read, and the link to the full report. Lists respect the minimum
severity (nothing below it is published); the counts cover every open finding so nothing is hidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rolewatch.model import AuditResult, Finding, Severity
from rolewatch.report.document import build_summary, group_by_role, is_open, severity_counts, worst_first
from rolewatch.report.notification import AttributeValue, Notification, fit_subject
from rolewatch.untrusted import display
from rolewatch.weekly.diff import FindingRecord, WeekDiff

TOP_ROLES = 10
CHANGES_LISTED = 20


def role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class RoleLine:
    """One of the worst roles, for a one-line mention."""

    arn: str
    worst: Severity
    counts: dict[str, int]
    headline: str  # the title of its worst finding

    @property
    def name(self) -> str:
        return role_name(self.arn)

    def text(self) -> str:
        counts = ", ".join(f"{n} {sev}" for sev, n in self.counts.items() if n)
        return f"{self.worst.value.upper():<8} {self.name} ({counts}): {self.headline}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.name,
            "arn": self.arn,
            "worst": self.worst.value,
            "by_severity": {k: v for k, v in self.counts.items() if v},
            "headline": self.headline,
        }


def worst_roles(findings: Iterable[Finding], limit: int = TOP_ROLES) -> list[RoleLine]:
    """The `limit` roles with the worst open findings (worst severity, then most findings)."""
    lines = []
    for section in group_by_role(f for f in findings if is_open(f)):
        if section.worst is None:
            continue
        lines.append(
            RoleLine(
                arn=section.resource,
                worst=section.worst,
                counts=severity_counts(section.findings),
                headline=section.findings[0].title,
            )
        )
        if len(lines) == limit:
            break
    return lines


def _at_least(findings: Iterable[Finding], minimum: Severity) -> list[Finding]:
    return [f for f in findings if is_open(f) and f.severity.at_least(minimum)]


def _records_at_least(records: Iterable[FindingRecord], minimum: Severity) -> list[FindingRecord]:
    out = []
    for record in records:
        try:
            severity = Severity.parse(str(record.get("severity", "")))
        except ValueError:
            severity = Severity.INFO
        if severity.at_least(minimum):
            out.append(record)
    return out


@dataclass(frozen=True)
class ReportLinks:
    json_uri: str = ""
    html_uri: str = ""
    console_url: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"json": self.json_uri, "html": self.html_uri, "console": self.console_url}


def build_weekly_summary(
    result: AuditResult,
    diff: WeekDiff,
    *,
    account_id: str,
    generated_at: str,
    min_severity: Severity,
    links: ReportLinks,
    not_read: Sequence[str] = (),
    api_calls: Mapping[str, int] | None = None,
    integrations: Sequence[str] = (),
) -> dict[str, Any]:
    """The summary object: stored in the JSON report (`weekly`) and rendered into the SNS message.
    `integrations` names what Security Hub or EventBridge did not take (rolewatch.integrations)."""
    summary = build_summary(result)
    new = _at_least(diff.new, min_severity)
    resolved = _records_at_least(diff.resolved, min_severity)
    return {
        "account": account_id,
        "generated_at": generated_at,
        "min_severity": min_severity.value,
        "roles": summary["roles"],
        "findings": summary["findings"],
        "reportable": len(_at_least(result.findings, min_severity)),
        "by_severity": summary["by_severity"],
        "by_category": summary["by_category"],
        "previous": diff.previous_date,
        "new": len(diff.new),
        "resolved": len(diff.resolved),
        "suppressed_since": len(diff.suppressed),
        "not_compared": diff.not_compared,
        "new_findings": [_line(f.to_dict()) for f in new[:CHANGES_LISTED]],
        "new_not_listed": max(0, len(new) - CHANGES_LISTED),
        "resolved_findings": [_line(r) for r in resolved[:CHANGES_LISTED]],
        "resolved_not_listed": max(0, len(resolved) - CHANGES_LISTED),
        "worst_roles": [line.to_dict() for line in worst_roles(_at_least(result.findings, min_severity))],
        "not_read": list(not_read),
        "report": links.to_dict(),
        "api_calls": dict(api_calls or {}),
        "integrations": list(integrations),
    }


def _line(record: Mapping[str, Any]) -> dict[str, str]:
    return {
        "severity": str(record.get("severity", "")),
        "role": role_name(str(record.get("resource", ""))),
        "rule": str(record.get("rule", "")),
        "title": str(record.get("title", "")),
        "fingerprint": str(record.get("fingerprint", "")),
    }


def _change_lines(lines: Sequence[Mapping[str, str]], not_listed: int) -> list[str]:
    out = [f"  {line['severity'].upper():<8} {line['role']}: {line['title']} [{line['rule']}]" for line in lines]
    if not_listed:
        out.append(f"  ... and {not_listed} more in the full report")
    return out


def render_summary_text(summary: Mapping[str, Any]) -> str:
    """The SNS message body."""
    minimum = summary["min_severity"]
    by_severity = ", ".join(f"{n} {sev}" for sev, n in summary["by_severity"].items() if n) or "none"
    lines = [
        f"rolewatch account audit of {summary['account']} ({summary['generated_at']})",
        "",
        f"{summary['roles']} roles audited; {summary['findings']} open findings ({by_severity}).",
        f"{summary['reportable']} at {minimum} or above are listed here; the full report has every finding.",
    ]
    if summary["by_category"]:
        categories = ", ".join(f"{cat} {n}" for cat, n in summary["by_category"].items())
        lines.append(f"By category: {categories}.")
    lines.append("")
    if summary["previous"] is None:
        lines.append("First run for this account: no previous report to compare with.")
    else:
        changes = (
            f"Since the previous run ({summary['previous']}): {summary['new']} new, {summary['resolved']} resolved"
        )
        if summary["suppressed_since"]:
            changes += f", {summary['suppressed_since']} newly suppressed"
        if summary["not_compared"]:
            changes += f", {summary['not_compared']} not compared (roles not read this time)"
        lines.append(changes + ".")
        if summary["new_findings"]:
            lines += [f"New at {minimum} or above:", *_change_lines(summary["new_findings"], summary["new_not_listed"])]
        if summary["resolved_findings"]:
            lines += [
                f"Resolved at {minimum} or above:",
                *_change_lines(summary["resolved_findings"], summary["resolved_not_listed"]),
            ]
    lines.append("")
    if summary["worst_roles"]:
        lines.append(f"The {len(summary['worst_roles'])} worst roles:")
        for i, role in enumerate(summary["worst_roles"], 1):
            counts = ", ".join(f"{n} {sev}" for sev, n in role["by_severity"].items())
            lines.append(f"  {i:>2}. {role['worst'].upper():<8} {role['role']} ({counts}): {role['headline']}")
    else:
        lines.append(f"No open finding at {minimum} or above.")
    if summary["not_read"]:
        lines += ["", "NOT READ (this audit is incomplete):", *(f"  - {reason}" for reason in summary["not_read"])]
    if summary.get("integrations"):
        lines += ["", "NOT DELIVERED to an integration:", *(f"  - {display(note)}" for note in summary["integrations"])]
    report = summary["report"]
    if report.get("console") or report.get("html"):
        lines += ["", "Full report:"]
        if report.get("console"):
            lines.append(f"  {report['console']}")
        lines += [f"  {uri}" for uri in (report.get("html"), report.get("json")) if uri]
    if summary["api_calls"]:
        calls = ", ".join(f"{service} {n}" for service, n in sorted(summary["api_calls"].items()))
        lines += ["", f"API calls: {calls}."]
    return "\n".join(lines) + "\n"


def compose_weekly_notification(
    summary: Mapping[str, Any], result: AuditResult, min_severity: Severity, *, publish_clean: bool
) -> Notification | None:
    """The SNS notification, or None when there is nothing to say (and clean runs are not published)."""
    reportable = _at_least(result.findings, min_severity)
    worth_saying = reportable or summary["resolved_findings"] or summary["not_read"] or result.errors
    if not worth_saying and not publish_clean:
        return None
    ordered = worst_first(reportable)
    # delivery.py / report.notification conventions: `severity` the worst, `category` and `rule` every
    # value among the published findings (String.Array), `account`; plus `audit` to tell weekly from events.
    attributes: dict[str, AttributeValue] = {"account": str(summary["account"] or "unknown"), "audit": "account"}
    if ordered:
        attributes.update(
            severity=ordered[0].severity.value,
            category=tuple(dict.fromkeys(f.category for f in ordered)),
            rule=tuple(dict.fromkeys(f.rule for f in ordered)),
        )
    else:
        attributes.update(severity="none", category=("none",), rule=("none",))
    counts = ", ".join(f"{n} {sev}" for sev, n in summary["by_severity"].items() if n and sev != "info") or "clean"
    changes = "" if summary["previous"] is None else f"; {summary['new']} new, {summary['resolved']} resolved"
    partial = " (incomplete)" if summary["not_read"] else ""
    subject = fit_subject(f"[rolewatch] Weekly audit {summary['account']}: {counts}{changes}", partial)
    return Notification(
        subject=subject, message=render_summary_text(summary), attributes=attributes, findings=len(reportable)
    )
