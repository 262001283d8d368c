"""Privilege escalation: the 119 published action sets, the principal graph, boundary escape.

A method applies when every one of its actions is allowed on some resource (denies and the boundary
applied; grants conditioned on iam:PermissionsBoundary excluded, since they cannot mint unbounded
principals). Details that decide real exploitability:
- a method that passes a role to a service (iam:PassRole) is escalation only when the principal graph
  (policy/graph.py) shows a passable role, trusting that service, that can do more than the caller
  (administrator access, an escalation method, sensitive data or credentials the caller lacks); where
  the passable roles cannot be known (a wildcard Resource while the audit does not hold every role, a
  named role the audit could not read) the method stays reported and the finding says why;
- iam:PassedToService only serves methods whose service it names;
- sts:AssumeRole alone counts only on every resource and only while the audit cannot see every role;
  otherwise `role-chain-escalation` follows the graph's assume edges to what they reach;
- a role whose identity policies exceed its permissions boundary and that may delete or replace that
  boundary (or rewrite the boundary policy) escapes it;
- a method only satisfied through conditional grants (network, tags, MFA...) is reported one severity
  lower, with the conditions in the evidence;
- among satisfied methods only the minimal ones are reported (a superset adds nothing).

One finding per role: at the severity of its worst method, listing every method with its evidence in
a fixed order, so its fingerprint does not depend on the order policies or methods come in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources

from rolewatch.model import Finding, Severity
from rolewatch.policy.catalogue import catalogue
from rolewatch.policy.globs import glob_match
from rolewatch.policy.graph import ASSUME, PASS_ROLE, Launcher, Path, Power, PrincipalGraph
from rolewatch.policy.permissions import Permissions, format_conditions
from rolewatch.rules.permission_rules import (
    CREDENTIALS_HANDLED_ELSEWHERE,
    CREDENTIALS_LOW_RISK,
    SENSITIVE_DATA_READS,
    admin_level,
    contributing,
)
from rolewatch.rules.registry import RuleContext, rule
from rolewatch.shell import command

SOURCE_ORDER = ("CS", "PR", "PA", "PM", "PF", "PACU", "IV")
UNRESTRICTED_ONLY = {"sts:assumerole"}
MAX_PATHS_SHOWN = 3
MAX_MORE_LISTED = 8
# The rules that ask the principal graph about other principals (the engine runs them last).
CROSS_ROLE_RULES = frozenset({"privilege-escalation", "role-chain-escalation"})
# Actions a method uses to become another principal: the graph judges those methods by what is gained.
BECOMING = {"iam:passrole", "sts:assumerole"}
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


# -- what a principal can do, for the graph ----------------------------------------------------------


@cache
def launchers() -> tuple[Launcher, ...]:
    """The methods that run code as a passed role, as the graph's launchers (named by their actions)."""
    cat = catalogue()
    out = []
    for method in methods():
        if "iam:passrole" in method.actions and method.passes_to:
            others = tuple(cat.canonical(a) or a for a in method.actions if a != "iam:passrole")
            out.append(Launcher(_method_key(method), method.passes_to, others))
    return tuple(out)


def _method_key(method: Method) -> str:
    return " + ".join(method.actions)


@cache
def _sensitive_mask() -> int:
    cat = catalogue()
    credentials = cat.audit_lists["credentials-exposure"] - CREDENTIALS_HANDLED_ELSEWHERE - CREDENTIALS_LOW_RISK
    return cat.mask_of(SENSITIVE_DATA_READS) | cat.mask_of(credentials)


def power_of(permissions: Permissions) -> Power:
    """What a principal gives whoever becomes it: administrator access, the escalation methods it holds
    by itself (not those that go through another principal: the graph follows those), and sensitive
    data and credential actions, on every resource and on some."""
    if admin_level(permissions) == "full":
        return Power(True, frozenset(), 0, 0)
    own = frozenset(
        m.title
        for m, conditional in satisfied_methods(permissions)
        if not conditional and not BECOMING & set(m.actions)
    )
    sensitive = permissions.escalation & _sensitive_mask()
    return Power(False, own, sensitive & permissions.unrestricted, sensitive)


# -- the finding -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Way:
    """One way the role escalates: a method, or the escape from its boundary, with its evidence."""

    title: str
    actions: tuple[str, ...]
    severity: Severity
    evidence: tuple[str, ...]
    path: str = ""  # the graph path that makes it count, named in the detail
    conditional: bool = False

    @property
    def order(self) -> tuple[int, tuple[str, ...], str]:
        return (-self.severity.rank, tuple(sorted(self.actions)), self.title)


