"""trust-saml-without-audience: a SAML trust without an exact SAML:aud."""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding
from rolewatch.principals import (
    PrincipalClass,
)
from rolewatch.remediation import update_trust_cli
from rolewatch.remediation.trust_document import add_condition, remove_condition_keys
from rolewatch.rules.registry import RuleContext, rule
from rolewatch.rules.trust.pins import describe, literal_head, required_values
from rolewatch.rules.trust.statements import (
    ASSUME_SAML,
    can_assume,
    raw_statement,
    replace_statement,
    statement_location,
    statement_principals,
)

SAML_AUDIENCE = "https://signin.aws.amazon.com/saml"


@rule
def trust_saml_without_audience(ctx: RuleContext) -> Iterator[Finding]:
    """A SAML provider may assume the role (sts:AssumeRoleWithSAML) without an exact SAML:aud condition."""
    if ctx.trust is None:
        return
    for statement in ctx.trust.statements:
        if statement.not_principal or not can_assume(statement, (ASSUME_SAML,)):
            continue
        saml = [p for p in statement_principals(statement) if p.cls is PrincipalClass.SAML_PROVIDER]
        if not saml:
            continue
        on_aud = [c for c in statement.conditions if c.key.lower() == "saml:aud"]
        if any(required_values(c) and not any(literal_head(c, v)[1] for v in c.values) for c in on_aud):
            continue
        where = statement_location(statement)
        providers = ", ".join(p.value for p in saml)
        shown = f" ({describe(on_aud)} does not pin it)" if on_aud else ""
        detail = (
            f"Role {ctx.role.name} trusts SAML provider {providers} ({where}) without requiring SAML:aud{shown}, "
            "so assertions the identity provider issued for other service providers could be replayed to assume it."
        )
        fixed = remove_condition_keys(raw_statement(ctx, statement), {"saml:aud"})
        add_condition(fixed, "StringEquals", "SAML:aud", SAML_AUDIENCE)
        yield ctx.finding(
            "trust-saml-without-audience",
            detail,
            actions=[ASSUME_SAML],
            evidence=[where, *(p.label for p in saml), *(describe([c]) for c in on_aud)],
            cli=[update_trust_cli(ctx.role)],
            policy=replace_statement(ctx, statement, [fixed]),
        )
