"""Rules over a role's effective permissions: admin, service wildcards and access-level risks.

All of them read `ctx.permissions` (denies and the boundary already applied). A full administrator
gets one `admin-access` finding; the access-level rules stay silent for it, since admin subsumes them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache

from rolewatch.model import Finding, Severity
from rolewatch.policy.catalogue import (
    ACCESS_LIST,
    ACCESS_PERMISSIONS,
    ACCESS_READ,
    ACCESS_WRITE,
    ActionCatalogue,
    catalogue,
)
from rolewatch.policy.permissions import LabeledGrant, Permissions, format_conditions
from rolewatch.remediation import remove_grants_cli
from rolewatch.rules.excess import SENSITIVE_SERVICES, resource_level_actions
from rolewatch.rules.registry import RuleContext, rule

# Coverage of the catalogue, by actions allowed on every resource, from which a role is treated as an
# administrator. NotAction statements that exclude a handful of actions stay above it.
FULL_ADMIN_COVERAGE = 0.99
NEAR_ADMIN_COVERAGE = 0.80

# Reads that return data rather than configuration (data-exfiltration in the README: objects, secrets,
# parameters, table items, decrypted keys). The catalogue has no such class, so this is ours.
SENSITIVE_DATA_READS = (
    "s3:GetObject",
    "s3:GetObjectVersion",
    "secretsmanager:GetSecretValue",
    "secretsmanager:BatchGetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "ssm:GetParameterHistory",
    "kms:Decrypt",
    "dynamodb:Scan",
    "dynamodb:Query",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PartiQLSelect",
    "ebs:GetSnapshotBlock",
    "rds:DownloadDBLogFilePortion",
)

# policy_sentry's credentials-exposure list, checked against the README's categories ("obtaining credentials or
# secrets that act as credentials"). Analysed elsewhere: sts:AssumeRole* is role chaining (privilege
# escalation). Not credentials: iam:UpdateAccessKey only switches a key's status. Only IAM users can
# call sts:GetFederationToken and sts:GetSessionToken (AWS STS API reference), so a role holding them
# obtains nothing. A registry token for container pulls is expected on every container host.
CREDENTIALS_HANDLED_ELSEWHERE = {"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity"}
CREDENTIALS_NOT_OBTAINED = {"iam:updateaccesskey"}
CREDENTIALS_USERS_ONLY = {"sts:getfederationtoken", "sts:getsessiontoken"}
CREDENTIALS_LOW_RISK = {"ecr:getauthorizationtoken"}

# policy_sentry's resource-exposure list, checked against the README's categories ("changing who can reach a
# resource: resource policies, ACLs, sharing, public access settings; permissions management of
# principals is escalation, not exposure"). Left out: permissions of principals (IAM, Identity Center,
# directories, IoT policies attached to certificates, database users and groups, CodeStar and OpsWorks
# team members), passing a role to a service, credentials, and settings that grant no access
# (encryption, retrieval policy, replication, change tokens, directory creation).
EXPOSURE_PRINCIPAL_SERVICES = frozenset(
    {"iam", "sts", "sso", "sso-directory", "identitystore", "organizations", "cognito-identity", "cognito-idp"}
)
NOT_RESOURCE_EXPOSURE = frozenset(
    {
        "codestar:associateteammember",
        "codestar:createproject",
        "codestar:deleteproject",
        "codestar:disassociateteammember",
        "codestar:updateteammember",
        "connect:getfederationtoken",
        "connect:getfederationtokens",
        "deeplens:associateserviceroletoaccount",
        "greengrass:associateserviceroletoaccount",
        "ds:createconditionalforwarder",
        "ds:createdirectory",
        "ds:createidentitypooldirectory",
        "ds:createmicrosoftad",
        "glacier:setdataretrievalpolicy",
        "iot:attachpolicy",
        "iot:attachprincipalpolicy",
        "iot:detachpolicy",
        "iot:detachprincipalpolicy",
        "iot:setdefaultpolicyversion",
        "iot:createpolicy",
        "iot:createpolicyversion",
        "iot:deletepolicy",
        "iot:deletepolicyversion",
        "quicksight:createiampolicyassignment",
        "quicksight:deleteiampolicyassignment",
        "quicksight:updateiampolicyassignment",
        "bedrock-agentcore:authorizeaction",
        "bedrock-agentcore:partiallyauthorizeactions",
        "secretsmanager:validateresourcepolicy",
        "lambda:enablereplication",
        "lambda:disablereplication",
        "lightsail:getinstanceaccessdetails",
        "lightsail:getrelationaldatabasemasteruserpassword",
        "opsworks:setpermission",
        "opsworks:updateuserprofile",
        "ram:acceptresourceshareinvitation",
        "ram:rejectresourceshareinvitation",
        "rds-db:connect",
        "redshift:createclusteruser",
        "redshift:getclustercredentials",
        "redshift:joingroup",
        "redshift:modifyclusteriamroles",
        "redshift:rotateencryptionkey",
        "waf:getchangetoken",
        "waf-regional:getchangetoken",
        "xray:putencryptionconfig",
    }
)
# Permissions-management actions of other services count as exposure when their name says they change
# a resource's policy, permissions, ACL, sharing, grants or public access.
_EXPOSURE_VERB = re.compile(r"polic|permission|acl|shar|grant|publicaccess|authorize|revoke|attribute", re.I)

# Append-only telemetry writes: granting them on "*" is the documented norm, not a scoping failure.
TELEMETRY_WRITES = (
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "cloudwatch:PutMetricData",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
)

MAX_LISTED = 25


def admin_level(permissions: Permissions) -> str | None:
    """'full', 'near' or None: how much of the catalogue the role can do on every resource.
    Several rules ask for every role: the answer is kept on the permissions object."""
    memo = permissions.__dict__.get("_admin_level", _UNSET)
    if memo is _UNSET:
        memo = permissions.__dict__["_admin_level"] = _admin_level(permissions)
    return memo  # type: ignore[return-value]


_UNSET = object()


def _admin_level(permissions: Permissions) -> str | None:
    cat = permissions.catalogue
    everywhere = permissions.unrestricted & permissions.escalation
    coverage = everywhere.bit_count() / len(cat)
    iam_admin = cat.expand("iam:*")
    if coverage >= FULL_ADMIN_COVERAGE and (everywhere & iam_admin) == iam_admin:
        return "full"
    if coverage >= NEAR_ADMIN_COVERAGE:
        return "near"
    return None


def is_admin(ctx: RuleContext) -> bool:
    """Full or near administrators get one admin-access finding; the broad-access rules stay quiet."""
    return admin_level(ctx.permissions) is not None


def contributing(ctx: RuleContext, mask: int, everywhere: bool = False) -> list[str]:
    """Evidence: which policy statements grant (part of) the mask; with `everywhere`, only those that
    grant it on every resource (a statement scoped to named resources adds nothing to such a finding)."""
    out: list[str] = []
    for lg in granting(ctx, mask, everywhere):
        text = f"{lg.policy} {lg.grant.location}"
        if lg.grant.restricting:
            text += f" (only when {format_conditions(lg.grant.restricting)})"
        if text not in out:  # a statement a deny or the boundary split into pieces is one statement
            out.append(text)
    return out


def granting(ctx: RuleContext, mask: int, everywhere: bool = False) -> list[LabeledGrant]:
    """The role's grants that hold (part of) the mask: on any resource, or only on every resource."""
    if everywhere:
        return [lg for lg in ctx.permissions.grants if lg.unrestricted_mask & mask]
    return ctx.permissions.grants_for(mask)


