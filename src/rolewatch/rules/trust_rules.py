"""Rules over a role's trust policy: who may assume the role, and under which conditions.

Every rule reads `ctx.trust` (the parsed AssumeRolePolicyDocument) and produces nothing when it is
None (no trust policy, or one that did not parse: that is reported as an input error elsewhere).

How conditions are read (keys compare case-insensitively):
- only operators that *require* a value narrow anything: StringEquals, StringEqualsIgnoreCase,
  StringLike, ArnEquals, ArnLike (and Bool "true" for MFA, IpAddress for network origin). Negated
  operators (StringNotEquals, ...) exclude some callers and admit every other one;
- a `...IfExists` operator passes when the key is absent from the request, and `ForAllValues:` passes
  when the key has no value at all, so neither is relied on; `ForAnyValue:` is read as the plain operator;
- StringLike/ArnLike/ArnEquals values are patterns; a value without `*` or `?` is an exact match, and
  what a pattern pins is its literal part before the first wildcard.

Each finding names the statement (`AssumeRolePolicyDocument.Statement[i]`) and the principal at fault,
and carries a corrected trust policy: the same document with the missing condition added (the
statement split when only some of its principals need it), with a REPLACE_WITH_... placeholder only
where the value cannot be known from the role.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from rolewatch.model import Finding, Severity
from rolewatch.policy.document import Condition, Statement, decode_document
from rolewatch.policy.globs import glob_match
from rolewatch.principals import (
    PrincipalClass,
    TrustPrincipal,
    classify_principal,
    partition_of_arn,
)
from rolewatch.remediation import update_trust_cli
from rolewatch.rules.registry import RuleContext, rule

ASSUME_ROLE = "sts:AssumeRole"
ASSUME_WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
ASSUME_SAML = "sts:AssumeRoleWithSAML"
ASSUME_ACTIONS = (ASSUME_ROLE, ASSUME_WEB_IDENTITY, ASSUME_SAML)

PIN_OPERATORS = {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"}
PATTERN_OPERATORS = {"StringLike", "ArnLike", "ArnEquals"}  # ArnEquals accepts wildcards like ArnLike
SAML_AUDIENCE = "https://signin.aws.amazon.com/saml"


# -- statements -----------------------------------------------------------------------------------
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


# -- conditions -----------------------------------------------------------------------------------
def required_values(condition: Condition) -> tuple[str, ...] | None:
    """The values a condition requires its key to match, or None when it does not require one."""
    if condition.if_exists or condition.qualifier == "ForAllValues":
        return None
    if condition.base not in PIN_OPERATORS:
        return None
    return condition.values


def literal_head(condition: Condition, value: str) -> tuple[str, bool]:
    """The literal part a value pins, and whether a wildcard follows it (only pattern operators have them)."""
    if condition.base not in PATTERN_OPERATORS:
        return value, False
    wildcard = re.search(r"[*?]", value)
    return (value, False) if wildcard is None else (value[: wildcard.start()], True)


ValueCheck = Callable[[str, bool], bool]  # (literal head, wildcard follows) -> does it pin the key?


def _exact(head: str, wild: bool) -> bool:
    return bool(head) and not wild


def _non_trivial(head: str, wild: bool) -> bool:
    return bool(head)


def _arn_account_pinned(head: str, wild: bool) -> bool:
    """The ARN's account is fixed (or, for an S3 ARN without one, the bucket name begins literally)."""
    if not wild:
        return bool(head)
    parts = head.split(":")
    if len(parts) < 6:
        return False
    return bool(parts[4]) or bool(parts[5])


def _arn_resource_pinned(head: str, wild: bool) -> bool:
    """The ARN names more than a whole account: `...:role/ci-*` does, `...:role/*` and `...:*` do not."""
    if not wild:
        return bool(head)
    parts = head.split(":", 5)
    if len(parts) < 6 or not parts[4]:
        return False
    _, slash, name = parts[5].partition("/")
    return bool(slash and name)


def _org_path_pinned(head: str, wild: bool) -> bool:
    return _exact(head, wild) or (head.startswith("o-") and "/" in head)


def conditions_pinning(conditions: Iterable[Condition], checks: dict[str, ValueCheck]) -> list[Condition]:
    """The conditions that require one of `checks`' keys to take values that each pass the key's check."""
    out = []
    for condition in conditions:
        check = _check_for(condition.key.lower(), checks)
        values = required_values(condition)
        if check is None or not values:
            continue
        if all(check(*literal_head(condition, value)) for value in values):
            out.append(condition)
    return out


