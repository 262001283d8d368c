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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from rolewatch.analyzer.account_findings import read_account_analyzer_findings, summary_check
from rolewatch.analyzer.check import AccessAnalyzerCheck
from rolewatch.analyzer.translate import account_skipped_finding
from rolewatch.audit import LiveCheck, audit_roles, merge_live_checks
from rolewatch.baseline import Baseline, load_baseline
from rolewatch.delivery import Delivered, publish
from rolewatch.integrations.dispatch import AuditDelivery, Integrations, IntegrationsOutcome
from rolewatch.inventory.account_reader import AccountInventory, AccountReadError, read_account
from rolewatch.inventory.clients import AwsClients
from rolewatch.model import AuditResult, Finding, Severity
from rolewatch.progress import Progress
from rolewatch.report import build_report
from rolewatch.report.chat import ChatContext
from rolewatch.report.document import build_summary, format_timestamp
from rolewatch.report.render_html import HtmlContext, render_html
from rolewatch.report.render_ocsf import render_ocsf
from rolewatch.settings import Settings
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
    region: str = "us-east-1"  # the region the audit ran from: Security Hub's, for ASFF's ProductArn

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


def audit_account(
    clients: AwsClients,
    baseline: Baseline | None = None,
    *,
    live_checks: Sequence[LiveCheck] = (),
    role_names: Collection[str] = (),
    access_analyzer: bool = True,
    regions: Iterable[str] | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    analyzer_clients: AwsClients | None = None,
) -> AccountAudit:
    """Read and audit the account (or only `role_names` of it). Raises AccountReadError, UnknownRolesError.
    `progress` hears how many roles there are and each one audited (the CLI's display on a terminal).
    `analyzer_clients` (default: `clients`) read Access Analyzer: in organization mode the central
    account's, whose organization analyzer holds the member's findings, while `clients` read the member."""
    analyzer_clients = analyzer_clients or clients
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
        found = read_account_analyzer_findings(analyzer_clients, inventory.account_id)
        analyzers = tuple(found.analyzers)
        skipped = found.skipped
        checks.append(summary_check(found))
        # The policy checks (ValidatePolicy, custom checks) per role, cached per document hash; the
        # analyzers' findings come from the account-wide read above, not one ListFindingsV2 per role.
        checks.append(AccessAnalyzerCheck(analyzer_clients, analyzer_findings=False))
    # Every role is audited even for a selection: cross-role rules (who can assume whom) need them all.
    if progress is not None:
        progress.roles_total(sum(1 for r in roles if not (baseline.skip_service_linked and r.is_service_linked)))
    result = audit_roles(
        roles, baseline, now=now, complete=True, on_role=progress.role_audited if progress is not None else None
    )
    if role_names:
        arns = {r.arn for r in selected}
        result = replace(
            result,
            findings=tuple(f for f in result.findings if f.resource in arns),
            errors=tuple(e for e in result.errors if e.resource in arns),
            roles_audited=sum(1 for r in selected if not (baseline.skip_service_linked and r.is_service_linked)),
        )

    def account_level(by_role: Mapping[str, Sequence[str]]) -> list[Finding]:
        """Every check that did not run, on any role, as ONE account-level info finding."""
        finding = account_skipped_finding(inventory.account_id, chain(skipped, *by_role.values()))
        return [finding] if finding is not None else []

    result = merge_live_checks(result, selected, baseline, checks, today=now.date(), skipped_findings=account_level)
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
        region=clients.region or "us-east-1",
    )


# -- the weekly run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeeklyOutcome:
    audit: AccountAudit
    diff: WeekDiff
    summary: dict[str, Any]
    stored: StoredReport
    delivered: Delivered | None
    integrations: IntegrationsOutcome = field(default_factory=IntegrationsOutcome)

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
            "integrations": self.integrations.to_dict(),
        }

    def metrics(self) -> dict[str, int]:
        counts = {f"Findings{sev.capitalize()}": n for sev, n in self.summary["by_severity"].items()}
        return {
            "RolesAudited": self.summary["roles"],
            "NewFindings": self.summary["new"],
            "ResolvedFindings": self.summary["resolved"],
            "SourcesNotRead": len(self.summary["not_read"]),
            **counts,
            **self.integrations.metrics(),
        }


