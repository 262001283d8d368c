"""Policies without the permissions an unused-access analyzer reports unused. Pure: no AWS calls.

Two sources, in order of preference:
1. Access Analyzer's own recommendation (GetFindingRecommendation): each step either replaces a policy
   with a recommended document (CREATE_POLICY) or removes it (DETACH_POLICY);
2. otherwise rolewatch's engine: every statement of the role's policies keeps its resources and
   conditions; an Action pattern that covers an unused action is replaced by the catalogue actions it
   covers less the unused ones (patterns that cover none stay as written), a NotAction statement gets
   the unused actions added to its NotAction, and a statement left with nothing is dropped. Action lists
   come from the catalogue, never by hand.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rolewatch.model import PolicyError, Remediation, RoleSnapshot
from rolewatch.policy.catalogue import ActionCatalogue, catalogue
from rolewatch.policy.document import decode_document
from rolewatch.policy.permissions import compile_policy
from rolewatch.remediation import (
    MAX_MANAGED_POLICY_CHARS,
    policy_size,
    remove_policy_cli,
    replace_with_policy_cli,
    revise_policy_cli,
)


@dataclass(frozen=True)
class UnusedPermissions:
    """The actions one UnusedPermission finding names: full names, or a whole service."""

    namespace: str
    actions: tuple[str, ...]  # empty: every action of the namespace is unused

    @classmethod
    def from_details(cls, details: Mapping[str, Any]) -> UnusedPermissions:
        namespace = str(details.get("serviceNamespace", "")).lower()
        names = []
        for item in details.get("actions") or []:
            action = str(item.get("action", ""))
            if action:
                # The API names actions without the service prefix ("GetObject"); accept either form.
                names.append(action if ":" in action else f"{namespace}:{action}")
        return cls(namespace=namespace, actions=tuple(names))

    def mask(self, cat: ActionCatalogue) -> int:
        if not self.actions:
            return cat.service_mask(self.namespace)
        return cat.mask_of(self.actions)

    def names(self, cat: ActionCatalogue) -> list[str]:
        if self.actions:
            return [cat.canonical(a) or a for a in self.actions]
        return [f"{self.namespace}:*"]


@dataclass(frozen=True)
class RevisedPolicy:
    label: str  # inline policy name or managed policy ARN
    document: dict[str, Any] | None  # None: nothing is left, remove the policy


def _statements(document: Any) -> list[Any]:
    body = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(body, dict):
        return [body]
    return list(body or [])


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _revise_statement(statement: Any, unused: int, literal: set[str], cat: ActionCatalogue) -> Any | None:
    """The statement without the unused actions; None when it grants nothing any more."""
    if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
        return statement
    if "NotAction" in statement:
        excluded = _as_list(statement["NotAction"])
        covered = 0
        for pattern in excluded:
            covered |= cat.expand(pattern)
        add = cat.names_in(unused & ~covered) + sorted(a for a in literal if not cat.canonical(a))
        if not add:
            return statement
        return {**statement, "NotAction": sorted(dict.fromkeys([*excluded, *add]))}
    kept: list[str] = []
    changed = False
    for pattern in _as_list(statement.get("Action")):
        expanded = cat.expand(pattern)
        if pattern.lower() in literal:
            changed = True
        elif expanded & unused:
            kept.extend(cat.names_in(expanded & ~unused))
            changed = True
        else:
            kept.append(pattern)
    if not changed:
        return statement
    if not kept:
        return None
    kept = list(dict.fromkeys(kept))
    return {**statement, "Action": kept[0] if len(kept) == 1 else kept}


def revise_policies(role: RoleSnapshot, unused: Sequence[UnusedPermissions]) -> list[RevisedPolicy]:
    """Each of the role's permission policies that grants an unused action, revised without it."""
    cat = catalogue()
    mask = 0
    literal: set[str] = set()
    for item in unused:
        mask |= item.mask(cat)
        literal.update(a.lower() for a in item.actions if not cat.canonical(a))
    out = []
    for attached in role.permission_policies:
        label = attached.arn or attached.name
        try:
            compiled = compile_policy(attached.document, attached.location)
            document = copy.deepcopy(decode_document(attached.document))
        except PolicyError:
            continue  # the audit reports unreadable documents as errors
        granted = 0
        for grant in compiled.allows:
            granted |= grant.mask
        names_literal = any(p.lower() in literal for g in compiled.allows if not g.not_action for p in g.patterns)
        if not granted & mask and not names_literal:
            continue
        statements = [_revise_statement(s, mask, literal, cat) for s in _statements(document)]
        kept = [s for s in statements if s is not None]
        has_allow = any(isinstance(s, dict) and s.get("Effect") == "Allow" for s in kept)
        out.append(RevisedPolicy(label, {**document, "Statement": kept} if has_allow else None))
    return out


