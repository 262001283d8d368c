"""The weekly organization run: the three steps the state machine (statemachine/organization_audit.asl.json)
calls on OrgAuditFunction, each a small JSON payload in and out.

    list-accounts        Organizations ──▶ ACTIVE accounts (selection applied) ──▶ S3 items for the Map
    audit-account (xN)   reader role ──▶ run_weekly_audit (report + diff under the account's prefix)
                         ──▶ the account's outcome in S3 (runs/<run>/accounts/<id>.json)
    organization-report  listing + outcomes ──▶ org report JSON + HTML in S3 ──▶ one SNS summary

Why results go through S3: a Distributed Map may have thousands of items, far beyond the 256 KB a
state's payload may hold, so each item stores its own outcome and the Map keeps none (ResultPath null).

Outcomes, each defined and tested, each visible in the organization report:
- an account that cannot be read (outside the organization, suspended, reader role missing or refusing,
  throttled assume-role, nothing readable from IAM): the item succeeds with an `unauditable` outcome
  naming the reason; no other account is affected;
- an item that fails or times out after the Map's retries: no outcome is stored, and the report lists
  the account as `step-failed`; the Map tolerates up to ToleratedFailurePercentage of such items, and
  beyond that the run still ends with the report, which says the Map stopped and why;
- S3 or SNS failure in a step: raised (the step's retry, then the execution fails where alarms see it).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rolewatch.account_service import AccountReadError, run_weekly_audit
from rolewatch.aws_permissions import ORG_AUDIT, REPORT_LISTING, STORED_REPORTS, requires
from rolewatch.baseline import Baseline
from rolewatch.delivery import Delivered, publish
from rolewatch.inventory.clients import AwsClients
from rolewatch.org.accounts import AccountListing, Selection, list_accounts
from rolewatch.org.credentials import (
    ORGANIZATION_MODE,
    READER_ROLE_REFUSED,
    AccountUnavailable,
    MemberAccounts,
    refused,
)
from rolewatch.org.report import (
    AccountOutcome,
    RunContext,
    build_org_report,
    compose_org_notification,
    gather,
    render_org_html,
)
from rolewatch.policy.permissions import forget_compiled_policies
from rolewatch.report.document import format_timestamp
from rolewatch.settings import Settings
from rolewatch.weekly.store import ReportStoreError, console_url, put_report_object

LOG = logging.getLogger(__name__)

ORGANIZATION_PREFIX = "reports/organization"
UNREADABLE = "unreadable"
STEPS = ("list-accounts", "audit-account", "organization-report")
_RUN_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class OrgStepError(ValueError):
    """A payload that is not one of the state machine's steps (a wiring mistake: fail loudly)."""


def run_prefix(run_id: str) -> str:
    return f"{ORGANIZATION_PREFIX}/runs/{run_id}"


def outcome_key(run_id: str, account_id: str) -> str:
    return f"{run_prefix(run_id)}/accounts/{account_id}.json"


