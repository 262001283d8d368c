"""trust-oidc-unscoped: a web-identity trust that does not pin the token's audience and subject."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rolewatch.model import Finding, Severity
from rolewatch.policy.document import Condition, Statement
from rolewatch.principals import (
    PrincipalClass,
    TrustPrincipal,
)
from rolewatch.remediation import update_trust_cli
from rolewatch.remediation.trust_document import add_condition, remove_condition_keys
from rolewatch.rules.registry import RuleContext, rule
from rolewatch.rules.trust.oidc_providers import OidcScheme, oidc_scheme
from rolewatch.rules.trust.pins import describe, literal_head, required_values
from rolewatch.rules.trust.statements import (
    ASSUME_WEB_IDENTITY,
    can_assume,
    raw_statement,
    replace_statement,
    statement_location,
    statement_principals,
)


@dataclass(frozen=True)
class ClaimVerdict:
    severity: Severity | None  # None: pinned well enough
    reason: str


def judge_subject(conditions: list[Condition], scheme: OidcScheme, key: str) -> ClaimVerdict:
    constraints = [c for c in conditions if required_values(c)]
    if not constraints:
        ignored = f" ({describe(conditions)} does not require a value)" if conditions else ""
        return ClaimVerdict(scheme.subject_missing, f"no condition requires {key}{ignored}")
    # Values of one condition are OR-ed (the widest counts); conditions are AND-ed (the narrowest counts).
    per_condition = [
        _worst(scheme.subject_risk(head) if wild else None for head, wild in (literal_head(c, v) for v in c.values))
        for c in constraints
    ]
    severity = _best(per_condition)
    return ClaimVerdict(severity, f"{describe(constraints)} admits more than one {scheme.provider} subject")


def judge_audience(conditions: list[Condition], scheme: OidcScheme, key: str) -> ClaimVerdict:
    exact = [c for c in conditions if required_values(c) and not any(literal_head(c, v)[1] for v in c.values)]
    if not exact:
        shown = f" ({describe(conditions)} does not pin it)" if conditions else ""
        return ClaimVerdict(scheme.audience_missing, f"no condition pins {key}{shown}")
    expected = scheme.expected_audience
    if expected and not any(set(c.values) == {expected} for c in exact):
        return ClaimVerdict(Severity.LOW, f"{describe(exact)} is not the documented audience {expected!r}")
    return ClaimVerdict(None, "")


@rule
def trust_oidc_unscoped(ctx: RuleContext) -> Iterator[Finding]:
    """A web-identity trust that does not pin the token's audience and subject.

    Providers are recognised by issuer: GitHub Actions (aud sts.amazonaws.com; sub `repo:OWNER/REPO:...`),
    EKS IRSA (aud sts.amazonaws.com; sub `system:serviceaccount:NS:SA`), GitLab (sub
    `project_path:GROUP/PROJECT:...`), HCP Terraform (sub `organization:ORG:project:P:workspace:W:run_phase:*`),
    Cognito (aud = identity pool, amr) and any other issuer (aud and sub both required).
    Severity by how far the subject (or its wildcard) reaches:
    - GitHub: no sub / any owner (`*`, `repo:*`) critical; every repo of one owner (`repo:org/*`) high;
      any ref of one repo (`repo:org/repo:*`, GitHub's own documented form) low; aud missing medium.
    - GitLab: no sub / any group critical; any project of a group high; any ref of one project low;
      aud missing medium.
    - HCP Terraform: no sub / any organisation critical; any project high; any workspace of a project
      medium; only `run_phase:*` open (HashiCorp's documented form) fine; aud missing medium.
    - EKS: no sub / any namespace high (the provider is one cluster); any service account of one
      namespace medium; aud missing low.
    - Cognito: aud (the identity pool) missing critical; amr missing or wildcard medium.
    - Other issuers: aud missing high; sub missing or partly wildcard medium, `*` high.
    An aud pinned to a value other than the documented one (GitHub, EKS) is low. The finding takes the
    worst of the subject and audience verdicts.
    """
    if ctx.trust is None:
        return
    for statement in ctx.trust.statements:
        if statement.not_principal or not can_assume(statement, (ASSUME_WEB_IDENTITY,)):
            continue
        for principal in statement_principals(statement):
            if principal.cls in (PrincipalClass.OIDC_PROVIDER, PrincipalClass.WEB_IDENTITY) and principal.name:
                finding = _oidc_finding(ctx, statement, principal)
                if finding is not None:
                    yield finding


def _oidc_finding(ctx: RuleContext, statement: Statement, principal: TrustPrincipal) -> Finding | None:
    issuer = principal.name or ""
    scheme = oidc_scheme(issuer)
    aud_key, claim_key = f"{issuer}:{scheme.audience_claim}", f"{issuer}:{scheme.subject_claim}"
    on_aud = [c for c in statement.conditions if c.key.lower() == aud_key.lower()]
    on_claim = [c for c in statement.conditions if c.key.lower() == claim_key.lower()]
    audience = judge_audience(on_aud, scheme, aud_key)
    subject = judge_subject(on_claim, scheme, claim_key)
    severity = _worst([audience.severity, subject.severity])
    if severity is None:
        return None
    where = statement_location(statement)
    problems = "; ".join(v.reason for v in (subject, audience) if v.severity is not None)
    detail = (
        f"Role {ctx.role.name} trusts the {scheme.provider} identity provider {issuer} ({where}) but {problems}, "
        f"so tokens issued to other {scheme.audience_noun} can assume it."
    )
    fixed = raw_statement(ctx, statement)
    if audience.severity is not None:
        remove_condition_keys(fixed, {aud_key.lower()})
        add_condition(fixed, "StringEquals", aud_key, _suggest_audience(on_aud, scheme))
    if subject.severity is not None:
        remove_condition_keys(fixed, {claim_key.lower()})
        add_condition(fixed, scheme.subject_operator, claim_key, _suggest_subjects(on_claim, scheme))
    return ctx.finding(
        "trust-oidc-unscoped",
        detail,
        actions=[ASSUME_WEB_IDENTITY],
        evidence=[where, principal.label, *(describe([c]) for c in on_aud + on_claim)],
        cli=[update_trust_cli(ctx.role)],
        policy=replace_statement(ctx, statement, [fixed]),
        severity=severity,
    )


def _suggest_audience(conditions: list[Condition], scheme: OidcScheme) -> str:
    if scheme.expected_audience:
        return scheme.expected_audience
    for c in conditions:
        for value in c.values:
            if not literal_head(c, value)[1] and value:
                return value
    return scheme.audience_placeholder


def _suggest_subjects(conditions: list[Condition], scheme: OidcScheme) -> str | list[str]:
    suggestions: list[str] = []
    for c in conditions:
        for value in c.values:
            pinned = required_values(c) is not None and not literal_head(c, value)[1]
            keep = value if pinned and scheme.subject_operator == "StringEquals" else scheme.suggest_subject(value)
            if keep not in suggestions:
                suggestions.append(keep)
    if not suggestions:
        suggestions.append(scheme.suggest_subject(""))
    return suggestions[0] if len(suggestions) == 1 else suggestions


def _worst(severities: Iterable[Severity | None]) -> Severity | None:
    present = [s for s in severities if s is not None]
    return max(present, key=lambda s: s.rank) if present else None


def _best(severities: list[Severity | None]) -> Severity | None:
    """The least severe; None (no risk) beats every severity."""
    present = [s for s in severities if s is not None]
    if not present or len(present) < len(severities):
        return None
    return min(present, key=lambda s: s.rank)
