"""Access Analyzer's findings for the whole account, read once: the account audit's analyzer reader.

ListAnalyzers, then one paginated ListFindingsV2 per active external-access or unused-access analyzer
for every active IAM-role finding of the account, instead of one call per role (the event path's
`AccessAnalyzerCheck` asks per role). `summary_check` answers the account audit's live check from this
one read; the summaries become findings in `translate.summary_finding`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rolewatch.analyzer.calls import ROLE_ANALYZER_TYPES, analyzer_covers, no_covering_analyzer
from rolewatch.analyzer.translate import AnalyzerFinding, summary_finding
from rolewatch.audit import LiveCheck
from rolewatch.aws_permissions import ACCOUNT_ANALYZERS, ACCOUNT_AUDIT, ORG_AUDIT, WITH_ACCESS_ANALYZER, requires
from rolewatch.baseline import Profile
from rolewatch.inventory.account_reader import failure_reason
from rolewatch.inventory.clients import AwsClients
from rolewatch.model import LiveCheckResult, RoleSnapshot

ANALYZER_PAGE_SIZE = 100


@dataclass
class AnalyzerFindings:
    """Active role findings of every analyzer, by role ARN, and why any part was not read."""

    by_role: dict[str, list[AnalyzerFinding]] = field(default_factory=dict)
    analyzers: list[str] = field(default_factory=list)  # ARNs read
    skipped: list[str] = field(default_factory=list)  # human-readable reasons

    def for_role(self, role_arn: str) -> list[AnalyzerFinding]:
        return self.by_role.get(role_arn, [])


def _timestamp(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _findings_filter(analyzer_type: str, account_id: str) -> dict[str, Any]:
    criteria: dict[str, Any] = {"status": {"eq": ["ACTIVE"]}, "resourceType": {"eq": ["AWS::IAM::Role"]}}
    if analyzer_type.startswith("ORGANIZATION") and account_id:
        # An organization's analyzer reports every member account; keep this account's roles.
        criteria["resourceOwnerAccount"] = {"eq": [account_id]}
    return criteria


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


# ListFindingsV2 is authorised by access-analyzer:ListFindings (the V2 operation has no IAM action of its own).
@requires("access-analyzer:ListAnalyzers", by=(ACCOUNT_AUDIT, ORG_AUDIT), only_if=WITH_ACCESS_ANALYZER)
@requires(
    "access-analyzer:ListFindings", by=(ACCOUNT_AUDIT, ORG_AUDIT), on=ACCOUNT_ANALYZERS, only_if=WITH_ACCESS_ANALYZER
)
def read_account_analyzer_findings(clients: AwsClients, account_id: str) -> AnalyzerFindings:
    """Every active IAM-role finding of every active analyzer in the clients' region.

    IAM is global: one region's analyzers see every role, so reading the home region is enough (other
    regions' external-access analyzers repeat the same role findings). Only analyzers that can know the
    account's roles are read: organization analyzers, and account analyzers of `account_id` itself.
    Never raises for AWS errors: no analyzer, access denied, throttling or an endpoint without Access
    Analyzer become `skipped` reasons.
    """
    out = AnalyzerFindings()
    client = clients.accessanalyzer
    try:
        analyzers = [a for a in _pages(client, "list_analyzers", "analyzers") if a.get("type") in ROLE_ANALYZER_TYPES]
    except (ClientError, BotoCoreError) as exc:
        out.skipped.append(f"Access Analyzer findings not read: ListAnalyzers failed ({failure_reason(exc)})")
        return out
    active = [a for a in analyzers if a.get("status") == "ACTIVE"]
    region = clients.region or "this region"
    if not active:
        out.skipped.append(
            f"Access Analyzer findings not read: no active external-access or unused-access analyzer in {region}"
        )
        return out
    covering = [a for a in active if analyzer_covers(a["arn"], a["type"], account_id)]
    if not covering:
        names = [str(a.get("name") or a["arn"]) for a in active]
        out.skipped.append(f"Access Analyzer findings not read: {no_covering_analyzer(region, account_id, names)}")
        return out
    for analyzer in covering:
        arn, kind = analyzer["arn"], analyzer["type"]
        try:
            summaries = list(
                _pages(
                    client,
                    "list_findings_v2",
                    "findings",
                    analyzerArn=arn,
                    filter=_findings_filter(kind, account_id),
                    PaginationConfig={"PageSize": ANALYZER_PAGE_SIZE},
                )
            )
        except (ClientError, BotoCoreError) as exc:
            name = analyzer.get("name", arn)
            out.skipped.append(f"Access Analyzer findings of {name} not read ({failure_reason(exc)})")
            continue
        out.analyzers.append(arn)
        for s in summaries:
            if s.get("resourceType", "AWS::IAM::Role") != "AWS::IAM::Role" or not s.get("resource"):
                continue
            finding = AnalyzerFinding(
                analyzer_arn=arn,
                analyzer_type=kind,
                id=s["id"],
                finding_type=s.get("findingType", ""),
                resource=s["resource"],
                status=s.get("status", ""),
                created_at=_timestamp(s.get("createdAt")),
                updated_at=_timestamp(s.get("updatedAt")),
                error=s.get("error"),
            )
            out.by_role.setdefault(finding.resource, []).append(finding)
    return out


def summary_check(found: AnalyzerFindings) -> LiveCheck:
    """A live check that answers from the account-wide read instead of calling Access Analyzer per role."""

    def account_analyzer_findings(snapshot: RoleSnapshot, profile: Profile) -> LiveCheckResult:
        translated = (summary_finding(snapshot, profile, s) for s in found.for_role(snapshot.arn))
        return LiveCheckResult(findings=tuple(f for f in translated if f is not None))

    return account_analyzer_findings