def run_weekly_audit(
    clients: AwsClients,
    settings: Settings,
    *,
    baseline: Baseline | None = None,
    live_checks: Sequence[LiveCheck] = (),
    regions: Iterable[str] | None = None,
    now: datetime | None = None,
    trigger: str = "schedule",
    integrations: Integrations | None = None,
    reader: AwsClients | None = None,
    publish_summary: bool = True,
) -> WeeklyOutcome:
    """Audit the account, store the JSON and HTML reports, compare with the previous run, publish the summary.
    `integrations` (default: as the settings say) get the result before the summary is written.
    `reader` (organization mode: a member account's reader role) reads the account; `clients` store the
    reports and publish. `publish_summary=False` stores without publishing (the organization run
    publishes one summary for every account)."""
    if not settings.report_bucket:
        raise ValueError("the account audit needs REPORT_BUCKET for its reports")
    start = Counter(clients.counter.calls)
    bucket = settings.report_bucket
    kms_key_id = settings.report_kms_key_id or ""
    baseline = baseline or load_baseline(settings.baseline_path)
    audit = audit_account(
        reader or clients,
        baseline,
        live_checks=live_checks,
        access_analyzer=settings.access_analyzer != "off",
        regions=regions,
        now=now,
        analyzer_clients=clients,
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
    integrated = deliver_integrations(
        integrations or Integrations.from_settings(settings, clients),
        audit,
        trigger=trigger,
        report_key=json_key,
        chat=weekly_chat_context(audit.account_id, diff, link=links.console_url),
        min_severity=settings.min_severity,
        account_clients=reader,
    )
    result = integrated.with_notes(result)
    audit = replace(audit, result=result)
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
        integrations=integrated.notes(),
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
    if notification is not None and publish_summary:
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
    return WeeklyOutcome(
        audit=audit, diff=diff, summary=summary, stored=stored, delivered=delivered, integrations=integrated
    )


def deliver_integrations(
    integrations: Integrations,
    audit: AccountAudit,
    *,
    trigger: str,
    report_key: str,
    chat: ChatContext | None = None,
    min_severity: Severity = Severity.MEDIUM,
    account_clients: AwsClients | None = None,
) -> IntegrationsOutcome:
    """Security Hub account-wide (only the roles read when IAM was read partially), the chat copy and the
    audit-result event; the full report is stored for an oversized event, and again, complete, by store_run.
    `account_clients` (organization mode: the member's reader role) import the findings into the audited
    account's own Security Hub."""
    complete = audit.inventory.iam_complete
    return integrations.deliver(
        AuditDelivery(
            kind="weekly" if trigger == "schedule" else "on-demand",
            account_id=audit.account_id,
            result=audit.result,
            role_names=None if complete else [r.name for r in audit.inventory.roles],
            roles={r.arn: r for r in audit.inventory.roles},
            trigger={"trigger": trigger},
            report=audit.report(),
            report_key=report_key,
            generated_at=audit.generated_at,
            chat=chat,
            min_severity=min_severity,
            account_clients=account_clients,
        )
    )


def weekly_chat_context(account_id: str, diff: WeekDiff, *, link: str) -> ChatContext:
    """What the week's chat message says besides its findings: new and resolved, a link to the HTML report
    (stored after the integrations ran, so that a chat failure is written into it)."""
    since = f" since {diff.previous_date}" if diff.previous_date else " (first run)"
    return ChatContext(
        event_type="rolewatch-weekly-audit",
        headline="Weekly audit",
        account=account_id,
        changed=[f"{len(diff.new)} new, {len(diff.resolved)} resolved{since}"],
        link=link,
    )
