"""HTML renderer: one self-contained page (inline CSS and SVG, no script, nothing fetched) for people.

A severity chart, the trend over previous runs, what is new and resolved since the previous run, what
could not be read, then every role worst first with each finding and its fix (the sentence, the exact
CLI commands, the corrected policy). Long corrected policies and long evidence lists are folded in
`<details>` (the browser opens them; no script), so a role with a 150-line policy stays one screen.
Role names, tags, policy text and every other value read from AWS are attacker-controlled: everything
interpolated goes through `html.escape` (quotes included), and element ids are made from counters,
never from names. Pure: no AWS calls, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

from rolewatch.model import AuditResult, Finding
from rolewatch.report.document import (
    SEVERITIES_WORST_FIRST,
    RoleSection,
    build_summary,
    format_timestamp,
    group_by_role,
    severity_counts,
)
from rolewatch.untrusted import escape_hidden

SEVERITY_COLOURS = {
    "critical": "#7f1d1d",
    "high": "#dc2626",
    "medium": "#d97706",
    "low": "#0284c7",
    "info": "#6b7280",
}
# Beyond this many roles the page lists the rest in a table (name, worst, counts): a 5,000-role account
# with tens of thousands of findings stays a page a browser opens; report.json always has everything.
MAX_DETAILED_ROLES = 500
TREND_RUNS = 12
ACTIONS_SHOWN = 30
POLICY_LINES_SHOWN = 12  # a corrected policy longer than this is folded
EVIDENCE_SHOWN = 3  # evidence items shown before the rest is folded

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#111827;background:#f3f4f6}
header{background:#111827;color:#f9fafb;padding:16px 28px}header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;color:#d1d5db}main{max-width:1180px;margin:0 auto;padding:16px 28px}
section.card{background:#fff;border-radius:8px;padding:14px 18px;margin:14px 0;box-shadow:0 1px 2px #0002}
h2{font-size:17px;margin:0 0 10px}h3{font-size:15px;margin:0}
.counts{display:flex;gap:10px;flex-wrap:wrap;margin:0 0 18px}
svg.chart{display:block;margin:0 0 16px}.count{border-radius:6px;padding:6px 12px;color:#fff;min-width:84px}
.count b{display:block;font-size:22px}.sev{display:inline-block;border-radius:4px;padding:1px 7px;color:#fff;
font-size:12px;font-weight:600;text-transform:uppercase}
.role{border-left:5px solid #9ca3af;padding:10px 16px;margin:12px 0;border-radius:6px;box-shadow:0 1px 2px #0002}
.role>summary{cursor:pointer;list-style:none}.role>summary h3{display:inline}
details.fold>summary{cursor:pointer;color:#374151;font-weight:600;margin:6px 0}
details.fold[open]>summary{margin-bottom:4px}
.arn{color:#6b7280;font-size:12px;word-break:break-all}.finding{border-top:1px solid #e5e7eb;padding:10px 0}
.finding p{margin:4px 0}.meta{color:#6b7280;font-size:12px}pre{background:#f9fafb;border:1px solid #e5e7eb;
padding:8px;overflow:auto;font-size:12px;white-space:pre-wrap;word-break:break-all}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:4px 8px;border-bottom:1px solid #e5e7eb}
.new{color:#b91c1c;font-weight:600}.warn{background:#fef3c7;border-left:5px solid #d97706}
.suppressed{opacity:.7}code{font-size:12px}
"""


@dataclass(frozen=True)
class HtmlContext:
    """What the page shows besides the findings; all optional (the CLI has no history)."""

    title: str = "rolewatch report"
    account_id: str = ""
    generated_at: datetime | None = None
    sources: Sequence[str] = ()
    history: Sequence[Mapping[str, Any]] = ()  # earlier runs, oldest first: {"date", "by_severity"}
    previous_date: str | None = None  # None: no comparison was made
    new_fingerprints: frozenset[str] = frozenset()
    resolved: Sequence[Mapping[str, Any]] = ()  # the previous report's records of resolved findings
    not_read: Sequence[str] = ()
    api_calls: Mapping[str, int] = field(default_factory=dict)
    report_links: Mapping[str, str] = field(default_factory=dict)
    max_detailed_roles: int = MAX_DETAILED_ROLES


