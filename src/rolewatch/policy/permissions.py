"""Principal-centric effective permissions: what a role can actually do, across all its policies.

Evaluation follows IAM's logic for one principal in its own account:
1. every Allow statement of every identity policy (inline and managed) grants its actions on its
   resources; actions whose resource types cannot match the statement's Resource are not granted
   (e.g. `s3:ListAllMyBuckets` on `arn:aws:s3:::bucket`), and IAM write actions on
   `arn:aws:iam::aws:...` grant nothing (AWS-managed policies are immutable);
2. an explicit Deny in any policy removes the actions it names from every grant whose resources it
   covers (unconditional denies only: see conditions.py);
3. a permissions boundary caps the result: only actions the boundary also allows remain.

Action sets are bitsets over the catalogue (see catalogue.py). Compiled documents are cached by their
text, so a managed policy shared by a thousand roles is analysed once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from rolewatch.model import PolicyError
from rolewatch.policy.catalogue import ACCESS_LIST, ACCESS_READ, ActionCatalogue, catalogue
from rolewatch.policy.conditions import ConditionClass, classify, passed_to_services
from rolewatch.policy.document import Condition, PolicyDocument, Statement, parse_policy
from rolewatch.policy.globs import arn_format_glob, arn_globs_intersect, glob_covers, glob_match


@dataclass(frozen=True)
class Grant:
    """One statement's contribution: the actions it grants (or denies) and on what."""

    mask: int
    unrestricted: bool  # applies to every resource: Resource "*" (NotResource is treated so too)
    resources: tuple[str, ...]
    not_resource: bool
    patterns: tuple[str, ...]
    not_action: bool
    restricting: tuple[Condition, ...]  # conditions an attacker cannot satisfy at will
    unknown_conditions: tuple[Condition, ...]
    pass_to: frozenset[str] | None  # iam:PassedToService values, None when unrestricted
    delegation: bool  # conditioned on iam:PermissionsBoundary
    location: str

    @property
    def conditional(self) -> bool:
        return bool(self.restricting)

    def names_action(self, action: str) -> bool:
        """Whether the statement's Action/NotAction text covers an action (for names outside the catalogue)."""
        action = action.lower()
        service = action.split(":", 1)[0] + ":"
        hit = any(
            glob_match(p, action)
            for p in (x.lower() for x in self.patterns)
            if p.startswith(service) or p.split(":", 1)[0].count("*") or p.startswith("?")
        )
        return hit != self.not_action


@dataclass(frozen=True)
class CompiledPolicy:
    document: PolicyDocument
    allows: tuple[Grant, ...]
    denies: tuple[Grant, ...]  # denies that hold unconditionally
    conditional_denies: tuple[Grant, ...]
    unknown_actions: tuple[tuple[str, str], ...]  # (location, pattern) naming no catalogue action
    void_resources: tuple[tuple[str, str], ...]  # (location, pattern) no action of the statement can use


@dataclass(frozen=True)
class LabeledGrant:
    policy: str  # the policy's name (inline) or ARN (managed)
    grant: Grant
    mask: int  # what remains after denies and the boundary
    unrestricted_mask: int


def document_key(raw: Any) -> str:
    return raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True, default=str)


def compile_policy(raw: Any, location: str = "", kind: str = "identity") -> CompiledPolicy:
    """Parse and compile a document; raises PolicyError. Cached by document text, so the many roles
    that share a managed policy (or an identical inline one) cost one analysis."""
    try:
        return _compile_cached(document_key(raw), kind)
    except PolicyError as exc:
        where = ".".join(part for part in (location, exc.location) if part)
        raise PolicyError(where, exc.message) from None


@cache
def _compile_cached(key: str, kind: str) -> CompiledPolicy:
    return compile_document(parse_policy(key, "", kind))  # type: ignore[arg-type]


def compile_document(document: PolicyDocument) -> CompiledPolicy:
    cat = catalogue()
    allows: list[Grant] = []
    denies: list[Grant] = []
    conditional_denies: list[Grant] = []
    unknown: list[tuple[str, str]] = []
    void: list[tuple[str, str]] = []
    for statement in document.statements:
        grant, void_here = _compile_statement(statement, cat, unknown)
        void.extend(void_here)
        if grant is None:
            continue
        if statement.allows:
            allows.append(grant)
        elif grant.restricting or grant.unknown_conditions or grant.pass_to is not None or grant.delegation:
            conditional_denies.append(grant)
        else:
            denies.append(grant)
    return CompiledPolicy(
        document, tuple(allows), tuple(denies), tuple(conditional_denies), tuple(unknown), tuple(void)
    )


