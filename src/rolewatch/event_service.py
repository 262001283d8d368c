"""Event and on-demand audits: a trigger in, one SNS report out.

    event ──parse──▶ AuditRequest ──resolve──▶ role names ──read_role──▶ snapshots (current state, never
    the payload) ──audit_roles + live checks──▶ findings ──┐
    request + snapshots + IAM history ──delta──▶ what this call changed ─┴─▶ report ──▶ SNS (S3 if large)

Outcomes, each defined and tested:
- a failed call (`errorCode`) or an unwatched call: `Skipped`, logged, counted, nothing published;
- an event that is not an event (`EventError`): raised, so the invocation fails and the event ends in the
  dead-letter queue where a person can look at it (a security tool must not drop input silently, and
  the retries cost nothing: the parse fails before any AWS call);
- a role deleted before the audit: a short `info` report ("deleted before audit"), not a failure; when
  the call granted something (CreateRole, AttachRolePolicy, PutRolePolicy, UpdateAssumeRolePolicy) the
  report is published whatever MIN_SEVERITY, at `medium`, quoting what the event claimed as unverified:
  a role that lives for seconds is what an attacker's cleanup looks like. CloudFormation's own
  create-then-delete (a rollback; `invokedBy` cloudformation.amazonaws.com) stays an `info` notice;
- a piece of a live role vanishing while it is read: the role is re-read, then RoleReadError fails the
  invocation (retry, then the DLQ), never "deleted before audit";
- a policy attached to no role, an instance without a profile: a note, nothing to audit;
- SNS or S3 failure: `DeliveryError` is raised (Lambda retries, then the DLQ);
- an integration failing (Security Hub, the chat copy, the audit-result event): named in the report's
  notes and counted, the report still published (rolewatch.integrations);
- the same event delivered twice: the second delivery returns the first outcome and publishes nothing
  (Powertools idempotency on DynamoDB, keyed on the CloudTrail `eventID`, else the EventBridge `id`).
  The record holds a digest of the event id and counts (`AuditOutcome.to_record`), never payload text,
  so it always fits in a DynamoDB item; keys live in namespaces (`cloudtrail:`, `access-analyzer:`,
  `direct:`), so a caller's own "id" can never pre-empt an EventBridge event's key, and carry the
  account the event names;
- organization mode (`readers` given): the event's account is read through its reader role
  (rolewatch.org.credentials); an account that cannot be read (outside the organization, suspended,
  reader role missing or refusing, throttled) gives an `unauditable` outcome and a published report
  "cannot audit account X: <reason>" whatever MIN_SEVERITY, never a crash or a silent skip.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from rolewatch.analyzer.translate import role_skipped_findings
from rolewatch.audit import LiveCheck, audit_roles, merge_live_checks
from rolewatch.baseline import Baseline, load_baseline
from rolewatch.delivery import Delivered, publish
from rolewatch.event.delta import PermissionDelta
from rolewatch.event.delta_reader import DeltaReader
from rolewatch.event.targets import TargetResolver, read_named_roles
from rolewatch.event.triggers import (
    ACCESS_ANALYZER_SOURCE,
    DIRECT_INVOCATION,
    AuditRequest,
    Skipped,
    TriggerResult,
    parse_event,
)
from rolewatch.integrations.dispatch import AuditDelivery, Integrations, IntegrationsOutcome
from rolewatch.inventory.clients import AwsClients
from rolewatch.inventory.iam_reader import DEFAULT_RETRY, RetryPolicy, read_role
from rolewatch.model import AuditResult, RoleSnapshot, Severity
from rolewatch.org.credentials import READER_ROLE_REFUSED, AccountUnavailable, refused
from rolewatch.report import build_report
from rolewatch.report.chat import event_chat_context
from rolewatch.report.document import severity_counts
from rolewatch.report.event_context import actor_verified, claimed_grant_lines, event_header, event_record
from rolewatch.report.notification import Notification, compose
from rolewatch.settings import Settings
from rolewatch.undo import undo_first
from rolewatch.untrusted import shorten
from rolewatch.weekly.store import console_url

LOG = logging.getLogger(__name__)

# Live checks as a sequence, or a factory called once per audit (for checks that keep per-invocation
# state, such as rolewatch.analyzer.AccessAnalyzerCheck's cache and circuit breaker).
LiveChecks = Sequence[LiveCheck] | Callable[[], Sequence[LiveCheck]]
Deduplicator = Callable[[str, Callable[[], dict[str, Any]]], dict[str, Any]]
# (account id, event id) -> the clients reading that account; raises AccountUnavailable.
AccountReaders = Callable[..., AwsClients]
UNAUDITABLE_SEVERITY = Severity.MEDIUM

# Calls after which the role itself may not be visible yet (IAM is eventually consistent).
JUST_CREATED = frozenset({"CreateRole"})
# Calls that grant something to the role they name: if the role is gone before the audit, what the
# call granted is reported (unverified) whatever MIN_SEVERITY.
GRANTING_CALLS = frozenset({"CreateRole", "AttachRolePolicy", "PutRolePolicy", "UpdateAssumeRolePolicy"})
VANISHED_GRANT_SEVERITY = Severity.MEDIUM
# CloudFormation creating and deleting a role is a stack rollback (or create-then-delete): ordinary.
CLOUDFORMATION = "cloudformation.amazonaws.com"


def idempotency_key(event: Any, request: AuditRequest) -> str | None:
    """What makes two deliveries the same event: the request's event id, which for CloudTrail is the
    record's `eventID` (kept when another region's bus forwards the event), else the EventBridge `id`.
    A direct invocation is deduplicated only on a caller-given "id": without one, every invocation is
    its own audit (asking twice for an on-demand audit means wanting two).

    Each origin has its own namespace: whoever may invoke the function cannot choose an "id" that
    equals a CloudTrail or Access Analyzer key and so suppress the real event's report."""
    account = f"{request.account}:" if request.account else ""
    if request.event_source == DIRECT_INVOCATION:
        given = event.get("id") if isinstance(event, Mapping) else None
        return f"direct:{account}{request.event_id}" if given else None
    if request.event_source == ACCESS_ANALYZER_SOURCE:
        return request.event_id or None  # already "access-analyzer:<family>:<role ARN, account in it>:<hour>"
    return f"cloudtrail:{account}{request.event_id}" if request.event_id else None


