"""The published privilege-escalation methods (rules/data/privesc-methods.json) a role's permissions satisfy,
and what a principal gives whoever becomes it (the principal graph's `power`).

A method applies when every one of its actions is allowed on some resource (denies and the boundary
applied; grants conditioned on iam:PermissionsBoundary excluded, since they cannot mint unbounded
principals); among satisfied methods only the minimal ones count (a superset adds nothing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from weakref import WeakKeyDictionary

from rolewatch.policy.catalogue import catalogue
from rolewatch.policy.globs import glob_match
from rolewatch.policy.graph import Launcher, Power
from rolewatch.policy.permissions import Permissions
from rolewatch.rules.permissions.grants import (
    admin_level,
)
from rolewatch.rules.permissions.sensitive import (
    CREDENTIALS_HANDLED_ELSEWHERE,
    CREDENTIALS_LOW_RISK,
    SENSITIVE_DATA_READS,
)

SOURCE_ORDER = ("CS", "PR", "PA", "PM", "PF", "PACU", "IV")
UNRESTRICTED_ONLY = {"sts:assumerole"}


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

    # (method, union of its actions' masks, union of those that count only on every resource, its actions
    # outside the catalogue); a method needing an every-resource action the catalogue lacks is left out
    needs: tuple[tuple[Method, int, int, tuple[str, ...]], ...]
    relevant: int  # every catalogue action some method needs
    unrestricted_only: int  # actions that count only on every resource
    outside: tuple[str, ...]  # method actions outside the catalogue, matched by statement text


@cache
def _method_index() -> _MethodIndex:
    cat = catalogue()
    needs = []
    relevant = unrestricted_only = 0
    outside: list[str] = []
    for method in methods():
        need = need_everywhere = 0
        own_outside: list[str] = []
        possible = True
        for action in method.actions:
            mask = cat.expand(action)
            relevant |= mask
            if action in UNRESTRICTED_ONLY:
                unrestricted_only |= mask
                need_everywhere |= mask
                possible = possible and bool(mask)
            elif mask:
                need |= mask
            else:
                own_outside.append(action)
            if not mask and action not in outside:
                outside.append(action)
        if possible:
            needs.append((method, need, need_everywhere, tuple(own_outside)))
    return _MethodIndex(tuple(needs), relevant, unrestricted_only, tuple(outside))


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


# The principal graph (power_of, for every role) and the privilege-escalation rule ask about the same
# Permissions object: it is answered once while the object lives (weak keys keep nothing alive).
_SATISFIED: WeakKeyDictionary[Permissions, list[tuple[Method, bool]]] = WeakKeyDictionary()


def satisfied_methods(permissions: Permissions) -> list[tuple[Method, bool]]:
    """Minimal satisfied methods, each with whether it needs conditional grants."""
    known = _SATISFIED.get(permissions)
    if known is None:
        known = _SATISFIED[permissions] = _satisfied_methods(permissions)
    return list(known)


def _satisfied_methods(permissions: Permissions) -> list[tuple[Method, bool]]:
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
    return minimal  # shared: satisfied_methods hands out copies


_MINIMAL_CACHE: dict[tuple[tuple[int, bool], ...], list[tuple[Method, bool]]] = {}


def _candidates(permissions: Permissions, index: _MethodIndex) -> list[tuple[Method, bool, tuple[str, ...]]]:
    """Methods whose catalogue actions are all granted: (method, needs conditional grants, its actions
    outside the catalogue)."""
    out: list[tuple[Method, bool, tuple[str, ...]]] = []
    definite, granted = permissions.definite, permissions.escalation
    definite_everywhere = permissions.unrestricted & definite
    granted_everywhere = permissions.unrestricted & granted
    for method, need, need_everywhere, outside in index.needs:
        # every action granted (one mask test for them all, not one per action) ...
        if (granted & need) != need or (granted_everywhere & need_everywhere) != need_everywhere:
            continue
        # ... and conditional unless every one of them is granted without conditions
        conditional = (definite & need) != need or (definite_everywhere & need_everywhere) != need_everywhere
        out.append((method, conditional, outside))
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


@cache
def launchers() -> tuple[Launcher, ...]:
    """The methods that run code as a passed role, as the graph's launchers (named by their actions)."""
    cat = catalogue()
    out = []
    for method in methods():
        if "iam:passrole" in method.actions and method.passes_to:
            others = tuple(cat.canonical(a) or a for a in method.actions if a != "iam:passrole")
            out.append(Launcher(method_key(method), method.passes_to, others))
    return tuple(out)


def method_key(method: Method) -> str:
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
