"""The report bucket: where every account audit's full report lives, and the index of previous runs.

Layout (one account per prefix, one folder per day, so a person can browse it in the S3 console):

    reports/account/<account-id>/index.json                  previous runs, oldest first (small)
    reports/account/<account-id>/<YYYY-MM-DD>/report.json    rolewatch.report/v1 (+ account audit fields)
    reports/account/<account-id>/<YYYY-MM-DD>/report.html    the self-contained page people read
    reports/account/<account-id>/<YYYY-MM-DD>/report.ocsf.json  the findings as OCSF Detection Findings

A second run on the same day replaces that day's reports and its index entry, so "since last week" always
compares with the previous day that has a report. Every object is written with SSE-KMS (the configured
key, or the bucket's default KMS key when none is set).

Reading history never stops the audit: a missing index is a first run; an unreadable one is kept aside
(index.json.unreadable-<date>) and a new index is started, and the report says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rolewatch.aws_permissions import ACCOUNT_AUDIT, ORG_AUDIT, REPORT_KEY, REPORT_LISTING, STORED_REPORTS, requires
from rolewatch.stored_objects import put_encrypted

INDEX_SCHEMA = "rolewatch.report-index/v1"
INDEX_RUNS_KEPT = 260  # five years of weekly runs
PREFIX = "reports/account"


class ReportStoreError(RuntimeError):
    """The report could not be stored; raised so the invocation fails and is retried."""


def account_prefix(account_id: str) -> str:
    return f"{PREFIX}/{account_id}"


def index_key(account_id: str) -> str:
    return f"{account_prefix(account_id)}/index.json"


def report_keys(account_id: str, day: str) -> tuple[str, str]:
    """(JSON key, HTML key) of one day's report."""
    folder = f"{account_prefix(account_id)}/{day}"
    return f"{folder}/report.json", f"{folder}/report.html"


def ocsf_key(account_id: str, day: str) -> str:
    """The day's OCSF events, beside report.json (for Security Lake custom sources and SIEMs)."""
    return f"{account_prefix(account_id)}/{day}/report.ocsf.json"


def console_url(bucket: str, key: str, region: str | None = None) -> str:
    region_part = f"region={region}&" if region else ""
    return f"https://s3.console.aws.amazon.com/s3/object/{bucket}?{region_part}prefix={key}"


@dataclass
class ReportIndex:
    account_id: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unreadable: bytes | None = None  # the raw index when it could not be parsed

    def previous(self, day: str) -> dict[str, Any] | None:
        """The latest run before `day` (a same-day rerun compares with the day before, not itself)."""
        earlier = [r for r in self.runs if str(r.get("date", "")) < day]
        return earlier[-1] if earlier else None

    def with_run(self, entry: dict[str, Any]) -> dict[str, Any]:
        runs = [r for r in self.runs if r.get("date") != entry["date"]] + [entry]
        runs.sort(key=lambda r: str(r.get("date", "")))
        return {"schema": INDEX_SCHEMA, "account": self.account_id, "runs": runs[-INDEX_RUNS_KEPT:]}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _get(s3: Any, bucket: str, key: str) -> bytes | None:
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if _code(exc) in {"NoSuchKey", "404", "NotFound"}:
            return None
        raise


@requires("s3:GetObject", by=(ACCOUNT_AUDIT, ORG_AUDIT), on=STORED_REPORTS)
# Without ListBucket S3 answers AccessDenied instead of NoSuchKey for the first run's missing index.
@requires("s3:ListBucket", by=(ACCOUNT_AUDIT, ORG_AUDIT), on=REPORT_LISTING)
@requires("kms:Decrypt", by=(ACCOUNT_AUDIT, ORG_AUDIT), on=REPORT_KEY)  # the objects are SSE-KMS encrypted
def load_report_index(s3: Any, bucket: str, account_id: str) -> ReportIndex:
    index = ReportIndex(account_id=account_id)
    key = index_key(account_id)
    try:
        raw = _get(s3, bucket, key)
    except (ClientError, BotoCoreError) as exc:
        index.notes.append(f"previous runs unknown: s3://{bucket}/{key} could not be read ({exc}); no comparison")
        return index
    if raw is None:
        index.notes.append("first run for this account: no previous report to compare with")
        return index
    try:
        value = json.loads(raw)
        runs = value["runs"]
        if value.get("schema") != INDEX_SCHEMA or not isinstance(runs, list):
            raise ValueError(f"schema {value.get('schema')!r}, expected {INDEX_SCHEMA}")
        index.runs = sorted((r for r in runs if isinstance(r, dict) and "date" in r), key=lambda r: str(r["date"]))
    except (ValueError, KeyError, TypeError) as exc:
        index.unreadable = raw
        index.notes.append(f"previous runs unknown: s3://{bucket}/{key} is not a valid index ({exc}); kept aside")
    return index


