"""IAM Access Analyzer in every audit: policy checks and analyzer findings as rolewatch findings.

- `check.AccessAnalyzerCheck(clients, mode=...)`: the live check `(snapshot, profile) -> LiveCheckResult`;
  create one per invocation (it caches answers per policy hash and remembers an unavailable endpoint).
- `translate.skipped_finding(role, reasons)`: the single `info` finding the service adds for
  `LiveCheckResult.skipped`.
- `calls.REQUIRED_ACTIONS`: the access-analyzer actions the check calls (also registered with `requires`).

The package itself imports none of its modules: they import each other (check -> calls, translate,
unused), never the package, so importing any one of them cannot run into a half-initialised package.
"""