def accepted_sources(ctx: RuleContext, grants: list[LabeledGrant]) -> list[str] | None:
    """The policies behind the grants when every one of them is accepted (see `is_accepted`); None
    when any grant comes from elsewhere."""
    labels: list[str] = []
    for lg in grants:
        if lg.policy in labels:
            continue
        if not is_accepted(ctx, lg.policy):
            return None
        labels.append(lg.policy)
    return labels or None


def is_accepted(ctx: RuleContext, label: str) -> bool:
    """An AWS-managed policy the baseline accepts as written (its `allowed_managed_policies`: AWS's
    documented policies for its own agents), or an AWS-managed read-only policy (AWS's job policies for
    reading a service, such as AmazonS3ReadOnlyAccess)."""
    if ":iam::aws:policy/" not in label:
        return False
    return ctx.profile.accepts_managed_policy(label) or _read_only_policy(ctx, label)


def _read_only_policy(ctx: RuleContext, label: str) -> bool:
    cat = ctx.permissions.catalogue
    reads = cat.level_mask(ACCESS_READ) | cat.level_mask(ACCESS_LIST)
    for name, compiled in ctx.policies:
        if name == label:
            return all(not (g.mask & ~reads) for g in compiled.allows)
    return False


def listed(cat: ActionCatalogue, mask: int, limit: int = MAX_LISTED) -> tuple[list[str], int]:
    names = cat.names_in(mask, limit)
    return names, mask.bit_count() - len(names)


