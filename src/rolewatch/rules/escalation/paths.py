"""How an escalation reads: the graph paths shown as evidence, and the severity of what they reach."""

from __future__ import annotations

from rolewatch.model import Severity
from rolewatch.policy.graph import Path, PrincipalGraph

MAX_PATHS_SHOWN = 3
MAX_MORE_LISTED = 8


REACH_SEVERITY = {3: Severity.CRITICAL, 2: Severity.HIGH, 1: Severity.HIGH, 0: Severity.MEDIUM}


def path_evidence(paths: list[Path], graph: PrincipalGraph) -> list[str]:
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


def lower_severity(severity: Severity) -> Severity:
    order = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO]
    return order[min(order.index(severity) + 1, len(order) - 1)]
