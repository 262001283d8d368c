"""policy-redundant-statement: a statement another statement of the policy already covers."""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding
from rolewatch.policy.globs import glob_covers
from rolewatch.policy.permissions import CompiledPolicy, Grant
from rolewatch.rules.registry import RuleContext, rule
from rolewatch.rules.validation.customer_policies import customer_policies, policy_labels


@rule
def policy_redundant_statement(ctx: RuleContext) -> Iterator[Finding]:
    evidence: list[str] = []
    labels: list[str] = []
    for label, policy in sorted(customer_policies(ctx), key=lambda lp: lp[0]):
        redundant = _redundant_statements(policy)
        if redundant:
            labels.append(label)
            evidence += [f"{label}: {r}" for r in redundant]
    if evidence:
        yield ctx.finding(
            "policy-redundant-statement",
            f"{policy_labels(labels)} of {ctx.role.name} have {len(evidence)} statement(s) that add nothing.",
            evidence=evidence,
        )


def _redundant_statements(policy: CompiledPolicy) -> list[str]:
    """What covers what in one policy. A policy attached to many roles is compared once: the answer
    is kept on the (immutable, shared) compiled policy."""
    memo = policy.__dict__.get("_redundant")
    if memo is not None:
        return memo
    grants = policy.allows
    redundant = []
    for i, inner in enumerate(grants):
        if not inner.mask:
            continue
        for j, outer in enumerate(grants):
            if i == j or not _covers(outer, inner):
                continue
            # Two identical statements cover each other: report only the later one.
            if _covers(inner, outer) and j > i:
                continue
            redundant.append(f"{inner.location} is covered by {outer.location}")
            break
    object.__setattr__(policy, "_redundant", redundant)
    return redundant


def _covers(outer: Grant, inner: Grant) -> bool:
    """Does `outer` grant everything `inner` grants (same conditions: none on either)?"""
    if outer.restricting or outer.unknown_conditions or inner.restricting or inner.unknown_conditions:
        return False
    if outer.pass_to != inner.pass_to or outer.delegation != inner.delegation:
        return False
    if inner.mask & ~outer.mask:
        return False
    if outer.unrestricted and not outer.not_resource:
        return True
    if inner.unrestricted or outer.not_resource or inner.not_resource:
        return False
    return all(any(glob_covers(o, i) for o in outer.resources) for i in inner.resources)