@dataclass(frozen=True)
class EventAudit:
    """Everything one request produced before delivery."""

    request: AuditRequest
    roles: tuple[str, ...]  # audited (exist now)
    deleted: tuple[str, ...]  # named by the event, gone before the audit
    deltas: tuple[PermissionDelta, ...]
    result: AuditResult
    notes: tuple[str, ...] = ()
    snapshots: Mapping[str, RoleSnapshot] = field(default_factory=dict)  # by role name, as read
    # The clients that read the account (its reader role in organization mode): Security Hub imports with them.
    reader: AwsClients | None = field(default=None, compare=False, repr=False)

    @property
    def account(self) -> str:
        if self.request.account:
            return self.request.account
        arns = [f.resource for f in self.result.findings if f.resource.startswith("arn:")]
        arns += [s.arn for s in self.snapshots.values()]
        return arns[0].split(":")[4] if arns else ""

    @property
    def notice(self) -> str | None:
        if not self.deleted:
            return None
        if self.vanished_grant:
            return f"{', '.join(self.deleted)} gone before audit after {self.request.event_name} granted it access"
        return f"{', '.join(self.deleted)} deleted before audit ({self.request.event_name})"

    @property
    def vanished_grant(self) -> bool:
        """A role the call granted something to, gone before it could be read, not in a CloudFormation
        rollback: reported whatever MIN_SEVERITY."""
        request = self.request
        return (
            bool(self.deleted)
            and request.event_name in GRANTING_CALLS
            and actor_verified(request)
            and request.actor.invoked_by != CLOUDFORMATION
        )

    def header(self) -> list[str]:
        lines = event_header(self.request, roles=self.roles, deleted=self.deleted, deltas=self.deltas, notes=self.notes)
        return [*lines, *claimed_grant_lines(self.request)] if self.vanished_grant else lines

    def full_report(self) -> dict[str, Any]:
        report = build_report(self.result, sources=[f"event:{self.request.event_id}"])
        report["event"] = event_record(self.request)
        report["changes"] = [delta.to_dict() for delta in self.deltas]
        report["deleted_before_audit"] = list(self.deleted)
        return report


