"""The values every layer shares: severities, categories, findings and role snapshots.

Everything here is immutable. Adapters build snapshots; rules turn snapshots into findings;
reports render findings. Nothing in this module talks to AWS.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.Enum):
    """Declared worst first: this order is the only severity order (rank, sorting, report columns)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: critical=4 ... info=0."""
        return _SEVERITY_RANK[self]

    @classmethod
    def rank_of(cls, text: object) -> int:
        """The rank of a severity as a report spells it; -1 (below info) for anything else."""
        try:
            return cls(text).rank
        except ValueError:
            return -1

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected one of: {names})") from None

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_SEVERITY_RANK = {severity: len(Severity) - 1 - index for index, severity in enumerate(Severity)}

# The closed set of finding categories (the `category` of every finding in the report JSON).
CATEGORIES: frozenset[str] = frozenset(
    {
        "admin-access",
        "privilege-escalation",
        "data-exfiltration",
        "resource-exposure",
        "credentials-exposure",
        "infrastructure-modification",
        "service-wildcard",
        "trust-policy",
        "baseline",
        "access-analyzer",
        "unused-access",
        "instance-profile",
    }
)


@dataclass(frozen=True)
class Remediation:
    summary: str
    cli: tuple[str, ...] = ()
    policy: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"summary": self.summary, "cli": list(self.cli)}
        if self.policy is not None:
            out["policy"] = self.policy
        return out


@dataclass(frozen=True)
class Finding:
    rule: str
    category: str
    severity: Severity
    resource: str
    title: str
    detail: str
    remediation: Remediation
    actions: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    rationale: str = ""
    suppressed_by: str | None = None

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown finding category {self.category!r}")

    @property
    def fingerprint(self) -> str:
        """Stable identity across runs: role ARN + rule + evidence hash."""
        digest = hashlib.sha256(
            json.dumps([self.resource, self.rule, sorted(self.actions), list(self.evidence)]).encode()
        ).hexdigest()
        return digest[:16]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity.value,
            "resource": self.resource,
            "title": self.title,
            "detail": self.detail,
            "rationale": self.rationale,
            "actions": list(self.actions),
            "evidence": list(self.evidence),
            "remediation": self.remediation.to_dict(),
            "fingerprint": self.fingerprint,
        }
        if self.suppressed_by is not None:
            out["suppressed_by"] = self.suppressed_by
        return out


def worst_first(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in severity order, worst first: the order of every report and every merged result.
    sorted() is stable, so findings of one severity keep the engine's order (role, rule, actions)."""
    return sorted(findings, key=lambda f: _NEGATIVE_RANK[f.severity])


_NEGATIVE_RANK = {severity: -severity.rank for severity in Severity}


@dataclass(frozen=True)
class AuditError:
    """Input that could not be read; the rest of the audit goes on."""

    resource: str
    location: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"resource": self.resource, "location": self.location, "message": self.message}


class PolicyError(ValueError):
    """A policy document that is not a legal IAM policy. `location` says where, `message` what."""

    def __init__(self, location: str, message: str) -> None:
        super().__init__(f"{location}: {message}" if location else message)
        self.location = location
        self.message = message


@dataclass(frozen=True)
class AttachedPolicy:
    """A policy as the role holds it: inline (no ARN) or managed (default version)."""

    name: str
    document: Any  # raw document: dict, JSON string or URL-encoded string; parsed lazily
    arn: str | None = None  # None for inline policies
    location: str = ""  # where the document came from, for error messages

    @property
    def is_aws_managed(self) -> bool:
        return bool(self.arn) and ":iam::aws:policy/" in str(self.arn)


@dataclass(frozen=True)
class InstanceProfileRef:
    name: str
    arn: str
    instance_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleSnapshot:
    """A role's current state, as read from IAM or from a GetAccountAuthorizationDetails file."""

    arn: str
    name: str
    path: str = "/"
    trust_policy: Any = None
    inline_policies: tuple[AttachedPolicy, ...] = ()
    managed_policies: tuple[AttachedPolicy, ...] = ()
    permissions_boundary: AttachedPolicy | None = None
    tags: tuple[tuple[str, str], ...] = ()
    max_session_duration: int = 3600
    instance_profiles: tuple[InstanceProfileRef, ...] = ()
    last_used: str | None = None
    create_date: str | None = None
    kind: str = "role"  # "role", or "user"/"group" when the engine is pointed at other principals
    attached_policy_arns: tuple[str, ...] = ()  # every attached managed policy, even one without a document

    @property
    def account_id(self) -> str:
        parts = self.arn.split(":")
        return parts[4] if len(parts) > 4 else ""

    @property
    def is_service_linked(self) -> bool:
        return self.path.startswith("/aws-service-role/")

    @property
    def permission_policies(self) -> tuple[AttachedPolicy, ...]:
        return self.inline_policies + self.managed_policies

    @property
    def managed_policy_arns(self) -> tuple[str, ...]:
        return self.attached_policy_arns or tuple(p.arn for p in self.managed_policies if p.arn)

    @property
    def tag_map(self) -> dict[str, str]:
        return dict(self.tags)


@dataclass(frozen=True)
class SourceLocation:
    """Where a role is written in infrastructure as code: the file (as the user named it), the template's
    logical id or the Terraform address, and the 1-based line, so SARIF viewers can annotate it."""

    path: str
    name: str
    line: int = 1


@dataclass(frozen=True)
class AuditResult:
    """What one audit produced: findings, input errors, and counts for the summary."""

    findings: tuple[Finding, ...]
    errors: tuple[AuditError, ...] = ()
    roles_audited: int = 0
    roles_skipped: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LiveCheckResult:
    """What a live check (one that calls AWS, e.g. Access Analyzer) adds to a role's audit.

    `skipped` holds one human-readable reason per check that could not run (no analyzer, access denied,
    throttled, endpoint without the service); the service layer turns them into one `info` finding.
    """

    findings: tuple[Finding, ...] = ()
    skipped: tuple[str, ...] = ()
