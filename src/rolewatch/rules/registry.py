"""The rule registry: each rule is a function registered by `@rule`, its metadata in catalogue.yaml.

Rule id = function name with underscores as hyphens (`trust_account_root` -> `trust-account-root`).
The catalogue (title, category, severity, rationale, remediation, references) is data a reviewer can
edit; it is validated when first loaded, and a meta-test checks catalogue and registry match one to one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from rolewatch.model import CATEGORIES, Finding, Remediation, RoleSnapshot, Severity
from rolewatch.policy.document import PolicyDocument
from rolewatch.policy.permissions import CompiledPolicy, Permissions

if TYPE_CHECKING:
    from rolewatch.baseline import Baseline, Profile


@dataclass(frozen=True)
class RuleMeta:
    id: str
    category: str
    severity: Severity
    title: str
    rationale: str
    remediation: str
    references: tuple[str, ...] = ()


@dataclass
class AccountView:
    """Every role of the audit, for rules that look across roles (who can assume whom)."""

    roles: dict[str, RoleSnapshot] = field(default_factory=dict)  # by ARN
    permissions: dict[str, Permissions] = field(default_factory=dict)  # by ARN, filled by the engine
    trust: dict[str, PolicyDocument] = field(default_factory=dict)  # by ARN, parsed trust policies
    now: datetime | None = None  # the audit's time


@dataclass
class RuleContext:
    """What a rule sees: one role, its analysed policies, the baseline profile and the account."""

    role: RoleSnapshot
    permissions: Permissions
    policies: list[tuple[str, CompiledPolicy]]  # (name or ARN, compiled) of every parsable permission policy
    trust: PolicyDocument | None
    baseline: Baseline
    profile: Profile
    account: AccountView
    now: datetime  # the audit's time: rules never read the clock

    def finding(
        self,
        rule_id: str,
        detail: str,
        *,
        actions: Iterable[str] = (),
        evidence: Iterable[str] = (),
        cli: Iterable[str] = (),
        policy: dict[str, Any] | None = None,
        severity: Severity | None = None,
        title: str | None = None,
        remediation: str | None = None,
    ) -> Finding:
        return catalogue_finding(
            rule_id,
            self.role.arn,
            detail,
            actions=actions,
            evidence=evidence,
            cli=cli,
            policy=policy,
            severity=severity,
            title=title,
            remediation=remediation,
        )


RuleFunction = Callable[[RuleContext], Iterable[Finding]]
# Catalogue entries IAM Access Analyzer's live check emits (rolewatch.analyzer), not a registered rule function.
ACCESS_ANALYZER_FINDINGS = frozenset(
    {
        "access-analyzer-policy-error",
        "access-analyzer-security-warning",
        "access-analyzer-policy-warning",
        "access-analyzer-policy-suggestion",
        "access-analyzer-sensitive-access",
        "access-analyzer-new-access",
        "access-analyzer-public-trust",
        "access-analyzer-external-access",
        "access-analyzer-unused-role",
        "access-analyzer-unused-permission",
        "access-analyzer-skipped",
    }
)
# Catalogue entries the engine itself emits (audit.py) or a live check emits, not a registered rule function.
ENGINE_FINDINGS = frozenset({"suppression-expired"}) | ACCESS_ANALYZER_FINDINGS
_REGISTRY: dict[str, RuleFunction] = {}


def rule(fn: RuleFunction) -> RuleFunction:
    rule_id = fn.__name__.replace("_", "-")
    if rule_id in _REGISTRY:
        raise ValueError(f"rule {rule_id} registered twice")
    _REGISTRY[rule_id] = fn
    return fn


def registered_rules() -> dict[str, RuleFunction]:
    # Importing the rule modules registers their rules; the list of modules is the only list.
    from rolewatch.rules import RULE_MODULES  # noqa: F401

    return dict(_REGISTRY)


@cache
def rule_catalogue() -> dict[str, RuleMeta]:
    text = resources.files("rolewatch.rules").joinpath("catalogue.yaml").read_text()
    return parse_catalogue(yaml.safe_load(text))


def parse_catalogue(raw: Any) -> dict[str, RuleMeta]:
    if not isinstance(raw, dict):
        raise ValueError("rules/catalogue.yaml must map rule ids to their metadata")
    out = {}
    required = {"category", "severity", "title", "rationale", "remediation"}
    for rule_id, entry in raw.items():
        if not isinstance(entry, dict):
            raise ValueError(f"catalogue entry {rule_id}: expected a mapping")
        missing = required - set(entry)
        if missing:
            raise ValueError(f"catalogue entry {rule_id}: missing {', '.join(sorted(missing))}")
        extra = set(entry) - required - {"references"}
        if extra:
            raise ValueError(f"catalogue entry {rule_id}: unknown field(s) {', '.join(sorted(extra))}")
        if entry["category"] not in CATEGORIES:
            raise ValueError(f"catalogue entry {rule_id}: unknown category {entry['category']!r}")
        out[rule_id] = RuleMeta(
            id=rule_id,
            category=entry["category"],
            severity=Severity.parse(entry["severity"]),
            title=str(entry["title"]).strip(),
            rationale=" ".join(str(entry["rationale"]).split()),
            remediation=" ".join(str(entry["remediation"]).split()),
            references=tuple(entry.get("references") or ()),
        )
    return out


def catalogue_finding(
    rule_id: str,
    resource: str,
    detail: str,
    *,
    actions: Iterable[str] = (),
    evidence: Iterable[str] = (),
    cli: Iterable[str] = (),
    policy: dict[str, Any] | None = None,
    severity: Severity | None = None,
    title: str | None = None,
    remediation: str | None = None,
) -> Finding:
    """A finding of `rule_id` on `resource`, its title, severity, rationale and fix from the catalogue."""
    meta = rule_catalogue()[rule_id]
    return Finding(
        rule=rule_id,
        category=meta.category,
        severity=severity or meta.severity,
        resource=resource,
        title=title or meta.title,
        detail=detail,
        rationale=meta.rationale,
        actions=tuple(actions),
        evidence=tuple(evidence),
        remediation=Remediation(summary=remediation or meta.remediation, cli=tuple(cli), policy=policy),
    )
