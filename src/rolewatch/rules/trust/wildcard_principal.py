"""trust-wildcard-principal: any principal of any account may assume the role."""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding, Severity
from rolewatch.policy.document import Statement
from rolewatch.remediation import update_trust_cli
from rolewatch.remediation.trust_document import add_condition
from rolewatch.rules.registry import RuleContext, rule
from rolewatch.rules.trust.pins import (
    IDENTITY_PINS,
    WEAK_PINS,
    conditions_pinning,
    describe,
    mfa_required,
    network_restricted,
)
from rolewatch.rules.trust.statements import (
    ASSUME_ACTIONS,
    admits_everyone,
    allows_action,
    can_assume,
    raw_statement,
    replace_statement,
    statement_location,
)


@rule
def trust_wildcard_principal(ctx: RuleContext) -> Iterator[Finding]:
    """Any principal may assume the role: `Principal: "*"`, `{"AWS": "*"}`, or an Allow with NotPrincipal.

    A condition that pins who the caller is (aws:PrincipalOrgID/OrgPaths, aws:PrincipalAccount,
    aws:PrincipalArn with a fixed account, aws:userid, aws:SourceAccount/SourceArn/SourceOrgID) makes the
    wildcard safe: no finding. A condition any account can meet (sts:ExternalId, which is not a secret;
    aws:PrincipalTag, which the caller's own account sets; MFA; network origin) lowers the finding to
    high. Without either it is critical. Statements that allow no sts:AssumeRole* action are ignored.
    """
    if ctx.trust is None:
        return
    for statement in ctx.trust.statements:
        if not can_assume(statement) or not admits_everyone(statement):
            continue
        if conditions_pinning(statement.conditions, IDENTITY_PINS):
            continue
        weak = (
            conditions_pinning(statement.conditions, WEAK_PINS)
            + mfa_required(statement.conditions)
            + network_restricted(statement.conditions)
        )
        principal = _wildcard_label(statement)
        where = statement_location(statement)
        detail = f"Role {ctx.role.name} can be assumed by any AWS principal in any account: {where} allows {principal}"
        detail += (
            f", narrowed only by {describe(weak)}, which a principal of any account can satisfy."
            if weak
            else " with no condition that pins the caller's organisation, account or ARN."
        )
        fixed = raw_statement(ctx, statement)
        fixed.pop("NotPrincipal", None)
        fixed["Principal"] = {"AWS": "*"}
        add_condition(fixed, "StringEquals", "aws:PrincipalOrgID", "REPLACE_WITH_ORG_ID")
        yield ctx.finding(
            "trust-wildcard-principal",
            detail,
            actions=[a for a in ASSUME_ACTIONS if allows_action(statement, a)],
            evidence=[where, principal, *([describe(statement.conditions)] if statement.conditions else [])],
            cli=[update_trust_cli(ctx.role)],
            policy=replace_statement(ctx, statement, [fixed]),
            severity=Severity.HIGH if weak else None,
        )


def _wildcard_label(statement: Statement) -> str:
    if statement.not_principal and statement.principals is not None:
        listed = ", ".join(f"{k}={v}" for k, v in statement.principals.all_values())
        return f"NotPrincipal ({listed}): every principal except those"
    return "Principal.AWS=*"
