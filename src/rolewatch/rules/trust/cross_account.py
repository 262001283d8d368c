"""trust-cross-account-without-external-id: another account may assume the role without an external id."""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding, Severity
from rolewatch.principals import (
    PrincipalClass,
)
from rolewatch.remediation import update_trust_cli
from rolewatch.rules.registry import RuleContext, rule
from rolewatch.rules.trust.pins import EXTERNAL_ID, NAMED_PRINCIPALS, conditions_pinning, mfa_required
from rolewatch.rules.trust.statements import (
    ASSUME_ROLE,
    can_assume,
    statement_location,
    statement_principals,
    with_principals_pinned,
)


@rule
def trust_cross_account_without_external_id(ctx: RuleContext) -> Iterator[Finding]:
    """An AWS principal of another account may assume the role without presenting an sts:ExternalId.

    The account comes from the principal (ARN or bare id) and is compared with the role's own (from its
    ARN); unique ids (AROA...) of deleted principals name no account and are skipped. The external id
    counts when a condition *requires* it (StringEquals/StringLike/...IgnoreCase, not IfExists, whose
    check is skipped when the caller sends none, and not a bare "*"). When the statement requires MFA
    the trust serves people, for whom AWS does not use external ids: the finding is lowered to low.
    When every foreign principal is a named role or user (not a whole account), or the statement's
    `aws:PrincipalArn` condition narrows the account to named roles or users, the trust is already
    narrowed by the other account's owner, and AWS's guide for accounts you own uses no external id:
    the audit cannot tell a sibling account from a third party, so the finding is low and says when it
    matters (the baseline's `trusted_principals` is where a team lists its own accounts).
    """
    if ctx.trust is None or not ctx.role.account_id:
        return
    for statement in ctx.trust.statements:
        if statement.not_principal or not can_assume(statement, (ASSUME_ROLE,)):
            continue
        if conditions_pinning(statement.conditions, EXTERNAL_ID):
            continue
        foreign = [
            p
            for p in statement_principals(statement)
            if p.kind == "AWS" and p.account is not None and p.account != ctx.role.account_id
        ]
        if not foreign:
            continue
        mfa = mfa_required(statement.conditions)
        where = statement_location(statement)
        names = ", ".join(p.value for p in foreign)
        detail = (
            f"Role {ctx.role.name} (account {ctx.role.account_id}) can be assumed from account(s) "
            f"{', '.join(sorted({p.account for p in foreign if p.account}))} by {names} ({where}) without an "
            "sts:ExternalId condition, so a third party acting for several customers can be tricked into "
            "using it for someone else."
        )
        if mfa:
            detail += " The statement requires MFA, so it most likely serves people rather than a third party."
        named_only = all(
            p.cls in (PrincipalClass.ROLE, PrincipalClass.USER, PrincipalClass.SESSION) for p in foreign
        ) or bool(conditions_pinning(statement.conditions, NAMED_PRINCIPALS))
        if named_only and not mfa:
            detail += (
                " The trust names particular principals, not the whole account: if that account is your own,"
                " no external id is needed; if it is a third party's, require one."
            )
        values = [p.value for p in foreign]
        fixed = with_principals_pinned(
            ctx,
            statement,
            "AWS",
            values,
            operator="StringEquals",
            key="sts:ExternalId",
            value="REPLACE_WITH_EXTERNAL_ID",
        )
        yield ctx.finding(
            "trust-cross-account-without-external-id",
            detail,
            actions=[ASSUME_ROLE],
            evidence=[where, *(p.label for p in foreign)],
            cli=[update_trust_cli(ctx.role)],
            policy=fixed,
            severity=Severity.LOW if mfa or named_only else None,
        )