def _check_for(key: str, checks: dict[str, ValueCheck]) -> ValueCheck | None:
    if key in checks:
        return checks[key]
    for name, check in checks.items():
        if name.endswith("/") and key.startswith(name):  # tag keys: aws:PrincipalTag/team
            return check
    return None


def _mfa_required(conditions: Iterable[Condition]) -> list[Condition]:
    return [
        c
        for c in conditions
        if c.key.lower() == "aws:multifactorauthpresent"
        and c.base == "Bool"
        and not c.if_exists  # BoolIfExists passes for long-term keys, which carry no MFA context
        and [v.lower() for v in c.values] == ["true"]
    ]


def _network_restricted(conditions: Iterable[Condition]) -> list[Condition]:
    out = []
    for c in conditions:
        key = c.key.lower()
        if c.if_exists or c.qualifier == "ForAllValues":
            continue
        source_ip = key == "aws:sourceip" and c.base == "IpAddress" and not any(v.endswith("/0") for v in c.values)
        vpc = key in ("aws:sourcevpc", "aws:sourcevpce") and required_values(c) and not any("*" in v for v in c.values)
        if source_ip or vpc:
            out.append(c)
    return out


# Keys that pin *who* the caller is (organisation, account, principal, or the resource a service acts for).
IDENTITY_PINS: dict[str, ValueCheck] = {
    "aws:principalorgid": _exact,
    "aws:principalorgpaths": _org_path_pinned,
    "aws:principalaccount": _exact,
    "aws:principalarn": _arn_account_pinned,
    "aws:userid": _non_trivial,
    "aws:sourceaccount": _exact,
    "aws:sourcearn": _arn_account_pinned,
    "aws:sourceorgid": _exact,
    "aws:sourceorgpaths": _org_path_pinned,
}
# Keys that narrow a wildcard without pinning an identity: any account can meet them.
WEAK_PINS: dict[str, ValueCheck] = {
    "sts:externalid": _non_trivial,
    "aws:principaltag/": _non_trivial,
}
# Keys that narrow a whole-account trust to some of the account's principals.
ACCOUNT_NARROWING: dict[str, ValueCheck] = {
    "aws:principalarn": _arn_resource_pinned,
    "aws:userid": _non_trivial,
    "aws:principaltag/": _non_trivial,
    "sts:externalid": _non_trivial,
    "aws:sourceidentity": _non_trivial,
    "sts:sourceidentity": _non_trivial,
}
EXTERNAL_ID: dict[str, ValueCheck] = {"sts:externalid": _non_trivial}
SOURCE_PINS: dict[str, ValueCheck] = {
    "aws:sourceaccount": _exact,
    "aws:sourcearn": _arn_account_pinned,
    "aws:sourceorgid": _exact,
    "aws:sourceorgpaths": _org_path_pinned,
}


def describe(conditions: Iterable[Condition]) -> str:
    return "; ".join(f"{c.operator} {c.key}={list(c.values)}" for c in conditions)


# -- corrected documents --------------------------------------------------------------------------
def trust_document(ctx: RuleContext) -> dict[str, Any]:
    """A deep copy of the raw trust policy, with `Statement` always a list (indexes match ctx.trust)."""
    document = copy.deepcopy(decode_document(ctx.role.trust_policy))
    body = document["Statement"]
    document["Statement"] = [body] if isinstance(body, dict) else body
    return document


def _index(ctx: RuleContext, statement: Statement) -> int:
    # By identity: two identical statements compare equal, but each has its own place.
    statements = ctx.trust.statements if ctx.trust else ()
    return next(i for i, s in enumerate(statements) if s is statement)


def replace_statement(ctx: RuleContext, statement: Statement, replacement: list[dict[str, Any]]) -> dict[str, Any]:
    """The trust policy with one statement replaced by `replacement` (one or more statements)."""
    document = trust_document(ctx)
    index = _index(ctx, statement)
    document["Statement"][index : index + 1] = replacement
    return document


def raw_statement(ctx: RuleContext, statement: Statement) -> dict[str, Any]:
    return copy.deepcopy(trust_document(ctx)["Statement"][_index(ctx, statement)])