@dataclass(frozen=True)
class AuditOutcome:
    """What the handler returns (and the idempotency store keeps): small and JSON-serialisable."""

    status: str  # skipped | nothing-to-audit | published | below-threshold | unauditable
    event_id: str
    event_name: str
    reason: str = ""
    account: str = ""
    roles: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    findings: Mapping[str, int] = field(default_factory=dict)  # open findings by severity
    message_id: str | None = None
    overflow_key: str | None = None
    duplicate: bool = False
    integrations: IntegrationsOutcome = field(default_factory=IntegrationsOutcome)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "event_id": self.event_id,
            "event_name": self.event_name,
            "reason": self.reason,
            "account": self.account,
            "roles": list(self.roles),
            "deleted": list(self.deleted),
            "findings": dict(self.findings),
            "message_id": self.message_id,
            "overflow_key": self.overflow_key,
            "duplicate": self.duplicate,
            "integrations": self.integrations.to_dict(),
        }

    def to_record(self) -> dict[str, Any]:
        """What the idempotency record keeps: a digest of the event id and counts, never payload text, so
        the item stays far below DynamoDB's 400 KB whatever the event held."""
        return {
            "status": self.status,
            "event_digest": event_digest(self.event_id),
            "event_name": shorten(self.event_name, 128),
            "account": self.account,
            "roles": len(self.roles),
            "deleted": len(self.deleted),
            "findings": dict(self.findings),
            "message_id": self.message_id,
            "overflow_key": self.overflow_key,
        }

    @classmethod
    def from_record(cls, data: Mapping[str, Any], event_id: str) -> AuditOutcome:
        """The outcome a duplicate delivery returns: the stored status, counts and message id."""
        return cls(
            status=data["status"],
            event_id=event_id,
            event_name=data["event_name"],
            account=str(data.get("account", "")),
            reason=f"duplicate of an audit of {data.get('roles', 0)} role(s), {data.get('deleted', 0)} deleted",
            findings=dict(data.get("findings", {})),
            message_id=data.get("message_id"),
            overflow_key=data.get("overflow_key"),
            duplicate=True,
        )

    def metrics(self) -> dict[str, int]:
        """Metric name -> count for this invocation (the handler emits them; a duplicate counts only itself)."""
        if self.duplicate:
            return {"DuplicateEvents": 1}
        if self.status == "skipped":
            return {"SkippedEvents": 1}
        if self.status == "unauditable":
            return {"UnauditableAccounts": 1, "ReportsPublished": int(bool(self.message_id))}
        out = {"Audits": 1, "DeletedBeforeAudit": len(self.deleted), "ReportsPublished": int(bool(self.message_id))}
        out.update({f"Findings{severity.capitalize()}": n for severity, n in self.findings.items()})
        return out | self.integrations.metrics()