def _compile_statement(
    statement: Statement, cat: ActionCatalogue, unknown: list[tuple[str, str]]
) -> tuple[Grant | None, list[tuple[str, str]]]:
    restricting: list[Condition] = []
    unknown_conditions: list[Condition] = []
    delegation = False
    for condition in statement.conditions:
        cls = classify(condition)
        if cls is ConditionClass.TIME_CLOSED:
            return None, []  # the statement can no longer apply
        if cls is ConditionClass.RESTRICTING:
            restricting.append(condition)
        elif cls is ConditionClass.UNKNOWN:
            unknown_conditions.append(condition)
        elif cls is ConditionClass.DELEGATION:
            delegation = True

    action_mask = 0
    for i, pattern in enumerate(statement.actions):
        expanded = cat.expand(pattern)
        if not expanded:
            unknown.append((f"{statement.location}.{'NotAction' if statement.not_action else 'Action'}[{i}]", pattern))
        action_mask |= expanded
    if statement.not_action:
        action_mask = cat.all & ~action_mask

    void: list[tuple[str, str]] = []
    if not statement.resources or statement.not_resource or "*" in statement.resources:
        resource_mask = cat.all
        unrestricted = True
    else:
        resource_mask = 0
        for i, pattern in enumerate(statement.resources):
            m = resource_pattern_mask(pattern)
            if action_mask and not (m & action_mask):
                void.append((f"{statement.location}.Resource[{i}]", pattern))
            resource_mask |= m
        unrestricted = False
    grant = Grant(
        mask=action_mask & resource_mask,
        unrestricted=unrestricted,
        resources=statement.resources,
        not_resource=statement.not_resource,
        patterns=statement.actions,
        not_action=statement.not_action,
        restricting=tuple(restricting),
        unknown_conditions=tuple(unknown_conditions),
        pass_to=passed_to_services(statement.conditions),
        delegation=delegation,
        location=statement.location,
    )
    return grant, void


@cache
def resource_pattern_mask(pattern: str) -> int:
    """Every catalogue action that can act on some resource the ARN pattern matches."""
    cat = catalogue()
    if pattern == "*":
        return cat.all
    parts = pattern.split(":", 5)
    literal_service = len(parts) == 6 and "*" not in parts[2] and "?" not in parts[2]
    mask = 0
    for prefix, resource_type, arn_format in cat.formats_for_arn_service(parts[2] if literal_service else None):
        if arn_globs_intersect(pattern, arn_format_glob(arn_format)):
            mask |= cat.actions_for_resource_type(prefix, resource_type)
    if len(parts) == 6 and parts[2] == "iam" and parts[4] == "aws":
        # arn:aws:iam::aws:policy/... names AWS-managed policies, which no customer can change.
        mask &= cat.level_mask(ACCESS_LIST) | cat.level_mask(ACCESS_READ)
    return mask


class Permissions:
    """The effective permissions of one principal."""

    def __init__(
        self,
        policies: list[tuple[str, CompiledPolicy]],
        boundary: CompiledPolicy | None = None,
    ) -> None:
        cat = catalogue()
        self.catalogue = cat
        denies = [d for _, p in policies for d in p.denies]
        self._deny_grants = denies
        bound_any, bound_unrestricted = _boundary_masks(boundary, cat) if boundary else (cat.all, cat.all)
        self.boundary = boundary
        grants: list[LabeledGrant] = []
        allowed = unrestricted = definite = conditional = 0
        for label, policy in policies:
            for g in policy.allows:
                m = g.mask
                for d in denies:
                    if m & d.mask and deny_covers(d, g):
                        m &= ~d.mask
                m &= bound_any
                if not m:
                    continue
                um = m & bound_unrestricted if g.unrestricted else 0
                grants.append(LabeledGrant(label, g, m, um))
                allowed |= m
                unrestricted |= um
                if g.delegation:
                    continue
                if g.conditional:
                    conditional |= m
                else:
                    definite |= m
        self.grants = grants
        self.allowed = allowed  # on some resource, under some condition
        self.unrestricted = unrestricted  # on every resource (Resource "*")
        self.definite = definite  # without restricting conditions or boundary-enforced delegation
        self.escalation = definite | conditional  # what can serve an escalation path

    def allows(self, action: str) -> bool:
        """Is the action (any name, even one outside the catalogue) allowed on some resource?"""
        i = self.catalogue.index.get(action.lower())
        if i is not None:
            return bool(self.allowed >> i & 1)
        # Outside the catalogue (a new or retired action): only unrestricted statements can grant it.
        if any(d.unrestricted and d.names_action(action) for d in self._deny_grants):
            return False
        return any(lg.grant.unrestricted and lg.grant.names_action(action) for lg in self.grants)

    def grants_for(self, mask: int) -> list[LabeledGrant]:
        return [lg for lg in self.grants if lg.mask & mask]

    def pass_role_targets(self) -> list[frozenset[str] | None]:
        """iam:PassedToService restrictions of every grant that allows iam:PassRole (None: any service)."""
        bit = self.catalogue.expand("iam:PassRole")
        return [lg.grant.pass_to for lg in self.grants if lg.mask & bit and not lg.grant.delegation]


def deny_covers(deny: Grant, allow: Grant) -> bool:
    if deny.unrestricted and not deny.not_resource:
        return True
    if deny.not_resource or allow.unrestricted:
        return False
    return all(any(glob_covers(d, a) for d in deny.resources) for a in allow.resources)


def _boundary_masks(boundary: CompiledPolicy, cat: ActionCatalogue) -> tuple[int, int]:
    any_mask = unrestricted_mask = 0
    for g in boundary.allows:
        any_mask |= g.mask
        if g.unrestricted:
            unrestricted_mask |= g.mask
    for d in boundary.denies:
        if d.unrestricted and not d.not_resource:
            any_mask &= ~d.mask
            unrestricted_mask &= ~d.mask
    return any_mask, unrestricted_mask


def empty_permissions() -> Permissions:
    return Permissions([])


def format_conditions(conditions: tuple[Condition, ...]) -> str:
    return "; ".join(f"{c.operator} {c.key} {list(c.values)}" for c in conditions)


def glob_any(patterns: tuple[str, ...] | frozenset[str], text: str) -> bool:
    return any(glob_match(p, text) for p in patterns)
