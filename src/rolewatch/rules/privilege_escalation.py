"""Privilege escalation: the 119 published action sets, and role chaining across the account.

A method applies when every one of its actions is allowed on some resource (denies and the boundary
applied; grants conditioned on iam:PermissionsBoundary excluded, since they cannot mint unbounded
principals). Details that decide real exploitability:
- iam:PassRole restricted by iam:PassedToService only serves methods whose service it names;
- sts:AssumeRole alone counts only on every resource; scoped AssumeRole is what
  `role-chain-escalation` follows, target by target;
- a method only satisfied through conditional grants (network, tags, MFA...) is reported one severity
  lower, with the conditions in the evidence;
- among satisfied methods only the minimal ones are reported (a superset adds nothing).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources

from rolewatch.model import Finding, RoleSnapshot, Severity
from rolewatch.policy.globs import glob_match
from rolewatch.policy.permissions import Permissions
from rolewatch.rules.permission_rules import admin_level, contributing
from rolewatch.rules.registry import AccountView, RuleContext, rule

SOURCE_ORDER = ("CS", "PR", "PA", "PM", "PF", "PACU", "IV")
UNRESTRICTED_ONLY = {"sts:assumerole"}
MAX_METHODS_PER_ROLE = 12
# Where a method's passed role ends up: service prefix -> service principals PassRole must allow.
SERVICE_PRINCIPALS = {
    "autoscaling": ("ec2.amazonaws.com", "autoscaling.amazonaws.com"),
    "ecs": ("ecs-tasks.amazonaws.com", "ecs.amazonaws.com"),
    "datapipeline": ("datapipeline.amazonaws.com", "elasticmapreduce.amazonaws.com"),
    "bedrock-agentcore": ("bedrock-agentcore.amazonaws.com",),
    "sagemaker": ("sagemaker.amazonaws.com",),
    "apprunner": ("tasks.apprunner.amazonaws.com", "build.apprunner.amazonaws.com"),
}


@dataclass(frozen=True)
class Method:
    actions: tuple[str, ...]
    names: tuple[str, ...]  # "SOURCE: name" in SOURCE_ORDER
    passes_to: tuple[str, ...]  # service principals a PassRole in this method must be allowed to reach

    @property
    def title(self) -> str:
        return self.names[0].split(": ", 1)[1] if self.names else " + ".join(self.actions)

    @property
    def direct_iam(self) -> bool:
        return all(a.startswith("iam:") for a in self.actions)


@cache
def methods() -> tuple[Method, ...]:
    raw = json.loads(resources.files("rolewatch.rules").joinpath("data/privesc-methods.json").read_text())
    out = []
    for m in raw["methods"]:
        known = m["known_as"]
        names = tuple(f"{src}: {name}" for src in SOURCE_ORDER for name in known.get(src, ()))
        others = tuple(f"{src}: {name}" for src, vals in known.items() if src not in SOURCE_ORDER for name in vals)
        actions = tuple(m["actions"])
        passes_to: tuple[str, ...] = ()
        if "iam:passrole" in actions:
            services = {a.split(":")[0] for a in actions if a != "iam:passrole"}
            passes_to = tuple(p for s in sorted(services) for p in SERVICE_PRINCIPALS.get(s, (f"{s}.amazonaws.com",)))
        out.append(Method(actions, names + others, passes_to))
    return tuple(out)


@dataclass(frozen=True)
class _MethodIndex:
    """The methods' action masks, computed once per process."""

    steps: tuple[tuple[Method, tuple[tuple[str, int, bool], ...]], ...]  # (method, (action, mask, unrestricted only))
    relevant: int  # every catalogue action some method needs
    unrestricted_only: int  # actions that count only on every resource
    outside: tuple[str, ...]  # method actions outside the catalogue, matched by statement text


@cache
def _method_index() -> _MethodIndex:
    from rolewatch.policy.catalogue import catalogue

    cat = catalogue()
    steps = []
    relevant = unrestricted_only = 0
    outside: list[str] = []
    for method in methods():
        actions = []
        for action in method.actions:
            mask = cat.expand(action)
            only = action in UNRESTRICTED_ONLY
            relevant |= mask
            if only:
                unrestricted_only |= mask
            if not mask and action not in outside:
                outside.append(action)
            actions.append((action, mask, only))
        steps.append((method, tuple(actions)))
    return _MethodIndex(tuple(steps), relevant, unrestricted_only, tuple(outside))


# Roles whose policies differ often agree on the few hundred actions the methods need, so the methods
# their catalogue actions satisfy are cached by exactly those bits (_methods_key). Names outside the
# catalogue and PassRole targets are then checked per role, for the few candidates that need them.
_CANDIDATES_CACHE: dict[tuple[int, ...], list[tuple[Method, bool, tuple[str, ...]]]] = {}
_CANDIDATES_CACHE_SIZE = 4096