def count_note(extra: int) -> str:
    return f" (+{extra} more)" if extra else ""


@rule
def admin_access(ctx: RuleContext) -> Iterator[Finding]:
    level = admin_level(ctx.permissions)
    if level is None:
        return
    perm = ctx.permissions
    cat = perm.catalogue
    everywhere = perm.unrestricted & perm.escalation
    conditional_only = (perm.unrestricted & perm.definite).bit_count() / len(cat) < NEAR_ADMIN_COVERAGE
    missing = cat.all & ~everywhere
    if level == "full":
        detail = f"{ctx.role.name} can perform every action on every resource"
        severity = Severity.HIGH if conditional_only else Severity.CRITICAL
    else:
        share = everywhere.bit_count() / len(cat)
        detail = (
            f"{ctx.role.name} can perform {share:.0%} of all AWS actions on every resource "
            f"(near-administrator: a NotAction or broad grant excludes only {missing.bit_count()} actions)"
        )
        severity = Severity.MEDIUM if conditional_only else Severity.HIGH
    if conditional_only:
        detail += ", but only under the conditions listed in the evidence"
    yield ctx.finding(
        "admin-access",
        detail + ".",
        actions=("*",),
        evidence=contributing(ctx, everywhere, everywhere=True),
        severity=severity,
        cli=_removal_cli(ctx, everywhere, everywhere=True),
    )


def _removal_cli(ctx: RuleContext, mask: int, everywhere: bool = False) -> list[str]:
    """CLI that takes the mask away from the role and nothing else (see remove_grants_cli)."""
    return remove_grants_cli(ctx.role, ctx.policies, granting(ctx, mask, everywhere))


@rule
def service_wildcard(ctx: RuleContext) -> Iterator[Finding]:
    """One finding per role naming every service it holds whole ("svc:*" or equivalent).

    Services whose actions are all reads (e.g. pricing:*) are left out: a wildcard there changes
    nothing. Administrators are reported by admin-access instead.
    """
    if is_admin(ctx):
        return
    perm = ctx.permissions
    cat = perm.catalogue
    writes = _not_read(cat)
    everywhere: list[str] = []
    scoped: list[str] = []
    union = 0
    whole_everywhere = set(cat.services_wholly_in(perm.unrestricted))
    wild = wildcard_granted(perm)
    for service in cat.services_wholly_in(perm.allowed):
        full = cat.service_mask(service)
        if full.bit_count() < 2 or not full & writes or not full & wild:
            continue  # a service whose every action is listed by name holds no future action
        union |= full
        (everywhere if service in whole_everywhere else scoped).append(service)
    for lg in perm.grants:  # "svc:*" on named resources: the statement's text says it all
        if lg.grant.unrestricted or lg.grant.not_action:
            continue
        for pattern in lg.grant.patterns:
            service, _, verb = pattern.lower().partition(":")
            if verb == "*" and service not in everywhere and service not in scoped:
                held = lg.mask & cat.service_mask(service)
                if held & writes:
                    # `arn:aws:s3:::*` names every bucket and object: the whole service on every resource.
                    (scoped if held & ~lg.unrestricted_mask else everywhere).append(service)
                    union |= held
    if not union:
        return
    if everywhere:
        severity = Severity.HIGH if SENSITIVE_SERVICES & set(everywhere) else Severity.MEDIUM
    else:
        severity = Severity.LOW
    parts = []
    if everywhere:
        parts.append("on every resource: " + ", ".join(f"{s}:*" for s in everywhere))
    if scoped:
        parts.append("on the resources its statements name: " + ", ".join(f"{s}:*" for s in scoped))
    yield ctx.finding(
        "service-wildcard",
        f"{ctx.role.name} is granted every action of {len(everywhere) + len(scoped)} service(s), "
        + "; ".join(parts)
        + ".",
        actions=[f"{s}:*" for s in everywhere + scoped],
        evidence=contributing(ctx, union),
        severity=severity,
    )


