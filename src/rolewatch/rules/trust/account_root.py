"""trust-account-root: the role trusts a whole account with no narrowing condition."""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding, Severity
from rolewatch.policy.document import Statement
from rolewatch.principals import (
    PrincipalClass,
    TrustPrincipal,
    partition_of_arn,
)
from rolewatch.remediation import update_trust_cli
from rolewatch.rules.registry import RuleContext, rule
from rolewatch.rules.trust.pins import ACCOUNT_NARROWING, conditions_pinning, mfa_required
from rolewatch.rules.trust.statements import (
    ASSUME_ROLE,
    can_assume,
    statement_location,
    statement_principals,
    with_principals_pinned,
)


@rule
def trust_account_root(ctx: RuleContext) -> Iterator[Finding]:
    """The role trusts a whole account (`arn:aws:iam::ACCOUNT:root` or the bare id) with no narrowing.

    Narrowing conditions: aws:PrincipalArn naming principals (not `role/*`), aws:userid, aws:PrincipalTag/...,
    sts:ExternalId, source identity, or MFA (Bool aws:MultiFactorAuthPresent "true", not BoolIfExists).
    Severity: the catalogue's (medium) for the role's own account; high for another account, whose
    administrators then decide who can use the role.
    """
    if ctx.trust is None:
        return
    for statement in ctx.trust.statements:
        if statement.not_principal or not can_assume(statement, (ASSUME_ROLE,)):
            continue
        if conditions_pinning(statement.conditions, ACCOUNT_NARROWING) or mfa_required(statement.conditions):
            continue
        roots = [p for p in statement_principals(statement) if p.cls is PrincipalClass.ACCOUNT_ROOT]
        for root in roots:
            yield _account_root_finding(ctx, statement, root)


def _account_root_finding(ctx: RuleContext, statement: Statement, root: TrustPrincipal) -> Finding:
    own = root.account == ctx.role.account_id
    where = statement_location(statement)
    whose = "its own account" if own else f"the foreign account {root.account}"
    detail = (
        f"Role {ctx.role.name} trusts {whose} as a whole ({root.label} in {where}) with no condition on "
        "aws:PrincipalArn, principal tags, MFA or sts:ExternalId: any principal there whose own policies "
        "allow sts:AssumeRole on it can assume it."
    )
    partition = root.partition or partition_of_arn(ctx.role.arn)
    trusted_role = f"arn:{partition}:iam::{root.account}:role/REPLACE_WITH_TRUSTED_ROLE_NAME"
    fixed = with_principals_pinned(
        ctx, statement, "AWS", [root.value], operator="ArnEquals", key="aws:PrincipalArn", value=trusted_role
    )
    return ctx.finding(
        "trust-account-root",
        detail,
        actions=[ASSUME_ROLE],
        evidence=[where, root.label],
        cli=[update_trust_cli(ctx.role)],
        policy=fixed,
        severity=None if own else Severity.HIGH,
    )
