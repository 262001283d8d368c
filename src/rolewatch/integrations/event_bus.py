"""The audit-result event on EventBridge: one PutEvents entry per audit (rolewatch.report.audit_event).

An entry over EventBridge's 256 KB (counted in bytes) carries the summary and the S3 URI of the full
JSON report instead of the findings; the report is stored first when the caller has not stored it
yet (SSE-KMS, as rolewatch.delivery stores reports). Faults are outcomes, never exceptions:
- PutEvents answers FailedEntryCount 1: the entry is retried with backoff (MAX_ATTEMPTS puts in all)
  unless its error code says a retry cannot help; then `failed`, with the code, in the report and
  the AuditEventsFailed metric;
- PutEvents itself fails (no such bus, access denied, throttled beyond botocore's retries): `failed`;
- the full report cannot be stored for an oversized entry: the entry goes out without findings and
  without a link, `partial`, saying so.
Calls: one PutEvents (plus retries), and one S3 PutObject for an oversized entry not yet stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rolewatch.aws_permissions import AUDIT_EVENT_BUS, EVERY_FUNCTION, WITH_AUDIT_EVENTS, requires
from rolewatch.integrations.report_store import store_report
from rolewatch.integrations.result import IntegrationResult
from rolewatch.model import AuditResult
from rolewatch.report.audit_event import fit_entry

LOG = logging.getLogger(__name__)

NAME = "eventbridge"
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = 0.5
# Entry error codes no retry can fix (the entry or the caller's rights are wrong).
PERMANENT_ERRORS = frozenset(
    {"MalformedDetail", "InvalidArgument", "AccessDeniedException", "NotAuthorizedForSourceException"}
)


class AuditEventPublisher:
    """Puts one audit's event on `event_bus` (a name or ARN; "default" is the account's default bus)."""

    def __init__(
        self,
        client: Any,
        *,
        event_bus: str = "default",
        s3: Any = None,
        bucket: str | None = None,
        kms_key_id: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.client = client
        self.event_bus = event_bus
        self.s3 = s3
        self.bucket = bucket
        self.kms_key_id = kms_key_id
        self.sleep = sleep
        self.max_attempts = max_attempts

    def put(
        self,
        detail: Mapping[str, Any],
        result: AuditResult,
        *,
        report: Mapping[str, Any] | None = None,
        report_key: str | None = None,
        report_stored: bool = False,
    ) -> IntegrationResult:
        report_uri = f"s3://{self.bucket}/{report_key}" if self.bucket and report_key else None
        entry, moved = fit_entry(detail, result, event_bus=self.event_bus, report_uri=report_uri)
        problem = ""
        if moved and not report_stored:
            problem = self._store(report, report_key)
            if problem:
                entry, _ = fit_entry(detail, result, event_bus=self.event_bus, report_uri=None)
        outcome = self._put(entry)
        if outcome.status == "delivered" and problem:
            return IntegrationResult(NAME, "partial", sent=1, reason=problem)
        return outcome

    def _store(self, report: Mapping[str, Any] | None, key: str | None) -> str:
        """Store the full report for an oversized entry; the problem in words, or "" when stored."""
        if self.s3 is None or not self.bucket or not key or report is None:
            return "the event is too large for its findings and no report bucket is configured: summary only"
        problem = store_report(self.s3, self.bucket, key, report, self.kms_key_id)
        return f"{problem}: summary only" if problem else ""

    def _put(self, entry: dict[str, Any]) -> IntegrationResult:
        error = ""
        for attempt in range(self.max_attempts):
            if attempt:
                self.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
            try:
                response = put_events(self.client, entry)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                return IntegrationResult(NAME, "failed", failed=1, reason=f"PutEvents failed: {code} {exc}".strip())
            except BotoCoreError as exc:
                return IntegrationResult(NAME, "failed", failed=1, reason=f"PutEvents failed: {exc}")
            if not response.get("FailedEntryCount"):
                return IntegrationResult(NAME, "delivered", sent=1)
            failure = (response.get("Entries") or [{}])[0]
            code = str(failure.get("ErrorCode") or "Unknown")
            error = f"{code} {failure.get('ErrorMessage') or ''}".strip()
            if code in PERMANENT_ERRORS:
                break
        LOG.warning("the audit event was not accepted: %s", error)
        return IntegrationResult(NAME, "failed", failed=1, reason=f"PutEvents refused the audit event: {error}")


@requires("events:PutEvents", by=EVERY_FUNCTION, on=AUDIT_EVENT_BUS, only_if=WITH_AUDIT_EVENTS)
def put_events(client: Any, entry: Mapping[str, Any]) -> dict[str, Any]:
    """One PutEvents call with one entry."""
    return dict(client.put_events(Entries=[dict(entry)]))
