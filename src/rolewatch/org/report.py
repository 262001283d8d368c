"""The organization report of one weekly run: every account's outcome in one place. Pure.

Inputs are what the run left behind: the listing (accounts to audit, accounts selected but not
ACTIVE) and one small result per account written by the per-account step (`AccountOutcome`). An
account listed for audit with no result is a step that failed or timed out after its retries: it is
reported as such, never dropped. Outputs: the JSON report (`rolewatch.org-report/v1`), a
self-contained HTML page, and the one SNS summary.

Ranking, worst first: the worst open severity, then the count at each severity from critical down,
then the account id (stable). Totals are by severity and by category over audited accounts; new and
resolved are each account's own week-over-week difference.

Account names and fault reasons are untrusted text (an account owner names the account; AWS error
messages quote ARNs): they stay text in every format (display() for text, escaping in HTML).
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rolewatch.model import Severity
from rolewatch.report.notification import AttributeValue, Notification, fit_subject
from rolewatch.untrusted import display, printable

SCHEMA = "rolewatch.org-report/v1"
AUDITED = "audited"
UNAUDITABLE = "unauditable"
# Kinds of unauditable accounts added by the run itself (the reader's kinds are in org.credentials).
NOT_ACTIVE = "not-active"
STEP_FAILED = "step-failed"
SUMMARY_ACCOUNTS_LISTED = 20  # accounts named in the SNS summary; the HTML and JSON list every one
SEVERITIES = tuple(s.value for s in Severity)


@dataclass(frozen=True)
class AccountOutcome:
    """One account's result in a weekly run (what the per-account step stores and returns)."""

    account_id: str
    name: str = ""
    status: str = AUDITED  # audited | unauditable
    kind: str = ""  # for unauditable: why, as a keyword
    reason: str = ""  # for unauditable: why, as a sentence
    roles: int = 0
    findings: int = 0
    by_severity: Mapping[str, int] = field(default_factory=dict)
    by_category: Mapping[str, int] = field(default_factory=dict)
    new: int = 0
    resolved: int = 0
    not_read: tuple[str, ...] = ()
    report_json: str = ""
    report_html: str = ""
    api_calls: Mapping[str, int] = field(default_factory=dict)
    # What the integrations (Security Hub in the account, the chat copy, the event) did not deliver, and
    # their metrics (IntegrationFailures, SecurityHubImported, ...), which the step's handler emits.
    integration_notes: tuple[str, ...] = ()
    integration_metrics: Mapping[str, int] = field(default_factory=dict)

    @property
    def worst(self) -> str:
        return next((s for s in SEVERITIES if self.by_severity.get(s)), "none")

    def rank_key(self) -> tuple[int, ...]:
        counts = tuple(-int(self.by_severity.get(s, 0)) for s in SEVERITIES)
        return (-Severity.rank_of(self.worst), *counts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "name": self.name,
            "status": self.status,
            "kind": self.kind,
            "reason": self.reason,
            "roles": self.roles,
            "findings": self.findings,
            "worst": self.worst,
            "by_severity": dict(self.by_severity),
            "by_category": dict(self.by_category),
            "new": self.new,
            "resolved": self.resolved,
            "not_read": list(self.not_read),
            "report": {"json": self.report_json, "html": self.report_html},
            "api_calls": dict(self.api_calls),
            "integrations": {"notes": list(self.integration_notes), "metrics": dict(self.integration_metrics)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AccountOutcome:
        report = data.get("report") or {}
        integrations = data.get("integrations") or {}
        return cls(
            account_id=str(data["account_id"]),
            name=str(data.get("name", "")),
            status=str(data.get("status", AUDITED)),
            kind=str(data.get("kind", "")),
            reason=str(data.get("reason", "")),
            roles=int(data.get("roles", 0)),
            findings=int(data.get("findings", 0)),
            by_severity={str(k): int(v) for k, v in (data.get("by_severity") or {}).items()},
            by_category={str(k): int(v) for k, v in (data.get("by_category") or {}).items()},
            new=int(data.get("new", 0)),
            resolved=int(data.get("resolved", 0)),
            not_read=tuple(str(x) for x in data.get("not_read", ())),
            report_json=str(report.get("json", "")),
            report_html=str(report.get("html", "")),
            api_calls={str(k): int(v) for k, v in (data.get("api_calls") or {}).items()},
            integration_notes=tuple(str(x) for x in integrations.get("notes", ())),
            integration_metrics={str(k): int(v) for k, v in (integrations.get("metrics") or {}).items()},
        )

    @classmethod
    def unauditable(cls, account_id: str, name: str, kind: str, reason: str) -> AccountOutcome:
        return cls(account_id=account_id, name=name, status=UNAUDITABLE, kind=kind, reason=reason)


@dataclass(frozen=True)
class RunContext:
    organization_id: str
    run_id: str
    generated_at: str
    selection: Mapping[str, Any] = field(default_factory=dict)
    left_out: int = 0  # accounts removed by the selection
    links: Mapping[str, str] = field(default_factory=dict)  # "JSON"/"HTML" -> URI of this report
    notes: tuple[str, ...] = ()  # about the run itself (e.g. the Map stopped early)


def gather(
    listed: Iterable[Mapping[str, str]],
    inactive: Iterable[Mapping[str, str]],
    results: Iterable[AccountOutcome],
) -> list[AccountOutcome]:
    """Every selected account exactly once: its result, or why it has none."""
    by_id = {r.account_id: r for r in results}
    out: list[AccountOutcome] = []
    for item in listed:
        account_id = str(item["account_id"])
        found = by_id.pop(account_id, None)
        out.append(
            found
            or AccountOutcome.unauditable(
                account_id,
                str(item.get("name", "")),
                STEP_FAILED,
                "its audit step failed or timed out after its retries (see the execution's Map run)",
            )
        )
    for item in inactive:
        status = str(item.get("status", ""))
        out.append(
            AccountOutcome.unauditable(
                str(item["account_id"]), str(item.get("name", "")), NOT_ACTIVE, f"account status is {status}"
            )
        )
    out.extend(by_id.values())  # results for accounts not in the listing (a rerun of one item): kept
    return out


def build_org_report(outcomes: Sequence[AccountOutcome], context: RunContext) -> dict[str, Any]:
    audited = sorted((o for o in outcomes if o.status == AUDITED), key=lambda o: (o.rank_key(), o.account_id))
    unauditable = sorted((o for o in outcomes if o.status != AUDITED), key=lambda o: o.account_id)
    severity: Counter[str] = Counter()
    category: Counter[str] = Counter()
    for outcome in audited:
        severity.update(outcome.by_severity)
        category.update(outcome.by_category)
    return {
        "schema": SCHEMA,
        "organization_id": context.organization_id,
        "run_id": context.run_id,
        "generated_at": context.generated_at,
        "selection": dict(context.selection),
        "summary": {
            "accounts": len(outcomes),
            "audited": len(audited),
            "unauditable": len(unauditable),
            "incomplete": sum(1 for o in audited if o.not_read),
            "left_out_by_selection": context.left_out,
            "roles": sum(o.roles for o in audited),
            "findings": sum(o.findings for o in audited),
            "by_severity": {s: severity.get(s, 0) for s in SEVERITIES},
            "by_category": dict(sorted(category.items(), key=lambda kv: (-kv[1], kv[0]))),
            "new": sum(o.new for o in audited),
            "resolved": sum(o.resolved for o in audited),
        },
        "accounts": [o.to_dict() for o in audited],
        "unauditable": [
            {"account_id": o.account_id, "name": o.name, "kind": o.kind, "reason": o.reason} for o in unauditable
        ],
        "links": dict(context.links),
        "notes": list(context.notes),
    }


# -- text (SNS) --------------------------------------------------------------------------------------


def _counts(by_severity: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {s}" for s, n in by_severity.items() if n and s != "info") or "clean"


def _who(account: Mapping[str, Any]) -> str:
    name = display(account.get("name") or "", 60)
    return f"{account['account_id']} ({name})" if name else str(account["account_id"])


def render_org_summary(report: Mapping[str, Any]) -> str:
    summary = report["summary"]
    incomplete = f", {summary['incomplete']} incomplete" if summary["incomplete"] else ""
    left_out = summary["left_out_by_selection"]
    lines = [
        f"rolewatch organization audit of {report['organization_id']} "
        f"({report['generated_at']}, run {report['run_id']})",
        f"Accounts: {summary['audited']} audited, {summary['unauditable']} could not be audited{incomplete}"
        + (f", {left_out} left out by the selection" if left_out else ""),
        f"Roles: {summary['roles']}. Open findings: {summary['findings']} ({_counts(summary['by_severity'])}); "
        f"{summary['new']} new, {summary['resolved']} resolved since each account's previous run.",
    ]
    if summary["by_category"]:
        lines.append("By category: " + ", ".join(f"{c} {n}" for c, n in summary["by_category"].items()))
    accounts = report["accounts"]
    if accounts:
        lines += ["", "Accounts, worst first:"]
        for account in accounts[:SUMMARY_ACCOUNTS_LISTED]:
            partial = " (incomplete)" if account["not_read"] else ""
            lines.append(
                f"  {_who(account)}: {_counts(account['by_severity'])}; "
                f"{account['new']} new, {account['resolved']} resolved{partial}"
            )
        if len(accounts) > SUMMARY_ACCOUNTS_LISTED:
            lines.append(f"  ... and {len(accounts) - SUMMARY_ACCOUNTS_LISTED} more in the full report")
    if report["notes"]:
        lines += [""] + [f"Note: {display(note, 500)}" for note in report["notes"]]
    if report["unauditable"]:
        lines += ["", "Could not be audited:"]
        lines += [f"  {_who(a)}: {display(a['reason'], 300)}" for a in report["unauditable"]]
    if report["links"]:
        lines += ["", "Full report:"] + [f"  {uri}" for uri in report["links"].values()]
    return "\n".join(printable(line) for line in lines) + "\n"


def compose_org_notification(report: Mapping[str, Any]) -> Notification:
    """The one SNS summary of the run (always published: the run's coverage is news even when clean)."""
    summary = report["summary"]
    worst = next((s for s in SEVERITIES if summary["by_severity"].get(s)), "none")
    attributes: dict[str, AttributeValue] = {
        "account": "organization",
        "audit": "organization",
        "severity": worst,
        "category": tuple(summary["by_category"]) or ("none",),
    }
    missing = f" ({summary['unauditable']} not audited)" if summary["unauditable"] else ""
    subject = fit_subject(
        f"[rolewatch] Organization audit, {summary['audited']} accounts: {_counts(summary['by_severity'])}", missing
    )
    return Notification(
        subject=subject, message=render_org_summary(report), attributes=attributes, findings=summary["findings"]
    )


# -- HTML ------------------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(printable(value), quote=True)


def render_org_html(report: Mapping[str, Any]) -> str:
    summary = report["summary"]
    head = "".join(f"<th>{_e(s)}</th>" for s in SEVERITIES)
    totals = "".join(f"<td>{summary['by_severity'].get(s, 0)}</td>" for s in SEVERITIES)
    categories = (
        "".join(f"<tr><td>{_e(c)}</td><td>{n}</td></tr>" for c, n in summary["by_category"].items())
        or "<tr><td colspan=2>none</td></tr>"
    )
    rows = []
    for account in report["accounts"]:
        cells = "".join(f"<td>{account['by_severity'].get(s, 0)}</td>" for s in SEVERITIES)
        partial = "incomplete: " + "; ".join(account["not_read"]) if account["not_read"] else ""
        undelivered = (account.get("integrations") or {}).get("notes") or []
        partial = "; ".join(x for x in (partial, *undelivered) if x)
        rows.append(
            f"<tr class='{_e(account['worst'])}'><td>{_e(account['account_id'])}</td><td>{_e(account['name'])}</td>"
            f"<td>{account['roles']}</td>{cells}<td>{account['new']}</td><td>{account['resolved']}</td>"
            f"<td>{_e(account['report']['html'])}</td><td>{_e(partial)}</td></tr>"
        )
    missing = (
        "".join(
            f"<tr><td>{_e(a['account_id'])}</td><td>{_e(a['name'])}</td><td>{_e(a['kind'])}</td><td>{_e(a['reason'])}</td></tr>"
            for a in report["unauditable"]
        )
        or "<tr><td colspan=4>none</td></tr>"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>rolewatch organization audit {_e(report["organization_id"])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin-bottom:2em}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}tr.critical td{{background:#fdd}}
tr.high td{{background:#fed}}</style></head><body>
<h1>rolewatch organization audit</h1>
<p>Organization {_e(report["organization_id"])}, run {_e(report["run_id"])}, generated {_e(report["generated_at"])}.
{summary["audited"]} accounts audited, {summary["unauditable"]} could not be audited, {summary["roles"]} roles,
{summary["findings"]} open findings ({summary["new"]} new, {summary["resolved"]} resolved).</p>
{"".join(f"<p><strong>Note:</strong> {_e(n)}</p>" for n in report["notes"])}
<h2>Totals by severity</h2><table><tr>{head}</tr><tr>{totals}</tr></table>
<h2>Totals by category</h2><table><tr><th>category</th><th>findings</th></tr>{categories}</table>
<h2>Accounts, worst first</h2>
<table><tr><th>account</th><th>name</th><th>roles</th>{head}<th>new</th><th>resolved</th>
<th>report</th><th>not read</th></tr>
{"".join(rows) or "<tr><td colspan=12>none</td></tr>"}</table>
<h2>Accounts that could not be audited</h2>
<table><tr><th>account</th><th>name</th><th>why</th><th>detail</th></tr>{missing}</table>
</body></html>
"""
