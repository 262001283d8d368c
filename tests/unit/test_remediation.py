"""Corrected least-privilege policies, corrected trust policies and the AWS CLI commands (pure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rolewatch.baseline import Profile, load_baseline
from rolewatch.model import RoleSnapshot
from rolewatch.policy.catalogue import catalogue
from rolewatch.policy.document import parse_policy
from rolewatch.policy.permissions import Permissions, compile_policy
from rolewatch.remediation import (
    MAX_STATEMENTS,
    action_summary,
    boundary_arn_for,
    catalogue_names,
    fill_policy_variables,
    least_privilege_policy,
    max_session_cli,
    permissions_boundary_cli,
    policy_size,
    replace_with_policy_cli,
    revise_policy_cli,
    tag_role_cli,
    trust_policy_without,
    update_trust_cli,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "../shared/data"
ACCOUNT = "111122223333"

# The default version of arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess (2026), as AWS publishes it.
S3_READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*", "s3-object-lambda:List*"],
            "Resource": "*",
        }
    ],
}
S3_READ_ONLY_ARN = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
BUCKETS = ("arn:aws:s3:::company1-logs", "arn:aws:s3:::company1-logs/*")


def role(name: str = "S3AccessRole", tags: tuple[tuple[str, str], ...] = ()) -> RoleSnapshot:
    return RoleSnapshot(arn=f"arn:aws:iam::{ACCOUNT}:role/{name}", name=name, trust_policy=EC2_TRUST, tags=tags)


def permissions(*documents: dict[str, Any]) -> Permissions:
    return Permissions([(f"policy{i}", compile_policy(doc)) for i, doc in enumerate(documents)])


def instance_profile(**overrides: Any) -> Profile:
    values: dict[str, Any] = {
        "name": "instance-role",
        "allowed_services": ("s3", "logs"),
        "allowed_actions": ("s3:GetObject", "s3:ListBucket", "logs:PutLogEvents", "logs:CreateLogStream"),
        "sensitive_actions": ("iam:*",),
        "resources": (("s3", BUCKETS),),
    }
    values.update(overrides)
    return Profile(**values)


def allow(actions: list[str], resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource, **extra}],
    }


def granted(policy: dict[str, Any]) -> int:
    return Permissions([("corrected", compile_policy(policy))]).allowed


# -- least_privilege_policy -----------------------------------------------------------------------


def test_s3_read_only_on_an_ec2_role_becomes_object_reads_of_the_baseline_buckets() -> None:
    policy = least_privilege_policy(permissions(S3_READ_ONLY), instance_profile(), role())

    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowS3Scoped",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::company1-logs", "arn:aws:s3:::company1-logs/*"],
            }
        ],
    }
    parse_policy(policy, "corrected", kind="identity")  # a legal identity policy


def test_the_shipped_instance_profile_scopes_s3_to_the_roles_project_buckets() -> None:
    instance = load_baseline().profile_for(role(), frozenset({"ec2.amazonaws.com"}))
    tagged = role(tags=(("project", "analytics"), ("environment", "prod"), ("owner", "data-team")))

    policy = least_privilege_policy(permissions(S3_READ_ONLY), instance, tagged)

    assert policy is not None
    assert policy["Statement"] == [
        {
            "Sid": "AllowS3Scoped",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::analytics-*", "arn:aws:s3:::analytics-*/*"],
        }
    ]


def test_an_untagged_role_keeps_the_policy_variable_which_iam_resolves_at_request_time() -> None:
    instance = load_baseline().profile_for(role(), frozenset({"ec2.amazonaws.com"}))

    policy = least_privilege_policy(permissions(S3_READ_ONLY), instance, role())

    assert policy is not None
    assert policy["Statement"][0]["Resource"] == [
        "arn:aws:s3:::${aws:PrincipalTag/project}-*",
        "arn:aws:s3:::${aws:PrincipalTag/project}-*/*",
    ]
    parse_policy(policy, "corrected", kind="identity")


def test_the_corrected_policy_grants_nothing_the_role_lacked_or_the_profile_forbids() -> None:
    original = permissions(S3_READ_ONLY, allow(["logs:*", "iam:PassRole"]))
    profile = instance_profile()

    policy = least_privilege_policy(original, profile, role())

    assert policy is not None
    now = granted(policy)
    assert now & ~original.allowed == 0
    assert now & ~profile.permitted_mask == 0
    assert catalogue().names_in(now & catalogue().service_mask("logs")) == [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ]


def test_services_without_baseline_resources_keep_the_resources_the_role_names_today() -> None:
    log_groups = "arn:aws:logs:us-east-1:123456789012:log-group:/company1/*"
    original = permissions(allow(["logs:CreateLogStream", "logs:PutLogEvents", "logs:DeleteLogGroup"], log_groups))

    policy = least_privilege_policy(original, instance_profile(), role("Company1-Logs-Role"))

    assert policy is not None
    assert policy["Statement"] == [
        {
            "Sid": "AllowLogsScoped",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": log_groups,
        }
    ]


def test_actions_that_cannot_use_the_named_buckets_stay_on_every_resource() -> None:
    profile = instance_profile(allowed_actions=("s3:GetObject", "s3:ListAllMyBuckets"))

    policy = least_privilege_policy(permissions(S3_READ_ONLY), profile, role())

    assert policy is not None
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["AllowS3Scoped"]["Action"] == ["s3:GetObject"]
    assert by_sid["AllowS3"] == {
        "Sid": "AllowS3",
        "Effect": "Allow",
        "Action": ["s3:ListAllMyBuckets"],
        "Resource": "*",
    }


def test_sensitive_actions_are_left_out_even_when_the_profile_allows_their_service() -> None:
    profile = Profile(name="p", allowed_services=("iam",), sensitive_actions=("iam:PassRole",))

    policy = least_privilege_policy(permissions(allow(["iam:PassRole", "iam:GetRole"])), profile, role())

    assert policy is not None
    assert policy["Statement"][0]["Action"] == ["iam:GetRole"]


def test_actions_granted_only_under_a_condition_are_not_granted_without_it() -> None:
    conditional = allow(["s3:GetObject"], Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})

    assert least_privilege_policy(permissions(conditional), instance_profile(), role()) is None


def test_nothing_to_correct_towards_when_the_profile_does_not_restrict_actions() -> None:
    assert least_privilege_policy(permissions(S3_READ_ONLY), Profile(name="default"), role()) is None


def test_nothing_when_the_role_holds_no_action_the_profile_allows() -> None:
    assert least_privilege_policy(permissions(allow(["ec2:*"])), instance_profile(), role()) is None


def test_a_policy_beyond_the_size_quota_is_not_offered() -> None:
    # Every EC2 action spelt out exceeds IAM's 6,144-character quota; folding them into wildcards
    # would no longer be least privilege.
    profile = Profile(name="ec2-admin", allowed_services=("ec2",))

    assert least_privilege_policy(permissions(allow(["ec2:*"])), profile, role()) is None


def test_many_distinct_resource_scopes_fit_in_at_most_ten_statements() -> None:
    services = ["sqs", "sns", "dynamodb", "kinesis", "lambda", "states", "secretsmanager", "kms", "ssm", "ecr", "glue"]
    actions = {
        "sqs": "sqs:SendMessage",
        "sns": "sns:Publish",
        "dynamodb": "dynamodb:GetItem",
        "kinesis": "kinesis:PutRecord",
        "lambda": "lambda:InvokeFunction",
        "states": "states:StartExecution",
        "secretsmanager": "secretsmanager:GetSecretValue",
        "kms": "kms:Decrypt",
        "ssm": "ssm:GetParameter",
        "ecr": "ecr:BatchGetImage",
        "glue": "glue:GetTable",
    }
    # One statement per service, each on its own resources (any resource type of the service).
    documents = [allow([actions[s]], f"arn:aws:{s}:us-east-1:{ACCOUNT}:*{s}-app*") for s in services]
    profile = Profile(name="app", allowed_services=tuple(services))

    policy = least_privilege_policy(permissions(*documents), profile, role())

    assert policy is not None
    assert len(policy["Statement"]) <= MAX_STATEMENTS
    assert sorted(a for s in policy["Statement"] for a in s["Action"]) == sorted(actions.values())
    parse_policy(policy, "corrected", kind="identity")


def test_policy_variables_are_filled_from_the_role() -> None:
    tagged = role(tags=(("Project", "orders"),))
    arn = "arn:aws:s3:::${aws:PrincipalTag/project}-${aws:PrincipalAccount}/${aws:username}"

    assert fill_policy_variables(arn, tagged) == f"arn:aws:s3:::orders-{ACCOUNT}/${{aws:username}}"


@pytest.mark.corpus
def test_every_aws_managed_policy_corrects_to_a_legal_narrower_policy_on_an_instance_role() -> None:
    data = SHARED_DATA / "aws-managed-policies.json"
    if not data.exists():
        pytest.skip(f"shared data not found: {data}")
    policies = json.loads(data.read_text())
    instance = load_baseline().profile_for(role(), frozenset({"ec2.amazonaws.com"}))
    tagged = role(tags=(("project", "analytics"),))
    offered = 0
    for name, entry in policies.items():
        original = Permissions([(entry["arn"], compile_policy(entry["document"]))])
        policy = least_privilege_policy(original, instance, tagged)
        if policy is None:
            continue
        offered += 1
        parse_policy(policy, name, kind="identity")
        assert len(policy["Statement"]) <= MAX_STATEMENTS, name
        assert policy_size(policy) <= 6144, name
        assert granted(policy) & ~original.allowed == 0, name
        assert granted(policy) & ~instance.permitted_mask == 0, name
    assert offered > 20  # the S3, CloudWatch, SSM and logs policies among others


# -- trust policies -------------------------------------------------------------------------------


def test_untrusted_principals_are_removed_and_emptied_statements_dropped() -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["ec2.amazonaws.com", "ssm.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            },
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"},
        ],
    }

    corrected = trust_policy_without(trust, lambda kind, value: value != "ec2.amazonaws.com")

    assert corrected == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    assert trust["Statement"][0]["Principal"]["Service"] == ["ec2.amazonaws.com", "ssm.amazonaws.com"]  # untouched


def test_a_url_encoded_trust_policy_with_a_wildcard_principal_is_corrected_too() -> None:
    encoded = (
        "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22"
        "Principal%22%3A%22%2A%22%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%2C%7B%22Effect%22%3A%22Allow"
        "%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ec2.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3A"
        "AssumeRole%22%7D%5D%7D"
    )

    corrected = trust_policy_without(encoded, lambda kind, value: value == "*")

    assert corrected is not None
    assert corrected["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]


def test_no_corrected_trust_policy_when_no_principal_remains() -> None:
    assert trust_policy_without(EC2_TRUST, lambda kind, value: True) is None


# -- CLI commands ---------------------------------------------------------------------------------


def test_replacing_policies_creates_attaches_then_detaches_and_deletes() -> None:
    commands = replace_with_policy_cli(role(), [S3_READ_ONLY_ARN, "InlineExtras"])

    assert commands == [
        "aws iam create-policy --policy-name S3AccessRole-least-privilege "
        "--policy-document file://S3AccessRole-least-privilege.json",
        "aws iam attach-role-policy --role-name S3AccessRole "
        f"--policy-arn arn:aws:iam::{ACCOUNT}:policy/S3AccessRole-least-privilege",
        f"aws iam detach-role-policy --role-name S3AccessRole --policy-arn {S3_READ_ONLY_ARN}",
        "aws iam delete-role-policy --role-name S3AccessRole --policy-name InlineExtras",
    ]


def test_revising_a_policy_depends_on_what_kind_it_is() -> None:
    customer = f"arn:aws:iam::{ACCOUNT}:policy/team/Deploy"

    assert revise_policy_cli(role(), "Inline")[-1] == (
        "aws iam put-role-policy --role-name S3AccessRole --policy-name Inline --policy-document file://Inline.json"
    )
    assert revise_policy_cli(role(), customer)[-1] == (
        f"aws iam create-policy-version --policy-arn {customer} --policy-document file://Deploy.json --set-as-default"
    )
    assert revise_policy_cli(role(), S3_READ_ONLY_ARN) == [
        f"aws iam detach-role-policy --role-name S3AccessRole --policy-arn {S3_READ_ONLY_ARN}"
    ]


def test_placeholders_are_quoted_so_a_pasted_command_never_redirects() -> None:
    assert tag_role_cli(role(), ["project", "owner"]) == (
        "aws iam tag-role --role-name S3AccessRole --tags 'Key=project,Value=<project>' 'Key=owner,Value=<owner>'"
    )
    assert permissions_boundary_cli(role(), boundary_arn_for(role(), None)) == (
        "aws iam put-role-permissions-boundary --role-name S3AccessRole "
        f"--permissions-boundary 'arn:aws:iam::{ACCOUNT}:policy/<permissions-boundary-policy>'"
    )


def test_simple_commands() -> None:
    assert max_session_cli(role(), 3600) == "aws iam update-role --role-name S3AccessRole --max-session-duration 3600"
    assert update_trust_cli(role()) == (
        "aws iam update-assume-role-policy --role-name S3AccessRole --policy-document file://S3AccessRole-trust.json"
    )
    assert boundary_arn_for(role(), "Boundary") == f"arn:aws:iam::{ACCOUNT}:policy/Boundary"
    assert boundary_arn_for(role(), "arn:aws:iam::1:policy/B") == "arn:aws:iam::1:policy/B"


def test_action_lists_name_the_most_dangerous_first_and_count_the_rest() -> None:
    names = catalogue_names(catalogue().mask_of(["s3:ListBucket", "s3:PutBucketPolicy", "s3:GetObject"]))

    assert names == ["s3:PutBucketPolicy", "s3:GetObject", "s3:ListBucket"]
    assert action_summary(names, 2) == "s3:PutBucketPolicy, s3:GetObject and 1 more"
    assert action_summary(names, 5) == "s3:PutBucketPolicy, s3:GetObject, s3:ListBucket"
