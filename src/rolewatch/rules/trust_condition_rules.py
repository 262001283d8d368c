"""Trust conditions that decide who may assume a role, read the way IAM evaluates them.

- `trust-organization-wide`: `"AWS": "*"` (or an Allow with NotPrincipal) pinned only by
  aws:PrincipalOrgID / aws:PrincipalOrgPaths admits every principal of the organisation (or of the
  OUs named): not public, but wider than most roles need. Reported low, naming the organisation, never
  as public and never silently.
- `trust-vacuous-condition`: a `ForAllValues:` operator is true when the request carries no value for
  the key at all (the empty set is a subset of anything), and so is an `...IfExists` operator. A trust
  statement whose only guard on the caller's identity or token claims is such a condition admits a
  caller that simply omits the key: a bypass. A `Null` check requiring the key (`"Null": {key: "false"}`)
  in the same statement closes it.
"""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding, Severity
from rolewatch.policy.document import Condition, Statement
from rolewatch.principals import PrincipalClass
from rolewatch.remediation import update_trust_cli
from rolewatch.rules.registry import RuleContext, rule
from rolewatch.rules.trust_rules import (
    ASSUME_ACTIONS,
    IDENTITY_PINS,
    admits_everyone,
    allows_action,
    can_assume,
    conditions_pinning,
    describe,
    raw_statement,
    replace_statement,
    statement_location,
    statement_principals,
)

ORGANIZATION_KEYS = {"aws:principalorgid", "aws:principalorgpaths"}


@rule
def trust_organization_wide(ctx: RuleContext) -> Iterator[Finding]:
    if ctx.trust is None:
        return
    for statement in ctx.trust.statements:
        if not can_assume(statement) or not admits_everyone(statement):
            continue
        pins = conditions_pinning(statement.conditions, IDENTITY_PINS)
        if not pins or any(c.key.lower() not in ORGANIZATION_KEYS for c in pins):
            continue  # no pin (trust-wildcard-principal), or one that names an account or principal
        scope = ", ".join(sorted({v for c in pins for v in c.values}))
        where = statement_location(statement)
        fixed = raw_statement(ctx, statement)
        fixed.pop("NotPrincipal", None)
        fixed["Principal"] = {"AWS": "*"}
        conditions = fixed.setdefault("Condition", {})
        conditions.setdefault("ArnLike", {})["aws:PrincipalArn"] = "arn:aws:iam::*:role/REPLACE_WITH_CALLER_ROLE"
        yield ctx.finding(
            "trust-organization-wide",
            f"Role {ctx.role.name} can be assumed by any principal of organisation scope {scope} ({where}): "
            "not public, but every account and role there, present and future, is trusted.",
            actions=[a for a in ASSUME_ACTIONS if allows_action(statement, a)],
            evidence=[where, describe(pins)],
            cli=[update_trust_cli(ctx.role)],
            policy=replace_statement(ctx, statement, [fixed]),
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