def _policy_commands(role: RoleSnapshot, revised: RevisedPolicy) -> list[str]:
    if revised.document is None:
        return [remove_policy_cli(role, revised.label)]
    if ":iam::aws:policy/" in revised.label:
        # AWS-managed policies cannot be edited: a customer-managed copy replaces it.
        return replace_with_policy_cli(role, [revised.label])
    return revise_policy_cli(role, revised.label)


def _documents(revised: Sequence[RevisedPolicy]) -> dict[str, Any] | None:
    """The one revised document, or {policy: document} when several policies change."""
    kept = [r for r in revised if r.document is not None]
    if not kept:
        return None
    if len(revised) == 1:
        return kept[0].document
    return {r.label: r.document for r in kept}


def local_remediation(role: RoleSnapshot, unused: Sequence[UnusedPermissions], why: str) -> Remediation:
    """rolewatch's own revision of the role's policies without the unused actions."""
    revised = revise_policies(role, unused)
    if not revised:
        return Remediation(
            summary=f"No policy of the role grants the unused actions any more (already revised?). {why}".strip()
        )
    parts = []
    for r in revised:
        if r.document is None:
            parts.append(f"remove {r.label} (it grants only unused actions)")
        elif policy_size(r.document) > MAX_MANAGED_POLICY_CHARS:
            parts.append(
                f"revise {r.label} (the revised document exceeds IAM's {MAX_MANAGED_POLICY_CHARS}-character "
                "quota for managed policies: split it, or group actions with wildcards that leave out the unused ones)"
            )
        else:
            parts.append(f"revise {r.label}")
    commands = [c for r in revised for c in _policy_commands(role, r)]
    return Remediation(
        summary=f"Computed by rolewatch from the role's policies: {'; '.join(parts)}. {why}".strip(),
        cli=tuple(dict.fromkeys(commands)),
        policy=_documents(revised),
    )


def recommendation_remediation(role: RoleSnapshot, steps: Iterable[Mapping[str, Any]]) -> Remediation | None:
    """Access Analyzer's recommended steps as a Remediation; None when there is no usable step."""
    revised: list[RevisedPolicy] = []
    for step in steps:
        body = step.get("unusedPermissionsRecommendedStep") or {}
        label = body.get("existingPolicyId")
        if not label:
            continue
        if body.get("recommendedAction") == "DETACH_POLICY":
            revised.append(RevisedPolicy(str(label), None))
        elif body.get("recommendedAction") == "CREATE_POLICY" and body.get("recommendedPolicy"):
            try:
                document = json.loads(body["recommendedPolicy"])
            except (TypeError, ValueError):
                continue
            revised.append(RevisedPolicy(str(label), document))
    if not revised:
        return None
    parts = [f"remove {r.label}" if r.document is None else f"replace {r.label}" for r in revised]
    return Remediation(
        summary=f"IAM Access Analyzer's recommendation: {'; '.join(parts)}.",
        cli=tuple(dict.fromkeys(c for r in revised for c in _policy_commands(role, r))),
        policy=_documents(revised),
    )
