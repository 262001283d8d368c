"""Access-level rules: data-exfiltration, credentials-exposure, resource-exposure, infrastructure-modification.

One family: each reads `ctx.permissions` (denies and the boundary already applied) for one class of
actions granted on every resource, and words its finding the same way. A full or near administrator
gets one `admin-access` finding instead; these rules stay silent for it, since admin subsumes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from rolewatch.model import Finding, Severity
from rolewatch.policy.catalogue import (
    ACCESS_PERMISSIONS,
    ACCESS_WRITE,
    ActionCatalogue,
)
from rolewatch.remediation import remove_grants_cli
from rolewatch.rules.excess import resource_level_actions
from rolewatch.rules.permissions.grants import (
    accepted_sources,
    contributing,
    count_note,
    granting,
    is_accepted,
    is_admin,
    listed,
)
from rolewatch.rules.permissions.sensitive import (
    CREDENTIALS_HANDLED_ELSEWHERE,
    CREDENTIALS_LOW_RISK,
    CREDENTIALS_NOT_OBTAINED,
    CREDENTIALS_USERS_ONLY,
    SENSITIVE_DATA_READS,
)
from rolewatch.rules.registry import RuleContext, rule

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