class EventAuditService:
    """Audits what one trigger names and publishes the report. AWS access goes through `clients` only."""

    def __init__(
        self,
        clients: AwsClients,
        *,
        topic_arn: str,
        bucket: str | None = None,
        kms_key_id: str | None = None,
        baseline: Baseline | None = None,
        min_severity: Severity = Severity.MEDIUM,
        publish_clean: bool = False,
        live_checks: LiveChecks = (),
        integrations: Integrations | None = None,
        readers: AccountReaders | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.clients = clients
        self.topic_arn = topic_arn
        self.bucket = bucket
        self.kms_key_id = kms_key_id
        self.baseline = baseline or load_baseline()
        self.min_severity = min_severity
        self.publish_clean = publish_clean
        self.live_checks = live_checks
        self.integrations = integrations  # Security Hub, the chat copy, the audit-result event; None: none
        # Organization mode: the clients reading the event's account (its reader role); None: this account.
        self.readers = readers
        self.retry = retry
        self.sleep = sleep
        self.clock = clock  # the audit's `now`: the real time in Lambda, a fixed one in tests

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        clients: AwsClients,
        *,
        live_checks: LiveChecks = (),
        readers: AccountReaders | None = None,
    ) -> EventAuditService:
        """Built once per cold start; a bad BASELINE_PATH raises BaselineError here."""
        return cls(
            clients,
            topic_arn=settings.report_topic_arn,
            bucket=settings.report_bucket,
            kms_key_id=settings.report_kms_key_id,
            baseline=load_baseline(settings.baseline_path),
            min_severity=settings.min_severity,
            publish_clean=settings.publish_clean,
            live_checks=live_checks,
            integrations=Integrations.from_settings(settings, clients),
            readers=readers,
        )

    # -- the whole path ----------------------------------------------------------------------------

    def handle_event(self, event: Any, once: Deduplicator | None = None) -> AuditOutcome:
        """Raw event -> outcome. `once(key, run)` runs `run` only for a key not seen before and returns
        its stored result otherwise (the handler passes Powertools idempotency); without it, or without
        a key (a direct invocation with no "id"), the audit always runs. Raises EventError, DeliveryError."""
        parsed = parse_event(event, organization=self.readers is not None)
        if isinstance(parsed, Skipped):
            return self.handle(parsed)
        key = idempotency_key(event, parsed)
        if once is None or key is None:
            return self.handle(parsed)
        outcome: AuditOutcome | None = None

        def run() -> dict[str, Any]:
            nonlocal outcome
            outcome = self.handle(parsed)
            return outcome.to_record()

        try:
            stored = once(key, run)
        except Exception:
            if outcome is None:
                raise  # the audit itself failed: fail the invocation (retry, then the DLQ)
            # The report is out; only completing the record failed. Failing now would make Lambda retry
            # and publish the report again; the record stays "in progress" until its short expiry.
            LOG.warning(
                "report of event %s published, but its idempotency record could not be completed",
                event_digest(key),
                exc_info=True,
            )
            return outcome
        if outcome is None:
            LOG.info("duplicate delivery of event %s: already audited, nothing published", event_digest(key))
            return AuditOutcome.from_record(stored, parsed.event_id)
        return outcome

    def handle(self, parsed: TriggerResult) -> AuditOutcome:
        if isinstance(parsed, Skipped):
            LOG.info("skipped %s %s: %s", parsed.event_source, parsed.event_name, parsed.reason)
            return AuditOutcome("skipped", parsed.event_id, parsed.event_name, reason=parsed.reason)
        try:
            audit = self.audit(parsed)
        except AccountUnavailable as exc:
            return self.report_unauditable(parsed, exc)
        counts = severity_counts(audit.result.findings)
        base = AuditOutcome(
            "below-threshold",
            parsed.event_id,
            parsed.event_name,
            account=audit.account,
            roles=audit.roles,
            deleted=audit.deleted,
            findings=counts,
        )
        if not audit.roles and not audit.deleted:
            reason = "; ".join(audit.notes) or "the event names nothing that exists"
            LOG.info("nothing to audit for %s %s: %s", parsed.event_name, parsed.event_id, reason)
            return replace(base, status="nothing-to-audit", reason=reason)
        audit, integrations = self.deliver_integrations(audit)
        base = replace(base, integrations=integrations)
        delivered = self.publish(audit)
        if delivered is None:
            return replace(base, reason=f"nothing at or above {self.min_severity.value} to publish")
        return replace(base, status="published", message_id=delivered.message_id, overflow_key=delivered.overflow_key)

    # -- audit -------------------------------------------------------------------------------------

    def reader(self, request: AuditRequest) -> AwsClients:
        """The clients that read the event's account: its reader role in organization mode."""
        if self.readers is None or not request.account:
            return self.clients
        return self.readers(request.account, reason_id=request.event_id)

    def audit(self, request: AuditRequest) -> EventAudit:
        reader = self.reader(request)
        try:
            return self._audit(request, reader)
        except ClientError as exc:
            if reader is self.clients or not refused(exc):
                raise
            operation = exc.operation_name or "a read"
            raise AccountUnavailable(
                request.account, READER_ROLE_REFUSED, f"the reader role was refused {operation} ({exc})"
            ) from exc

    def _audit(self, request: AuditRequest, reader: AwsClients) -> EventAudit:
        targets = TargetResolver(reader).resolve(request)
        snapshots: dict[str, RoleSnapshot] = {}
        deleted: list[str] = []
        for name in targets.roles:
            snapshot = read_role(
                reader,
                name,
                retry_missing=request.event_name in JUST_CREATED,
                retry=self.retry,
                sleep=self.sleep,
            )
            if snapshot is None:
                deleted.append(name)
            else:
                snapshots[name] = snapshot
        now = self.clock()
        context = read_named_roles(reader, snapshots.values(), now)
        result = audit_roles(snapshots.values(), self.baseline, now=now, context=context)
        result = self._with_live_checks(result, snapshots.values(), now)
        delta_reader = DeltaReader(reader, request, snapshots, targets)
        deltas = delta_reader.deltas()
        result = undo_first(
            result,
            event_name=request.event_name,
            params=request.request_parameters,
            roles=snapshots,
            befores=delta_reader.befores,
            baseline=self.baseline,
            now=now,
        )
        result = replace(result, notes=tuple(targets.notes))
        return EventAudit(
            request,
            tuple(snapshots),
            tuple(deleted),
            tuple(deltas),
            result,
            tuple(targets.notes),
            dict(snapshots),
            reader=reader,
        )

    def _with_live_checks(self, result: AuditResult, snapshots: Iterable[RoleSnapshot], now: datetime) -> AuditResult:
        checks = tuple(self.live_checks() if callable(self.live_checks) else self.live_checks)
        if not checks:
            return result
        roles = list(snapshots)
        return merge_live_checks(
            result,
            roles,
            self.baseline,
            checks,
            today=now.date(),
            skipped_findings=lambda skipped: role_skipped_findings(roles, skipped),
        )

    # -- delivery ----------------------------------------------------------------------------------

    def deliver_integrations(self, audit: EventAudit) -> tuple[EventAudit, IntegrationsOutcome]:
        """Security Hub (the roles named, deleted ones included, are the life cycle's scope), the chat
        copy (only when the SNS report will be published; it links the full report) and the audit-result
        event; what did not go through becomes a note of the report published next."""
        if self.integrations is None:
            return audit, IntegrationsOutcome()
        key = self.report_key(audit)
        chat = None
        if self._notification(audit) is not None:
            chat = event_chat_context(
                audit.request, roles=audit.roles, deltas=audit.deltas, notice=audit.notice, link=None
            )
        outcome = self.integrations.deliver(
            AuditDelivery(
                kind="on-demand" if audit.request.event_source == DIRECT_INVOCATION else "event",
                account_id=audit.account,
                result=audit.result,
                role_names=(*audit.roles, *audit.deleted),
                roles={s.arn: s for s in audit.snapshots.values()},
                trigger=event_record(audit.request),
                report=audit.full_report(),
                report_key=key,
                generated_at=self.clock(),
                chat=chat,
                report_link=console_url(self.bucket, key, self.clients.region) if self.bucket else None,
                min_severity=self.min_severity,
                account_clients=audit.reader,
            )
        )
        return replace(audit, result=outcome.with_notes(audit.result)), outcome

    def report_key(self, audit: EventAudit) -> str:
        """Where the event's full JSON report goes when SNS (or EventBridge) cannot carry it."""
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        return f"reports/events/{day}/{_safe_key(audit.request.event_id)}.json"

    def publish(self, audit: EventAudit) -> Delivered | None:
        """One message for the whole event, or None when nothing reaches MIN_SEVERITY (and not PUBLISH_CLEAN)."""
        notification = self._notification(audit)
        if notification is None:
            return None
        delivered = publish(
            notification,
            audit.full_report(),
            sns=self.clients.sns,
            topic_arn=self.topic_arn,
            s3=self.clients.s3,
            bucket=self.bucket,
            key=self.report_key(audit),
            kms_key_id=self.kms_key_id,
        )
        LOG.info(
            "published report of %s %s: %s",
            audit.request.event_name,
            audit.request.event_id,
            notification.subject,
            extra={"message_id": delivered.message_id, "overflow_key": delivered.overflow_key},
        )
        return delivered

    def _notification(self, audit: EventAudit) -> Notification | None:
        return compose(
            audit.result,
            account=audit.account,
            header=audit.header(),
            min_severity=self.min_severity,
            publish_clean=self.publish_clean,
            notice=audit.notice,
            notice_severity=VANISHED_GRANT_SEVERITY if audit.vanished_grant else Severity.INFO,
            notice_always=audit.vanished_grant,
            subject_prefix=self._subject_prefix(audit.request, audit.account),
        )

    def _subject_prefix(self, request: AuditRequest, account: str) -> str:
        """ "rolewatch" ("rolewatch on-demand" for a direct request); the account too in organization mode,
        where one topic carries every account's reports."""
        prefix = "rolewatch" if actor_verified(request) else "rolewatch on-demand"
        return f"{prefix} {account}" if self.readers is not None and account else prefix

    def report_unauditable(self, request: AuditRequest, exc: AccountUnavailable) -> AuditOutcome:
        """ "cannot audit account X: <reason>" published whatever MIN_SEVERITY: a gap in coverage is news."""
        LOG.warning("%s (%s %s)", exc, request.event_name, request.event_id, extra={"kind": exc.kind})
        notification = compose(
            AuditResult(findings=()),
            account=exc.account_id,
            header=event_header(request, roles=(), deleted=(), deltas=(), notes=()),
            min_severity=self.min_severity,
            notice=str(exc),
            notice_severity=UNAUDITABLE_SEVERITY,
            notice_always=True,
            subject_prefix=self._subject_prefix(request, exc.account_id),
        )
        report = {
            "schema": "rolewatch.report/v1",
            "event": event_record(request),
            "unauditable": {"account": exc.account_id, "kind": exc.kind, "reason": exc.reason},
            "findings": [],
        }
        delivered = None
        if notification is not None:
            delivered = publish(
                notification,
                report,
                sns=self.clients.sns,
                topic_arn=self.topic_arn,
                s3=self.clients.s3,
                bucket=self.bucket,
                key=f"reports/events/{datetime.now(UTC):%Y/%m/%d}/{_safe_key(request.event_id)}.json",
                kms_key_id=self.kms_key_id,
            )
        return AuditOutcome(
            "unauditable",
            request.event_id,
            request.event_name,
            reason=str(exc),
            account=exc.account_id,
            message_id=delivered.message_id if delivered else None,
        )


def event_digest(event_id: str) -> str:
    """A short fixed-size name for an event id (for records and logs: the id itself is the caller's)."""
    return hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _safe_key(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:200]