@requires("s3:GetObject", by=(ACCOUNT_AUDIT, ORG_AUDIT), on=STORED_REPORTS)
@requires("kms:Decrypt", by=(ACCOUNT_AUDIT, ORG_AUDIT), on=REPORT_KEY)
def load_stored_report(s3: Any, bucket: str, key: str) -> tuple[dict[str, Any] | None, str | None]:
    """(report, None) or (None, why it cannot be used)."""
    try:
        raw = _get(s3, bucket, key)
    except (ClientError, BotoCoreError) as exc:
        return None, f"previous report s3://{bucket}/{key} could not be read ({exc})"
    if raw is None:
        return None, f"previous report s3://{bucket}/{key} no longer exists"
    try:
        value = json.loads(raw)
    except ValueError as exc:
        return None, f"previous report s3://{bucket}/{key} is not valid JSON ({exc})"
    if not isinstance(value, dict) or not isinstance(value.get("findings"), list):
        return None, f"previous report s3://{bucket}/{key} has no findings list"
    return value, None


@requires("s3:PutObject", by=(ACCOUNT_AUDIT, ORG_AUDIT), on=STORED_REPORTS)
@requires("kms:GenerateDataKey", by=(ACCOUNT_AUDIT, ORG_AUDIT), on=REPORT_KEY)
def put_report_object(s3: Any, bucket: str, key: str, body: bytes, *, content_type: str, kms_key_id: str = "") -> None:
    try:
        put_encrypted(s3, bucket, key, body, content_type=content_type, kms_key_id=kms_key_id)
    except (ClientError, BotoCoreError) as exc:
        raise ReportStoreError(f"storing s3://{bucket}/{key} failed: {exc}") from exc


@dataclass(frozen=True)
class StoredReport:
    json_key: str
    html_key: str
    index_key: str
    ocsf_key: str | None = None


def store_run(
    s3: Any,
    bucket: str,
    *,
    index: ReportIndex,
    day: str,
    report: dict[str, Any],
    html: str,
    entry: dict[str, Any],
    kms_key_id: str = "",
    ocsf: str | None = None,
) -> StoredReport:
    """Write the day's JSON, HTML (and OCSF) reports, then the index (last, so it never names a missing report)."""
    json_key, html_key = report_keys(index.account_id, day)
    kms = {"kms_key_id": kms_key_id}
    report_body = json.dumps(report, indent=1).encode("utf-8")
    put_report_object(s3, bucket, json_key, report_body, content_type="application/json", **kms)
    put_report_object(s3, bucket, html_key, html.encode("utf-8"), content_type="text/html; charset=utf-8", **kms)
    events_key = None
    if ocsf is not None:
        events_key = ocsf_key(index.account_id, day)
        put_report_object(s3, bucket, events_key, ocsf.encode("utf-8"), content_type="application/json", **kms)
    key = index_key(index.account_id)
    if index.unreadable is not None:
        aside = f"{key}.unreadable-{day}"
        put_report_object(s3, bucket, aside, index.unreadable, content_type="application/octet-stream", **kms)
    keys = {"json": json_key, "html": html_key, **({"ocsf": events_key} if events_key else {})}
    body = json.dumps(index.with_run({**entry, "date": day, **keys}), indent=1)
    put_report_object(s3, bucket, key, body.encode("utf-8"), content_type="application/json", **kms)
    return StoredReport(json_key=json_key, html_key=html_key, index_key=key, ocsf_key=events_key)