def _methods_key(permissions: Permissions, index: _MethodIndex) -> tuple[int, ...]:
    relevant = index.relevant
    everywhere = permissions.unrestricted & index.unrestricted_only
    return (
        permissions.definite & relevant,
        permissions.escalation & relevant,
        everywhere & permissions.definite,
        everywhere & permissions.escalation,
    )


def satisfied_methods(permissions: Permissions) -> list[tuple[Method, bool]]:
    """Minimal satisfied methods, each with whether it needs conditional grants."""
    index = _method_index()
    key = _methods_key(permissions, index)
    candidates = _CANDIDATES_CACHE.get(key)
    if candidates is None:
        candidates = _candidates(permissions, index)
        if len(_CANDIDATES_CACHE) >= _CANDIDATES_CACHE_SIZE:
            _CANDIDATES_CACHE.pop(next(iter(_CANDIDATES_CACHE)))  # drop the oldest entry
        _CANDIDATES_CACHE[key] = candidates
    found: list[tuple[Method, bool]] = []
    targets: list[frozenset[str] | None] | None = None
    for method, conditional, outside in candidates:
        # outside the catalogue (retired or newer than the data): match the statements' text
        if outside and not all(permissions.allows(action) for action in outside):
            continue
        if method.passes_to:
            if targets is None:
                targets = permissions.pass_role_targets()
            if not _pass_role_reaches(targets, method.passes_to):
                continue
        found.append((method, conditional))
    key_found = tuple((id(m), c) for m, c in found)  # methods() lives as long as the process
    minimal = _MINIMAL_CACHE.get(key_found)
    if minimal is None:
        minimal = _minimal(found)
        if len(_MINIMAL_CACHE) >= _CANDIDATES_CACHE_SIZE:
            _MINIMAL_CACHE.pop(next(iter(_MINIMAL_CACHE)))
        _MINIMAL_CACHE[key_found] = minimal
    return list(minimal)


_MINIMAL_CACHE: dict[tuple[tuple[int, bool], ...], list[tuple[Method, bool]]] = {}


def _candidates(permissions: Permissions, index: _MethodIndex) -> list[tuple[Method, bool, tuple[str, ...]]]:
    """Methods whose catalogue actions are all granted: (method, needs conditional grants, its actions
    outside the catalogue)."""
    out: list[tuple[Method, bool, tuple[str, ...]]] = []
    definite_all, escalation_all = permissions.definite, permissions.escalation
    everywhere = permissions.unrestricted
    for method, steps in index.steps:
        conditional = False
        ok = True
        outside: list[str] = []
        for action, mask, unrestricted_only in steps:
            if unrestricted_only:
                definite = bool(mask) and (everywhere & definite_all & mask) == mask
                any_grant = bool(mask) and (everywhere & escalation_all & mask) == mask
            elif mask:
                definite = (definite_all & mask) == mask
                any_grant = (escalation_all & mask) == mask
            else:
                outside.append(action)
                continue
            if not any_grant:
                ok = False
                break
            conditional = conditional or not definite
        if ok:
            out.append((method, conditional, tuple(outside)))
    return out


def _minimal(found: list[tuple[Method, bool]]) -> list[tuple[Method, bool]]:
    """Among satisfied methods only those no other satisfied method's action set is a subset of."""
    action_sets = {id(m): frozenset(m.actions) for m, _ in found}
    return [
        (m, c)
        for m, c in found
        if not any(action_sets[id(o)] < action_sets[id(m)] and oc <= c for o, oc in found if o is not m)
    ]


def _pass_role_reaches(targets: list[frozenset[str] | None], principals: tuple[str, ...]) -> bool:
    """Can a role be passed to one of the service principals? `targets` are the iam:PassedToService
    restrictions of every grant allowing iam:PassRole (Permissions.pass_role_targets)."""
    for allowed in targets:
        if allowed is None:
            return True
        if any(glob_match(pattern, p) for pattern in allowed for p in principals):
            return True
    return False


