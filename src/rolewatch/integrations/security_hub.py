"""Security Hub: rolewatch's findings imported as ASFF, with their life cycle kept right.

After each audit (one role, a few roles, the whole account) `SecurityHubSync.sync`:

    GetFindings (rolewatch's ACTIVE findings in the audit's scope) ──▶ upsert every open finding
      (BatchImportFindings, 100 a call; CreatedAt and FirstObservedAt kept from the earlier import)
    ──▶ what was imported before and is no longer produced: RecordState ARCHIVED, Compliance PASSED

The scope is the roles the audit read (by name, so a role deleted since keeps its findings archived
too), or the whole account for the weekly audit (only when IAM was read completely). A role whose
IAM Access Analyzer checks could not run keeps its Access Analyzer findings: not seeing them is not
evidence they are resolved. The client must act in `account_id` (the default product ARN requires the
account a finding belongs to to import it): in organization mode it is the member's reader role
(rolewatch.integrations.dispatch). A finding of any other account is not imported, and named in the
outcome: that happens only where no clients of its account exist (account mode given a foreign role).

Never sent on an update: Workflow, Note, UserDefinedFields, VerificationState (customers' fields,
BatchImportFindings ignores them after creation) and the top-level Severity and Types (a customer may
have changed them with BatchUpdateFindings; rolewatch's own values are in FindingProviderFields).

Faults never fail the audit; each is a defined outcome of the returned `IntegrationResult`:
- Security Hub not enabled (InvalidAccessException, or every finding refused with InvalidAccess):
  status `not-enabled`, nothing retried;
- access denied: `failed`, nothing retried (with `denied_hint`, the likely cause, appended);
- throttling beyond botocore's standard retries, or any other error: `failed`, with the reason;
- `FailedFindings`: retried with backoff (at most MAX_ATTEMPTS imports of a finding, refusals that
  no retry can fix, InvalidInput and InvalidAccess, not retried), then listed by Id and error code
  (status `partial`), counted in the metric SecurityHubFailedFindings.
Calls: one paginated GetFindings per 20 roles of the scope (one for the account), one
BatchImportFindings per 100 findings (plus retries).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rolewatch.aws_permissions import EVERY_FUNCTION, SECURITY_HUB, SECURITY_HUB_PRODUCT, WITH_SECURITY_HUB, requires
from rolewatch.integrations.result import IntegrationResult
from rolewatch.model import Finding, RoleSnapshot
from rolewatch.report.document import format_timestamp
from rolewatch.report.render_asff import (
    FIELD_CATEGORY,
    FIELD_ROLE_NAME,
    ID_PREFIX,
    account_of,
    finding_id,
    fit_to_limit,
    product_arn,
    role_name_of,
    to_asff,
)

LOG = logging.getLogger(__name__)

NAME = "security-hub"
BATCH_SIZE = 100  # BatchImportFindings takes 1 to 100 findings (botocore's model says so; a test checks)
FILTER_VALUES = 20  # role names per GetFindings filter
MAX_ATTEMPTS = 3  # imports of one finding at most, the first included
BACKOFF_SECONDS = 0.5  # before the first retry; doubled for each further one
PERMANENT_ERRORS = frozenset({"InvalidInput", "InvalidAccess", "AccessDenied", "AccessDeniedException"})
NOT_ENABLED_ERRORS = frozenset({"InvalidAccessException", "InvalidAccess"})
ACCESS_DENIED_ERRORS = frozenset({"AccessDeniedException", "AccessDenied"})
ANALYZER_CATEGORY = "access-analyzer"
ANALYZER_SKIPPED_RULE = "access-analyzer-skipped"
# What an archived finding keeps from its earlier import: the provider's own attributes only.
PROVIDER_FIELDS = (
    "SchemaVersion",
    "Id",
    "ProductArn",
    "ProductName",
    "CompanyName",
    "GeneratorId",
    "AwsAccountId",
    "CreatedAt",
    "FirstObservedAt",
    "LastObservedAt",
    "Title",
    "Description",
    "Remediation",
    "SourceUrl",
    "ProductFields",
    "Resources",
    "FindingProviderFields",
)


class SecurityHubError(RuntimeError):
    """A call failed in a way the sync reports as its outcome (never raised out of `sync`)."""

    def __init__(self, status: str, reason: str, *, denied: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.denied = denied


@dataclass(frozen=True)
class Scope:
    """What an audit looked at: `role_names` of `account_id`, or (None) every role of the account."""

    account_id: str
    role_names: frozenset[str] | None

    @classmethod
    def account(cls, account_id: str) -> Scope:
        return cls(account_id, None)

    @classmethod
    def roles(cls, account_id: str, names: Iterable[str]) -> Scope:
        return cls(account_id, frozenset(names))

    def covers(self, asff: Mapping[str, Any]) -> bool:
        if asff.get("AwsAccountId") != self.account_id:
            return False
        if self.role_names is None:
            return True
        fields = asff.get("ProductFields") or {}
        return fields.get(FIELD_ROLE_NAME) in self.role_names


class SecurityHubSync:
    """Imports one account's findings into Security Hub in one region, and archives the resolved ones."""

    def __init__(
        self,
        client: Any,
        *,
        account_id: str,
        region: str,
        partition: str = "aws",
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = MAX_ATTEMPTS,
        denied_hint: str = "",
    ) -> None:
        self.client = client
        self.denied_hint = denied_hint
        self.account_id = account_id
        self.region = region
        self.product_arn = product_arn(account_id, region, partition)
        self.sleep = sleep
        self.max_attempts = max_attempts

    def sync(
        self,
        findings: Iterable[Finding],
        scope: Scope,
        *,
        now: datetime,
        roles: Mapping[str, RoleSnapshot] | None = None,
    ) -> IntegrationResult:
        """Upsert the open findings, archive the resolved ones; the outcome says what happened."""
        findings = list(findings)
        foreign = sorted({account_of(f.resource) for f in findings if account_of(f.resource) != self.account_id})
        mine = [f for f in findings if f.suppressed_by is None and account_of(f.resource) == self.account_id]
        try:
            existing = {f["Id"]: f for f in self.active_findings(scope)}
        except SecurityHubError as exc:
            return IntegrationResult(NAME, exc.status, reason=self._reason(exc), failed=len(mine))
        roles = roles or {}
        produced: dict[str, dict[str, Any]] = {}
        for finding in mine:
            asff_id = finding_id(finding)
            before = existing.get(asff_id)
            produced[asff_id] = to_asff(
                finding,
                region=self.region,
                now=now,
                role=roles.get(finding.resource),
                created_at=before.get("CreatedAt") if before else None,
                first_observed_at=before.get("FirstObservedAt") if before else None,
                new=before is None,
            )
        unverified = _Unverified.of(mine)
        archived = [
            archived_copy(old, now)
            for asff_id, old in sorted(existing.items())
            if asff_id not in produced and not unverified.keeps(old)
        ]
        try:
            failures = self.import_findings([*produced.values(), *archived])
        except SecurityHubError as exc:
            return IntegrationResult(NAME, exc.status, reason=self._reason(exc), failed=len(produced) + len(archived))
        failed_ids = {failure.split(":", 1)[0] for failure in failures}
        imported = sum(1 for i in produced if i not in failed_ids)
        archived_count = sum(1 for a in archived if a["Id"] not in failed_ids)
        notes = [f"not imported: findings of account {a} (import them through that account)" for a in foreign]
        if failures and _all_refused_for_access(failures):
            return IntegrationResult(
                NAME,
                "not-enabled",
                reason="Security Hub refused every finding (InvalidAccess): it is not enabled in this account "
                "and region, or the default product integration is disabled",
                failed=len(failed_ids),
            )
        status = "partial" if failures or foreign else "delivered"
        return IntegrationResult(
            NAME,
            status,
            sent=imported,
            archived=archived_count,
            failed=len(failed_ids),
            errors=tuple(failures) + tuple(notes),
        )

    def _reason(self, exc: SecurityHubError) -> str:
        return f"{exc.reason}; {self.denied_hint}" if exc.denied and self.denied_hint else exc.reason

    # -- reading ------------------------------------------------------------------------------------

    def active_findings(self, scope: Scope) -> list[dict[str, Any]]:
        """rolewatch's ACTIVE findings in the scope. The filters narrow the read on AWS; the same test
        is applied to what comes back, so a finding outside the scope is never archived."""
        base: dict[str, Any] = {
            "ProductArn": [{"Value": self.product_arn, "Comparison": "EQUALS"}],
            "AwsAccountId": [{"Value": scope.account_id, "Comparison": "EQUALS"}],
            "Id": [{"Value": ID_PREFIX, "Comparison": "PREFIX"}],
            "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
        }
        queries: list[dict[str, Any]] = []
        if scope.role_names is None:
            queries.append(base)
        else:
            names = sorted(scope.role_names)
            for start in range(0, len(names), FILTER_VALUES):
                chunk = names[start : start + FILTER_VALUES]
                role_filter = [{"Key": FIELD_ROLE_NAME, "Value": n, "Comparison": "EQUALS"} for n in chunk]
                queries.append({**base, "ProductFields": role_filter})
        found: dict[str, dict[str, Any]] = {}
        for filters in queries:
            for finding in get_findings(self.client, filters):
                if (
                    finding.get("ProductArn") == self.product_arn
                    and str(finding.get("Id", "")).startswith(ID_PREFIX)
                    and finding.get("RecordState", "ACTIVE") == "ACTIVE"
                    and scope.covers(finding)
                ):
                    found[finding["Id"]] = finding
        return list(found.values())

    # -- writing ------------------------------------------------------------------------------------

    def import_findings(self, findings: Sequence[dict[str, Any]]) -> list[str]:
        """Import in batches of BATCH_SIZE; retry the FailedFindings a retry can fix, with backoff, at most
        `max_attempts` imports in all. Returns "Id: ErrorCode ErrorMessage" for each finding still refused."""
        by_id = {f["Id"]: f for f in findings}
        pending = list(findings)
        refused: dict[str, str] = {}
        for attempt in range(self.max_attempts):
            if attempt:
                self.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
            last = attempt == self.max_attempts - 1
            retry: list[dict[str, Any]] = []
            for start in range(0, len(pending), BATCH_SIZE):
                for failure in batch_import_findings(self.client, pending[start : start + BATCH_SIZE]):
                    asff_id = str(failure.get("Id", ""))
                    code = str(failure.get("ErrorCode") or "Unknown")
                    if code in PERMANENT_ERRORS or last or asff_id not in by_id:
                        refused[asff_id] = f"{asff_id}: {code} {failure.get('ErrorMessage') or ''}".rstrip()
                    else:
                        retry.append(by_id[asff_id])
            pending = retry
            if not pending:
                break
        if refused:
            LOG.warning("Security Hub refused %d finding(s)", len(refused), extra={"failed": sorted(refused)[:20]})
        return sorted(refused.values())


