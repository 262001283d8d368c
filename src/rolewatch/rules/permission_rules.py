"""Rules over a role's effective permissions: admin, service wildcards and access-level risks.

All of them read `ctx.permissions` (denies and the boundary already applied). A full administrator
gets one `admin-access` finding; the access-level rules stay silent for it, since admin subsumes them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from rolewatch.model import Finding, Severity
from rolewatch.policy.catalogue import ACCESS_LIST, ACCESS_PERMISSIONS, ACCESS_READ, ACCESS_WRITE, ActionCatalogue
from rolewatch.policy.permissions import Permissions, format_conditions
from rolewatch.rules.registry import RuleContext, rule

# Coverage of the catalogue, by actions allowed on every resource, from which a role is treated as an
# administrator. NotAction statements that exclude a handful of actions stay above it.
FULL_ADMIN_COVERAGE = 0.99
NEAR_ADMIN_COVERAGE = 0.80

# Reads that return data rather than configuration. The catalogue has no such class, so this is ours.
SENSITIVE_DATA_READS = (
    "s3:GetObject",
    "s3:GetObjectVersion",
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "kms:Decrypt",
    "dynamodb:Scan",
    "dynamodb:Query",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "ebs:GetSnapshotBlock",
    "rds:DownloadDBLogFilePortion",
)

# Credentials-exposure actions treated separately: sts:AssumeRole* is analysed as privilege escalation
# (role chaining); a registry token for container pulls is expected on every container host.
CREDENTIALS_HANDLED_ELSEWHERE = {"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity"}
CREDENTIALS_LOW_RISK = {"ecr:getauthorizationtoken"}

# Append-only telemetry writes: granting them on "*" is the documented norm, not a scoping failure.
TELEMETRY_WRITES = (
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "cloudwatch:PutMetricData",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
)

# Services where "service:*" hands over identity, keys or the organisation.
SENSITIVE_SERVICES = {"iam", "sts", "kms", "organizations", "secretsmanager", "sso", "account", "ram"}
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


def contributing(ctx: RuleContext, mask: int) -> list[str]:
    """Evidence: which policy statements grant (part of) the mask."""
    out = []
    for lg in ctx.permissions.grants_for(mask):
        text = f"{lg.policy} {lg.grant.location}"
        if lg.grant.restricting:
            text += f" (only when {format_conditions(lg.grant.restricting)})"
        out.append(text)
    return out


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
        evidence=contributing(ctx, everywhere),
        severity=severity,
        cli=_detach_cli(ctx, everywhere),
    )


def _detach_cli(ctx: RuleContext, mask: int) -> list[str]:
    """CLI that removes the policies granting the mask: detach managed ones, delete inline ones."""
    cli = []
    seen = set()
    inline_names = {p.name for p in ctx.role.inline_policies}
    for lg in ctx.permissions.grants_for(mask):
        if lg.policy in seen:
            continue
        seen.add(lg.policy)
        if lg.policy.startswith("arn:"):
            cli.append(f"aws iam detach-role-policy --role-name {ctx.role.name} --policy-arn {lg.policy}")
        elif lg.policy in inline_names:
            cli.append(f"aws iam delete-role-policy --role-name {ctx.role.name} --policy-name {lg.policy}")
    return cli


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
    for service in cat.services_wholly_in(perm.allowed):
        full = cat.service_mask(service)
        if full.bit_count() < 2 or not full & writes:
            continue
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


def _access_level_finding(
    ctx: RuleContext, rule_id: str, mask: int, what: str, severity: Severity | None = None
) -> Iterator[Finding]:
    if not mask:
        return
    names, extra = listed(ctx.permissions.catalogue, mask)
    services = sorted({n.split(":")[0] for n in ctx.permissions.catalogue.names_in(mask)})
    yield ctx.finding(
        rule_id,
        f"{ctx.role.name} {what}: {mask.bit_count()} action(s) across {', '.join(services)}{count_note(extra)}.",
        actions=names,
        evidence=contributing(ctx, mask),
        severity=severity,
        cli=_detach_cli(ctx, mask),
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
    names = cat.audit_lists["credentials-exposure"] - CREDENTIALS_HANDLED_ELSEWHERE
    serious = perm.allowed & cat.mask_of(names - CREDENTIALS_LOW_RISK)
    minor = perm.allowed & cat.mask_of(CREDENTIALS_LOW_RISK) & ~serious
    if serious:
        scoped = not (perm.unrestricted & serious)
        yield from _access_level_finding(
            ctx,
            "credentials-exposure",
            serious,
            "can create or read credentials" + (" on the resources its statements name" if scoped else ""),
            Severity.MEDIUM if scoped else None,
        )
    elif minor:
        yield from _access_level_finding(
            ctx, "credentials-exposure", minor, "can obtain registry authorization tokens", Severity.INFO
        )


@rule
def resource_exposure(ctx: RuleContext) -> Iterator[Finding]:
    if is_admin(ctx):
        return
    perm = ctx.permissions
    cat = perm.catalogue
    exposure = cat.mask_of(cat.audit_lists["resource-exposure"]) | cat.level_mask(ACCESS_PERMISSIONS)
    mask = perm.unrestricted & exposure & _resource_level_actions(cat) & ~_read_shaped(cat)
    yield from _access_level_finding(
        ctx, "resource-exposure", mask, "can change resource policies or permissions on every resource"
    )


@rule
def infrastructure_modification(ctx: RuleContext) -> Iterator[Finding]:
    if is_admin(ctx):
        return
    perm = ctx.permissions
    cat = perm.catalogue
    mask = perm.unrestricted & perm.definite & cat.level_mask(ACCESS_WRITE) & _resource_level_actions(cat)
    mask &= ~cat.mask_of(TELEMETRY_WRITES) & ~_read_shaped(cat)
    yield from _access_level_finding(
        ctx, "infrastructure-modification", mask, "can modify infrastructure without resource constraints"
    )


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


_RESOURCE_LEVEL: dict[int, int] = {}


def _resource_level_actions(cat: ActionCatalogue) -> int:
    """Actions that support resource-level permissions: only for them is "*" a scoping failure."""
    key = id(cat)
    if key not in _RESOURCE_LEVEL:
        bits = bytearray((len(cat) + 7) // 8)
        for i, types in enumerate(cat.resource_types):
            if types:
                bits[i >> 3] |= 1 << (i & 7)
        _RESOURCE_LEVEL[key] = int.from_bytes(bits, "little")
    return _RESOURCE_LEVEL[key]


def policy_json(document: dict) -> str:
    return json.dumps(document, separators=(",", ":"))