_REACH_SEVERITY = {3: Severity.CRITICAL, 2: Severity.HIGH, 1: Severity.HIGH, 0: Severity.MEDIUM}


@rule
def privilege_escalation(ctx: RuleContext) -> Iterator[Finding]:
    if admin_level(ctx.permissions) == "full":
        return  # an administrator has nothing left to escalate to; admin-access reports it
    graph = ctx.account.graph
    ways = [w for m, c in satisfied_methods(ctx.permissions) if (w := _judge(ctx, graph, m, c)) is not None]
    escape = boundary_escape(ctx)
    if escape is not None:
        ways.append(escape)
    if not ways:
        return
    ways.sort(key=lambda w: w.order)
    worst = ways[0]
    evidence: list[str] = []
    for way in ways:
        evidence.extend(way.evidence)
    actions = sorted({a for w in ways for a in w.actions})
    more = f" and {len(ways) - 1} more method(s)" if len(ways) > 1 else ""
    detail = f"{ctx.role.name} can escalate privileges via {worst.title} ({' + '.join(worst.actions)})"
    if worst.path:
        detail += f", reaching {worst.path}"
    if worst.conditional:
        detail += ", when the conditions in the evidence hold"
    if len(ways) > 1:
        detail += f"; {len(ways)} methods in all, each with its evidence"
    yield ctx.finding(
        "privilege-escalation",
        detail + ".",
        actions=actions,
        evidence=evidence,
        severity=worst.severity,
        title=f"Privilege escalation: {worst.title}{more}",
    )


def _judge(ctx: RuleContext, graph: PrincipalGraph | None, method: Method, conditional: bool) -> _Way | None:
    """The method as a way to escalate, or None when the graph shows it gains nothing."""
    cat = ctx.permissions.catalogue
    actions = tuple(cat.canonical(a) or a for a in method.actions)
    severity = Severity.CRITICAL if method.direct_iam else Severity.HIGH
    notes: list[str] = []
    path_text = ""
    if graph is not None and "iam:passrole" in method.actions and method.passes_to:
        key = _method_key(method)
        paths = graph.escalations(ctx.role.arn, {PASS_ROLE}, launcher=key)
        unknown = [u.reason for u in graph.unknown_from(ctx.role.arn) if u.kind == PASS_ROLE and key in u.launcher]
        if paths:
            best = paths[0]
            severity = _REACH_SEVERITY[best.reach.rank]
            conditional = conditional or best.conditional
            notes = _path_evidence(paths, graph)
            path_text = best.describe(graph.name_of)
        elif unknown:
            notes = [f"passable roles unknown: {reason}" for reason in sorted(set(unknown))]
        else:
            return None  # every role it can pass adds nothing the caller lacks
    elif graph is not None and set(method.actions) == {"sts:assumerole"}:
        unknown = [u.reason for u in graph.unknown_from(ctx.role.arn) if u.kind == ASSUME]
        if not unknown:
            return None  # every assumable role is in the graph: role-chain-escalation judges them
        notes = [f"assumable roles unknown: {reason}" for reason in sorted(set(unknown))]
    if conditional:
        severity = _lower(severity)
    mask = cat.mask_of(method.actions)  # cached: method.actions is a tuple
    evidence = [f"method: {method.title} ({' + '.join(actions)}), {severity.value}"]
    evidence += [f"  known as {n}" for n in method.names]
    evidence += [f"  granted by {g}" for g in sorted(contributing(ctx, mask))]
    evidence += [f"  {n}" for n in notes]
    if graph is not None and method.direct_iam:
        changed = sorted(
            {graph.name_of(e.target) for e in graph.edges_from(ctx.role.arn) if e.kind == "modify" and e.target}
        )
        if changed:
            evidence.append(f"  changes the policies of: {', '.join(changed[:10])}" + count_more(len(changed), 10))
    if conditional:
        evidence.append("  only when the conditions of its statements hold")
    return _Way(method.title, actions, severity, tuple(evidence), path_text, conditional)