def split_principals(raw: dict[str, Any], kind: str, values: list[str]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Move `values` of one principal kind into a statement of their own: (what remains or None, moved)."""
    principal = raw.get("Principal")
    moved = copy.deepcopy(raw)
    moved["Principal"] = {kind: values[0] if len(values) == 1 else list(values)}
    if not isinstance(principal, dict):
        return None, moved
    remaining: dict[str, Any] = {}
    for k, v in principal.items():
        kept = [x for x in ([v] if isinstance(v, str) else v) if not (k == kind and x in values)]
        if kept:
            remaining[k] = kept[0] if len(kept) == 1 else kept
    if not remaining:
        return None, moved
    rest = copy.deepcopy(raw)
    rest["Principal"] = remaining
    if moved.get("Sid"):
        moved["Sid"] = f"{moved['Sid']}Restricted"  # Sids must stay unique within the policy
    return rest, moved


def add_condition(raw: dict[str, Any], operator: str, key: str, value: str | list[str]) -> dict[str, Any]:
    block = raw.setdefault("Condition", {}).setdefault(operator, {})
    block[key] = value
    return raw


def remove_condition_keys(raw: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    """Drop every condition on the (lower-case) keys, whatever the operator; empty blocks go too."""
    conditions = raw.get("Condition")
    if not isinstance(conditions, dict):
        return raw
    for operator in list(conditions):
        block = conditions[operator]
        for key in [k for k in block if k.lower() in keys]:
            del block[key]
        if not block:
            del conditions[operator]
    if not conditions:
        del raw["Condition"]
    return raw


def _worst(severities: Iterable[Severity | None]) -> Severity | None:
    present = [s for s in severities if s is not None]
    return max(present, key=lambda s: s.rank) if present else None


def _best(severities: list[Severity | None]) -> Severity | None:
    """The least severe; None (no risk) beats every severity."""
    present = [s for s in severities if s is not None]
    if not present or len(present) < len(severities):
        return None
    return min(present, key=lambda s: s.rank)


# -- trust-wildcard-principal ---------------------------------------------------------------------
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
            + _mfa_required(statement.conditions)
            + _network_restricted(statement.conditions)
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


def admits_everyone(statement: Statement) -> bool:
    """Principal "*" (or {"AWS": "*"}), or an Allow with NotPrincipal: every principal but those listed."""
    if statement.principals is None:
        return False
    if statement.not_principal:
        # Allow + NotPrincipal admits everyone but the listed principals ("everyone but everyone" is no one).
        return not statement.principals.is_wildcard
    return statement.principals.is_wildcard


def _wildcard_label(statement: Statement) -> str:
    if statement.not_principal and statement.principals is not None:
        listed = ", ".join(f"{k}={v}" for k, v in statement.principals.all_values())
        return f"NotPrincipal ({listed}): every principal except those"
    return "Principal.AWS=*"


# -- trust-cross-account-without-external-id ------------------------------------------------------
@rule
def trust_cross_account_without_external_id(ctx: RuleContext) -> Iterator[Finding]:
    """An AWS principal of another account may assume the role without presenting an sts:ExternalId.

    The account comes from the principal (ARN or bare id) and is compared with the role's own (from its
    ARN); unique ids (AROA...) of deleted principals name no account and are skipped. The external id
    counts when a condition *requires* it (StringEquals/StringLike/...IgnoreCase, not IfExists, whose
    check is skipped when the caller sends none, and not a bare "*"). When the statement requires MFA
    the trust serves people, for whom AWS does not use external ids: the finding is lowered to low.
    When every foreign principal is a named role or user (not a whole account), the trust is already
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
        mfa = _mfa_required(statement.conditions)
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
        named_only = all(p.cls in (PrincipalClass.ROLE, PrincipalClass.USER, PrincipalClass.SESSION) for p in foreign)
        if named_only and not mfa:
            detail += (
                " The trust names particular principals, not the whole account: if that account is your own,"
                " no external id is needed; if it is a third party's, require one."
            )
        rest, moved = split_principals(raw_statement(ctx, statement), "AWS", [p.value for p in foreign])
        add_condition(moved, "StringEquals", "sts:ExternalId", "REPLACE_WITH_EXTERNAL_ID")
        yield ctx.finding(
            "trust-cross-account-without-external-id",
            detail,
            actions=[ASSUME_ROLE],
            evidence=[where, *(p.label for p in foreign)],
            cli=[update_trust_cli(ctx.role)],
            policy=replace_statement(ctx, statement, [s for s in (rest, moved) if s is not None]),
            severity=Severity.LOW if mfa or named_only else None,
        )


