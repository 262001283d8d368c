"""The baseline's `access_analyzer` settings: per-profile switches, sensitive actions, reference policy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rolewatch.baseline import (
    AccessAnalyzerSettings,
    BaselineError,
    Profile,
    load_baseline,
    parse_baseline,
    reference_policy_from_profile,
)


def baseline(profile: dict[str, Any], defaults: dict[str, Any] | None = None) -> Profile:
    raw: dict[str, Any] = {"version": 1, "profiles": [{"name": "p", **profile}]}
    if defaults is not None:
        raw["defaults"] = defaults
    return parse_baseline(raw, "test.yaml").profiles[0]


def test_every_check_is_on_unless_switched_off() -> None:
    assert baseline({}).access_analyzer == AccessAnalyzerSettings()
    assert AccessAnalyzerSettings().validate_policy and AccessAnalyzerSettings().check_no_public_access


def test_profile_settings_merge_key_by_key_over_the_defaults() -> None:
    profile = baseline(
        {"access_analyzer": {"check_no_new_access": False}},
        defaults={
            "access_analyzer": {"check_access_not_granted": False, "sensitive_actions": ["kms:ScheduleKeyDeletion"]}
        },
    )
    settings = profile.access_analyzer
    assert not settings.check_access_not_granted and not settings.check_no_new_access
    assert settings.validate_policy and settings.findings
    assert settings.sensitive_actions == ("kms:ScheduleKeyDeletion",)


def test_sensitive_actions_for_access_analyzer_add_to_the_profiles_own() -> None:
    profile = baseline(
        {"sensitive_actions": ["iam:*", "sts:AssumeRole"]},
        defaults={"access_analyzer": {"sensitive_actions": ["sts:AssumeRole", "cloudtrail:StopLogging"]}},
    )
    assert profile.access_analyzer_sensitive_actions == ("iam:*", "sts:AssumeRole", "cloudtrail:StopLogging")


def test_a_reference_policy_document_is_validated_and_kept_as_json() -> None:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    profile = baseline({"access_analyzer": {"reference_policy": document}})
    assert json.loads(profile.access_analyzer.reference_policy or "") == document


def test_reference_policy_profile_is_built_from_the_allowed_actions() -> None:
    profile = baseline(
        {
            "allowed_services": ["s3", "logs"],
            "allowed_actions": ["s3:GetObject", "logs:PutLogEvents", "sqs:SendMessage"],
            "access_analyzer": {"reference_policy": "profile"},
        }
    )
    assert json.loads(profile.access_analyzer.reference_policy or "") == {
        "Version": "2012-10-17",
        # sqs:SendMessage is outside the allowed services, so the profile does not permit it either
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "logs:PutLogEvents"], "Resource": "*"}],
    }
    services_only = Profile(name="x", allowed_services=("s3", "ecr"))
    assert reference_policy_from_profile(services_only) == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*", "ecr:*"], "Resource": "*"}],
    }
    assert reference_policy_from_profile(Profile(name="open")) is None


BAD_SETTINGS = {
    "unknown-key": ({"validate": True}, r"profiles\[0\].access_analyzer.validate: unknown key"),
    "not-a-boolean": ({"findings": "yes"}, r"access_analyzer.findings: expected true or false"),
    "unknown-action": ({"sensitive_actions": ["iam:Nope"]}, r"sensitive_actions\[0\]: 'iam:Nope' names no known"),
    "profile-without-actions": ({"reference_policy": "profile"}, "needs a profile that lists allowed_services"),
    "not-a-document": ({"reference_policy": ["s3:*"]}, "expected a policy document"),
    "bad-document": ({"reference_policy": {"Statement": [{"Effect": "Maybe"}]}}, r"reference_policy.Statement\[0\]"),
    "not-a-mapping": ("on", r"access_analyzer: expected a mapping"),
}


@pytest.mark.parametrize(("settings", "message"), BAD_SETTINGS.values(), ids=BAD_SETTINGS.keys())
def test_bad_access_analyzer_settings_name_the_field(settings, message) -> None:
    with pytest.raises(BaselineError, match=message):
        baseline({"access_analyzer": settings})


def test_the_shipped_baseline_switches_checks_per_profile() -> None:
    profiles = {p.name: p for p in load_baseline().profiles}
    instance = profiles["instance-role"].access_analyzer
    reference = json.loads(instance.reference_policy or "")
    assert "ssm:UpdateInstanceInformation" in reference["Statement"][0]["Action"]
    assert profiles["default"].access_analyzer.reference_policy is None  # nothing to compare against
    default_sensitive = profiles["default"].access_analyzer_sensitive_actions
    assert "cloudtrail:StopLogging" in default_sensitive and len(default_sensitive) <= 100
    assert "iam:PassRole" in profiles["instance-role"].access_analyzer_sensitive_actions
