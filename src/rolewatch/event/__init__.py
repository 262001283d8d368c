"""One change event, from the EventBridge envelope to what the call changed.

- `triggers`: CloudTrail / Access Analyzer events -> `AuditRequest`s (pure; the routing table).
- `delta`: the permissions one call gained and lost (pure).
- `targets`: what the request names -> the role names to audit, and the roles their policies name (AWS).
- `delta_reader`: the state before the call, read from IAM and EC2, fed to `delta` (AWS).

The package itself imports none of its modules, so importing any one of them never runs into a
half-initialised package.
"""
