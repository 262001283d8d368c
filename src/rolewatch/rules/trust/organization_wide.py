"""trust-organization-wide: `"AWS": "*"` (or an Allow with NotPrincipal) pinned only by
aws:PrincipalOrgID / aws:PrincipalOrgPaths admits every principal of the organisation (or of the
OUs named): not public, but wider than most roles need. Reported low, naming the organisation, never
as public and never silently.
"""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding
from rolewatch.remediation import update_trust_cli
from rolewatch.rules.registry import RuleContext, rule
from rolewatch.rules.trust.pins import IDENTITY_PINS, conditions_pinning, describe
from rolewatch.rules.trust.statements import (
    ASSUME_ACTIONS,
    admits_everyone,
    allows_action,
    can_assume,
    raw_statement,
    replace_statement,
    statement_location,
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
