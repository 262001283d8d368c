"""IAM Access Analyzer in every audit: policy checks and analyzer findings as rolewatch findings.

- `AccessAnalyzerCheck(clients, mode=...)`: the live check `(snapshot, profile) -> LiveCheckResult`;
  create one per invocation (it caches answers per policy hash and remembers an unavailable endpoint).
- `skipped_finding(role, reasons)`: the single `info` finding the service adds for `LiveCheckResult.skipped`.
- `REQUIRED_ACTIONS`: the access-analyzer actions the check calls (also registered with `requires`).
"""

from rolewatch.analyzer import calls
from rolewatch.analyzer.check import AUTO, OFF, AccessAnalyzerCheck, PolicyCheckCache
from rolewatch.analyzer.translate import ALL_RULES, skipped_finding
from rolewatch.inventory.iam_reader import ACTIONS_BY_FUNCTION

REQUIRED_ACTIONS: frozenset[str] = frozenset().union(
    *(ACTIONS_BY_FUNCTION[f.__name__] for f in calls.ADAPTER_FUNCTIONS)
)

__all__ = [
    "ALL_RULES",
    "AUTO",
    "OFF",
    "REQUIRED_ACTIONS",
    "AccessAnalyzerCheck",
    "PolicyCheckCache",
    "skipped_finding",
]
