"""Builders for tests: roles from plain policy documents, audits with a neutral baseline."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rolewatch.audit import audit_roles
from rolewatch.baseline import Baseline, Profile
from rolewatch.model import AttachedPolicy, Finding, RoleSnapshot

ACCOUNT = "111122223333"
# The audits' time in tests: fixed, so a verdict never depends on the day the suite runs.
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NEUTRAL = Baseline(profiles=(Profile(name="neutral"),))
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def make_role(
    name: str = "test-role",
    *documents: Any,
    trust: Any = EC2_TRUST,
    managed: Iterable[tuple[str, Any]] = (),
    boundary: Any = None,
    **fields: Any,
) -> RoleSnapshot:
    return RoleSnapshot(
        arn=f"arn:aws:iam::{ACCOUNT}:role/{name}",
        name=name,
        trust_policy=trust,
        inline_policies=tuple(AttachedPolicy(name=f"inline-{i}", document=d) for i, d in enumerate(documents)),
        managed_policies=tuple(AttachedPolicy(name=arn.rsplit("/", 1)[-1], document=d, arn=arn) for arn, d in managed),
        permissions_boundary=AttachedPolicy(name="boundary", document=boundary, arn=f"arn:aws:iam::{ACCOUNT}:policy/b")
        if boundary is not None
        else None,
        **fields,
    )


def findings(
    roles: RoleSnapshot | list[RoleSnapshot], rules: Iterable[str] | None = None, baseline: Baseline = NEUTRAL
) -> list[Finding]:
    result = audit_roles(roles if isinstance(roles, list) else [roles], baseline, now=NOW, rules=rules)
    assert not result.errors, result.errors
    return list(result.findings)


def rule_ids(roles: RoleSnapshot | list[RoleSnapshot], rules: Iterable[str] | None = None) -> set[str]:
    return {f.rule for f in findings(roles, rules)}