def wildcard_granted(perm: Permissions) -> int:
    """Actions the role holds through a wildcard (`svc:*`, `svc:Put*`, `*`) or a NotAction statement:
    only those grow when AWS adds actions to a service."""
    out = 0
    for lg in perm.grants:
        out |= lg.mask & (lg.mask if lg.grant.not_action else _wildcard_mask(lg.grant.patterns))
    return out


@lru_cache(maxsize=4096)
def _wildcard_mask(patterns: tuple[str, ...]) -> int:
    """The actions a statement's wildcard patterns name (statements repeat across roles: computed once)."""
    cat = catalogue()
    out = 0
    for pattern in patterns:
        if "*" in pattern or "?" in pattern:
            out |= cat.expand(pattern)
    return out


def _access_level_finding(
    ctx: RuleContext,
    rule_id: str,
    mask: int,
    what: str,
    *,
    severity: Severity | None = None,
    everywhere: bool = True,
    removable: bool = True,
) -> Iterator[Finding]:
    """One finding for the mask; `everywhere` when the mask is what the role holds on every resource
    (evidence and fix then name only the statements that grant it there).

    When only AWS-managed policies the baseline accepts, or AWS-managed read-only policies, grant the
    mask, the finding is context (at most low) and carries no command: removing AWS's documented
    policy for an agent or a reader would break the workload; baseline-aws-managed-policy carries the
    scoped replacement where the profile prefers one."""
    if not mask:
        return
    names, extra = listed(ctx.permissions.catalogue, mask)
    services = sorted({n.split(":")[0] for n in ctx.permissions.catalogue.names_in(mask)})
    detail = f"{ctx.role.name} {what}: {mask.bit_count()} action(s) across {', '.join(services)}{count_note(extra)}."
    grants = granting(ctx, mask, everywhere)
    accepted = accepted_sources(ctx, grants)
    # Accepted policies stay: without the other grants, what they give is context (low).
    cli = remove_grants_cli(ctx.role, ctx.policies, [g for g in grants if not is_accepted(ctx, g.policy)])
    if not removable:
        cli = []
    remediation = None
    if accepted:
        policies = ", ".join(a.rsplit("/", 1)[-1] for a in accepted)
        detail += (
            f" Granted only by {policies}: AWS-managed, read-only or accepted by the baseline as AWS's "
            "documented policy for this use."
        )
        severity = Severity.INFO if severity is Severity.INFO else Severity.LOW
        cli = []
        remediation = (
            f"Keep {policies} while the workload needs it; once its resources are known, replace it with a "
            "customer-managed policy scoped to them."
        )
    yield ctx.finding(
        rule_id,
        detail,
        actions=names,
        evidence=contributing(ctx, mask, everywhere),
        severity=severity,
        cli=cli,
        remediation=remediation,
    )


@rule
def data_exfiltration(ctx: RuleContext) -> Iterator[Finding]:
    if is_admin(ctx):
        return
    perm = ctx.permissions
    mask = perm.unrestricted & perm.catalogue.mask_of(SENSITIVE_DATA_READS)
    yield from _access_level_finding(ctx, "data-exfiltration", mask, "can read sensitive data on every resource")


