"""The audit engine: role snapshots + baseline + now -> findings. Pure: no AWS calls, no clock.

Every way in (CLI file, CloudTrail event, weekly schedule) ends here. A document that cannot be
parsed becomes an `AuditError` and the rest of the role and every other role are still audited; a
rule that crashes becomes an error too, never a dead run.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import lru_cache
from typing import Generic, TypeVar

from rolewatch.baseline import Baseline, Profile, load_baseline
from rolewatch.model import (
    AuditError,
    AuditResult,
    Finding,
    LiveCheckResult,
    PolicyError,
    RoleSnapshot,
    Severity,
    worst_first,
)
from rolewatch.policy.conditions import PrincipalContext
from rolewatch.policy.document import PolicyDocument, parse_policy
from rolewatch.policy.globs import glob_match
from rolewatch.policy.graph import PrincipalGraph, named_role_arns
from rolewatch.policy.permissions import CompiledPolicy, Permissions, compile_policy, document_key
from rolewatch.rule_metadata import catalogue_finding, rule_catalogue
from rolewatch.rules.escalation.methods import launchers, power_of
from rolewatch.rules.registry import (
    AccountView,
    RuleContext,
    RuleFunction,
    cross_role_rules,
    live_check_finding,
    registered_rules,
)


def trusted_services(trust: PolicyDocument | None) -> frozenset[str]:
    if trust is None:
        return frozenset()
    return frozenset(
        service.lower()
        for s in trust.statements
        if s.allows and s.principals is not None and not s.not_principal
        for service in s.principals.of("Service")
    )


class _Prepared:
    __slots__ = ("errors", "permissions", "policies", "role", "trust")

    def __init__(
        self, role: RoleSnapshot, shared: _Recent[tuple[object, ...], Permissions], now: datetime | None
    ) -> None:
        self.role = role
        self.errors: list[AuditError] = []
        self.policies: list[tuple[str, CompiledPolicy]] = []
        for attached in role.permission_policies:
            label = attached.arn or attached.name
            try:
                self.policies.append((label, compile_policy(attached.document, attached.location)))
            except PolicyError as exc:
                self.errors.append(AuditError(role.arn, exc.location or attached.location, exc.message))
        boundary = None
        if role.permissions_boundary is not None and role.permissions_boundary.document is not None:
            b = role.permissions_boundary
            try:
                boundary = compile_policy(b.document, b.location)
            except PolicyError as exc:
                self.errors.append(AuditError(role.arn, exc.location or b.location, exc.message))
        self.trust: PolicyDocument | None = None
        if role.trust_policy is not None:
            location = f"{role.name}.AssumeRolePolicyDocument"
            try:
                self.trust = parse_trust_policy(role.trust_policy, location)
            except PolicyError as exc:
                self.errors.append(AuditError(role.arn, exc.location, exc.message))
        # Roles with the same policies (same labels, same compiled documents) and the same boundary
        # have the same effective permissions: computed once. Compiled policies are cached objects,
        # so their identity stands for their text. Policies with conditions on the principal (its ARN,
        # tags, MFA) are decided per role: the role's context joins the key.
        key: tuple[object, ...] = (tuple((label, id(compiled)) for label, compiled in self.policies), id(boundary))
        context = None
        if any(c.principal_dependent for _, c in self.policies) or (
            boundary is not None and boundary.principal_dependent
        ):
            context = principal_context(role, self.trust, self.policies)
            key += (context,)
        permissions = shared.get(key)
        if permissions is None:
            permissions = shared.put(key, Permissions(self.policies, boundary, now, context))
        self.permissions = permissions


def principal_context(
    role: RoleSnapshot, trust: PolicyDocument | None, policies: list[tuple[str, CompiledPolicy]]
) -> PrincipalContext:
    """What the audit knows of the role's sessions. Its tags decide conditions only when nobody can set
    them at will: the trust policy admits no session tags (sts:TagSession) and the role's own statements
    do not let it tag or untag itself (read from the statements' text and resources, conditions aside)."""
    tag_session = trust is None or any(
        s.allows and _names(s.actions, s.not_action, "sts:tagsession") for s in trust.statements
    )
    self_tagging = any(
        (g.names_action("iam:TagRole") or g.names_action("iam:UntagRole"))
        and (g.unrestricted or any(glob_match(r, role.arn) for r in g.resources))
        for _, compiled in policies
        for g in compiled.allows
    )
    services_only = trust is not None and all(
        s.principals is not None and not s.not_principal and {k for k, _ in s.principals.entries} == {"Service"}
        for s in trust.statements
        if s.allows
    )
    return PrincipalContext(
        arn=role.arn,
        account=role.account_id,
        tags=tuple(sorted((k.lower(), v) for k, v in role.tags)),
        tags_fixed=not tag_session and not self_tagging,
        service_sessions_only=services_only,
    )


def _names(patterns: tuple[str, ...], not_action: bool, action: str) -> bool:
    return any(glob_match(p.lower(), action) for p in patterns) != not_action


def _trust_or_none(role: RoleSnapshot) -> PolicyDocument | None:
    """The parsed trust policy, or None when it is missing or malformed (_Prepared reports the error)."""
    if role.trust_policy is None:
        return None
    try:
        return parse_trust_policy(role.trust_policy, "")
    except PolicyError:
        return None


K = TypeVar("K")
V = TypeVar("V")
SHARED_PERMISSIONS = 256  # permissions kept for reuse by roles with the same policies
RECENT_ROLES = 256  # other roles' permissions kept for the cross-role rules
# The engine's own finding: a baseline suppression past its expiry date.
SUPPRESSION_EXPIRED = live_check_finding("suppression-expired", check="engine")


class _Recent(Generic[K, V]):
    """A small least-recently-used map."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> V:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return value


class _PermissionsByArn(dict):  # type: ignore[type-arg]  # AccountView.permissions is a dict by ARN
    """Every audited role's permissions by ARN, computed when asked for and kept for a few roles."""

    def __init__(
        self,
        roles: dict[str, RoleSnapshot],
        shared: _Recent[tuple[object, ...], Permissions],
        now: datetime | None,
    ) -> None:
        super().__init__()
        self._roles = roles
        self._shared = shared
        self._now = now
        self._recent: _Recent[str, Permissions] = _Recent(RECENT_ROLES)

    def remember(self, arn: str, permissions: Permissions) -> None:
        self._recent.put(arn, permissions)

    def __getitem__(self, arn: str) -> Permissions:
        found = self._recent.get(arn)
        if found is None:
            role = self._roles[arn]  # KeyError for a role outside the audit, as a dict would
            found = self._recent.put(arn, _Prepared(role, self._shared, self._now).permissions)
        return found

    def get(self, arn: str, default: Permissions | None = None) -> Permissions | None:  # type: ignore[override]
        return self[arn] if arn in self._roles else default

    def __contains__(self, arn: object) -> bool:
        return arn in self._roles

    def __len__(self) -> int:
        return len(self._roles)

    def __iter__(self) -> Iterator[str]:
        return iter(self._roles)

    def keys(self) -> Iterator[str]:  # type: ignore[override]
        return iter(self._roles)

    def values(self) -> Iterator[Permissions]:  # type: ignore[override]
        return (self[arn] for arn in self._roles)

    def items(self) -> Iterator[tuple[str, Permissions]]:  # type: ignore[override]
        return ((arn, self[arn]) for arn in self._roles)


def parse_trust_policy(raw: object, location: str) -> PolicyDocument:
    """parse_policy(raw, location, "trust"), cached by the document's text: most roles share one of a
    few trust policies. Statement locations start at "Statement[...]"; errors carry `location`."""
    try:
        # Keys keep their order (no sort_keys): principals are reported in the order written.
        key = document_key(raw) if isinstance(raw, (str, bytes, bytearray)) else json.dumps(raw, default=str)
        return _parse_trust_cached(key)
    except PolicyError as exc:
        where = ".".join(part for part in (location, exc.location) if part)
        raise PolicyError(where, exc.message) from None


@lru_cache(maxsize=1024)
def _parse_trust_cached(key: str) -> PolicyDocument:
    return parse_policy(key, "", "trust")


def audit_roles(
    roles: Iterable[RoleSnapshot],
    baseline: Baseline | None = None,
    *,
    now: datetime,
    rules: Iterable[str] | None = None,
    complete: bool = False,
    context: Iterable[RoleSnapshot] = (),
    on_role: Callable[[], None] | None = None,
) -> AuditResult:
    """Audit every role at `now` (time windows in conditions, last use, suppression expiry are decided
    against it: the CLI and the handlers pass the real time, tests a fixed one); findings come back
    sorted worst first, then by role and rule.

    `complete`: the roles are every role of their account (a whole-account read), so a wildcard
    Resource's targets are known. `context`: roles the cross-role analysis may look at (what passing
    or assuming them gives) that are not audited themselves. `on_role` is called after each role
    (the CLI's progress display)."""
    baseline = baseline or load_baseline()
    selected = registered_rules()
    if rules is not None:
        wanted = set(rules)
        selected = {k: v for k, v in selected.items() if k in wanted}
    rule_catalogue()  # validate the catalogue before any role is read
    cross_role_ids = cross_role_rules()

    skipped: dict[str, int] = {}
    audited: list[RoleSnapshot] = []
    account = AccountView(now=now)
    for role in roles:
        if baseline.skip_service_linked and role.is_service_linked:
            skipped["service-linked"] = skipped.get("service-linked", 0) + 1
            continue
        audited.append(role)
        account.roles[role.arn] = role
        trust = _trust_or_none(role)
        if trust is not None:
            account.trust[role.arn] = trust
    for role in context:
        if role.arn not in account.roles:
            account.roles[role.arn] = role
            trust = _trust_or_none(role)
            if trust is not None:
                account.trust[role.arn] = trust
    # One role at a time: its permissions are computed, its rules run, and they are let go, so memory
    # holds the findings and not 5,000 roles' permissions. Cross-role rules get other roles'
    # permissions on demand (_PermissionsByArn).
    shared: _Recent[tuple[object, ...], Permissions] = _Recent(SHARED_PERMISSIONS)
    by_arn = _PermissionsByArn(account.roles, shared, now)
    account.permissions = by_arn
    account.complete = complete
    account.graph = PrincipalGraph(
        account.roles,
        account.trust,
        by_arn,
        power=power_of,
        launchers=launchers(),
        complete=complete,
        now=now,
    )

    findings: list[Finding] = []
    errors: list[AuditError] = []
    # Cross-role rules need what other principals can do: for a role that can become another (or whose
    # targets are unknown) they run once every role has been seen by the graph, so no role's
    # permissions are computed twice for the graph's sake. Those roles (a minority) are kept prepared.
    cross_role = {k: v for k, v in selected.items() if k in cross_role_ids}
    own_rules = {k: v for k, v in selected.items() if k not in cross_role_ids}
    deferred: list[_Prepared] = []
    for role in audited:
        p = _Prepared(role, shared, now)
        by_arn.remember(role.arn, p.permissions)
        errors.extend(p.errors)
        later = account.graph.observe(role.arn, p.permissions)
        if later and cross_role:
            deferred.append(p)
        run = own_rules if later else selected
        findings.extend(_run_rules(p, run, baseline=baseline, account=account, now=now, errors=errors))
        if on_role is not None:
            on_role()
    for p in deferred:
        findings.extend(_run_rules(p, cross_role, baseline=baseline, account=account, now=now, errors=errors))

    rank = {severity: severity.rank for severity in Severity}
    findings.sort(key=lambda f: (-rank[f.severity], f.resource, f.rule, f.actions))
    return AuditResult(
        findings=tuple(findings),
        errors=tuple(errors),
        roles_audited=len(audited),
        roles_skipped=skipped,
    )


def _run_rules(
    p: _Prepared,
    selected: dict[str, RuleFunction],
    *,
    baseline: Baseline,
    account: AccountView,
    now: datetime,
    errors: list[AuditError],
) -> list[Finding]:
    services = trusted_services(p.trust)
    profile = baseline.profile_for(p.role, services)
    ctx = RuleContext(p.role, p.permissions, p.policies, p.trust, baseline, profile, account, now)
    out: list[Finding] = []
    for rule_id, fn in selected.items():
        try:
            produced = list(fn(ctx))
        except Exception as exc:  # a crashing rule is reported, never a dead run
            errors.append(AuditError(p.role.arn, f"rule:{rule_id}", f"rule failed: {type(exc).__name__}: {exc}"))
            continue
        if produced:
            out.extend(apply_suppressions(produced, p.role, baseline, now.date()))
    return out


def related_role_arns(roles: Iterable[RoleSnapshot], now: datetime) -> set[str]:
    """Role ARNs the roles name literally in iam:PassRole, sts:AssumeRole or iam:UpdateAssumeRolePolicy
    Resources and that are not among them: what an audit of only these roles should read as context."""
    shared: _Recent[tuple[object, ...], Permissions] = _Recent(SHARED_PERMISSIONS)
    listed = list(roles)
    own = {r.arn for r in listed}
    out: set[str] = set()
    for role in listed:
        out |= named_role_arns(_Prepared(role, shared, now).permissions)
    return out - own


def apply_suppressions(
    findings: Iterable[Finding], role: RoleSnapshot, baseline: Baseline, today: date
) -> list[Finding]:
    """Mark findings a live suppression covers; an expired one suppresses nothing and adds a finding saying so."""
    out: list[Finding] = []
    for finding in findings:
        suppression = baseline.suppression_for(finding, role, today) if baseline.suppressions else None
        if suppression is None:
            out.append(finding)
        elif suppression.expires >= today:
            out.append(replace(finding, suppressed_by=f"{suppression.justification} (until {suppression.expires})"))
        else:
            out.append(finding)
            out.append(
                catalogue_finding(
                    SUPPRESSION_EXPIRED,
                    role.arn,
                    f"The suppression of {finding.rule} for {role.name} expired on {suppression.expires} "
                    f"(justification: {suppression.justification}); the finding is reported again.",
                    evidence=(f"rule={suppression.rule}", f"role={suppression.role}", f"expired={suppression.expires}"),
                )
            )
    return out


# A check that calls AWS (Access Analyzer): the services run it on each audited role after the engine.
LiveCheck = Callable[[RoleSnapshot, Profile], LiveCheckResult]


@dataclass
class LiveCheckRun:
    """What the live checks added: findings (suppressions applied), errors, and skipped reasons by role ARN."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[AuditError] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)


def run_live_checks(
    roles: Iterable[RoleSnapshot], baseline: Baseline, checks: Sequence[LiveCheck], today: date
) -> LiveCheckRun:
    """Every live check on every audited role (service-linked ones skipped as the engine does). A crashing
    check becomes an AuditError, never a dead run; its findings go through the baseline's suppressions."""
    run = LiveCheckRun()
    for role in roles if checks else ():
        if baseline.skip_service_linked and role.is_service_linked:
            continue
        profile = baseline.profile_for(role, trusted_services(_trust_or_none(role)))
        for check in checks:
            name = getattr(check, "__name__", type(check).__name__)
            try:
                outcome = check(role, profile)
            except Exception as exc:
                run.errors.append(AuditError(role.arn, f"live-check:{name}", f"{type(exc).__name__}: {exc}"))
                continue
            run.findings.extend(apply_suppressions(outcome.findings, role, baseline, today))
            if outcome.skipped:
                run.skipped.setdefault(role.arn, []).extend(outcome.skipped)
    return run


# How a service reports the checks that could not run: skipped reasons by role ARN -> findings.
SkippedFindings = Callable[[Mapping[str, Sequence[str]]], Iterable[Finding]]


def merge_live_checks(
    result: AuditResult,
    roles: Iterable[RoleSnapshot],
    baseline: Baseline,
    checks: Sequence[LiveCheck],
    *,
    today: date,
    skipped_findings: SkippedFindings,
) -> AuditResult:
    """The engine's result with every live check's findings and errors added, worst first (the one merge of
    the event and the account path). The skipped reasons become findings as the caller says: the event path
    one per role, the account path one for the whole account."""
    roles = list(roles)
    run = run_live_checks(roles, baseline, checks, today)
    findings = [*result.findings, *run.findings, *skipped_findings(run.skipped)]
    return replace(result, findings=tuple(worst_first(findings)), errors=result.errors + tuple(run.errors))


def at_or_above(findings: Iterable[Finding], severity: Severity) -> list[Finding]:
    return [f for f in findings if f.suppressed_by is None and f.severity.at_least(severity)]