@requires("securityhub:GetFindings", by=EVERY_FUNCTION, on=SECURITY_HUB, only_if=WITH_SECURITY_HUB)
def get_findings(client: Any, filters: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every finding GetFindings returns for `filters`, page by page (100 a page)."""
    try:
        for page in client.get_paginator("get_findings").paginate(Filters=filters, PaginationConfig={"PageSize": 100}):
            yield from page.get("Findings", [])
    except ClientError as exc:
        raise _classified(exc, "GetFindings") from exc
    except BotoCoreError as exc:
        raise SecurityHubError("failed", f"GetFindings failed: {exc}") from exc


@requires("securityhub:BatchImportFindings", by=EVERY_FUNCTION, on=SECURITY_HUB_PRODUCT, only_if=WITH_SECURITY_HUB)
def batch_import_findings(client: Any, batch: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One BatchImportFindings call; its FailedFindings (a count without the list names the whole batch)."""
    try:
        response = client.batch_import_findings(Findings=list(batch))
    except ClientError as exc:
        raise _classified(exc, "BatchImportFindings") from exc
    except BotoCoreError as exc:
        raise SecurityHubError("failed", f"BatchImportFindings failed: {exc}") from exc
    failed = response.get("FailedFindings") or []
    if response.get("FailedCount", len(failed)) and not failed:
        return [{"Id": f["Id"], "ErrorCode": "Unknown", "ErrorMessage": "counted as failed, not named"} for f in batch]
    return list(failed)


def archived_copy(existing: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The earlier import, resolved: only the provider's own attributes, ARCHIVED and PASSED."""
    out = {key: existing[key] for key in PROVIDER_FIELDS if key in existing}
    out["ProductFields"] = {k: v for k, v in (existing.get("ProductFields") or {}).items() if not k.startswith("aws/")}
    out["UpdatedAt"] = format_timestamp(now)
    out["RecordState"] = "ARCHIVED"
    out["Compliance"] = {"Status": "PASSED"}
    return fit_to_limit(out)


@dataclass(frozen=True)
class _Unverified:
    """Where Access Analyzer's checks did not run this time (an `access-analyzer-skipped` finding):
    for these roles, or (whole_account) for the account's stand-in."""

    roles: frozenset[str]
    whole_account: bool

    @classmethod
    def of(cls, findings: Iterable[Finding]) -> _Unverified:
        skipped = [f.resource for f in findings if f.rule == ANALYZER_SKIPPED_RULE]
        return cls(frozenset(role_name_of(r) for r in skipped) - {""}, any(r.endswith(":root") for r in skipped))

    def keeps(self, existing: Mapping[str, Any]) -> bool:
        """An Access Analyzer finding of such a role stays ACTIVE: not seeing it is not its resolution."""
        fields = existing.get("ProductFields") or {}
        if fields.get(FIELD_CATEGORY) != ANALYZER_CATEGORY or existing.get("GeneratorId") == ANALYZER_SKIPPED_RULE:
            return False
        return self.whole_account or fields.get(FIELD_ROLE_NAME) in self.roles


def _all_refused_for_access(failures: Sequence[str]) -> bool:
    return all(line.split(": ", 1)[1].startswith("InvalidAccess") for line in failures if ": " in line)


def _classified(exc: ClientError, operation: str) -> SecurityHubError:
    code = exc.response.get("Error", {}).get("Code", "")
    message = exc.response.get("Error", {}).get("Message", "")
    if code in NOT_ENABLED_ERRORS:
        return SecurityHubError("not-enabled", f"Security Hub is not enabled in this account and region ({code})")
    if code in ACCESS_DENIED_ERRORS:
        return SecurityHubError("failed", f"{operation} denied: {message or code}", denied=True)
    if "Throttl" in code or code in ("TooManyRequestsException", "LimitExceededException"):
        return SecurityHubError("failed", f"{operation} throttled after retries ({code})")
    return SecurityHubError("failed", f"{operation} failed: {code} {message}".rstrip())
