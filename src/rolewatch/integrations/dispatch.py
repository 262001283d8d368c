"""One call per audit for every integration: Security Hub (when enabled) and the audit-result event.

    audit ──▶ Security Hub sync (upsert + archive, in the audit's scope) ──▶ EventBridge event
          ──▶ IntegrationsOutcome: notes for the report, metrics for the handler, a dict for the log

Neither integration can fail the audit: their faults come back as results (rolewatch.integrations
.result), which the service adds to the report's notes before the SNS report is composed, and the
handler turns into metrics. The event says how Security Hub fared (`integrations`), so a rule can
route "findings not in Security Hub" too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from rolewatch.integrations.event_bus import AuditEventPublisher
from rolewatch.integrations.result import IntegrationResult
from rolewatch.integrations.security_hub import Scope, SecurityHubSync
from rolewatch.inventory.clients import AwsClients
from rolewatch.model import AuditResult, RoleSnapshot
from rolewatch.report.audit_event import audit_detail
from rolewatch.settings import Settings


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
        bus = by_name.get("eventbridge")
        out = {"IntegrationFailures": sum(1 for r in self.results if not r.ok)}
        if hub is not None and hub.status != "off":
            out |= {"SecurityHubImported": hub.sent, "SecurityHubArchived": hub.archived}
            out["SecurityHubFailedFindings"] = hub.failed
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
        bucket: str | None = None,
        kms_key_id: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.clients = clients
        self.security_hub = security_hub
        self.event_bus = event_bus
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
            bucket=settings.report_bucket,
            kms_key_id=settings.report_kms_key_id,
        )

    def deliver(self, audit: AuditDelivery) -> IntegrationsOutcome:
        hub = self._security_hub(audit)
        bus = self._event(audit, hub)
        return IntegrationsOutcome((hub, bus))

    def _security_hub(self, audit: AuditDelivery) -> IntegrationResult:
        if not self.security_hub:
            return IntegrationResult("security-hub", "off")
        region = self.clients.region or "us-east-1"
        sync = SecurityHubSync(
            self.clients.client("securityhub"), account_id=audit.account_id, region=region, sleep=self.sleep
        )
        scope = (
            Scope.account(audit.account_id)
            if audit.role_names is None
            else Scope.roles(audit.account_id, audit.role_names)
        )
        return sync.sync(audit.result.findings, scope, now=audit.generated_at or self.clock(), roles=audit.roles)

    def _event(self, audit: AuditDelivery, hub: IntegrationResult) -> IntegrationResult:
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
            integrations={hub.name: hub.status},
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
