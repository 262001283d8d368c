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
from rolewatch.report.render_html import CSS, SEVERITY_COLOURS
from rolewatch.untrusted import display, inert_links, printable

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
    # account id -> {"HTML": URL, "JSON": URI} of that account's own stored report of this run
    account_links: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


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
        "accounts": [o.to_dict() | {"links": dict(context.account_links.get(o.account_id, {}))} for o in audited],
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
    """The account id, and its name in guillemets: a member's administrator chooses the name (any
    printable ASCII), so it must not read as part of the line's result nor become a link."""
    name = inert_links(display(account.get("name") or "", 60))
    return f"{account['account_id']} «{name}»" if name else str(account["account_id"])


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

PROBLEMS_SHOWN = 3  # an account's problems (sources not read, integrations not delivered) beyond this are folded
SAFE_LINK_PREFIX = "https://"  # only these become links; anything else is shown as text
ORG_CSS = (
    CSS
    + """
section.account{border-left:6px solid #9ca3af}section.account h3{font-size:16px;margin:0 0 6px}
section.account .counts{margin:8px 0 10px}section.account .count{min-width:64px;padding:4px 10px}
section.account .count b{font-size:18px}.count.zero{background:#e5e7eb!important;color:#6b7280}
.status{font-weight:600}.status.ok{color:#166534}.status.bad{color:#b91c1c}
.links a{margin-right:14px}ol.toc{columns:2;margin:6px 0 0;padding-left:22px}ol.toc li{margin:2px 0}
ul.issues{margin:6px 0;padding-left:20px}div.warn{padding:4px 10px;margin:8px 0}p.warn{padding:4px 10px}
"""
)


def _e(value: object) -> str:
    return html.escape(printable(value), quote=True)


NOT_AUDITED_COLOUR = "#92400e"
CLEAN_COLOUR = "#166534"


def _badge(worst: str) -> str:
    """The account's worst open severity; "clean" when it has none, "not audited" when it could not be read."""
    if worst == UNAUDITABLE:
        colour, label = NOT_AUDITED_COLOUR, "not audited"
    elif worst in SEVERITY_COLOURS:
        colour, label = SEVERITY_COLOURS[worst], worst
    else:
        colour, label = CLEAN_COLOUR, "clean"
    return f'<span class="sev" style="background:{colour}">{_e(label)}</span>'


def _link(label: str, uri: str) -> str:
    """A link when `uri` is an https URL (escaped, quotes included); otherwise the URI as text."""
    if uri.startswith(SAFE_LINK_PREFIX):
        return f'<a href="{_e(uri)}">{_e(label)}</a>'
    return f"{_e(label)}: <code>{_e(uri)}</code>"


def _cards(by_severity: Mapping[str, Any]) -> str:
    out = []
    for severity in SEVERITIES:
        n = int(by_severity.get(severity, 0))
        zero = " zero" if not n else ""
        out.append(
            f'<div class="count{zero}" style="background:{SEVERITY_COLOURS[severity]}"><b>{n}</b>{_e(severity)}</div>'
        )
    return f'<div class="counts">{"".join(out)}</div>'


def _anchor(index: int) -> str:
    """Element ids from counters, never from names (an account name is untrusted)."""
    return f"account-{index}"


def _folded(title: str, items: Sequence[str], *, shown: int, css: str) -> str:
    """Up to `shown` items as a list; more are folded in <details> (no script)."""
    rows = "".join(f"<li>{item}</li>" for item in items)
    if len(items) <= shown:
        return f'<ul class="{css}">{rows}</ul>'
    return f'<details class="fold"><summary>{_e(title)} ({len(items)})</summary><ul class="{css}">{rows}</ul></details>'


def _who_html(account: Mapping[str, Any]) -> str:
    name = account.get("name") or ""
    named = f" · {_e(name)}" if name else ""
    return f"{_e(account['account_id'])}{named}"