@rule
def privilege_escalation(ctx: RuleContext) -> Iterator[Finding]:
    if admin_level(ctx.permissions) == "full":
        return  # an administrator has nothing left to escalate to; admin-access reports it
    found = satisfied_methods(ctx.permissions)
    cat = ctx.permissions.catalogue
    found.sort(key=lambda mc: (mc[1], not mc[0].direct_iam, len(mc[0].actions), mc[0].actions))
    shown, rest = found[:MAX_METHODS_PER_ROLE], found[MAX_METHODS_PER_ROLE:]
    for index, (method, conditional) in enumerate(shown):
        severity = Severity.CRITICAL if method.direct_iam else Severity.HIGH
        if conditional:
            severity = _lower(severity)
        actions = [cat.canonical(a) or a for a in method.actions]
        mask = cat.mask_of(method.actions)  # cached: method.actions is a tuple
        evidence = [f"method: {n}" for n in method.names] + contributing(ctx, mask)
        if index == len(shown) - 1 and rest:
            evidence.append(f"{len(rest)} more method(s): " + "; ".join(m.title for m, _ in rest))
        detail = f"{ctx.role.name} can escalate privileges via {method.title} ({' + '.join(actions)})"
        if conditional:
            detail += ", when the conditions in the evidence hold"
        yield ctx.finding(
            "privilege-escalation",
            detail + ".",
            actions=actions,
            evidence=evidence,
            severity=severity,
            title=f"Privilege escalation: {method.title}",
        )


def _lower(severity: Severity) -> Severity:
    order = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO]
    return order[min(order.index(severity) + 1, len(order) - 1)]


# -- role chaining ---------------------------------------------------------------------------------


@dataclass
class _TrustIndex:
    by_principal: dict[str, list[str]]  # principal ARN -> ARNs of roles that trust it by name
    by_account: dict[str, list[str]]  # account id -> ARNs of roles that trust the account root


def _trust_index(account: AccountView) -> _TrustIndex:
    cached = getattr(account, "_trust_index", None)
    if cached is not None:
        return cached
    index = _TrustIndex({}, {})
    for arn, trust in account.trust.items():
        for s in trust.statements:
            if not s.allows or s.principals is None or s.not_principal:
                continue
            if s.conditions or not any(a.lower().startswith(("sts:assumerole", "sts:*", "*")) for a in s.actions):
                continue  # conditional trust is left to the trust-policy rules
            for value in s.principals.of("AWS"):
                if value.endswith(":root") or value.isdigit():
                    account_id = value if value.isdigit() else value.split(":")[4]
                    index.by_account.setdefault(account_id, []).append(arn)
                elif value != "*":
                    index.by_principal.setdefault(value, []).append(arn)
    account._trust_index = index  # type: ignore[attr-defined]
    return index


def assumable_roles(role: RoleSnapshot, account: AccountView) -> list[str]:
    """Roles of the account this role can assume directly."""
    index = _trust_index(account)
    out = [arn for arn in index.by_principal.get(role.arn, ()) if arn != role.arn]
    permissions = account.permissions.get(role.arn)
    if permissions is not None and permissions.allows("sts:AssumeRole"):
        bit = permissions.catalogue.expand("sts:AssumeRole")
        patterns = [r for lg in permissions.grants_for(bit) for r in (lg.grant.resources or ("*",))]
        for arn in index.by_account.get(role.account_id, ()):
            if arn != role.arn and arn not in out and any(glob_match(p, arn) for p in patterns):
                out.append(arn)
    return out


def _is_powerful(arn: str, account: AccountView, memo: dict[str, str | None]) -> str | None:
    if arn not in memo:
        permissions = account.permissions[arn]
        if admin_level(permissions) == "full":
            memo[arn] = "administrator access"
        else:
            found = [m for m, conditional in satisfied_methods(permissions) if not conditional]
            memo[arn] = f"privilege escalation via {found[0].title}" if found else None
    return memo[arn]


@rule
def role_chain_escalation(ctx: RuleContext) -> Iterator[Finding]:
    account = ctx.account
    if admin_level(ctx.permissions) == "full" or not account.roles:
        return
    memo: dict[str, str | None] = account.__dict__.setdefault("_powerful", {})
    start = ctx.role.arn
    parents: dict[str, str] = {start: ""}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for target in assumable_roles(account.roles[current], account):
            if target in parents or target not in account.roles:
                continue
            parents[target] = current
            why = _is_powerful(target, account, memo)
            if why:
                path = [target]
                while parents[path[-1]] and parents[path[-1]] != start:
                    path.append(parents[path[-1]])
                chain = " -> ".join([ctx.role.name, *(account.roles[a].name for a in reversed(path))])
                yield ctx.finding(
                    "role-chain-escalation",
                    f"{ctx.role.name} can assume {account.roles[target].name}, which has {why} (chain: {chain}).",
                    actions=("sts:AssumeRole",),
                    evidence=[f"chain: {chain}", f"target: {target}", f"target has {why}"],
                    cli=[
                        f"aws iam get-role --role-name {account.roles[a].name} --query Role.AssumeRolePolicyDocument"
                        for a in reversed(path)
                    ],
                )
                return
            queue.append(target)