def _path_evidence(paths: list[Path], graph: PrincipalGraph) -> list[str]:
    out = []
    for path in paths[:MAX_PATHS_SHOWN]:
        text = f"path: {path.describe(graph.name_of)} (via {path.first.how})"
        conditions = path.conditions()
        if conditions:
            text += f" when {'; '.join(conditions)}"
        out.append(text)
    rest = [p.reach.what for p in paths[MAX_PATHS_SHOWN:]]
    if rest:
        shown = rest[:MAX_MORE_LISTED]
        out.append(f"{len(rest)} more thing(s) gained: " + "; ".join(shown) + count_more(len(rest), len(shown)))
    return out


def count_more(total: int, shown: int) -> str:
    return f" (+{total - shown} more)" if total > shown else ""


def _lower(severity: Severity) -> Severity:
    order = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO]
    return order[min(order.index(severity) + 1, len(order) - 1)]


# -- permissions-boundary escape ---------------------------------------------------------------------

_REMOVE_BOUNDARY = ("iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary")
_REWRITE_POLICY = ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion")


def boundary_escape(ctx: RuleContext) -> _Way | None:
    """A bounded role whose own policies grant more than the boundary lets through, and that may delete
    or replace its boundary (or rewrite the boundary policy), can lift the cap: escalation."""
    bounded = ctx.permissions
    boundary = ctx.role.permissions_boundary
    if bounded.boundary is None or boundary is None:
        return None
    exceeds = Permissions(ctx.policies, None, ctx.now, bounded.principal).allowed & ~bounded.allowed
    if not exceeds:
        return None
    ways: list[tuple[str, bool, str]] = []  # (action, conditional, statement)
    for action in _REMOVE_BOUNDARY:
        ways += _own_scopes(bounded, action, ctx.role.arn)
    if boundary.arn and ":aws:policy/" not in boundary.arn:
        for action in _REWRITE_POLICY:
            ways += _own_scopes(bounded, action, boundary.arn)
    if not ways:
        return None
    conditional = all(c for _, c, _ in ways)
    severity = _lower(Severity.CRITICAL) if conditional else Severity.CRITICAL
    cat = bounded.catalogue
    names = cat.names_in(exceeds, 8)
    actions = tuple(sorted({a for a, _, _ in ways}))
    evidence = [
        f"method: permissions-boundary escape ({' or '.join(actions)}), {severity.value}",
        f"  boundary: {boundary.arn or boundary.name}",
        f"  its own policies grant {exceeds.bit_count()} action(s) the boundary blocks: {', '.join(names)}"
        + count_more(exceeds.bit_count(), len(names)),
    ]
    evidence += sorted(f"  {action} allowed by {where}" for action, _, where in ways)
    if conditional:
        evidence.append("  only when the conditions of its statements hold")
    return _Way("permissions-boundary escape", actions, severity, tuple(evidence), conditional=conditional)


def _own_scopes(permissions: Permissions, action: str, arn: str) -> list[tuple[str, bool, str]]:
    out = []
    for scope in permissions.scopes(action):
        if scope.grant.delegation or not scope.matches(arn):
            continue  # pinned by iam:PermissionsBoundary to a boundary of the grantor's choosing
        where = scope.grant.location
        if scope.grant.restricting:
            where += f" (only when {format_conditions(scope.grant.restricting)})"
        out.append((action, scope.conditional, where))
    return out


# -- role chaining -----------------------------------------------------------------------------------


@rule
def role_chain_escalation(ctx: RuleContext) -> Iterator[Finding]:
    graph = ctx.account.graph
    if graph is None or admin_level(ctx.permissions) == "full":
        return
    paths = graph.escalations(ctx.role.arn, {ASSUME})
    if not paths:
        return
    best = paths[0]
    severity = _REACH_SEVERITY[best.reach.rank]
    if best.conditional:
        severity = _lower(severity)
    chain = best.describe(graph.name_of)
    target = best.hops[-1].target
    detail = f"{ctx.role.name} can assume {graph.name_of(best.first.target)}"
    if len(best.hops) > 1:
        detail += f" and from there reach {graph.name_of(target)}"
    detail += f", which has {best.reach.what} (chain: {chain})."
    names = [graph.name_of(h.target) for h in best.hops]
    yield ctx.finding(
        "role-chain-escalation",
        detail,
        actions=("sts:AssumeRole",),
        evidence=[f"target: {target}", *_path_evidence(paths, graph)],
        cli=[
            _cli("aws", "iam", "get-role", "--role-name", n, "--query", "Role.AssumeRolePolicyDocument") for n in names
        ],
        severity=severity,
    )


def _cli(*words: str) -> str:
    """A shell command line with every word quoted where needed (role names are untrusted text)."""
    return command(*words)
