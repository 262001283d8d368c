"""service-wildcard: every action of a service, including those AWS adds later."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from rolewatch.model import Finding, Severity
from rolewatch.policy.catalogue import (
    ACCESS_LIST,
    ACCESS_READ,
    ActionCatalogue,
    catalogue,
)
from rolewatch.policy.permissions import Permissions
from rolewatch.rules.excess import SENSITIVE_SERVICES
from rolewatch.rules.permissions.grants import (
    contributing,
    is_admin,
)
from rolewatch.rules.registry import RuleContext, rule


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


_NOT_READ: dict[int, int] = {}


def _not_read(cat: ActionCatalogue) -> int:
    """Every action that is neither Read nor List."""
    key = id(cat)
    if key not in _NOT_READ:
        _NOT_READ[key] = cat.all & ~(cat.level_mask(ACCESS_READ) | cat.level_mask(ACCESS_LIST))
    return _NOT_READ[key]