def _audited_section(index: int, account: Mapping[str, Any]) -> str:
    worst = str(account["worst"])
    colour = SEVERITY_COLOURS.get(worst, CLEAN_COLOUR)
    by_category = sorted((account.get("by_category") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    categories = ", ".join(f"{_e(c)} {n}" for c, n in by_category)
    issues = [f"not read: {_e(x)}" for x in account.get("not_read") or ()]
    issues += [f"not delivered: {_e(x)}" for x in (account.get("integrations") or {}).get("notes") or ()]
    status = "audited, incomplete" if account.get("not_read") else "audited"
    links = account.get("links") or {}
    report = account.get("report") or {}
    if links:
        where = " ".join(_link(f"{kind} report", uri) for kind, uri in links.items() if uri)
    elif report.get("html"):
        where = f"HTML report: <code>{_e(report['html'])}</code>"
    else:
        where = "no stored report"
    return (
        f'<section class="card account" id="{_anchor(index)}" style="border-left-color:{colour}">'
        f"<h3>{_badge(worst)} {_who_html(account)}</h3>"
        f'<p><span class="status ok">{_e(status)}</span> · {account["roles"]} roles · {account["findings"]} open '
        f'findings · <span class="{"new" if account["new"] else ""}">{account["new"]} new</span>, '
        f"{account['resolved']} resolved since its previous run</p>"
        f"{_cards(account['by_severity'])}"
        + (f"<p><b>By category:</b> {categories}</p>" if categories else '<p class="meta">No open findings.</p>')
        + (
            f'<div class="warn">{_folded("Problems", issues, shown=PROBLEMS_SHOWN, css="issues")}</div>'
            if issues
            else ""
        )
        + f'<p class="links">{where}</p></section>'
    )


def _unauditable_section(index: int, account: Mapping[str, Any]) -> str:
    return (
        f'<section class="card account" id="{_anchor(index)}" style="border-left-color:{NOT_AUDITED_COLOUR}">'
        f"<h3>{_badge(UNAUDITABLE)} {_who_html(account)}</h3>"
        f'<p><span class="status bad">cannot audit</span> ({_e(account["kind"])}): {_e(account["reason"])}</p>'
        "</section>"
    )


def render_org_html(report: Mapping[str, Any]) -> str:
    """One self-contained page: a compact organization summary, then one section per account, worst first
    (accounts that could not be audited after them, each saying why). No script; every value escaped."""
    summary = report["summary"]
    audited = list(report["accounts"])
    unauditable = list(report["unauditable"])
    sections = [_audited_section(i, a) for i, a in enumerate(audited)]
    sections += [_unauditable_section(len(audited) + i, a) for i, a in enumerate(unauditable)]
    toc = "".join(
        f'<li><a href="#{_anchor(i)}">{_who_html(a)}</a> {_badge(str(a["worst"]))}</li>' for i, a in enumerate(audited)
    ) + "".join(
        f'<li><a href="#{_anchor(len(audited) + i)}">{_who_html(a)}</a> {_badge(UNAUDITABLE)}</li>'
        for i, a in enumerate(unauditable)
    )
    categories = ", ".join(f"{_e(c)} {n}" for c, n in summary["by_category"].items()) or "none"
    incomplete = f" ({summary['incomplete']} incomplete)" if summary["incomplete"] else ""
    left_out = summary["left_out_by_selection"]
    coverage = (
        f"{summary['accounts']} accounts: {summary['audited']} audited{incomplete}, "
        f"{summary['unauditable']} could not be audited"
        + (f", {left_out} left out by the selection" if left_out else "")
    )
    missing = (
        '<p class="warn">Could not be audited: '
        + ", ".join(f'<a href="#{_anchor(len(audited) + i)}">{_who_html(a)}</a>' for i, a in enumerate(unauditable))
        + "</p>"
        if unauditable
        else ""
    )
    notes = "".join(f'<p class="warn"><b>Note:</b> {_e(n)}</p>' for n in report["notes"])
    links = " ".join(_link(f"{kind} of this report", uri) for kind, uri in report["links"].items() if uri)
    selection = report.get("selection") or {}
    chosen = "; ".join(
        f"{_e(k)}: {_e(', '.join(map(str, v)) if isinstance(v, list) else v)}" for k, v in selection.items() if v
    )
    total = len(audited) + len(unauditable)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>rolewatch organization audit {_e(report['organization_id'])}</title>",
        f"<style>{ORG_CSS}</style></head><body>",
        f"<header><h1>rolewatch organization audit</h1><p>Organization {_e(report['organization_id'])} · "
        f"run {_e(report['run_id'])} · generated {_e(report['generated_at'])}</p></header>",
        "<main>",
        '<section class="card" id="summary"><h2>Organization</h2>',
        f"<p>{coverage}. {summary['roles']} roles, {summary['findings']} open findings ({summary['new']} new, "
        f"{summary['resolved']} resolved since each account's previous run).</p>",
        _cards(summary["by_severity"]),
        f'<p class="meta">By category: {categories}{f" · selection: {chosen}" if chosen else ""}</p>',
        missing,
        notes,
        f'<details class="fold"><summary>Accounts, worst first ({total})</summary><ol class="toc">{toc}</ol></details>',
        f'<p class="links meta">{links}</p>' if links else "",
        "</section>",
        "<h2>Accounts, worst first</h2>",
        "".join(sections) or '<p class="meta">No account was selected.</p>',
        "</main></body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"
