"""The policies offline validation judges, and how a finding names them."""

from __future__ import annotations

from rolewatch.policy.permissions import CompiledPolicy
from rolewatch.rules.registry import RuleContext


def customer_policies(ctx: RuleContext) -> list[tuple[str, CompiledPolicy]]:
    """AWS-managed policies are AWS's to validate (and often name actions newer than the catalogue)."""
    return [(label, p) for label, p in ctx.policies if ":iam::aws:policy/" not in label]


def policy_labels(labels: list[str]) -> str:
    """ "Policy X" or "Policies X, Y": one finding per role names every policy it concerns."""
    return ("Policy " if len(labels) == 1 else "Policies ") + ", ".join(labels)
