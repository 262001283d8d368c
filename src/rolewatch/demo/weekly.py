"""The demo's last act: the weekly audit of the whole demo account, its summary and its HTML report.

It goes through the same door as the schedule: the AccountAuditFunction's handler with the scheduled
event (events/weekly-audit.json) and the function's environment. The summary arrives at the subscriber
like any report; the full HTML report is fetched from the report bucket into out/.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from rolewatch.demo.account import SeededAccount
from rolewatch.demo.cloudtrail import EVENTS_DIR
from rolewatch.demo.console import Console
from rolewatch.demo.embedded_aws import environment
from rolewatch.demo.invoke import LambdaContext, LogSink, invoke, load_handler
from rolewatch.demo.resources import DemoResources, function_environment
from rolewatch.demo.subscriber import drain

ACCOUNT_HANDLER_MODULE = "rolewatch.handlers.account_audit"
ACCOUNT_FUNCTION = "AccountAuditFunction"
WEEKLY_EVENT = EVENTS_DIR / "weekly-audit.json"
DIRECT_ACCOUNT_AUDIT = {"mode": "account"}


@dataclass
class WeeklyAuditRun:
    status: str  # "done" (the handler returned) or "failed" (it raised)
    detail: str = ""
    html_report: str | None = None
    json_report: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def as_expected(self) -> bool:
        """What the schedule must give: the handler returned, one summary reached the subscriber, and both
        full reports are in the bucket."""
        return self.status == "done" and len(self.messages) == 1 and bool(self.html_report and self.json_report)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "as_expected": self.as_expected,
            "detail": self.detail,
            "html_report": self.html_report,
            "json_report": self.json_report,
            "messages": self.messages,
            "seconds": round(self.seconds, 3),
        }


def weekly_event() -> dict[str, Any]:
    if WEEKLY_EVENT.is_file():
        return json.loads(WEEKLY_EVENT.read_text(encoding="utf-8"))
    return dict(DIRECT_ACCOUNT_AUDIT)


def run_weekly_audit(
    console: Console,
    resources: DemoResources,
    template: dict[str, Any] | None,
    account: SeededAccount,
    out_dir: Path,
    *,
    verbose: bool = False,
) -> WeeklyAuditRun:
    console.heading("5. The weekly audit of the whole account (what the Monday 07:00 UTC schedule runs)")
    region = resources.region
    env = function_environment(resources, template, ACCOUNT_FUNCTION)
    if verbose:
        env.variables["POWERTOOLS_LOG_LEVEL"] = "INFO"
    event = weekly_event()
    with environment(env.variables):
        handler = load_handler(f"{ACCOUNT_HANDLER_MODULE}.handler")
        sink = LogSink()
        sink.capture(env.variables["POWERTOOLS_SERVICE_NAME"])
        context = LambdaContext(
            function_name="rolewatch-AccountAuditFunction",
            region=region,
            account_id=account.account_id,
            memory_limit_in_mb=1024,
            timeout_seconds=900,
        )
        invocation = invoke(handler, event, context, sink)
    messages = drain(resources.queue_url, region)
    source = "events/weekly-audit.json" if WEEKLY_EVENT.is_file() else json.dumps(DIRECT_ACCOUNT_AUDIT)
    console.wrapped(f"AccountAuditFunction invoked with {source}: {invocation.seconds:.2f} s")
    if invocation.error is not None:
        detail = f"{type(invocation.error).__name__}: {invocation.error}"
        console.line("  The weekly audit FAILED:")
        console.block(detail, marker="  ! ")
        if verbose:
            console.block(invocation.output, marker="  > ")
        return WeeklyAuditRun(status="failed", detail=detail, seconds=invocation.seconds)
    for message in messages:
        attributes = "  ".join(f"{k}={v}" for k, v in sorted(message.attributes.items()))
        console.line("  The subscriber receives the weekly summary:")
        console.block(f"Subject: {message.subject}\nAttributes: {attributes}\n\n{message.message}")
    html, report_json = _fetch_reports(resources, region, out_dir, invocation.response)
    if html:
        console.line()
        console.line(f"  Full report (HTML): {html}   open it in a browser")
    if report_json:
        console.line(f"  Full report (JSON): {report_json}")
    if verbose and invocation.output.strip():
        console.block(invocation.output, marker="  > ")
    return WeeklyAuditRun(
        status="done",
        detail=f"{len(messages)} summary message(s)",
        html_report=html,
        json_report=report_json,
        messages=[m.to_dict() for m in messages],
        seconds=invocation.seconds,
    )


def _report_keys(response: Any) -> dict[str, str]:
    """The report's S3 keys as the handler returns them: {"report": {"html": key, "json": key}}."""
    report = response.get("report") if isinstance(response, dict) else None
    if not isinstance(report, dict):
        return {}
    return {kind: key for kind, key in report.items() if kind in {"html", "json"} and isinstance(key, str) and key}


def _fetch_reports(
    resources: DemoResources, region: str, out_dir: Path, response: Any
) -> tuple[str | None, str | None]:
    """The run's HTML and JSON reports, copied from the report bucket to out_dir.

    The keys come from the handler's response; without them, the newest HTML object in the bucket."""
    s3 = boto3.client("s3", region_name=region)
    keys = _report_keys(response)
    if "html" not in keys:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=resources.bucket)
        pages_html = [o for page in pages for o in page.get("Contents", []) if o["Key"].endswith(".html")]
        if pages_html:
            keys["html"] = max(pages_html, key=lambda o: (o["LastModified"], o["Key"]))["Key"]
    fetched: dict[str, str | None] = {"html": None, "json": None}
    for kind, key in keys.items():
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / f"weekly-audit.{kind}"
        target.write_bytes(s3.get_object(Bucket=resources.bucket, Key=key)["Body"].read())
        fetched[kind] = str(target)
    return fetched["html"], fetched["json"]
