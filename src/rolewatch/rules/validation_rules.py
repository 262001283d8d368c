"""Offline policy validation in the spirit of IAM Access Analyzer's ValidatePolicy.

What can be decided without AWS: actions and services that do not exist in the catalogue, Resource
elements none of the statement's actions can use, statements that another statement of the same policy
already covers, and Allows that explicit Denies cancel completely.
"""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding
from rolewatch.policy.globs import glob_covers
from rolewatch.policy.permissions import CompiledPolicy, Grant, deny_covers
from rolewatch.rules.registry import RuleContext, rule


def _customer_policies(ctx: RuleContext) -> list[tuple[str, CompiledPolicy]]:
    """AWS-managed policies are AWS's to validate (and often name actions newer than the catalogue)."""
    return [(label, p) for label, p in ctx.policies if ":iam::aws:policy/" not in label]


@rule
def policy_unknown_action(ctx: RuleContext) -> Iterator[Finding]:
    cat = ctx.permissions.catalogue
    problems: list[str] = []
    actions: list[str] = []
    labels: list[str] = []
    for label, policy in sorted(_customer_policies(ctx), key=lambda lp: lp[0]):
        if not policy.unknown_actions:
            continue
        labels.append(label)
        for location, pattern in policy.unknown_actions:
            service = pattern.split(":", 1)[0]
            actions.append(pattern)
            if "*" not in service and "?" not in service and not cat.is_known_service(service):
                problems.append(f"{label} {location}: unknown service prefix {service!r} in {pattern!r}")
            else:
                problems.append(f"{label} {location}: {pattern!r} matches no action of the service")
    if problems:
        yield ctx.finding(
            "policy-unknown-action",
            f"{_policies(labels)} of {ctx.role.name} name {len(problems)} action(s) that do not exist "
            f"(in the {cat.source} catalogue); they grant or deny nothing.",
            actions=actions,
            evidence=problems,
        )


@rule
def policy_resource_mismatch(ctx: RuleContext) -> Iterator[Finding]:
    evidence: list[str] = []
    labels: list[str] = []
    for label, policy in sorted(_customer_policies(ctx), key=lambda lp: lp[0]):
        if policy.void_resources:
            labels.append(label)
            evidence += [f"{label} {location}: {pattern}" for location, pattern in policy.void_resources]
    if evidence:
        yield ctx.finding(
            "policy-resource-mismatch",
            f"{_policies(labels)} of {ctx.role.name}: {len(evidence)} Resource value(s) match no "
            "resource type of their statement's actions, so those grants are void.",
            evidence=evidence,
        )


def _policies(labels: list[str]) -> str:
    """ "Policy X" or "Policies X, Y": one finding per role names every policy it concerns."""
    return ("Policy " if len(labels) == 1 else "Policies ") + ", ".join(labels)


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


@rule
def policy_redundant_statement(ctx: RuleContext) -> Iterator[Finding]:
    evidence: list[str] = []
    labels: list[str] = []
    for label, policy in sorted(_customer_policies(ctx), key=lambda lp: lp[0]):
        redundant = _redundant_statements(policy)
        if redundant:
            labels.append(label)
            evidence += [f"{label}: {r}" for r in redundant]
    if evidence:
        yield ctx.finding(
            "policy-redundant-statement",
            f"{_policies(labels)} of {ctx.role.name} have {len(evidence)} statement(s) that add nothing.",
            evidence=evidence,
        )


@rule
def policy_contradictory_statement(ctx: RuleContext) -> Iterator[Finding]:
    denies = [d for _, p in ctx.policies for d in p.denies]
    if not denies:
        return
    evidence: list[str] = []
    labels: list[str] = []
    for label, policy in sorted(ctx.policies, key=lambda lp: lp[0]):
        cancelled = []
        for grant in policy.allows:
            remaining = grant.mask
            for d in denies:
                if remaining & d.mask and deny_covers(d, grant):
                    remaining &= ~d.mask
            if grant.mask and not remaining:
                cancelled.append(f"{label} {grant.location} ({', '.join(grant.patterns[:4])}) is fully denied")
        if cancelled:
            labels.append(label)
            evidence += cancelled
    if evidence:
        yield ctx.finding(
            "policy-contradictory-statement",
            f"{_policies(labels)} of {ctx.role.name}: {len(evidence)} Allow statement(s) are cancelled by "
            "explicit Deny statements and grant nothing.",
            evidence=evidence,
        )
