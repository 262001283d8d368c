"""trust-vacuous-condition: a `ForAllValues:` operator is true when the request carries no value for
the key at all (the empty set is a subset of anything), and so is an `...IfExists` operator. A trust
statement whose only guard on the caller's identity or token claims is such a condition admits a
caller that simply omits the key: a bypass. A `Null` check requiring the key (`"Null": {key: "false"}`)
in the same statement closes it.
"""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding, Severity
from rolewatch.policy.document import Condition, Statement
from rolewatch.principals import (
    PrincipalClass,
)
from rolewatch.remediation import update_trust_cli
from rolewatch.rules.registry import RuleContext, rule
from rolewatch.rules.trust.pins import IDENTITY_PINS, describe
from rolewatch.rules.trust.statements import (
    ASSUME_ACTIONS,
    admits_everyone,
    allows_action,
    can_assume,
    raw_statement,
    replace_statement,
    statement_location,
    statement_principals,
)


@rule
def trust_vacuous_condition(ctx: RuleContext) -> Iterator[Finding]:
    if ctx.trust is None:
        return
    for statement in ctx.trust.statements:
        if not can_assume(statement) or statement.principals is None:
            continue
        vacuous = [
            c
            for c in statement.conditions
            if _vacuous(c)
            and _is_claim_or_identity_key(c.key.lower())
            and not _required_elsewhere(statement, c.key.lower())
        ]
        if not vacuous:
            continue
        principals = statement_principals(statement)
        open_door = admits_everyone(statement) or any(
            p.cls
            in (
                PrincipalClass.WILDCARD,
                PrincipalClass.OIDC_PROVIDER,
                PrincipalClass.SAML_PROVIDER,
                PrincipalClass.WEB_IDENTITY,
            )
            for p in principals
        )
        where = statement_location(statement)
        fixed = raw_statement(ctx, statement)
        null_checks = fixed.setdefault("Condition", {}).setdefault("Null", {})
        for c in vacuous:
            null_checks[c.key] = "false"
        yield ctx.finding(
            "trust-vacuous-condition",
            f"Role {ctx.role.name}: {where} relies on {describe(vacuous)}, which is true when the request carries "
            "no value for the key, so a caller that omits it passes the check.",
            actions=[a for a in ASSUME_ACTIONS if allows_action(statement, a)],
            evidence=[where, *(f"{c.operator} {c.key}" for c in vacuous)],
            cli=[update_trust_cli(ctx.role)],
            policy=replace_statement(ctx, statement, [fixed]),
            severity=Severity.HIGH if open_door else None,
        )


def _vacuous(condition: Condition) -> bool:
    return condition.qualifier == "ForAllValues" or condition.if_exists


def _required_elsewhere(statement: Statement, key: str) -> bool:
    """A `Null` check in the same statement that makes the key mandatory."""
    return any(
        c.base == "Null" and c.key.lower() == key and [v.lower() for v in c.values] == ["false"]
        for c in statement.conditions
    )


def _is_claim_or_identity_key(key: str) -> bool:
    return (
        key in IDENTITY_PINS
        or key == "sts:externalid"
        or key.startswith(("aws:principaltag/", "saml:"))
        or (":" in key and key.rsplit(":", 1)[-1] in ("sub", "aud", "amr", "oaud", "job_workflow_ref", "repository"))
    )
