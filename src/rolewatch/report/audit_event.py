"""The EventBridge event every audit puts on the bus: `source: rolewatch`, `detail-type: rolewatch Audit Result`.

One event per audit (a CloudTrail event's audit, the weekly audit, an on-demand audit through the
functions), so a team routes results with one rule: to PagerDuty, Jira, a ticketing Lambda or a Step
Functions response. The detail (schema `rolewatch.audit-event/v1`, sample in events/outputs/audit-result.json,
documented in README.md) holds the audit summary and its open findings in the report's JSON form.

EventBridge takes at most 256 KB per entry, counted in bytes over Source, DetailType, Detail and
Resources (and 14 bytes for Time). An entry over the limit keeps its summary and names the full JSON
report in S3 (`report`) instead of carrying the findings (`findings_included: false`); `resources`
(the ARNs of the roles with open findings, worst first) is capped so it never decides the size.
Pure: no AWS calls.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rolewatch.model import AuditResult
from rolewatch.report.document import build_summary, format_timestamp, group_by_role, is_open, worst_first

SOURCE = "rolewatch"
DETAIL_TYPE = "rolewatch Audit Result"
EVENT_SCHEMA = "rolewatch.audit-event/v1"
AUDIT_KINDS = ("event", "weekly", "on-demand")
ENTRY_BYTES_LIMIT = 256 * 1024
TIME_BYTES = 14  # what AWS counts for an entry's Time, when set
MAX_RESOURCES = 20


def highest_severity(result: AuditResult) -> str | None:
    """The worst open finding's severity: the field a rule matches on to page only for the worst."""
    open_findings = worst_first(f for f in result.findings if is_open(f))
    return open_findings[0].severity.value if open_findings else None


def audit_detail(
    result: AuditResult,
    *,
    kind: str,
    account: str,
    generated_at: datetime | None = None,
    trigger: Mapping[str, Any] | None = None,
    report_uri: str | None = None,
    integrations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The event's detail with every open finding; `fit_entry` drops them for the S3 link if too large."""
    if kind not in AUDIT_KINDS:
        raise ValueError(f"unknown audit kind {kind!r} (expected one of: {', '.join(AUDIT_KINDS)})")
    open_findings = worst_first(f for f in result.findings if is_open(f))
    detail: dict[str, Any] = {
        "schema": EVENT_SCHEMA,
        "audit": kind,
        "account": account,
        "generated_at": format_timestamp(generated_at),
        "trigger": dict(trigger or {}),
        "highest_severity": highest_severity(result),
        "summary": build_summary(result),
        "findings_included": True,
        "findings": [f.to_dict() for f in open_findings],
        "report": report_uri,
    }
    if integrations:
        detail["integrations"] = dict(integrations)
    return detail


def audit_entry(detail: Mapping[str, Any], result: AuditResult, *, event_bus: str = "default") -> dict[str, Any]:
    """The PutEvents entry: resources are the ARNs of the roles with open findings, worst first."""
    roles = [section.resource for section in group_by_role(result.findings) if section.findings]
    resources = [arn for arn in roles if arn.startswith("arn:")][:MAX_RESOURCES]
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Detail": json.dumps(detail, separators=(",", ":"), ensure_ascii=False),
        "Resources": resources,
        "EventBusName": event_bus,
    }


def entry_size(entry: Mapping[str, Any]) -> int:
    """Bytes as EventBridge counts them for the 256 KB limit (the "Calculating PutEvents event entry
    size" rule); text with lone surrogates is counted as the SDK escapes it."""
    size = TIME_BYTES if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        size += _utf8_size(str(entry.get(key) or ""))
    size += sum(_utf8_size(str(r)) for r in entry.get("Resources") or ())
    return size


def _utf8_size(text: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates: the SDK's JSON escaping is what goes over the wire
        return len(json.dumps(text)) - 2


def needs_report_link(entry: Mapping[str, Any], limit: int = ENTRY_BYTES_LIMIT) -> bool:
    return entry_size(entry) > limit


def without_findings(detail: Mapping[str, Any], report_uri: str | None) -> dict[str, Any]:
    """The detail for an entry over the limit: the summary stays, the findings are in the S3 report."""
    out = dict(detail)
    out["findings_included"] = False
    out["findings"] = []
    out["report"] = report_uri
    return out


def fit_entry(
    detail: Mapping[str, Any],
    result: AuditResult,
    *,
    event_bus: str,
    report_uri: str | None,
    limit: int = ENTRY_BYTES_LIMIT,
) -> tuple[dict[str, Any], bool]:
    """(entry, findings_moved): the entry within `limit` bytes. Summary notes are the last resort:
    clipped to their first lines, each shortened, when even the summary alone is too large."""
    entry = audit_entry(detail, result, event_bus=event_bus)
    if entry_size(entry) <= limit:
        return entry, False
    slim = without_findings(detail, report_uri)
    entry = audit_entry(slim, result, event_bus=event_bus)
    if entry_size(entry) > limit:
        summary = dict(slim["summary"])
        notes: Sequence[str] = summary.get("notes") or ()
        summary["notes"] = [str(n)[:500] for n in notes[:20]]
        summary["notes_omitted"] = max(len(notes) - 20, 0)
        slim["summary"] = summary
        entry = audit_entry(slim, result, event_bus=event_bus)
    return entry, True
