"""Trust statements: which sts:AssumeRole* actions they allow, where they sit, whom they name."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from rolewatch.policy.document import Statement
from rolewatch.policy.globs import glob_match
from rolewatch.principals import (
    TrustPrincipal,
    classify_principal,
)
from rolewatch.remediation import trust_document as trust_edits
from rolewatch.rules.registry import RuleContext

ASSUME_ROLE = "sts:AssumeRole"
ASSUME_WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"


ASSUME_SAML = "sts:AssumeRoleWithSAML"
ASSUME_ACTIONS = (ASSUME_ROLE, ASSUME_WEB_IDENTITY, ASSUME_SAML)


def allows_action(statement: Statement, action: str) -> bool:
    """Does this Allow statement's Action/NotAction cover the action?"""
    if not statement.allows:
        return False
    return _names_action(statement.actions, action.lower()) != statement.not_action


@lru_cache(maxsize=4096)
def _names_action(patterns: tuple[str, ...], action: str) -> bool:
    """Cached: most roles share one of a few trust policies, asked about by every trust rule."""
    return any(glob_match(pattern.lower(), action) for pattern in patterns)


def can_assume(statement: Statement, actions: Iterable[str] = ASSUME_ACTIONS) -> bool:
    return any(allows_action(statement, action) for action in actions)


def statement_location(statement: Statement) -> str:
    """`AssumeRolePolicyDocument.Statement[0]`, whatever prefix the parser was given."""
    location = statement.location
    at = location.find("AssumeRolePolicyDocument")
    return location[at:] if at >= 0 else f"AssumeRolePolicyDocument.{location}".rstrip(".")


def statement_principals(statement: Statement) -> list[TrustPrincipal]:
    if statement.principals is None:
        return []
    return [classify_principal(kind, value) for kind, value in statement.principals.all_values()]


def admits_everyone(statement: Statement) -> bool:
    """Principal "*" (or {"AWS": "*"}), or an Allow with NotPrincipal: every principal but those listed."""
    if statement.principals is None:
        return False
    if statement.not_principal:
        # Allow + NotPrincipal admits everyone but the listed principals ("everyone but everyone" is no one).
        return not statement.principals.is_wildcard
    return statement.principals.is_wildcard


# -- the rule context's trust document, for the corrected policies the findings carry ----------------
def trust_document(ctx: RuleContext) -> dict[str, Any]:
    """A deep copy of the role's raw trust policy, with `Statement` always a list."""
    return trust_edits.trust_document(ctx.role.trust_policy)


def raw_statement(ctx: RuleContext, statement: Statement) -> dict[str, Any]:
    return trust_edits.raw_statement(ctx.role.trust_policy, _statements(ctx), statement)


def replace_statement(ctx: RuleContext, statement: Statement, replacement: list[dict[str, Any]]) -> dict[str, Any]:
    """The role's trust policy with one statement replaced by `replacement` (one or more statements)."""
    return trust_edits.replace_statement(ctx.role.trust_policy, _statements(ctx), statement, replacement)


def with_principals_pinned(
    ctx: RuleContext, statement: Statement, kind: str, values: list[str], *, operator: str, key: str, value: str
) -> dict[str, Any]:
    """The role's trust policy with the `kind` principals `values` moved out of the statement into a copy
    that also requires `operator` `key` = `value`; the statement's other principals keep it as it was."""
    rest, moved = trust_edits.split_principals(raw_statement(ctx, statement), kind, values)
    trust_edits.add_condition(moved, operator, key, value)
    return replace_statement(ctx, statement, [s for s in (rest, moved) if s is not None])


def _statements(ctx: RuleContext) -> tuple[Statement, ...]:
    return ctx.trust.statements if ctx.trust else ()