def _e(value: Any) -> str:
    # Hidden characters (a lone surrogate would not even encode) shown as \u escapes, then HTML-escaped.
    return escape(escape_hidden(str(value)), quote=True)


def _badge(severity: str) -> str:
    colour = SEVERITY_COLOURS.get(severity, "#6b7280")
    return f'<span class="sev" style="background:{colour}">{_e(severity)}</span>'


def render_html(result: AuditResult, context: HtmlContext | None = None) -> str:
    ctx = context or HtmlContext()
    summary = build_summary(result)
    sections = group_by_role(result.findings)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # No script, no remote content: the page cannot run anything a role name smuggles in.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{_e(ctx.title)}{' - ' + _e(ctx.account_id) if ctx.account_id else ''}</title>",
        f"<style>{CSS}</style></head><body>",
        _header(ctx, summary),
        "<main>",
        _overview(summary, result, ctx),
        _trend(summary, ctx),
        _changes(result, ctx),
        _not_read(result, ctx),
        _roles(sections, ctx),
        _errors(result),
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _header(ctx: HtmlContext, summary: Mapping[str, Any]) -> str:
    account = f"Account {_e(ctx.account_id)} · " if ctx.account_id else ""
    sources = f" · {_e(', '.join(ctx.sources))}" if ctx.sources else ""
    return (
        f"<header><h1>{_e(ctx.title)}</h1><p>{account}generated {_e(format_timestamp(ctx.generated_at))} · "
        f"{summary['roles']} roles audited · {summary['findings']} open findings{sources}</p></header>"
    )


def _overview(summary: Mapping[str, Any], result: AuditResult, ctx: HtmlContext) -> str:
    cards = "".join(
        f'<div class="count" style="background:{SEVERITY_COLOURS[sev]}"><b>{n}</b>{_e(sev)}</div>'
        for sev, n in summary["by_severity"].items()
    )
    categories = (
        "".join(f"<tr><td>{_e(cat)}</td><td>{n}</td></tr>" for cat, n in summary["by_category"].items())
        or '<tr><td colspan="2">no open findings</td></tr>'
    )
    extra = []
    if summary["suppressed"]:
        extra.append(f"{summary['suppressed']} suppressed")
    for kind, n in summary["skipped"].items():
        if n:
            extra.append(f"{n} {_e(kind)} roles skipped")
    if ctx.api_calls:
        extra.append("API calls: " + ", ".join(f"{_e(s)} {n}" for s, n in sorted(ctx.api_calls.items())))
    links = "".join(f"<li>{_e(kind)}: <code>{_e(uri)}</code></li>" for kind, uri in ctx.report_links.items() if uri)
    return (
        '<section class="card" id="summary"><h2>Summary</h2>'
        f'<div class="counts">{cards}</div>'
        f"{_severity_chart(summary['by_severity'])}"
        f"<h3>By category</h3><table><tr><th>category</th><th>open findings</th></tr>{categories}</table>"
        + (f'<p class="meta">{" · ".join(extra)}</p>' if extra else "")
        + (f'<ul class="meta">{links}</ul>' if links else "")
        + "</section>"
    )


def _severity_chart(by_severity: Mapping[str, int]) -> str:
    """Horizontal bars, one per severity."""
    top = max(by_severity.values(), default=0) or 1
    width, bar, gap, label = 640, 22, 8, 80
    rows = []
    for i, (sev, n) in enumerate(by_severity.items()):
        y = i * (bar + gap)
        length = round((width - label - 60) * n / top)
        rows.append(
            f'<text x="0" y="{y + 16}" font-size="13">{_e(sev)}</text>'
            f'<rect x="{label}" y="{y}" width="{length}" height="{bar}" fill="{SEVERITY_COLOURS[sev]}"/>'
            f'<text x="{label + length + 6}" y="{y + 16}" font-size="13">{n}</text>'
        )
    height = len(by_severity) * (bar + gap)
    return (
        f'<svg class="chart" role="img" aria-label="open findings by severity" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">{"".join(rows)}</svg>'
    )


