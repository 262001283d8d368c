"""The audit engine: role snapshots + baseline -> findings. Pure: no AWS calls.

Every way in (CLI file, CloudTrail event, weekly schedule) ends here. A document that cannot be
parsed becomes an `AuditError` and the rest of the role and every other role are still audited; a
rule that crashes becomes an error too, never a dead run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime

from rolewatch.baseline import Baseline, load_baseline
from rolewatch.model import AuditError, AuditResult, Finding, PolicyError, RoleSnapshot, Severity
from rolewatch.policy.document import PolicyDocument, parse_policy
from rolewatch.policy.permissions import CompiledPolicy, Permissions, compile_policy
from rolewatch.rules.registry import AccountView, RuleContext, registered_rules, rule_catalogue


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

    def __init__(self, role: RoleSnapshot) -> None:
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
        self.permissions = Permissions(self.policies, boundary)
        self.trust: PolicyDocument | None = None
        if role.trust_policy is not None:
            try:
                self.trust = parse_policy(role.trust_policy, f"{role.name}.AssumeRolePolicyDocument", "trust")
            except PolicyError as exc:
                self.errors.append(AuditError(role.arn, exc.location, exc.message))


def audit_roles(
    roles: Iterable[RoleSnapshot],
    baseline: Baseline | None = None,
    *,
    today: date | None = None,
    rules: Iterable[str] | None = None,
) -> AuditResult:
    """Audit every role; findings come back sorted worst first, then by role and rule."""
    baseline = baseline or load_baseline()
    today = today or datetime.now(UTC).date()
    selected = registered_rules()
    if rules is not None:
        wanted = set(rules)
        selected = {k: v for k, v in selected.items() if k in wanted}
    rule_catalogue()  # validate the catalogue before any role is read

    skipped: dict[str, int] = {}
    prepared: list[_Prepared] = []
    account = AccountView()
    for role in roles:
        if baseline.skip_service_linked and role.is_service_linked:
            skipped["service-linked"] = skipped.get("service-linked", 0) + 1
            continue
        p = _Prepared(role)
        prepared.append(p)
        account.roles[role.arn] = role
        account.permissions[role.arn] = p.permissions
        if p.trust is not None:
            account.trust[role.arn] = p.trust

    findings: list[Finding] = []
    errors: list[AuditError] = []
    for p in prepared:
        errors.extend(p.errors)
        services = trusted_services(p.trust)
        profile = baseline.profile_for(p.role, services)
        ctx = RuleContext(p.role, p.permissions, p.policies, p.trust, baseline, profile, account)
        for rule_id, fn in selected.items():
            try:
                produced = list(fn(ctx))
            except Exception as exc:  # a crashing rule is reported, never a dead run
                errors.append(AuditError(p.role.arn, f"rule:{rule_id}", f"rule failed: {type(exc).__name__}: {exc}"))
                continue
            findings.extend(_apply_suppressions(produced, p.role, baseline, today, ctx))

    findings.sort(key=lambda f: (-f.severity.rank, f.resource, f.rule, f.actions))
    return AuditResult(
        findings=tuple(findings),
        errors=tuple(errors),
        roles_audited=len(prepared),
        roles_skipped=skipped,
    )


def _apply_suppressions(
    findings: list[Finding], role: RoleSnapshot, baseline: Baseline, today: date, ctx: RuleContext
) -> list[Finding]:
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
                ctx.finding(
                    "suppression-expired",
                    f"The suppression of {finding.rule} for {role.name} expired on {suppression.expires} "
                    f"(justification: {suppression.justification}); the finding is reported again.",
                    evidence=(f"rule={suppression.rule}", f"role={suppression.role}", f"expired={suppression.expires}"),
                )
            )
    return out


def at_or_above(findings: Iterable[Finding], severity: Severity) -> list[Finding]:
    return [f for f in findings if f.suppressed_by is None and f.severity.at_least(severity)]
