"""The rule registry: each rule is a function registered by `@rule`, its metadata beside its module.

Rule id = function name with underscores as hyphens (`trust_account_root` -> `trust-account-root`).
The metadata (title, category, severity, rationale, remediation, references) is data a reviewer can
edit, in `<module>.metadata.yaml` next to the rule's module, read by rolewatch.rule_metadata; a
meta-test checks metadata and registry match one to one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, overload

from rolewatch.baseline import Baseline, Profile
from rolewatch.model import Finding, RoleSnapshot, Severity
from rolewatch.policy.document import PolicyDocument
from rolewatch.policy.graph import PrincipalGraph
from rolewatch.policy.permissions import CompiledPolicy, Permissions
from rolewatch.rule_metadata import catalogue_finding


@dataclass
class AccountView:
    """Every principal of the audit, for rules that look across roles (who can become whom).

    `roles` also holds roles read only as context (an event audit reads the roles its targets name in
    iam:PassRole or sts:AssumeRole) and not audited themselves. `complete` says whether the view holds
    every role of the account, which decides whether a wildcard Resource's targets are known. The
    principal graph is built once by the engine and answers every cross-role question."""

    roles: dict[str, RoleSnapshot] = field(default_factory=dict)  # by ARN
    permissions: dict[str, Permissions] = field(default_factory=dict)  # by ARN, filled by the engine
    trust: dict[str, PolicyDocument] = field(default_factory=dict)  # by ARN, parsed trust policies
    now: datetime | None = None  # the audit's time
    complete: bool = False
    graph: PrincipalGraph | None = None


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
_REGISTRY: dict[str, RuleFunction] = {}
# Catalogue ids emitted by a check that is not a rule function, with the check that emits them.
_LIVE_CHECK_FINDINGS: dict[str, str] = {}
_CROSS_ROLE: set[str] = set()


@overload
def rule(fn: RuleFunction, /) -> RuleFunction: ...
@overload
def rule(*, cross_role: bool = False) -> Callable[[RuleFunction], RuleFunction]: ...
def rule(fn: RuleFunction | None = None, /, *, cross_role: bool = False) -> Any:
    """Register a rule: `@rule`, or `@rule(cross_role=True)` for a rule that asks the principal graph
    about other principals (the engine runs those once every role has been seen by the graph)."""

    def register(fn: RuleFunction) -> RuleFunction:
        rule_id = fn.__name__.replace("_", "-")
        if rule_id in _REGISTRY or rule_id in _LIVE_CHECK_FINDINGS:
            raise ValueError(f"rule {rule_id} registered twice")
        _REGISTRY[rule_id] = fn
        if cross_role:
            _CROSS_ROLE.add(rule_id)
        return fn

    return register if fn is None else register(fn)


def registered_rules() -> dict[str, RuleFunction]:
    """Every registered rule by id, sorted by id (the engine's order, whatever the import order was).

    Complete for every caller outside a rule module: importing this module first runs the `rolewatch.rules`
    package, which imports every module below it (and so registers every rule).
    """
    return dict(sorted(_REGISTRY.items()))


def cross_role_rules() -> frozenset[str]:
    """The ids of the rules registered with `cross_role=True`."""
    return frozenset(_CROSS_ROLE)


def live_check_finding(finding_id: str, *, check: str) -> str:
    """Register a catalogue id that `check` emits without a rule function, and return it.

    A live check (IAM Access Analyzer, called per role) or the engine itself (an expired suppression)
    builds its findings from the same catalogue as the rules; registering its ids here, in the module
    that emits them, keeps "every catalogue entry has exactly one emitter" checkable in one place.
    """
    if finding_id in _REGISTRY or _LIVE_CHECK_FINDINGS.get(finding_id, check) != check:
        raise ValueError(f"finding {finding_id} registered twice")
    _LIVE_CHECK_FINDINGS[finding_id] = check
    return finding_id


def live_check_findings(check: str | None = None) -> frozenset[str]:
    """The ids registered with `live_check_finding` (by `check` when given).

    Complete once the emitting modules are imported: rolewatch.audit (the engine) and
    rolewatch.analyzer.translate (Access Analyzer).
    """
    return frozenset(i for i, by in _LIVE_CHECK_FINDINGS.items() if check is None or by == check)
