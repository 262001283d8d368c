"""The audit engine's own work: one role at a time, shared permissions, cached trust policies, and
cross-role rules that see every role however many there are."""

from __future__ import annotations

import pytest
from helpers import ACCOUNT, NEUTRAL, NOW, allow, make_role, policy

from rolewatch.audit import RECENT_ROLES, _PermissionsByArn, _Prepared, _Recent, audit_roles, parse_trust_policy
from rolewatch.model import PolicyError

ACCOUNT_ROOT_TRUST = policy(
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
)


def test_role_chains_are_found_across_more_roles_than_are_kept_in_memory() -> None:
    target = make_role("break-glass", policy(allow("*")), trust=ACCOUNT_ROOT_TRUST)
    hop = policy(allow("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/break-glass"))
    callers = [make_role(f"app-{i:03d}", hop) for i in range(RECENT_ROLES + 44)]
    result = audit_roles([target, *callers], NEUTRAL, rules=["role-chain-escalation"], now=NOW)
    assert result.errors == ()
    assert result.roles_audited == len(callers) + 1
    chained = {f.resource.rsplit("/", 1)[-1] for f in result.findings if f.rule == "role-chain-escalation"}
    assert chained == {role.name for role in callers}


def test_roles_with_the_same_policies_share_their_permissions() -> None:
    document = policy(allow(["s3:GetObject", "iam:PassRole"]))
    shared: _Recent = _Recent(8)
    first = _Prepared(make_role("one", document), shared, NOW)
    second = _Prepared(make_role("two", document), shared, NOW)
    other = _Prepared(make_role("three", policy(allow("s3:GetObject"))), shared, NOW)
    assert first.permissions is second.permissions
    assert other.permissions is not first.permissions


def test_recent_keeps_the_most_recently_used_entries() -> None:
    recent: _Recent[str, int] = _Recent(2)
    recent.put("a", 1)
    recent.put("b", 2)
    assert recent.get("a") == 1  # "a" is now the most recent
    recent.put("c", 3)
    assert recent.get("b") is None
    assert (recent.get("a"), recent.get("c")) == (1, 3)


def test_a_malformed_trust_policy_is_reported_at_the_role_and_the_rest_is_audited() -> None:
    broken = make_role("broken", policy(allow("iam:*")), trust="not json")
    fine = make_role("fine", policy(allow("iam:*")))
    result = audit_roles([broken, fine], NEUTRAL, rules=["privilege-escalation"], now=NOW)
    [error] = result.errors
    assert (error.resource.rsplit("/", 1)[-1], error.location) == ("broken", "broken.AssumeRolePolicyDocument")
    assert {f.resource.rsplit("/", 1)[-1] for f in result.findings} == {"broken", "fine"}


def test_cached_trust_policies_keep_principals_in_written_order() -> None:
    trust = policy(
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com", "AWS": "arn:aws:iam::1:root"}, "Action": "*"}
    )
    parsed = parse_trust_policy(trust, "r.AssumeRolePolicyDocument")
    assert [kind for kind, _ in parsed.statements[0].principals.entries] == ["Service", "AWS"]
    assert parse_trust_policy(dict(trust), "other") is parsed  # an equal document is parsed once
    with pytest.raises(PolicyError) as caught:
        parse_trust_policy({"Statement": [{"Effect": "Allow", "Action": "*"}]}, "r.AssumeRolePolicyDocument")
    assert caught.value.location == "r.AssumeRolePolicyDocument.Statement[0]"


def test_permissions_by_arn_reads_like_a_dict() -> None:
    roles = [make_role(f"r{i}", policy(allow("s3:GetObject"))) for i in range(3)]
    by_arn = _PermissionsByArn({r.arn: r for r in roles}, _Recent(4), NOW)
    assert len(by_arn) == 3 and roles[0].arn in by_arn and "arn:aws:iam::1:role/other" not in by_arn
    assert by_arn.get("arn:aws:iam::1:role/other") is None
    assert list(by_arn.keys()) == [r.arn for r in roles]
    assert all(p.allows("s3:GetObject") for p in by_arn.values())
    assert [arn for arn, _ in by_arn.items()] == [r.arn for r in roles]
    with pytest.raises(KeyError):
        by_arn["arn:aws:iam::1:role/other"]