def _trend(summary: Mapping[str, Any], ctx: HtmlContext) -> str:
    """Stacked columns of open findings by severity, previous runs then this one."""
    runs = [
        (str(r.get("date", "?")), r.get("by_severity") if isinstance(r.get("by_severity"), dict) else {})
        for r in list(ctx.history)[-(TREND_RUNS - 1) :]
    ]
    if not runs:
        return ""
    runs.append(("this run", summary["by_severity"]))
    totals = [sum(int(v) for v in counts.values() if isinstance(v, int)) for _, counts in runs]
    top = max(totals) or 1
    col, gap, height, base = 48, 18, 180, 200
    width = len(runs) * (col + gap) + 20
    shapes = []
    for i, ((day, counts), total) in enumerate(zip(runs, totals, strict=True)):
        x = 10 + i * (col + gap)
        y = base
        for sev in (s.value for s in reversed(SEVERITIES_WORST_FIRST)):
            n = counts.get(sev, 0)
            if not isinstance(n, int) or n <= 0:
                continue
            h = max(1, round(height * n / top))
            y -= h
            shapes.append(
                f'<rect x="{x}" y="{y}" width="{col}" height="{h}" fill="{SEVERITY_COLOURS[sev]}">'
                f"<title>{_e(day)}: {n} {_e(sev)}</title></rect>"
            )
        shapes.append(f'<text x="{x + col / 2}" y="{y - 4}" font-size="12" text-anchor="middle">{total}</text>')
        shapes.append(f'<text x="{x + col / 2}" y="{base + 16}" font-size="11" text-anchor="middle">{_e(day)}</text>')
    return (
        '<section class="card" id="trend"><h2>Trend</h2>'
        f'<svg role="img" aria-label="open findings per run" width="{width}" height="{base + 24}" '
        f'viewBox="0 0 {width} {base + 24}" xmlns="http://www.w3.org/2000/svg">{"".join(shapes)}</svg></section>'
    )


def _changes(result: AuditResult, ctx: HtmlContext) -> str:
    if ctx.previous_date is None:
        if ctx.history or ctx.report_links:
            return '<section class="card" id="changes"><h2>Since the previous run</h2><p>First run.</p></section>'
        return ""
    new = [f for f in result.findings if f.fingerprint in ctx.new_fingerprints]
    rows_new = "".join(
        f"<tr><td>{_badge(f.severity.value)}</td><td>{_e(_role(f.resource))}</td><td>{_e(f.title)}</td>"
        f"<td><code>{_e(f.rule)}</code></td></tr>"
        for f in new
    )
    rows_resolved = "".join(
        f"<tr><td>{_badge(str(r.get('severity', '')))}</td><td>{_e(_role(str(r.get('resource', ''))))}</td>"
        f"<td>{_e(r.get('title', ''))}</td><td><code>{_e(r.get('rule', ''))}</code></td></tr>"
        for r in ctx.resolved
    )
    return (
        f'<section class="card" id="changes"><h2>Since the previous run ({_e(ctx.previous_date)})</h2>'
        f"<h3>New: {len(new)}</h3>"
        + (f"<table>{rows_new}</table>" if rows_new else "<p>Nothing new.</p>")
        + f"<h3>Resolved: {len(ctx.resolved)}</h3>"
        + (f"<table>{rows_resolved}</table>" if rows_resolved else "<p>Nothing resolved.</p>")
        + "</section>"
    )


def _not_read(result: AuditResult, ctx: HtmlContext) -> str:
    if not ctx.not_read and not result.notes:
        return ""
    items = "".join(f"<li>{_e(reason)}</li>" for reason in ctx.not_read)
    notes = "".join(f"<li>{_e(note)}</li>" for note in result.notes)
    return (
        '<section class="card warn" id="not-read"><h2>Not read / notes</h2>'
        + (f"<p>This audit is incomplete:</p><ul>{items}</ul>" if items else "")
        + (f"<ul>{notes}</ul>" if notes else "")
        + "</section>"
    )


