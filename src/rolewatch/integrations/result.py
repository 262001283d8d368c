"""What one integration (Security Hub, the chat copy, the EventBridge audit event) did with one audit's result.

The outcome is data, never an exception: an integration that fails must not stop the audit or its
SNS report. A result that is not `delivered` (or `off`, `skipped`) becomes a note in the report and
counts in the metrics the handlers emit (IntegrationFailures, SecurityHubFailedFindings,
ChatNotificationsFailed, AuditEventsFailed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# delivered: everything sent; partial: some items refused (named in `errors`); not-enabled: the
# service is not set up in the account (Security Hub); failed: nothing or not everything could be
# sent (`reason` says why); off: not configured; skipped: configured, nothing to send for this audit
# (the chat copy of an event audit with nothing at or above MIN_SEVERITY, as for the SNS report).
STATUSES = ("delivered", "partial", "not-enabled", "failed", "off", "skipped")
MAX_NAMED = 10  # refused items named in the report note; the full list is in the log and the result


@dataclass(frozen=True)
class IntegrationResult:
    name: str
    status: str
    sent: int = 0
    archived: int = 0
    failed: int = 0
    reason: str = ""
    errors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown integration status {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status in ("delivered", "off", "skipped")

    def note(self) -> str | None:
        """One line for the report when something was not delivered; None when all went well."""
        if self.ok:
            return None
        head = f"{self.name} {self.status}"
        if self.reason:
            head += f": {self.reason}"
        if self.failed:
            head += f" ({self.failed} not delivered)"
        if self.errors:
            shown = "; ".join(self.errors[:MAX_NAMED])
            more = f"; and {len(self.errors) - MAX_NAMED} more" if len(self.errors) > MAX_NAMED else ""
            head += f" [{shown}{more}]"
        return head

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "sent": self.sent}
        if self.archived:
            out["archived"] = self.archived
        if self.failed:
            out["failed"] = self.failed
        if self.reason:
            out["reason"] = self.reason
        if self.errors:
            out["errors"] = list(self.errors)
        return out