def _run_id(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ-") + uuid.uuid4().hex[:8]
    if len(text) > 80 or not set(text) <= _RUN_ID_CHARS:
        raise OrgStepError(f"run_id {text[:40]!r} is not a state machine execution name")
    return text


def _account_id(value: Any) -> str:
    text = str(value or "")
    if not (len(text) == 12 and text.isdigit()):
        raise OrgStepError(f"account_id {text[:40]!r} is not a 12-digit account id")
    return text


def parse_step(event: Any) -> str:
    if isinstance(event, Mapping) and event.get("step") in STEPS:
        return str(event["step"])
    shown = json.dumps(event, default=str)[:200]
    raise OrgStepError(f"not an organization-audit step (expected step in {', '.join(STEPS)}): {shown}")


def _bucket(settings: Settings) -> str:
    if not settings.report_bucket:
        raise ValueError("the organization audit needs REPORT_BUCKET")
    return settings.report_bucket


def _put_json(clients: AwsClients, settings: Settings, key: str, data: Any) -> None:
    body = json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")
    put_report_object(
        clients.s3, _bucket(settings), key, body, content_type="application/json",
        kms_key_id=settings.report_kms_key_id or "",
    )  # fmt: skip


@requires("s3:GetObject", by=ORG_AUDIT, on=STORED_REPORTS, only_if=ORGANIZATION_MODE)
def _get_json(clients: AwsClients, bucket: str, key: str) -> Any:
    try:
        body = clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise ReportStoreError(f"reading s3://{bucket}/{key} failed: {exc}") from exc
    return json.loads(body)


# -- step 1: the accounts -------------------------------------------------------------------------------


def list_step(clients: AwsClients, settings: Settings, event: Mapping[str, Any]) -> dict[str, Any]:
    """Lists the accounts, writes the Map's items (a JSON array) and the listing to S3."""
    run_id = _run_id(event.get("run_id"))
    selection = Selection.from_mapping(event.get("selection"))
    listing: AccountListing = list_accounts(clients, selection)
    items_key = f"{run_prefix(run_id)}/items.json"
    _put_json(clients, settings, items_key, [a.item() for a in listing.audit])
    _put_json(
        clients,
        settings,
        f"{run_prefix(run_id)}/listing.json",
        {
            "run_id": run_id,
            "selection": selection.to_dict(),
            "audit": [a.item() for a in listing.audit],
            "inactive": [{**a.item(), "status": a.status} for a in listing.inactive],
            "left_out": listing.left_out,
        },
    )
    LOG.info(
        "organization run %s: %d accounts to audit, %d not active, %d left out by the selection",
        run_id, len(listing.audit), len(listing.inactive), listing.left_out,
    )  # fmt: skip
    return {"run_id": run_id, "bucket": _bucket(settings), "key": items_key, "count": len(listing.audit)}


# -- step 2: one account ------------------------------------------------------------------------------


def audit_member_step(
    clients: AwsClients,
    settings: Settings,
    members: MemberAccounts,
    event: Mapping[str, Any],
    *,
    baseline: Baseline | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Audits one account through its reader role; stores and returns its outcome (never raises for the
    account's own faults: they are the outcome)."""
    run_id = _run_id(event.get("run_id"))
    account_id = _account_id(event.get("account_id"))
    name = str(event.get("name") or "")
    try:
        reader = members.clients_for(account_id, reason_id=f"weekly-{run_id}")
        weekly = run_weekly_audit(
            clients,
            settings,
            baseline=baseline,
            reader=reader,
            publish_summary=bool(event.get("publish_summary")),
            now=now,
        )
        summary = weekly.summary
        counts = weekly.audit.report()["summary"]
        outcome = AccountOutcome(
            account_id=account_id,
            name=name,
            roles=int(summary["roles"]),
            findings=int(summary["findings"]),
            by_severity=dict(summary["by_severity"]),
            by_category=dict(counts.get("by_category", {})),
            new=int(summary["new"]),
            resolved=int(summary["resolved"]),
            not_read=tuple(summary["not_read"]),
            report_json=weekly.stored.json_key,
            report_html=weekly.stored.html_key,
            api_calls=dict(weekly.audit.api_calls),
            integration_notes=weekly.integrations.notes(),
            integration_metrics=weekly.integrations.metrics(),
        )
    except AccountUnavailable as exc:
        outcome = AccountOutcome.unauditable(account_id, name, exc.kind, exc.reason)
    except AccountReadError as exc:
        outcome = AccountOutcome.unauditable(account_id, name, UNREADABLE, str(exc))
    except ClientError as exc:
        if not refused(exc):
            raise
        reason = f"the reader role was refused {exc.operation_name} ({exc})"
        outcome = AccountOutcome.unauditable(account_id, name, READER_ROLE_REFUSED, reason)
    finally:
        # Each account comes once per run: neither its clients (a botocore session with its own models)
        # nor its compiled policies are kept, or a warm container auditing item after item grows until
        # Lambda stops it (benchmarks/bench_org_audit.py: 1 GB after 21 accounts of 1,000 roles).
        members.forget(account_id)
        forget_compiled_policies()
    if outcome.status != "audited":
        LOG.warning("cannot audit account %s: %s", account_id, outcome.reason, extra={"kind": outcome.kind})
    _put_json(clients, settings, outcome_key(run_id, account_id), outcome.to_dict())
    return outcome.to_dict()


# -- step 3: the organization report ---------------------------------------------------------------------


@dataclass(frozen=True)
class OrgRun:
    report: dict[str, Any]
    json_key: str
    html_key: str
    delivered: Delivered

    def to_dict(self) -> dict[str, Any]:
        return {
            "report": {"json": self.json_key, "html": self.html_key},
            "published": self.delivered.message_id,
            "summary": self.report["summary"],
        }


@requires("s3:ListBucket", by=ORG_AUDIT, on=REPORT_LISTING, only_if=ORGANIZATION_MODE)
def stored_outcomes(clients: AwsClients, bucket: str, run_id: str) -> list[AccountOutcome]:
    prefix = f"{run_prefix(run_id)}/accounts/"
    out = []
    try:
        for page in clients.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                out.append(AccountOutcome.from_dict(_get_json(clients, bucket, item["Key"])))
    except (ClientError, BotoCoreError) as exc:
        raise ReportStoreError(f"listing s3://{bucket}/{prefix} failed: {exc}") from exc
    return out


def report_step(
    clients: AwsClients, settings: Settings, event: Mapping[str, Any], *, now: datetime | None = None
) -> dict[str, Any]:
    """Builds, stores and publishes the organization report of the run."""
    run_id = _run_id(event.get("run_id"))
    bucket = _bucket(settings)
    now = now or datetime.now(UTC)
    listing = _get_json(clients, bucket, f"{run_prefix(run_id)}/listing.json")
    outcomes = gather(listing["audit"], listing["inactive"], stored_outcomes(clients, bucket, run_id))
    day = now.astimezone(UTC).date().isoformat()
    json_key = f"{ORGANIZATION_PREFIX}/{day}/report.json"
    html_key = f"{ORGANIZATION_PREFIX}/{day}/report.html"
    notes = []
    map_error = (event.get("input") or {}).get("map_error") if isinstance(event.get("input"), Mapping) else None
    if isinstance(map_error, Mapping):
        notes.append(
            f"the Map run stopped early ({map_error.get('Error', 'error')}: {str(map_error.get('Cause', ''))[:300]}); "
            "accounts without an outcome are listed as step-failed"
        )
    context = RunContext(
        organization_id=settings.organization_id or "",
        run_id=run_id,
        generated_at=format_timestamp(now),
        selection=listing.get("selection", {}),
        left_out=int(listing.get("left_out", 0)),
        links={
            "HTML": console_url(bucket, html_key, clients.region),
            "JSON": f"s3://{bucket}/{json_key}",
        },
        notes=tuple(notes),
        account_links={
            o.account_id: {
                "HTML": console_url(bucket, o.report_html, clients.region),
                "JSON": console_url(bucket, o.report_json, clients.region),
            }
            for o in outcomes
            if o.report_html and o.report_json
        },
    )
    report = build_org_report(outcomes, context)
    _put_json(clients, settings, json_key, report)
    put_report_object(
        clients.s3, bucket, html_key, render_org_html(report).encode("utf-8"),
        content_type="text/html; charset=utf-8", kms_key_id=settings.report_kms_key_id or "",
    )  # fmt: skip
    delivered = publish(
        compose_org_notification(report),
        report,
        sns=clients.sns,
        topic_arn=settings.report_topic_arn,
        s3=clients.s3,
        bucket=bucket,
        key=json_key,
        kms_key_id=settings.report_kms_key_id,
    )
    return OrgRun(report, json_key, html_key, delivered).to_dict()
