"""Baseline files: loading and strict validation, profile selection, suppressions."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import NOW

from rolewatch.audit import audit_roles
from rolewatch.baseline import (
    DEFAULT_BASELINE,
    Baseline,
    BaselineError,
    Profile,
    Selector,
    Suppression,
    load_baseline,
    parse_baseline,
    policy_matches,
)
from rolewatch.model import Finding, Remediation, RoleSnapshot, Severity
from rolewatch.policy.catalogue import catalogue

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "111122223333"
TODAY = date(2026, 11, 22)


def role(
    name: str = "app-role",
    path: str = "/",
    tags: tuple[tuple[str, str], ...] = (),
    **extra: Any,
) -> RoleSnapshot:
    return RoleSnapshot(arn=f"arn:aws:iam::{ACCOUNT}:role{path}{name}", name=name, path=path, tags=tags, **extra)


def finding(rule: str = "baseline-missing-tags", resource: str = f"arn:aws:iam::{ACCOUNT}:role/app-role") -> Finding:
    return Finding(rule, "baseline", Severity.LOW, resource, "t", "d", Remediation("r"))


def minimal(**top: Any) -> dict[str, Any]:
    return {"profiles": [{"name": "default", "selector": {}}], **top}


# -- the shipped default --------------------------------------------------------------------------


def test_the_default_baseline_loads_once_and_ends_with_a_catch_all() -> None:
    baseline = load_baseline()

    assert baseline is load_baseline(None)  # cached
    assert baseline.source == DEFAULT_BASELINE
    assert [p.name for p in baseline.profiles] == [
        "instance-role",
        "lambda-execution",
        "ci-deploy",
        "sso-permission-set",
        "default",
    ]
    assert baseline.profiles[-1].selector.is_catch_all
    assert baseline.skip_service_linked


def test_lambda_functions_may_read_the_organization_but_not_change_it() -> None:
    """The lambda-execution profile lists organizations' changes by verb: held here to the catalogue's
    access levels, so a new Write action AWS adds under a new verb fails this test, not the audit."""
    profile = next(p for p in load_baseline().profiles if p.name == "lambda-execution")
    cat = catalogue()
    every = cat.expand("organizations:*")
    changes = {n for n in cat.names_in(every) if cat.access_level(n) in ("Write", "Permissions management", "Tagging")}
    assert changes and set(cat.names_in(profile.sensitive_mask & every)) == changes
    assert cat.access_level("organizations:DescribeAccount") == "Read" and cat.expand("organizations:DescribeAccount")
    assert not profile.sensitive_mask & cat.expand("organizations:ListAccounts")


def test_the_default_catch_all_holds_the_documented_defaults() -> None:
    default = load_baseline().profiles[-1]

    assert default.forbidden_managed_policies == ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")
    assert default.required_tags == ("project", "environment", "owner")
    assert default.prefer_customer_managed
    assert default.max_session_duration is not None and default.max_session_duration <= 43200
    assert not default.restricts_actions


@pytest.mark.parametrize(
    ("candidate", "services", "expected"),
    [
        (role("S3AccessRole"), {"ec2.amazonaws.com"}, "instance-role"),
        (role("orders-api", "/service-role/"), {"lambda.amazonaws.com"}, "lambda-execution"),
        (role("github-actions-web"), set(), "ci-deploy"),
        (role("ProdDeployRole"), set(), "ci-deploy"),  # names match regardless of case, as in IAM
        (role("jenkins-deploy"), {"ec2.amazonaws.com"}, "instance-role"),  # the trust decides first
        (
            role("AWSReservedSSO_ReadOnly_0123", "/aws-reserved/sso.amazonaws.com/eu-west-1/"),
            set(),
            "sso-permission-set",
        ),
        (role("ops-admin"), set(), "default"),
    ],
)
def test_the_first_matching_profile_applies(candidate: RoleSnapshot, services: set[str], expected: str) -> None:
    assert load_baseline().profile_for(candidate, frozenset(services)).name == expected


def test_the_example_user_baseline_loads() -> None:
    baseline = load_baseline(REPO / "examples/baselines/strict.yaml")

    instance = baseline.profile_for(role(), frozenset({"ec2.amazonaws.com"}))
    assert instance.resources_for("s3") == ("arn:aws:s3:::company1-logs", "arn:aws:s3:::company1-logs/*")
    assert instance.require_permissions_boundary  # inherited from `defaults`
    assert instance.severity_for("baseline-missing-tags") is Severity.MEDIUM
    assert baseline.suppressions[0].expires == date(2027, 3, 31)


# -- selectors ------------------------------------------------------------------------------------


def test_a_selector_matches_only_when_every_stated_field_matches() -> None:
    selector = Selector(
        path="/apps/*", name="orders-*", tags=(("environment", "prod*"),), trusted_service="ecs-tasks.amazonaws.com"
    )
    services = frozenset({"ecs-tasks.amazonaws.com"})
    good = role("orders-api", "/apps/", tags=(("Environment", "production"),))

    assert selector.matches(good, services)
    assert not selector.matches(good, frozenset({"ec2.amazonaws.com"}))
    assert not selector.matches(role("orders-api", "/", tags=good.tags), services)
    assert not selector.matches(role("billing-api", "/apps/", tags=good.tags), services)
    assert not selector.matches(role("orders-api", "/apps/", tags=(("environment", "dev"),)), services)
    assert not selector.matches(role("orders-api", "/apps/"), services)


def test_a_name_list_in_yaml_selects_any_of_its_globs() -> None:
    baseline = parse_baseline(
        {"profiles": [{"name": "ci", "selector": {"name": ["github-*", "*-cicd"]}}, {"name": "default"}]}, "b.yaml"
    )

    assert baseline.profile_for(role("github-web"), frozenset()).name == "ci"
    assert baseline.profile_for(role("web-cicd"), frozenset()).name == "ci"
    assert baseline.profile_for(role("web"), frozenset()).name == "default"


def test_a_baseline_built_in_code_without_catch_all_still_gives_every_role_a_profile() -> None:
    baseline = Baseline(profiles=(Profile(name="only-ec2", selector=Selector(trusted_service="ec2.amazonaws.com")),))

    assert baseline.profile_for(role(), frozenset()).name == "(none)"


def test_bare_policy_names_mean_aws_managed_policies_and_arns_are_globs() -> None:
    assert policy_matches("AdministratorAccess", "arn:aws:iam::aws:policy/AdministratorAccess")
    assert policy_matches("ViewOnlyAccess", "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess")
    assert policy_matches("AdministratorAccess", "arn:aws-us-gov:iam::aws:policy/AdministratorAccess")
    assert not policy_matches("AdministratorAccess", f"arn:aws:iam::{ACCOUNT}:policy/AdministratorAccess")
    assert not policy_matches("AdministratorAccess", "arn:aws:iam::aws:policy/AdministratorAccess-Amplify")
    assert policy_matches("arn:aws:iam::*:policy/legacy-*", f"arn:aws:iam::{ACCOUNT}:policy/legacy-s3")


# -- validation -----------------------------------------------------------------------------------


def profile_with(**fields: Any) -> dict[str, Any]:
    return {"profiles": [{"name": "p", "selector": {"name": "x*"}, **fields}, {"name": "default"}]}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "expected a mapping, not a list"),
        ({"profiles": []}, "profiles: at least one profile is required"),
        ({}, "profiles: required"),
        (minimal(colour="blue"), "colour: unknown key"),
        (minimal(version=2), "version: unsupported baseline version 2"),
        ({"profiles": [{"selector": {}}]}, "profiles[0].name: a profile needs a name"),
        (profile_with(max_session_duration="1h"), "profiles[0].max_session_duration: expected an integer"),
        (profile_with(max_session_duration=True), "profiles[0].max_session_duration: expected an integer"),
        (profile_with(max_session_duration=60), "profiles[0].max_session_duration: must be between 3600 and 43200"),
        (profile_with(allowed_actoins=["s3:GetObject"]), "profiles[0].allowed_actoins: unknown key"),
        (
            profile_with(allowed_actions=["s3:GetObjekt"]),
            "profiles[0].allowed_actions[0]: 's3:GetObjekt' names no known action",
        ),
        (profile_with(allowed_services=["s4"]), "profiles[0].allowed_services[0]: unknown service prefix 's4'"),
        (profile_with(required_tags="owner"), "profiles[0].required_tags: expected a list, not a string"),
        (profile_with(required_tags=[1]), "profiles[0].required_tags[0]: expected a string, not a number"),
        (profile_with(prefer_customer_managed="yes"), "profiles[0].prefer_customer_managed: expected true or false"),
        (profile_with(resources={"s3": ["company1-logs"]}), "profiles[0].resources.s3[0]: expected an ARN"),
        (
            profile_with(severities={"baseline-missing-tags": "urgent"}),
            "profiles[0].severities.baseline-missing-tags: unknown severity 'urgent'",
        ),
        (profile_with(severities={"baseline-typo": "high"}), "profiles[0].severities.baseline-typo: unknown rule id"),
        (profile_with(selector={"tags": {"owner": 7}}), "profiles[0].selector.tags.owner: expected a string"),
        (
            profile_with(selector={"trusted_services": "ec2.amazonaws.com"}),
            "profiles[0].selector.trusted_services: unknown key",
        ),
        (
            {"defaults": {"max_session_duration": "long"}, **minimal()},
            "defaults.max_session_duration: expected an integer",
        ),
        ({"profiles": [{"name": "a"}, {"name": "a"}]}, "profiles[1].name: duplicate profile name 'a'"),
        (
            {"profiles": [{"name": "ec2", "selector": {"trusted_service": "ec2.amazonaws.com"}}]},
            "profiles[0].selector: the last profile must match every role",
        ),
        (minimal(skip_service_linked="no"), "skip_service_linked: expected true or false"),
    ],
)
def test_invalid_baselines_are_rejected_with_the_field_path(raw: Any, message: str) -> None:
    with pytest.raises(BaselineError) as error:
        parse_baseline(raw, "baselines/x.yaml")

    assert str(error.value).startswith("baselines/x.yaml: ")
    assert message in str(error.value)


def suppression(**fields: Any) -> dict[str, Any]:
    entry = {"rule": "baseline-*", "role": "app-*", "justification": "accepted by SEC-1", "expires": "2027-01-31"}
    entry.update(fields)
    return minimal(suppressions=[{k: v for k, v in entry.items() if v is not None}])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (suppression(justification=None), "suppressions[0].justification: required"),
        (suppression(justification="   "), "suppressions[0].justification: must not be empty"),
        (suppression(expires=None), "suppressions[0].expires: required"),
        (suppression(expires="31/01/2027"), "suppressions[0].expires: expected a date (YYYY-MM-DD)"),
        (suppression(expires="2027-02-30"), "suppressions[0].expires: expected a date"),
        (suppression(reason="x"), "suppressions[0].reason: unknown key"),
    ],
)
def test_suppressions_need_a_justification_and_a_real_expiry_date(raw: Any, message: str) -> None:
    with pytest.raises(BaselineError) as error:
        parse_baseline(raw, "b.yaml")

    assert str(error.value).startswith("b.yaml: ")
    assert message in str(error.value)


def test_expiry_dates_may_be_yaml_dates_or_iso_strings(tmp_path: Path) -> None:
    file = tmp_path / "mine.yaml"
    file.write_text(
        yaml.safe_dump(minimal())
        + "suppressions:\n"
        + "  - {rule: a, role: b, justification: c, expires: 2027-01-31}\n"
        + "  - {rule: a, role: b, justification: c, expires: '2027-02-28'}\n"
    )

    baseline = load_baseline(file)

    assert [s.expires for s in baseline.suppressions] == [date(2027, 1, 31), date(2027, 2, 28)]
    assert baseline.source == str(file)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("profiles: [unclosed\n")
    bad_field = tmp_path / "bad.yaml"
    bad_field.write_text("profiles:\n  - name: default\n    max_session_duration: 1h\n")

    missing = tmp_path / "missing.yaml"

    for file, message in [
        (broken, "not valid YAML"),
        (missing, "cannot read the baseline file"),
        (bad_field, "profiles[0].max_session_duration: expected an integer"),
    ]:
        with pytest.raises(BaselineError) as error:
            load_baseline(file)
        assert str(error.value).startswith(f"{file}: {message}")


def test_profiles_inherit_defaults_unless_they_state_their_own() -> None:
    baseline = parse_baseline(
        {
            "defaults": {"required_tags": ["owner"], "max_session_duration": 7200},
            "profiles": [
                {"name": "untagged", "selector": {"path": "/legacy/*"}, "required_tags": []},
                {"name": "default"},
            ],
        },
        "b.yaml",
    )

    untagged, default = baseline.profiles
    assert untagged.required_tags == () and untagged.max_session_duration == 7200
    assert default.required_tags == ("owner",) and default.max_session_duration == 7200


# -- suppressions ---------------------------------------------------------------------------------


def test_a_suppression_names_a_finding_by_rule_glob_and_role_name_or_arn() -> None:
    by_name = Suppression("baseline-*", "APP-*", "accepted", date(2027, 1, 1))
    by_arn = Suppression("baseline-missing-tags", f"arn:aws:iam::{ACCOUNT}:role/*", "accepted", date(2027, 1, 1))
    other_rule = Suppression("trust-*", "*", "accepted", date(2027, 1, 1))

    assert by_name.names(finding(), role())  # role names match regardless of case, as in IAM
    assert by_arn.names(finding(), role())
    assert not other_rule.names(finding(), role())
    assert not by_name.names(finding(), role("web-role"))


def test_suppression_for_prefers_a_live_suppression_and_still_returns_an_expired_one() -> None:
    expired = Suppression("baseline-missing-tags", "app-role", "old", date(2026, 1, 31))
    renewed = Suppression("baseline-*", "app-*", "renewed", date(2027, 1, 31))
    only_expired = Baseline(profiles=(Profile("default"),), suppressions=(expired,))
    both = Baseline(profiles=(Profile("default"),), suppressions=(expired, renewed))

    assert only_expired.suppression_for(finding(), role(), TODAY) is expired
    assert both.suppression_for(finding(), role(), TODAY) is renewed
    assert both.suppression_for(finding("trust-account-root"), role(), TODAY) is None


def test_the_audit_hides_suppressed_findings_and_reports_expired_suppressions() -> None:
    untagged = [role("app-role"), role("legacy-role")]
    raw = {
        "profiles": [{"name": "default", "required_tags": ["owner"]}],
        "suppressions": [
            {
                "rule": "baseline-missing-tags",
                "role": "app-role",
                "justification": "tagged by SEC-9",
                "expires": date(2027, 1, 31),
            },
            {
                "rule": "baseline-missing-tags",
                "role": "legacy-*",
                "justification": "retiring",
                "expires": date(2026, 10, 1),
            },
        ],
    }

    result = audit_roles(untagged, parse_baseline(raw, "b.yaml"), now=NOW, rules=["baseline-missing-tags"])

    by_role = {(f.resource.rsplit("/", 1)[-1], f.rule): f for f in result.findings}
    assert by_role[("app-role", "baseline-missing-tags")].suppressed_by == "tagged by SEC-9 (until 2027-01-31)"
    assert by_role[("legacy-role", "baseline-missing-tags")].suppressed_by is None
    assert "expired on 2026-10-01" in by_role[("legacy-role", "suppression-expired")].detail


def test_service_linked_roles_are_skipped_and_counted_unless_the_baseline_says_otherwise() -> None:
    roles = [role("AWSServiceRoleForSupport", "/aws-service-role/support.amazonaws.com/"), role("app-role")]
    keep = parse_baseline(minimal(skip_service_linked=False), "b.yaml")

    skipped = audit_roles(roles, load_baseline(), now=NOW, rules=["baseline-missing-tags"])
    kept = audit_roles(roles, keep, now=NOW, rules=["baseline-missing-tags"])

    assert skipped.roles_audited == 1 and skipped.roles_skipped == {"service-linked": 1}
    assert kept.roles_audited == 2 and kept.roles_skipped == {}