# -- trust-account-root ---------------------------------------------------------------------------
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
        if conditions_pinning(statement.conditions, ACCOUNT_NARROWING) or _mfa_required(statement.conditions):
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
    rest, moved = split_principals(raw_statement(ctx, statement), "AWS", [root.value])
    trusted_role = f"arn:{partition}:iam::{root.account}:role/REPLACE_WITH_TRUSTED_ROLE_NAME"
    add_condition(moved, "ArnEquals", "aws:PrincipalArn", trusted_role)
    return ctx.finding(
        "trust-account-root",
        detail,
        actions=[ASSUME_ROLE],
        evidence=[where, root.label],
        cli=[update_trust_cli(ctx.role)],
        policy=replace_statement(ctx, statement, [s for s in (rest, moved) if s is not None]),
        severity=None if own else Severity.HIGH,
    )


# -- trust-oidc-unscoped --------------------------------------------------------------------------
@dataclass(frozen=True)
class OidcScheme:
    """How one identity provider's tokens must be pinned, and how bad each gap is."""

    provider: str
    subject_claim: str  # "sub", or "amr" for Cognito
    expected_audience: str | None  # the only acceptable aud, when the provider documents one
    audience_missing: Severity
    subject_missing: Severity
    subject_risk: Callable[[str], Severity | None]  # literal head of a wildcard subject -> risk
    suggest_subject: Callable[[str], str]  # an existing subject value -> a pinned one
    subject_operator: str = "StringEquals"
    audience_placeholder: str = "REPLACE_WITH_AUDIENCE"
    audience_claim: str = "aud"  # Login with Amazon and Facebook name the client app_id


def _github_risk(head: str) -> Severity | None:
    if not head.startswith("repo:"):
        # `*`, `repo*`: any owner. A custom sub template (repository_owner:...) we cannot parse: high.
        return Severity.CRITICAL if "repo:".startswith(head) else Severity.HIGH
    _owner, slash, rest = head.removeprefix("repo:").partition("/")
    if not slash:
        return Severity.CRITICAL  # the owner is open: anyone can create a matching organisation
    if ":" not in rest:
        return Severity.HIGH  # every repository of the owner (`repo:org/*`, `repo:org/app*`)
    # `repo:org/repo:*`: any branch, tag, environment or pull request of one repository. GitHub's own
    # documentation shows this form; the risk is anyone who can push a branch there: low.
    return Severity.LOW


def _github_subject(value: str) -> str:
    match = re.match(r"^repo:([^*?/:]+)/([^*?/:]*)", value)
    owner = match.group(1) if match else "REPLACE_WITH_ORG"
    repo = match.group(2) if match and match.group(2) and not _followed_by_wildcard(value, match.end()) else None
    return f"repo:{owner}/{repo or 'REPLACE_WITH_REPO'}:ref:refs/heads/main"


def _followed_by_wildcard(value: str, end: int) -> bool:
    return end < len(value) and value[end] in "*?"


def _eks_risk(head: str) -> Severity | None:
    prefix = "system:serviceaccount:"
    if not head.startswith(prefix):
        return Severity.HIGH  # any service account of any namespace of the cluster
    _namespace, colon, _account = head.removeprefix(prefix).partition(":")
    return Severity.MEDIUM if colon else Severity.HIGH


def _eks_subject(value: str) -> str:
    match = re.match(r"^system:serviceaccount:([^*?:]+):([^*?:]*)", value)
    namespace = match.group(1) if match else "REPLACE_WITH_NAMESPACE"
    account = match.group(2) if match and match.group(2) and not _followed_by_wildcard(value, match.end()) else None
    return f"system:serviceaccount:{namespace}:{account or 'REPLACE_WITH_SERVICE_ACCOUNT'}"


def _gitlab_risk(head: str) -> Severity | None:
    prefix = "project_path:"
    if not head.startswith(prefix):
        return Severity.CRITICAL if prefix.startswith(head) else Severity.HIGH
    path, colon, _ = head.removeprefix(prefix).partition(":")
    if colon:
        return Severity.LOW  # one project, any ref
    return Severity.HIGH if "/" in path else Severity.CRITICAL


