"""The unused-role rule (RoleLastUsed against the profile's max_unused_days) and the baseline setting."""

from __future__ import annotations

import shlex
from datetime import timedelta

import pytest
from helpers import NOW, make_role

from rolewatch.audit import audit_roles
from rolewatch.baseline import Baseline, BaselineError, Profile, load_baseline, parse_baseline
from rolewatch.model import AttachedPolicy, InstanceProfileRef, Severity
from rolewatch.rules.usage.unused_role import delete_role_cli, parse_day

NINETY = Baseline(profiles=(Profile(name="ninety", max_unused_days=90),))
OFF = Baseline(profiles=(Profile(name="off"),))


def days_ago(days: int) -> str:
    return (NOW - timedelta(days=days)).isoformat()


def unused(role, baseline: Baseline = NINETY):
    result = audit_roles([role], baseline, rules=["unused-role"], now=NOW)
    assert not result.errors
    return list(result.findings)


def test_a_role_last_used_longer_ago_than_the_limit_is_reported_with_a_stable_fingerprint() -> None:
    role = make_role("old-batch", last_used=days_ago(200), create_date=days_ago(900))
    [finding] = unused(role)
    assert finding.rule == "unused-role" and finding.category == "unused-access"
    assert finding.severity is Severity.LOW
    day = parse_day(role.last_used)
    assert day is not None and finding.evidence == (f"last_used={day.isoformat()}",)
    assert "200 days ago" in finding.detail and "ninety" in finding.detail
    # The day count is in the detail, not in the evidence: next week's finding has the same fingerprint.
    later = make_role("old-batch", last_used=role.last_used, create_date=days_ago(907))
    assert unused(later)[0].fingerprint == finding.fingerprint


def test_a_role_used_within_the_limit_is_not_reported() -> None:
    assert unused(make_role("busy", last_used=days_ago(10), create_date=days_ago(900))) == []
    assert unused(make_role("just-inside", last_used=days_ago(88), create_date=days_ago(900))) == []


def test_a_never_used_role_is_judged_by_its_age() -> None:
    [finding] = unused(make_role("forgotten", create_date=days_ago(400)))
    assert finding.evidence[0] == "last_used=never" and finding.evidence[1].startswith("created=")
    assert unused(make_role("brand-new", create_date=days_ago(3))) == []


def test_without_any_date_or_without_a_limit_nothing_is_reported() -> None:
    assert unused(make_role("hand-made")) == []
    assert unused(make_role("old", last_used=days_ago(500)), OFF) == []


def test_dates_in_every_form_the_readers_keep_are_understood() -> None:
    assert parse_day("2026-01-02T03:04:05Z") == parse_day("2026-01-02 03:04:05+00:00")
    assert parse_day("2026-01-02T23:30:00-05:00").isoformat() == "2026-01-03"  # UTC date
    assert parse_day("yesterday") is None and parse_day(None) is None


def test_the_fix_removes_everything_delete_role_needs_first_and_quotes_names() -> None:
    role = make_role(
        "odd name;rm",
        {"Version": "2012-10-17", "Statement": []},
        managed=[("arn:aws:iam::111122223333:policy/p", {"Version": "2012-10-17", "Statement": []})],
        boundary={"Version": "2012-10-17", "Statement": []},
        instance_profiles=(InstanceProfileRef(name="ip", arn="arn:aws:iam::111122223333:instance-profile/ip"),),
    )
    commands = delete_role_cli(role)
    assert [shlex.split(c)[2] for c in commands] == [
        "detach-role-policy",
        "delete-role-policy",
        "remove-role-from-instance-profile",
        "delete-role-permissions-boundary",
        "delete-role",
    ]
    assert all(shlex.split(c)[shlex.split(c).index("--role-name") + 1] == "odd name;rm" for c in commands)


def test_running_instances_are_named_before_deletion_is_suggested() -> None:
    profile = InstanceProfileRef(name="ip", arn="arn:aws:iam::111122223333:instance-profile/ip", instance_ids=("i-1",))
    [finding] = unused(make_role("idle", last_used=days_ago(300), instance_profiles=(profile,)))
    assert "i-1" in finding.detail


def test_a_profile_can_raise_the_severity() -> None:
    strict = Baseline(
        profiles=(Profile(name="strict", max_unused_days=30, severities=(("unused-role", Severity.MEDIUM),)),)
    )
    [finding] = unused(make_role("idle", last_used=days_ago(45)), strict)
    assert finding.severity is Severity.MEDIUM


def test_the_default_baseline_allows_ninety_days_everywhere() -> None:
    assert {p.max_unused_days for p in load_baseline().profiles} == {90}


def test_max_unused_days_is_inherited_overridden_and_switched_off_with_null() -> None:
    baseline = parse_baseline(
        {
            "defaults": {"max_unused_days": 60},
            "profiles": [
                {"name": "emergency", "selector": {"name": "break-glass*"}, "max_unused_days": None},
                {"name": "short", "selector": {"name": "tmp-*"}, "max_unused_days": 7},
                {"name": "default"},
            ],
        },
        "test.yaml",
    )
    assert [p.max_unused_days for p in baseline.profiles] == [None, 7, 60]


@pytest.mark.parametrize("value", [0, -1, 3651, "90", True, 1.5])
def test_an_invalid_max_unused_days_names_the_field(value: object) -> None:
    with pytest.raises(BaselineError, match=r"test.yaml: profiles\[0\].max_unused_days: expected a number of days"):
        parse_baseline({"profiles": [{"name": "default", "max_unused_days": value}]}, "test.yaml")


def test_service_linked_roles_are_not_judged() -> None:
    role = make_role("AWSServiceRoleForX", path="/aws-service-role/x.amazonaws.com/", create_date=days_ago(999))
    assert unused(role) == []


def test_inline_policy_names_are_taken_from_the_snapshot() -> None:
    role = make_role("r")
    role = role.__class__(**{**role.__dict__, "inline_policies": (AttachedPolicy(name="a b", document={}),)})
    assert shlex.split(delete_role_cli(role)[0])[-1] == "a b"
