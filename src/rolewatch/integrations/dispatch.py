"""One call per audit for every integration: Security Hub (when enabled), the chat copy (with a chat
topic) and the audit-result event.

    audit ──▶ Security Hub sync (upsert + archive, in the audit's scope) ──▶ chat message ──▶ EventBridge event
          ──▶ IntegrationsOutcome: notes for the report, metrics for the handler, a dict for the log

No integration can fail the audit: their faults come back as results (rolewatch.integrations.result),
which the service adds to the report's notes before the SNS report is composed, and the handler turns
into metrics. The event says how Security Hub and the chat copy fared (`integrations`), so a rule can
route "findings not in Security Hub" too. The chat message links the full JSON report: when it has no
link of its own (an event audit), the report is stored for it first, and the event then points to
that copy instead of storing it again.

Security Hub takes a finding only from the account it belongs to (the default product's ARN names that
account), so the sync runs with `AuditDelivery.account_clients`, the clients acting in the audited
account: in organization mode a member's reader role, which its stack lets import into its own
account's Security Hub and nothing else. The chat copy and the event always go out with the
integrations' own (central) clients.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from rolewatch.integrations import chat
from rolewatch.integrations.event_bus import AuditEventPublisher
from rolewatch.integrations.report_store import store_report
from rolewatch.integrations.result import IntegrationResult
from rolewatch.integrations.security_hub import Scope, SecurityHubSync
from rolewatch.inventory.clients import AwsClients
from rolewatch.model import AuditResult, RoleSnapshot, Severity
from rolewatch.report.audit_event import audit_detail
from rolewatch.report.chat import ChatContext, compose_chat
from rolewatch.report.notification import reportable
from rolewatch.settings import Settings

# Why a member's reader role may be refused: its stack decides whether it may import findings.
MEMBER_DENIED_HINT = (
    "the account's reader role imports findings only when its member stack has SecurityHub=true, as the central one"
)


@dataclass(frozen=True)
class AuditDelivery:
    """What the integrations need to know about one finished audit."""

    kind: str  # "event", "weekly" or "on-demand" (rolewatch.report.audit_event.AUDIT_KINDS)
    account_id: str
    result: AuditResult
    role_names: Collection[str] | None  # the roles audited (deleted ones too); None: the whole account
    roles: Mapping[str, RoleSnapshot] = field(default_factory=dict)  # by ARN, for the ASFF role details
    trigger: Mapping[str, Any] = field(default_factory=dict)
    report: Mapping[str, Any] | None = None  # the full JSON report, for an oversized event
    report_key: str | None = None  # where that report is (or would be) stored in the report bucket
    report_stored: bool = False
    generated_at: datetime | None = None
    # The chat message's words; None: no message for this audit (nothing the SNS report would publish).
    chat: ChatContext | None = None
    report_link: str | None = None  # a person's link to report_key (the chat message's, when it has none)
    min_severity: Severity = Severity.MEDIUM  # the chat message shows what the SNS report shows
    # The clients acting in account_id (organization mode: its reader role); None: the integrations' own,
    # which act in account_id in account mode. Security Hub imports with them.
    account_clients: AwsClients | None = None


@dataclass(frozen=True)
class IntegrationsOutcome:
    results: tuple[IntegrationResult, ...] = ()

    def notes(self) -> tuple[str, ...]:
        return tuple(note for r in self.results if (note := r.note()) is not None)

    def with_notes(self, result: AuditResult) -> AuditResult:
        """The audit result with one note per integration that did not deliver everything."""
        notes = self.notes()
        return replace(result, notes=result.notes + notes) if notes else result

    def metrics(self) -> dict[str, int]:
        by_name = {r.name: r for r in self.results}
        hub = by_name.get("security-hub")
        chat_copy = by_name.get(chat.NAME)
        bus = by_name.get("eventbridge")
        out = {"IntegrationFailures": sum(1 for r in self.results if not r.ok)}
        if hub is not None and hub.status != "off":
            out |= {"SecurityHubImported": hub.sent, "SecurityHubArchived": hub.archived}
            out["SecurityHubFailedFindings"] = hub.failed
        if chat_copy is not None and chat_copy.status != "off":
            out["ChatNotificationsFailed"] = 0 if chat_copy.ok else 1
        if bus is not None and bus.status != "off":
            out["AuditEventsFailed"] = 0 if bus.ok or bus.status == "partial" else 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {r.name: r.to_dict() for r in self.results}


class Integrations:
    """Built once per container from the settings; `deliver` once per audit."""

    def __init__(
        self,
        clients: AwsClients,
        *,
        security_hub: bool = False,
        event_bus: str | None = "default",
        chat_topic_arn: str | None = None,
        bucket: str | None = None,
        kms_key_id: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.clients = clients
        self.security_hub = security_hub
        self.event_bus = event_bus
        self.chat_topic_arn = chat_topic_arn
        self.bucket = bucket
        self.kms_key_id = kms_key_id
        self.sleep = sleep
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, clients: AwsClients) -> Integrations:
        return cls(
            clients,
            security_hub=settings.security_hub,
            event_bus=settings.audit_event_bus,
            chat_topic_arn=settings.chat_topic_arn,
            bucket=settings.report_bucket,
            kms_key_id=settings.report_kms_key_id,
        )

    def deliver(self, audit: AuditDelivery) -> IntegrationsOutcome:
        hub = self._security_hub(audit)
        chat_copy, audit = self._chat(audit)
        bus = self._event(audit, (hub, chat_copy))
        return IntegrationsOutcome((hub, chat_copy, bus))

    def _security_hub(self, audit: AuditDelivery) -> IntegrationResult:
        if not self.security_hub:
            return IntegrationResult("security-hub", "off")
        clients = audit.account_clients or self.clients
        region = clients.region or self.clients.region or "us-east-1"
        sync = SecurityHubSync(
            clients.client("securityhub"),
            account_id=audit.account_id,
            region=region,
            sleep=self.sleep,
            denied_hint=MEMBER_DENIED_HINT if audit.account_clients not in (None, self.clients) else "",
        )
        scope = (
            Scope.account(audit.account_id)
            if audit.role_names is None
            else Scope.roles(audit.account_id, audit.role_names)
        )
        return sync.sync(audit.result.findings, scope, now=audit.generated_at or self.clock(), roles=audit.roles)

    def _chat(self, audit: AuditDelivery) -> tuple[IntegrationResult, AuditDelivery]:
        """The chat message; the delivery comes back marked `report_stored` when the report was stored
        for the message's link."""
        if not self.chat_topic_arn:
            return IntegrationResult(chat.NAME, "off"), audit
        if audit.chat is None:
            return IntegrationResult(chat.NAME, "skipped"), audit
        context = audit.chat
        if context.link is None and audit.report_link and self.bucket and audit.report_key and audit.report is not None:
            problem = store_report(self.clients.s3, self.bucket, audit.report_key, audit.report, self.kms_key_id)
            if problem:
                reason = f"{problem}, which the chat message links: not sent"
                return IntegrationResult(chat.NAME, "failed", failed=1, reason=reason), audit
            context = replace(context, link=audit.report_link)
            audit = replace(audit, report_stored=True)
        message = compose_chat(reportable(audit.result, audit.min_severity), context)
        return chat.publish_chat(message, sns=self.clients.sns, topic_arn=self.chat_topic_arn), audit

    def _event(self, audit: AuditDelivery, before: tuple[IntegrationResult, ...]) -> IntegrationResult:
        if not self.event_bus:
            return IntegrationResult("eventbridge", "off")
        stored_uri = f"s3://{self.bucket}/{audit.report_key}" if audit.report_stored and self.bucket else None
        detail = audit_detail(
            audit.result,
            kind=audit.kind,
            account=audit.account_id,
            generated_at=audit.generated_at or self.clock(),
            trigger=audit.trigger,
            report_uri=stored_uri,
            integrations={r.name: r.status for r in before if r.status != "off"},
        )
        publisher = AuditEventPublisher(
            self.clients.client("events"),
            event_bus=self.event_bus,
            s3=self.clients.s3,
            bucket=self.bucket,
            kms_key_id=self.kms_key_id,
            sleep=self.sleep,
        )
        return publisher.put(
            detail,
            audit.result,
            report=audit.report,
            report_key=audit.report_key,
            report_stored=audit.report_stored,
        )
