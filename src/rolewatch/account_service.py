"""Whole-account audits: the weekly schedule, direct invocation, `rolewatch audit` and the demo.

    read_account (GetAccountAuthorizationDetails pages, ListRoles, EC2 associations in every region)
      + Access Analyzer's role findings (one paginated ListFindingsV2 per analyzer)
      ──audit_roles + live checks──▶ AuditResult ──▶ JSON + HTML report ──▶ S3 (with the index of runs)
      previous run's report.json ──compare (fingerprints)──▶ new / resolved ──▶ summary ──▶ SNS

Outcomes, each defined and tested:
- a region, service or late IAM page that cannot be read: listed in the report (`errors`, `not_read`,
  the SNS summary says "incomplete") and everything else is audited;
- nothing readable from IAM: `AccountReadError` is raised, so the invocation fails (retries, DLQ, alarms);
- a payload that is not an account-audit request: `AccountEventError` is raised (DLQ, not dropped);
- S3 or SNS failure: `ReportStoreError` / `DeliveryError` is raised; the run is retried whole.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rolewatch.analyzer.check import AccessAnalyzerCheck
from rolewatch.analyzer.translate import (
    EXTERNAL_ACCESS_RULE,
    UNUSED_PERMISSION_RULE,
    UNUSED_ROLE_RULE,
    make_finding,
    skipped_finding,
)
from rolewatch.audit import LiveCheck, audit_roles, run_live_checks
from rolewatch.baseline import Baseline, Profile, load_baseline
from rolewatch.delivery import Delivered, publish
from rolewatch.inventory.account_reader import (
    AccountInventory,
    AccountReadError,
    AnalyzerFinding,
    AnalyzerFindings,
    read_account,
    read_account_analyzer_findings,
)
from rolewatch.inventory.clients import AwsClients, make_clients
from rolewatch.model import AuditResult, Finding, LiveCheckResult, RoleSnapshot
from rolewatch.remediation import update_trust_cli
from rolewatch.report import build_report, render
from rolewatch.report.document import build_summary, format_timestamp, worst_first
from rolewatch.report.render_html import HtmlContext, render_html
from rolewatch.report.render_ocsf import render_ocsf
from rolewatch.settings import Settings
from rolewatch.shell import command
from rolewatch.weekly.diff import WeekDiff, compare
from rolewatch.weekly.store import (
    StoredReport,
    console_url,
    load_report_index,
    load_stored_report,
    report_keys,
    store_run,
)
from rolewatch.weekly.summary import ReportLinks, build_weekly_summary, compose_weekly_notification

LOG = logging.getLogger(__name__)

SOURCE = "aws:account"

__all__ = [
    "AccountAudit",
    "AccountEventError",
    "AccountReadError",
    "UnknownRolesError",
    "WeeklyOutcome",
    "audit_account",
    "parse_account_event",
    "run_weekly_audit",
    "write_account_report",
]


class AccountEventError(ValueError):
    """The payload is not an account-audit request."""


class UnknownRolesError(ValueError):
    """Roles named for an on-demand audit that the account does not have."""


def parse_account_event(event: Any) -> str:
    """How the audit was triggered: "schedule" or "direct". Raises AccountEventError for anything else.

    Accepted: the EventBridge Scheduler payload and direct invocations (`{"mode": "account"}`, optional
    "trigger"), and an EventBridge schedule rule's "Scheduled Event" (if the schedule is a rule instead).
    """
    if isinstance(event, Mapping):
        if event.get("mode") == "account":
            trigger = event.get("trigger", "direct")
            if trigger not in ("direct", "schedule"):
                raise AccountEventError(f"unknown trigger {trigger!r} (expected direct or schedule)")
            return str(trigger)
        if event.get("detail-type") == "Scheduled Event" and event.get("source") in ("aws.events", "aws.scheduler"):
            return "schedule"
    shown = json.dumps(event, default=str)[:200] if event is not None else "nothing"
    raise AccountEventError(f'not an account-audit request (expected {{"mode": "account"}}): {shown}')


# -- Access Analyzer findings read for the whole account --------------------------------------------


def _analyzer_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _cmd(*parts: str) -> str:
    return command(*parts)


def analyzer_summary_finding(role: RoleSnapshot, profile: Profile, summary: AnalyzerFinding) -> Finding | None:
    """A ListFindingsV2 summary as a rolewatch finding (rule ids and metadata of the analyzer package).

    Summaries carry no details (principal, unused actions); the CLI commands fetch them and Access
    Analyzer's recommendation. Evidence is the analyzer and finding id: stable while the finding is active.
    """
    rules = {
        "ExternalAccess": EXTERNAL_ACCESS_RULE,
        "UnusedIAMRole": UNUSED_ROLE_RULE,
        "UnusedPermission": UNUSED_PERMISSION_RULE,
    }
    rule_id = rules.get(summary.finding_type)
    if rule_id is None:
        return None
    where = f"Access Analyzer finding {summary.id} (analyzer {_analyzer_name(summary.analyzer_arn)})"
    details = _cmd(
        "aws", "accessanalyzer", "get-finding-v2", "--analyzer-arn", summary.analyzer_arn, "--id", summary.id
    )
    cli = [details]
    if summary.finding_type == "ExternalAccess":
        text = f"{where}: a principal outside the zone of trust can assume {role.name}."
        cli.append(update_trust_cli(role))
    elif summary.finding_type == "UnusedIAMRole":
        text = f"{where}: {role.name} has not been used within the analyzer's tracking period."
    else:
        text = f"{where}: {role.name} holds permissions it has not used; the finding names them."
        cli += [
            _cmd(
                "aws", "accessanalyzer", "generate-finding-recommendation",
                "--analyzer-arn", summary.analyzer_arn, "--id", summary.id,
            ),
            _cmd(
                "aws", "accessanalyzer", "get-finding-recommendation",
                "--analyzer-arn", summary.analyzer_arn, "--id", summary.id,
            ),
        ]  # fmt: skip
    return make_finding(
        rule_id,
        role,
        profile,
        text,
        evidence=(f"analyzer={summary.analyzer_arn}", f"finding={summary.id}"),
        cli=cli,
    )


def prefetched_analyzer_check(prefetched: AnalyzerFindings) -> LiveCheck:
    """A live check that answers from the account-wide read instead of calling Access Analyzer per role."""

    def account_analyzer_findings(snapshot: RoleSnapshot, profile: Profile) -> LiveCheckResult:
        found = (analyzer_summary_finding(snapshot, profile, s) for s in prefetched.for_role(snapshot.arn))
        return LiveCheckResult(findings=tuple(f for f in found if f is not None))

    return account_analyzer_findings


# -- the audit --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountAudit:
    account_id: str
    result: AuditResult
    inventory: AccountInventory
    generated_at: datetime
    api_calls: dict[str, int]  # by service, for the whole audit so far
    operations: dict[str, int]  # by "service:Operation"
    analyzers: tuple[str, ...] = ()
    selected: tuple[str, ...] = ()  # role names an on-demand audit was limited to; empty: every role

    @property
    def not_read(self) -> list[str]:
        return [u.describe() for u in self.inventory.unread]

    def report(self) -> dict[str, Any]:
        """rolewatch.report/v1, plus `summary.api_calls` and an `account` section on what was read."""
        report = build_report(self.result, sources=[SOURCE], generated_at=self.generated_at)
        report["summary"]["api_calls"] = dict(sorted(self.api_calls.items()))
        report["account"] = {
            "id": self.account_id,
            "regions": list(self.inventory.regions),
            "iam_pages": self.inventory.iam_pages,
            "iam_complete": self.inventory.iam_complete,
            "access_analyzers": list(self.analyzers),
            "selected_roles": list(self.selected),
            "not_read": [u.to_dict() for u in self.inventory.unread],
            "operations": dict(sorted(self.operations.items())),
        }
        return report


def _calls_since(clients: AwsClients, before: Counter[str]) -> tuple[dict[str, int], dict[str, int]]:
    operations = Counter(clients.counter.calls)
    operations.subtract(before)
    ops = {k: v for k, v in operations.items() if v > 0}
    by_service: Counter[str] = Counter()
    for key, n in ops.items():
        by_service[key.split(":", 1)[0]] += n
    return dict(by_service), ops


def _with_live_checks(
    result: AuditResult,
    roles: Iterable[RoleSnapshot],
    baseline: Baseline,
    checks: Sequence[LiveCheck],
    *,
    account_id: str,
    now: datetime,
    skipped: Sequence[str] = (),
) -> AuditResult:
    """Every live check on every role; their `skipped` reasons become ONE account-level info finding."""
    run = run_live_checks(roles, baseline, checks, now.date())
    findings = list(result.findings) + run.findings
    reasons = list(skipped) + [reason for role_reasons in run.skipped.values() for reason in role_reasons]
    stand_in = RoleSnapshot(arn=f"arn:aws:iam::{account_id or '000000000000'}:root", name=f"account {account_id}")
    summary = skipped_finding(stand_in, _merged_reasons(reasons))
    if summary is not None:
        findings.append(summary)
    return replace(result, findings=tuple(worst_first(findings)), errors=result.errors + tuple(run.errors))


def _merged_reasons(reasons: Iterable[str]) -> list[str]:
    """Per-role reasons ("ValidatePolicy, CheckNoPublicAccess: <why>") merged per cause, in a stable order.

    The account-level finding's evidence is these lines, so its fingerprint must not change from week to
    week just because a new role skipped one more check for the same cause.
    """
    checks_by_cause: dict[str, set[str]] = {}
    for reason in reasons:
        checks, sep, cause = reason.partition(": ")
        if not sep:
            checks, cause = "", reason
        checks_by_cause.setdefault(cause, set()).update(c for c in checks.split(", ") if c)
    return [
        f"{', '.join(sorted(checks))}: {cause}" if checks else cause
        for cause, checks in sorted(checks_by_cause.items())
    ]


def audit_account(
    clients: AwsClients,
    baseline: Baseline | None = None,
    *,
    live_checks: Sequence[LiveCheck] = (),
    role_names: Collection[str] = (),
    access_analyzer: bool = True,
    regions: Iterable[str] | None = None,
    now: datetime | None = None,
) -> AccountAudit:
    """Read and audit the account (or only `role_names` of it). Raises AccountReadError, UnknownRolesError."""
    baseline = baseline or load_baseline()
    now = now or datetime.now(UTC)
    before = Counter(clients.counter.calls)
    inventory = read_account(clients, regions=regions)
    roles = list(inventory.roles)
    selected = roles
    if role_names:
        wanted = {name.lower() for name in role_names}
        selected = [r for r in roles if r.name.lower() in wanted]
        missing = sorted(wanted - {r.name.lower() for r in selected})
        if missing:
            raise UnknownRolesError(f"no such role in account {inventory.account_id}: {', '.join(missing)}")
    checks = list(live_checks)
    analyzers: tuple[str, ...] = ()
    skipped: list[str] = []
    if access_analyzer:
        prefetched = read_account_analyzer_findings(clients, inventory.account_id)
        analyzers = tuple(prefetched.analyzers)
        skipped = prefetched.skipped
        checks.append(prefetched_analyzer_check(prefetched))
        # The policy checks (ValidatePolicy, custom checks) per role, cached per document hash; the
        # analyzers' findings come from the account-wide read above, not one ListFindingsV2 per role.
        checks.append(AccessAnalyzerCheck(clients, analyzer_findings=False))
    # Every role is audited even for a selection: cross-role rules (who can assume whom) need them all.
    result = audit_roles(roles, baseline, now=now, complete=True)
    if role_names:
        arns = {r.arn for r in selected}
        result = replace(
            result,
            findings=tuple(f for f in result.findings if f.resource in arns),
            errors=tuple(e for e in result.errors if e.resource in arns),
            roles_audited=sum(1 for r in selected if not (baseline.skip_service_linked and r.is_service_linked)),
        )
    result = _with_live_checks(
        result, selected, baseline, checks, account_id=inventory.account_id, now=now, skipped=skipped
    )
    unread = [u.as_error(inventory.account_id) for u in inventory.unread]
    result = replace(
        result,
        errors=tuple(unread) + inventory.errors + result.errors,
        notes=inventory.notes + result.notes,
    )
    api_calls, operations = _calls_since(clients, before)
    return AccountAudit(
        account_id=inventory.account_id,
        result=result,
        inventory=inventory,
        generated_at=now,
        api_calls=api_calls,
        operations=operations,
        analyzers=analyzers,
        selected=tuple(sorted(r.name for r in selected)) if role_names else (),
    )


# -- the weekly run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeeklyOutcome:
    audit: AccountAudit
    diff: WeekDiff
    summary: dict[str, Any]
    stored: StoredReport
    delivered: Delivered | None

    def to_dict(self) -> dict[str, Any]:
        """What the handler returns (and logs): small, no findings."""
        return {
            "account": self.audit.account_id,
            "roles": self.summary["roles"],
            "findings": self.summary["findings"],
            "by_severity": self.summary["by_severity"],
            "new": self.summary["new"],
            "resolved": self.summary["resolved"],
            "not_read": self.summary["not_read"],
            "report": {
                "json": self.stored.json_key,
                "html": self.stored.html_key,
                "ocsf": self.stored.ocsf_key,
                "index": self.stored.index_key,
            },
            "published": self.delivered.message_id if self.delivered else None,
            "api_calls": self.summary["api_calls"],
        }

    def metrics(self) -> dict[str, int]:
        counts = {f"Findings{sev.capitalize()}": n for sev, n in self.summary["by_severity"].items()}
        return {
            "RolesAudited": self.summary["roles"],
            "NewFindings": self.summary["new"],
            "ResolvedFindings": self.summary["resolved"],
            "SourcesNotRead": len(self.summary["not_read"]),
            **counts,
        }


def run_weekly_audit(
    clients: AwsClients,
    settings: Settings,
    *,
    baseline: Baseline | None = None,
    live_checks: Sequence[LiveCheck] = (),
    regions: Iterable[str] | None = None,
    now: datetime | None = None,
) -> WeeklyOutcome:
    """Audit the account, store the JSON and HTML reports, compare with the previous run, publish the summary."""
    if not settings.report_bucket:
        raise ValueError("the account audit needs REPORT_BUCKET for its reports")
    start = Counter(clients.counter.calls)
    bucket = settings.report_bucket
    kms_key_id = settings.report_kms_key_id or ""
    baseline = baseline or load_baseline(settings.baseline_path)
    audit = audit_account(
        clients,
        baseline,
        live_checks=live_checks,
        access_analyzer=settings.access_analyzer != "off",
        regions=regions,
        now=now,
    )
    day = audit.generated_at.astimezone(UTC).date().isoformat()
    index = load_report_index(clients.s3, bucket, audit.account_id)
    notes = list(index.notes)
    previous = index.previous(day)
    previous_report = None
    if previous is not None and isinstance(previous.get("json"), str):
        previous_report, why = load_stored_report(clients.s3, bucket, previous["json"])
        if why:
            notes.append(f"{why}; no comparison this run")
    roles_read = None if audit.inventory.iam_complete else {r.arn for r in audit.inventory.roles}
    diff = compare(
        audit.result.findings,
        previous_report,
        previous_date=str(previous["date"]) if previous_report is not None and previous else None,
        roles_read=roles_read,
    )
    result = replace(audit.result, notes=audit.result.notes + tuple(notes))
    audit = replace(audit, result=result)
    json_key, html_key = report_keys(audit.account_id, day)
    links = ReportLinks(
        json_uri=f"s3://{bucket}/{json_key}",
        html_uri=f"s3://{bucket}/{html_key}",
        console_url=console_url(bucket, html_key, clients.region),
    )
    generated = format_timestamp(audit.generated_at)
    summary = build_weekly_summary(
        result,
        diff,
        account_id=audit.account_id,
        generated_at=generated,
        min_severity=settings.min_severity,
        links=links,
        not_read=audit.not_read,
        api_calls=audit.api_calls,
    )
    report = audit.report()
    report["weekly"] = summary
    report["diff"] = diff.to_dict()
    html = render_html(
        result,
        HtmlContext(
            title="rolewatch weekly account audit",
            account_id=audit.account_id,
            generated_at=audit.generated_at,
            history=index.runs,
            previous_date=diff.previous_date,
            new_fingerprints=frozenset(f.fingerprint for f in diff.new),
            resolved=diff.resolved,
            not_read=audit.not_read,
            api_calls=audit.api_calls,
            report_links={"JSON": links.json_uri, "HTML": links.html_uri},
        ),
    )
    counts = build_summary(result)
    entry = {
        "generated_at": generated,
        "roles": counts["roles"],
        "findings": counts["findings"],
        "by_severity": counts["by_severity"],
        "new": len(diff.new),
        "resolved": len(diff.resolved),
        "complete": not audit.not_read,
    }
    stored = store_run(
        clients.s3,
        bucket,
        index=index,
        day=day,
        report=report,
        html=html,
        entry=entry,
        kms_key_id=kms_key_id,
        ocsf=render_ocsf(result, generated_at=audit.generated_at),
    )
    notification = compose_weekly_notification(
        summary, result, settings.min_severity, publish_clean=settings.publish_clean
    )
    delivered = None
    if notification is not None:
        delivered = publish(
            notification,
            report,
            sns=clients.sns,
            topic_arn=settings.report_topic_arn,
            s3=clients.s3,
            bucket=bucket,
            key=json_key,
            kms_key_id=settings.report_kms_key_id,
        )
    LOG.info(
        "account audit of %s: %d roles, %d findings, %d new, %d resolved",
        audit.account_id,
        summary["roles"],
        summary["findings"],
        summary["new"],
        summary["resolved"],
        extra={"api_calls": _calls_since(clients, start)[0], "not_read": audit.not_read},
    )
    return WeeklyOutcome(audit=audit, diff=diff, summary=summary, stored=stored, delivered=delivered)


# -- local reports (CLI, demo) ----------------------------------------------------------------------


def render_account_audit(audit: AccountAudit, fmt: str) -> str:
    """The audit in one of the CLI's formats: json (with api_calls), html, text, markdown, sarif."""
    if fmt == "json":
        return json.dumps(audit.report(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "html":
        return render_html(
            audit.result,
            HtmlContext(
                title="rolewatch account audit",
                account_id=audit.account_id,
                generated_at=audit.generated_at,
                not_read=audit.not_read,
                api_calls=audit.api_calls,
            ),
        )
    return render(audit.result, fmt, sources=[f"{SOURCE}:{audit.account_id}"], generated_at=audit.generated_at)


REPORT_FILE_NAMES = {
    "json": "report.json",
    "html": "report.html",
    "text": "report.txt",
    "markdown": "report.md",
    "sarif": "report.sarif",
    "ocsf": "report.ocsf.json",
}


def write_account_report(
    out_dir: str | Path,
    *,
    clients: AwsClients | None = None,
    baseline: Baseline | None = None,
    role_names: Collection[str] = (),
    formats: Sequence[str] = ("html", "json"),
    access_analyzer: bool = True,
) -> dict[str, Path]:
    """Audit the account the clients point at (AWS_ENDPOINT_URL for the moto demo) and write the reports.

    The demo's last step: `write_account_report("out")` writes out/report.html and out/report.json and
    returns {format: path}.
    """
    if clients is None:
        clients = make_clients()
    audit = audit_account(clients, baseline, role_names=role_names, access_analyzer=access_analyzer)
    return write_rendered(audit, out_dir, formats)


def write_rendered(audit: AccountAudit, out_dir: str | Path, formats: Sequence[str]) -> dict[str, Path]:
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for fmt in dict.fromkeys(formats):
        path = directory / REPORT_FILE_NAMES[fmt]
        path.write_text(render_account_audit(audit, fmt), encoding="utf-8")
        written[fmt] = path
    return written