@rule
def credentials_exposure(ctx: RuleContext) -> Iterator[Finding]:
    if is_admin(ctx):
        return
    perm = ctx.permissions
    cat = perm.catalogue
    names = cat.audit_lists["credentials-exposure"] - CREDENTIALS_HANDLED_ELSEWHERE - CREDENTIALS_NOT_OBTAINED
    if ctx.role.kind == "role":
        names -= CREDENTIALS_USERS_ONLY
    serious = perm.allowed & cat.mask_of(names - CREDENTIALS_LOW_RISK)
    minor = perm.allowed & cat.mask_of(CREDENTIALS_LOW_RISK) & ~serious
    if serious:
        scoped = not (perm.unrestricted & serious)
        yield from _access_level_finding(
            ctx,
            "credentials-exposure",
            serious,
            "can create or read credentials" + (" on the resources its statements name" if scoped else ""),
            severity=Severity.MEDIUM if scoped else None,
            everywhere=False,
        )
    elif minor:
        yield from _access_level_finding(
            ctx,
            "credentials-exposure",
            minor,
            "can obtain registry authorization tokens",
            severity=Severity.INFO,
            everywhere=False,
            removable=False,  # expected on every container host: nothing to remove
        )


@rule
def resource_exposure(ctx: RuleContext) -> Iterator[Finding]:
    if is_admin(ctx):
        return
    perm = ctx.permissions
    cat = perm.catalogue
    mask = perm.unrestricted & resource_exposure_actions(cat) & resource_level_actions(cat)
    yield from _access_level_finding(
        ctx, "resource-exposure", mask, "can change resource policies or permissions on every resource"
    )


@rule
def infrastructure_modification(ctx: RuleContext) -> Iterator[Finding]:
    if is_admin(ctx):
        return
    perm = ctx.permissions
    cat = perm.catalogue
    mask = perm.unrestricted & perm.definite & cat.level_mask(ACCESS_WRITE) & resource_level_actions(cat)
    mask &= ~cat.mask_of(TELEMETRY_WRITES) & ~_read_shaped(cat)
    yield from _access_level_finding(
        ctx, "infrastructure-modification", mask, "can modify infrastructure without resource constraints"
    )


_EXPOSURE: dict[int, int] = {}


def resource_exposure_actions(cat: ActionCatalogue) -> int:
    """Actions that change who can reach a resource (see NOT_RESOURCE_EXPOSURE for what is left out)."""
    key = id(cat)
    if key not in _EXPOSURE:
        named = cat.mask_of(frozenset(cat.audit_lists["resource-exposure"] - NOT_RESOURCE_EXPOSURE))
        permissions = cat.level_mask(ACCESS_PERMISSIONS)
        by_name = cat.mask_of(
            tuple(cat.names[i] for i in cat.indices_in(permissions) if _EXPOSURE_VERB.search(cat.names[i]))
        )
        principals = 0
        for service in EXPOSURE_PRINCIPAL_SERVICES:
            principals |= cat.service_mask(service)
        _EXPOSURE[key] = (named | by_name) & ~principals & ~cat.mask_of(NOT_RESOURCE_EXPOSURE) & ~_read_shaped(cat)
    return _EXPOSURE[key]


_NOT_READ: dict[int, int] = {}


def _not_read(cat: ActionCatalogue) -> int:
    """Every action that is neither Read nor List."""
    key = id(cat)
    if key not in _NOT_READ:
        _NOT_READ[key] = cat.all & ~(cat.level_mask(ACCESS_READ) | cat.level_mask(ACCESS_LIST))
    return _NOT_READ[key]


_READ_SHAPED: dict[int, int] = {}


def _read_shaped(cat: ActionCatalogue) -> int:
    """Actions named Get*/List*/Describe*/View*: the catalogue files a few under Write or Permissions
    management (billing:GetResourcePolicy), but they change nothing."""
    key = id(cat)
    if key not in _READ_SHAPED:
        _READ_SHAPED[key] = cat.mask_of(
            f"{p}:{verb}*" for p in cat.arn_formats for verb in ("get", "list", "describe", "view")
        )
    return _READ_SHAPED[key]


def policy_json(document: dict) -> str:
    return json.dumps(document, separators=(",", ":"))