def _role(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _roles(sections: list[RoleSection], ctx: HtmlContext) -> str:
    if not sections:
        return '<section class="card" id="roles"><h2>Roles</h2><p>No findings.</p></section>'
    detailed = sections[: ctx.max_detailed_roles]
    rest = sections[ctx.max_detailed_roles :]
    parts = [f'<section class="card" id="roles"><h2>Roles, worst first ({len(sections)})</h2>']
    parts += [_role_block(i, section, ctx) for i, section in enumerate(detailed)]
    if rest:
        rows = "".join(
            f"<tr><td>{_badge(s.worst.value) if s.worst else ''}</td><td>{_e(_role(s.resource))}</td>"
            f"<td>{_e(_counts_text(s.findings))}</td></tr>"
            for s in rest
        )
        parts.append(
            f"<h3>{len(rest)} more roles (details in report.json)</h3>"
            f"<table><tr><th>worst</th><th>role</th><th>open findings</th></tr>{rows}</table>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _counts_text(findings: Iterable[Finding]) -> str:
    return ", ".join(f"{n} {sev}" for sev, n in severity_counts(findings).items() if n) or "suppressed only"


def _role_block(index: int, section: RoleSection, ctx: HtmlContext) -> str:
    worst = section.worst.value if section.worst else "info"
    colour = SEVERITY_COLOURS.get(worst, "#9ca3af")
    findings = "".join(_finding_block(f, ctx, suppressed=False) for f in section.findings)
    suppressed = "".join(_finding_block(f, ctx, suppressed=True) for f in section.suppressed)
    return (
        f'<details class="card role" id="role-{index}" style="border-left-color:{colour}"'
        f"{' open' if index < 20 else ''}><summary>{_badge(worst)} <h3>{_e(_role(section.resource))}</h3> "
        f'<span class="meta">{_e(_counts_text(section.findings))}</span>'
        f'<div class="arn">{_e(section.resource)}</div></summary>{findings}'
        + (f"<h4>Suppressed ({len(section.suppressed)})</h4>{suppressed}" if suppressed else "")
        + "</details>"
    )


def _finding_block(finding: Finding, ctx: HtmlContext, *, suppressed: bool) -> str:
    new = ' <span class="new">NEW</span>' if finding.fingerprint in ctx.new_fingerprints else ""
    actions = ""
    if finding.actions:
        shown = ", ".join(finding.actions[:ACTIONS_SHOWN])
        more = f" and {len(finding.actions) - ACTIONS_SHOWN} more" if len(finding.actions) > ACTIONS_SHOWN else ""
        actions = f"<p><b>Actions:</b> <code>{_e(shown)}</code>{_e(more)}</p>"
    evidence = _evidence(finding.evidence)
    remediation = finding.remediation
    cli = f"<pre>{_e(chr(10).join(remediation.cli))}</pre>" if remediation.cli else ""
    policy = _policy(remediation.policy) if remediation.policy is not None else ""
    note = f'<p class="meta">Suppressed: {_e(finding.suppressed_by)}</p>' if suppressed else ""
    return (
        f'<div class="finding{" suppressed" if suppressed else ""}">'
        f"<p>{_badge(finding.severity.value)} <b>{_e(finding.title)}</b>{new} "
        f'<span class="meta">{_e(finding.rule)} · {_e(finding.category)} · {_e(finding.fingerprint)}</span></p>'
        f"<p>{_e(finding.detail)}</p>{actions}{evidence}{note}"
        f"<p><b>Fix:</b> {_e(remediation.summary)}</p>{cli}{policy}</div>"
    )


def _policy(policy: Any) -> str:
    """The corrected policy: shown whole when short, folded (with its size in the summary) when long."""
    text = json.dumps(policy, indent=2)
    lines = text.count("\n") + 1
    if lines <= POLICY_LINES_SHOWN:
        return f"<p><b>Corrected policy:</b></p><pre>{_e(text)}</pre>"
    return (
        f'<details class="fold policy"><summary>Corrected policy ({lines} lines)</summary>'
        f"<pre>{_e(text)}</pre></details>"
    )


def _evidence(evidence: Sequence[str]) -> str:
    if not evidence:
        return ""
    if len(evidence) <= EVIDENCE_SHOWN:
        return f'<p class="meta">Evidence: {_e("; ".join(evidence))}</p>'
    items = "".join(f"<li>{_e(item)}</li>" for item in evidence)
    return (
        f'<details class="fold meta evidence"><summary>Evidence ({len(evidence)} items)</summary>'
        f"<ul>{items}</ul></details>"
    )


def _errors(result: AuditResult) -> str:
    if not result.errors:
        return ""
    rows = "".join(
        f"<tr><td>{_e(e.resource)}</td><td><code>{_e(e.location)}</code></td><td>{_e(e.message)}</td></tr>"
        for e in result.errors
    )
    return (
        f'<section class="card warn" id="errors"><h2>Errors ({len(result.errors)})</h2>'
        f"<table><tr><th>resource</th><th>where</th><th>problem</th></tr>{rows}</table></section>"
    )