def _gitlab_subject(value: str) -> str:
    match = re.match(r"^project_path:([^*?:]+)/([^*?:/]+)(?=:)", value)
    path = f"{match.group(1)}/{match.group(2)}" if match else "REPLACE_WITH_GROUP/REPLACE_WITH_PROJECT"
    return f"project_path:{path}:ref_type:branch:ref:main"


def _terraform_risk(head: str) -> Severity | None:
    prefix = "organization:"
    if not head.startswith(prefix):
        return Severity.CRITICAL if prefix.startswith(head) else Severity.HIGH
    colons = head.removeprefix(prefix).count(":")
    if colons == 0:
        return Severity.CRITICAL  # any organisation
    if colons <= 2:
        return Severity.HIGH  # any project of the organisation
    if colons <= 4:
        return Severity.MEDIUM  # any workspace of the project
    return None  # only the run phase is open: HashiCorp's documented `run_phase:*` form


def _terraform_subject(value: str) -> str:
    parts = dict(re.findall(r"(organization|project|workspace):([^*?:]+)(?=:)", value))
    organization = parts.get("organization", "REPLACE_WITH_ORG")
    project = parts.get("project", "REPLACE_WITH_PROJECT")
    workspace = parts.get("workspace", "REPLACE_WITH_WORKSPACE")
    return f"organization:{organization}:project:{project}:workspace:{workspace}:run_phase:*"


GITHUB = OidcScheme(
    "GitHub Actions", "sub", "sts.amazonaws.com", Severity.MEDIUM, Severity.CRITICAL, _github_risk, _github_subject
)
EKS = OidcScheme(
    # The provider is one cluster: an open subject exposes the role to that cluster's workloads only.
    "EKS (IRSA)",
    "sub",
    "sts.amazonaws.com",
    Severity.LOW,
    Severity.HIGH,
    _eks_risk,
    _eks_subject,
)
GITLAB = OidcScheme("GitLab CI", "sub", None, Severity.MEDIUM, Severity.CRITICAL, _gitlab_risk, _gitlab_subject)
TERRAFORM = OidcScheme(
    "HCP Terraform",
    "sub",
    None,
    Severity.MEDIUM,
    Severity.CRITICAL,
    _terraform_risk,
    _terraform_subject,
    subject_operator="StringLike",
)
COGNITO = OidcScheme(
    # Without aud any identity pool of any account gets in; without amr, unauthenticated guests too.
    "Amazon Cognito",
    "amr",
    None,
    Severity.CRITICAL,
    Severity.MEDIUM,
    lambda head: Severity.MEDIUM,
    lambda value: "authenticated",
    subject_operator="ForAnyValue:StringLike",
    audience_placeholder="REPLACE_WITH_IDENTITY_POOL_ID",
)
GENERIC = OidcScheme(
    "OIDC",
    "sub",
    None,
    Severity.HIGH,  # aud names the client application: without it, tokens for any client of the issuer
    Severity.MEDIUM,
    lambda head: Severity.HIGH if not head else Severity.MEDIUM,
    lambda value: "REPLACE_WITH_SUBJECT",
)


def oidc_scheme(issuer: str) -> OidcScheme:
    host = issuer.lower()
    if host == "token.actions.githubusercontent.com" or host.startswith("token.actions.githubusercontent.com/"):
        return GITHUB  # the second form is an enterprise's own issuer path
    if re.match(r"^oidc\.eks\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/id/", host):
        return EKS
    if host == "gitlab.com":
        return GITLAB
    if host == "app.terraform.io":
        return TERRAFORM
    if host == "cognito-identity.amazonaws.com":
        return COGNITO
    if host in ("www.amazon.com", "graph.facebook.com"):
        return replace(GENERIC, audience_claim="app_id")
    return GENERIC


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
        f"so tokens issued to other {_audience_noun(scheme)} can assume it."
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


def _audience_noun(scheme: OidcScheme) -> str:
    return {
        "GitHub Actions": "repositories or workflows",
        "EKS (IRSA)": "service accounts of the cluster",
        "GitLab CI": "projects or pipelines",
        "HCP Terraform": "organisations or workspaces",
        "Amazon Cognito": "identity pools or unauthenticated identities",
    }.get(scheme.provider, "clients or subjects")


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


# -- trust-saml-without-audience ------------------------------------------------------------------
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


# -- trust-service-confused-deputy ----------------------------------------------------------------
# Services that assume a customer's role while acting for many customers, and whose documentation
# shows aws:SourceAccount / aws:SourceArn in that role's trust policy: another account could point
# its own resource (topic, trail, rule, vault, ...) at this role unless the trust pins the source.
CONFUSED_DEPUTY_SERVICES = frozenset(
    {
        "sns",  # delivery-status logging, SMS
        "s3",  # replication
        "batchoperations.s3",
        "cloudtrail",  # CloudWatch Logs delivery
        "config",
        "events",  # EventBridge targets
        "scheduler",  # EventBridge Scheduler
        "pipes",  # EventBridge Pipes
        "logs",  # subscription filters, destinations
        "delivery.logs",  # vended logs (VPC flow logs, ...)
        "backup",
        "firehose",
        "states",  # Step Functions
        "transfer",  # Transfer Family logging and users
        "datasync",
        "ssm",  # hybrid activations, Automation
        "monitoring.rds",  # RDS Enhanced Monitoring
        "dms",
        "appsync",
        "iot",
        "kinesisanalytics",
        "bedrock",  # knowledge bases, model customisation
    }
)
# Execution-role services: the role is handed to a compute resource the account itself launches
# (instance, function, task, pod, job, notebook). AWS does not recommend source conditions there and
# several of them fail with one, so these are exempt: no noise for the commonest roles of all.
EXECUTION_ROLE_SERVICES = frozenset(
    {
        "ec2",
        "lambda",
        "edgelambda",
        "ecs-tasks",
        "ecs",
        "eks",
        "eks-fargate-pods",
        "pods.eks",  # EKS Pod Identity
        "batch",
        "spotfleet",
        "elasticbeanstalk",
        "elasticmapreduce",
        "emr-serverless",
        "emr-containers",
        "glue",
        "sagemaker",
        "build.apprunner",
        "tasks.apprunner",
        "airflow",
        "airflow-env",
        "codedeploy",
        "cloudformation",
        # Build and pipeline roles run the account's own build code; their documentation recommends
        # source conditions, but the roles behave like execution roles and flagging them all is noise.
        "codebuild",
        "codepipeline",
    }
)
# Any other service is left alone (neither list): where AWS has not documented source conditions for
# a service, asking for them would be noise or would break the role.


@rule
def trust_service_confused_deputy(ctx: RuleContext) -> Iterator[Finding]:
    """A cross-customer service may assume the role with no aws:SourceAccount/SourceArn/SourceOrgID pin.

    Only services in CONFUSED_DEPUTY_SERVICES are checked; execution-role services (EC2, Lambda, ECS
    tasks, EKS, ...: EXECUTION_ROLE_SERVICES) are exempt, and unlisted services are not judged. A pin
    counts when it requires an exact account (or an ARN whose account is fixed) without IfExists.
    """
    if ctx.trust is None:
        return
    for statement in ctx.trust.statements:
        if statement.not_principal or not can_assume(statement, (ASSUME_ROLE,)):
            continue
        services = [
            p for p in statement_principals(statement) if p.cls is PrincipalClass.SERVICE and _confused_deputy_prone(p)
        ]
        if not services or conditions_pinning(statement.conditions, SOURCE_PINS):
            continue
        where = statement_location(statement)
        names = ", ".join(p.value for p in services)
        account = ctx.role.account_id or "REPLACE_WITH_ACCOUNT_ID"
        detail = (
            f"Role {ctx.role.name} trusts {names} ({where}) without an aws:SourceAccount, aws:SourceArn or "
            "aws:SourceOrgID condition, so the service could be made to use it for another account's resource."
        )
        rest, moved = split_principals(raw_statement(ctx, statement), "Service", [p.value for p in services])
        add_condition(moved, "StringEquals", "aws:SourceAccount", account)
        yield ctx.finding(
            "trust-service-confused-deputy",
            detail,
            actions=[ASSUME_ROLE],
            evidence=[where, *(p.label for p in services)],
            cli=[update_trust_cli(ctx.role)],
            policy=replace_statement(ctx, statement, [s for s in (rest, moved) if s is not None]),
        )


def _confused_deputy_prone(principal: TrustPrincipal) -> bool:
    name = principal.name or ""
    return name in CONFUSED_DEPUTY_SERVICES and name not in EXECUTION_ROLE_SERVICES
