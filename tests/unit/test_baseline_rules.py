"""Baseline rules: roles in, `baseline-*` findings out, against the shipped default and small baselines."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from helpers import NOW

from rolewatch.audit import audit_roles
from rolewatch.baseline import Baseline, load_baseline, parse_baseline
from rolewatch.model import AttachedPolicy, Finding, RoleSnapshot, Severity
from rolewatch.policy.catalogue import catalogue
from rolewatch.policy.document import parse_policy
from rolewatch.policy.permissions import Permissions, compile_policy
from rolewatch.rules.registry import registered_rules

ACCOUNT = "123456789012"
TODAY = date(2026, 11, 22)
BASELINE_RULES = [
    "baseline-forbidden-managed-policy",
    "baseline-disallowed-action",
    "baseline-missing-tags",
    "baseline-session-duration",
    "baseline-permissions-boundary",
    "baseline-aws-managed-policy",
    "baseline-untrusted-principal",
]
TAGS = (("project", "analytics"), ("environment", "prod"), ("owner", "data-team"))


def trust(*principals: dict[str, Any], action: str = "sts:AssumeRole") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": p, "Action": action} for p in principals],
    }


EC2 = {"Service": "ec2.amazonaws.com"}

# Default versions of AWS-managed policies (2026), embedded so the tests run without shared data.
AWS_MANAGED: dict[str, dict[str, Any]] = {
    "AmazonS3ReadOnlyAccess": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*", "s3-object-lambda:List*"],
                "Resource": "*",
            }
        ],
    },
    "CloudWatchAgentServerPolicy": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CWACloudWatchServerPermissions",
                "Effect": "Allow",
                "Action": [
                    "cloudwatch:PutMetricData",
                    "ec2:DescribeVolumes",
                    "ec2:DescribeTags",
                    "logs:PutLogEvents",
                    "logs:PutRetentionPolicy",
                    "logs:DescribeLogStreams",
                    "logs:DescribeLogGroups",
                    "logs:CreateLogStream",
                    "logs:CreateLogGroup",
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries",
                ],
                "Resource": "*",
            },
            {
                "Sid": "CWASSMServerPermissions",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter"],
                "Resource": "arn:aws:ssm:*:*:parameter/AmazonCloudWatch-*",
            },
        ],
    },
    "AmazonSSMManagedInstanceCore": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "ssm:DescribeAssociation",
                    "ssm:GetDeployablePatchSnapshotForInstance",
                    "ssm:GetDocument",
                    "ssm:DescribeDocument",
                    "ssm:GetManifest",
                    "ssm:GetParameter",
                    "ssm:GetParameters",
                    "ssm:ListAssociations",
                    "ssm:ListInstanceAssociations",
                    "ssm:PutInventory",
                    "ssm:PutComplianceItems",
                    "ssm:PutConfigurePackageResult",
                    "ssm:UpdateAssociationStatus",
                    "ssm:UpdateInstanceAssociationStatus",
                    "ssm:UpdateInstanceInformation",
                ],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                ],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "ec2messages:AcknowledgeMessage",
                    "ec2messages:DeleteMessage",
                    "ec2messages:FailMessage",
                    "ec2messages:GetEndpoint",
                    "ec2messages:GetMessages",
                    "ec2messages:SendReply",
                ],
                "Resource": "*",
            },
        ],
    },
    "AdministratorAccess": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    },
    "ReadOnlyAccess": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["cloudwatch:Get*", "s3:List*"], "Resource": "*"}],
    },  # abridged: the real one lists hundreds of read actions
}


def managed(name: str) -> AttachedPolicy:
    return AttachedPolicy(name=name, arn=f"arn:aws:iam::aws:policy/{name}", document=AWS_MANAGED[name])


def inline(name: str, *statements: dict[str, Any]) -> AttachedPolicy:
    return AttachedPolicy(name=name, document={"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions: list[str], resource: Any = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


def role(name: str, trust_policy: Any = None, **fields: Any) -> RoleSnapshot:
    fields.setdefault("tags", TAGS)
    path = fields.get("path", "/")
    return RoleSnapshot(
        arn=f"arn:aws:iam::{ACCOUNT}:role{path}{name}",
        name=name,
        trust_policy=trust_policy if trust_policy is not None else trust(EC2),
        **fields,
    )


def audit(*roles: RoleSnapshot, baseline: Baseline | None = None, rules: list[str] | None = None) -> list[Finding]:
    result = audit_roles(roles, baseline or load_baseline(), now=NOW, rules=rules or BASELINE_RULES)
    assert result.errors == ()
    return list(result.findings)


def only(findings: list[Finding], rule: str) -> Finding:
    matching = [f for f in findings if f.rule == rule]
    assert len(matching) == 1, [f.rule for f in findings]
    return matching[0]


# The seed roles of examples/sample-account.json, as a security team would set them up.
S3_ACCESS_ROLE = role("S3AccessRole", managed_policies=(managed("AmazonS3ReadOnlyAccess"),))
COMPANY1_LOGS_ROLE = role(
    "Company1-Logs-Role",
    tags=(("project", "company1"), ("environment", "prod"), ("owner", "platform-team")),
    inline_policies=(
        inline(
            "WriteCompanyLogs",
            allow(
                ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/company1/*",
            ),
            allow(["s3:PutObject"], "arn:aws:s3:::company1-logs/*"),
        ),
    ),
)
CLOUDWATCH_AGENT_ROLE = role(
    "CloudWatchAgentRole",
    managed_policies=(managed("CloudWatchAgentServerPolicy"), managed("AmazonSSMManagedInstanceCore")),
)


def test_every_baseline_rule_id_is_registered() -> None:
    assert set(BASELINE_RULES) <= set(registered_rules())


# -- the seeds under the shipped default ----------------------------------------------------------


def test_well_formed_instance_roles_raise_no_baseline_finding() -> None:
    assert audit(CLOUDWATCH_AGENT_ROLE, COMPANY1_LOGS_ROLE) == []


def test_s3_read_only_on_an_ec2_role_is_outside_the_instance_profile_with_a_scoped_replacement() -> None:
    findings = audit(S3_ACCESS_ROLE)

    assert sorted(f.rule for f in findings) == ["baseline-aws-managed-policy", "baseline-disallowed-action"]
    excess = only(findings, "baseline-disallowed-action")
    # Reads of a non-sensitive service, beyond the list and the buckets the profile names: context.
    assert excess.severity is Severity.LOW
    assert excess.detail.startswith("S3AccessRole (profile instance-role) has 88 action(s) outside the profile")
    assert "and 78 more" in excess.detail
    assert "s3:GetObject, s3:ListBucket on every resource, where the profile scopes s3 to arn:aws:s3:::analytics-*" in (
        excess.detail
    )
    assert "s3:GetBucketPolicy" in excess.actions and len(excess.actions) == 50
    assert excess.remediation.policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowS3Scoped",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::analytics-*", "arn:aws:s3:::analytics-*/*"],
            }
        ],
    }
    assert excess.remediation.cli == (
        "aws iam create-policy --policy-name S3AccessRole-least-privilege "
        "--policy-document file://S3AccessRole-least-privilege.json",
        f"aws iam attach-role-policy --role-name S3AccessRole --policy-arn arn:aws:iam::{ACCOUNT}:policy/"
        "S3AccessRole-least-privilege",
        "aws iam detach-role-policy --role-name S3AccessRole "
        "--policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    )


# -- baseline-forbidden-managed-policy ------------------------------------------------------------


def test_administrator_access_is_forbidden_and_not_reported_again_as_disallowed_actions() -> None:
    admin = role(
        "ops-admin", trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), managed_policies=(managed("AdministratorAccess"),)
    )
    ec2_admin = role("ec2-admin", managed_policies=(managed("AdministratorAccess"),))

    findings = audit(admin, ec2_admin)

    assert sorted((f.resource.rsplit("/", 1)[1], f.rule) for f in findings) == [
        ("ec2-admin", "baseline-forbidden-managed-policy"),
        ("ops-admin", "baseline-forbidden-managed-policy"),
    ]
    forbidden = next(f for f in findings if f.resource.endswith("/ops-admin"))
    assert forbidden.severity is Severity.HIGH
    assert forbidden.detail == (
        "ops-admin has the managed policy AdministratorAccess attached, which the baseline profile 'default' forbids."
    )
    assert forbidden.remediation.cli == (
        "aws iam detach-role-policy --role-name ops-admin --policy-arn arn:aws:iam::aws:policy/AdministratorAccess",
    )


def test_a_forbidden_policy_on_an_instance_role_is_replaced_by_what_the_profile_allows() -> None:
    power = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"}],
    }
    instance = role(
        "batch-worker",
        managed_policies=(AttachedPolicy("PowerUserAccess", power, "arn:aws:iam::aws:policy/PowerUserAccess"),),
    )

    finding = only(audit(instance), "baseline-forbidden-managed-policy")

    policy = finding.remediation.policy
    assert policy is not None
    granted = Permissions([("p", compile_policy(policy))]).allowed
    assert granted & ~load_baseline().profiles[0].permitted_mask == 0
    parse_policy(policy, "corrected", kind="identity")
    assert finding.remediation.cli[-1].startswith("aws iam detach-role-policy --role-name batch-worker")


def test_narrow_or_customer_managed_policies_are_not_forbidden() -> None:
    reader = role(
        "auditor", trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), managed_policies=(managed("ReadOnlyAccess"),)
    )

    assert audit(reader, rules=["baseline-forbidden-managed-policy"]) == []


# -- baseline-disallowed-action -------------------------------------------------------------------


def test_sensitive_actions_on_an_instance_role_are_a_high_finding_of_their_own() -> None:
    instance = role(
        "app-server",
        inline_policies=(
            inline("Extras", allow(["iam:PassRole"], f"arn:aws:iam::{ACCOUNT}:role/*"), allow(["s3:GetObject"])),
        ),
    )

    findings = [f for f in audit(instance) if f.rule == "baseline-disallowed-action"]

    sensitive = next(f for f in findings if f.severity is Severity.HIGH)
    assert sensitive.actions == ("iam:PassRole",)
    assert sensitive.detail == (
        "app-server (profile instance-role) can use 1 action(s) the profile marks as sensitive: iam:PassRole; "
        "granted by Extras."
    )
    assert sensitive.remediation.cli[-1] == "aws iam delete-role-policy --role-name app-server --policy-name Extras"
    assert sensitive.remediation.policy is not None
    assert sensitive.remediation.policy["Statement"][0]["Action"] == ["s3:GetObject"]
    # s3:GetObject on "*" is inside the profile but not within its buckets: a low finding says so.
    unscoped = next(f for f in findings if f.severity is Severity.LOW)
    assert "s3:GetObject on every resource" in unscoped.detail


def test_a_wildcard_policy_lists_at_most_fifty_actions_and_counts_the_rest() -> None:
    instance = role("wild", inline_policies=(inline("Everything", allow(["*"])),))

    findings = [f for f in audit(instance) if f.rule == "baseline-disallowed-action"]

    assert len(findings) == 2
    for finding in findings:
        assert len(finding.actions) == 50
        assert " more" in finding.detail
    excess = next(f for f in findings if "outside the profile" in f.detail)
    assert excess.severity is Severity.HIGH  # permission changes on every resource
    # The most dangerous are named first: permissions-management actions lead the list.
    assert catalogue().access_level(excess.actions[0]) == "Permissions management"
    assert excess.remediation.policy is not None  # what the profile allows, out of "*"


def test_a_lambda_function_may_use_any_service_but_not_change_identities() -> None:
    trust_lambda = trust({"Service": "lambda.amazonaws.com"})
    worker = role("orders-api", trust_lambda, inline_policies=(inline("Orders", allow(["dynamodb:*", "sqs:*"])),))
    provisioner = role("user-provisioner", trust_lambda, inline_policies=(inline("Users", allow(["iam:CreateUser"])),))

    findings = audit(worker, provisioner, rules=["baseline-disallowed-action"])

    assert [(f.resource.rsplit("/", 1)[1], f.actions) for f in findings] == [("user-provisioner", ("iam:CreateUser",))]
    # The lambda profile does not restrict services, so no corrected policy: revise the inline one.
    assert findings[0].remediation.policy is None
    assert findings[0].remediation.cli[-1] == (
        "aws iam put-role-policy --role-name user-provisioner --policy-name Users --policy-document file://Users.json"
    )


# -- baseline-missing-tags ------------------------------------------------------------------------


def test_missing_and_empty_tags_are_reported_with_the_tag_command() -> None:
    untagged = role("legacy", tags=(("Project", "x"), ("owner", " ")))

    finding = only(audit(untagged, rules=["baseline-missing-tags"]), "baseline-missing-tags")

    assert finding.severity is Severity.LOW
    assert finding.evidence == ("profile=instance-role", "missing-tag=environment", "missing-tag=owner")
    assert finding.remediation.cli == (
        "aws iam tag-role --role-name legacy --tags 'Key=environment,Value=<environment>' 'Key=owner,Value=<owner>'",
    )


def test_tag_keys_match_regardless_of_case() -> None:
    tagged = role("tagged", tags=(("Project", "x"), ("Environment", "prod"), ("OWNER", "me")))

    assert audit(tagged, rules=["baseline-missing-tags"]) == []


# -- baseline-session-duration --------------------------------------------------------------------


def test_sessions_longer_than_the_profile_allows_are_reported() -> None:
    long_lived = role("long", max_session_duration=43200)

    finding = only(audit(long_lived), "baseline-session-duration")

    assert finding.detail == (
        "long allows sessions of 43200 seconds (12 h); the instance-role profile allows at most 3600 seconds (1 h)."
    )
    assert finding.remediation.cli == ("aws iam update-role --role-name long --max-session-duration 3600",)


def test_sessions_within_the_limit_pass() -> None:
    human = role("analyst", trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), max_session_duration=14400)

    assert audit(human, rules=["baseline-session-duration"]) == []


# -- baseline-permissions-boundary ----------------------------------------------------------------

OIDC = {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"}


def test_a_ci_role_without_a_boundary_is_reported() -> None:
    deploy = role("github-deploy-role", trust(OIDC, action="sts:AssumeRoleWithWebIdentity"))

    finding = only(audit(deploy, rules=["baseline-permissions-boundary"]), "baseline-permissions-boundary")

    assert finding.detail == (
        "github-deploy-role has no permissions boundary; the ci-deploy profile requires one (it cannot change IAM "
        "today, so the boundary would cap nothing it can grant itself)."
    )
    assert finding.severity is Severity.LOW
    assert finding.remediation.cli == (
        "aws iam put-role-permissions-boundary --role-name github-deploy-role "
        f"--permissions-boundary 'arn:aws:iam::{ACCOUNT}:policy/<permissions-boundary-policy>'",
    )


def test_a_ci_role_that_can_change_iam_without_a_boundary_is_medium() -> None:
    deploy = role(
        "github-deploy-role",
        trust(OIDC, action="sts:AssumeRoleWithWebIdentity"),
        inline_policies=(inline("Roles", allow(["iam:CreateRole", "iam:AttachRolePolicy"])),),
    )

    finding = only(audit(deploy, rules=["baseline-permissions-boundary"]), "baseline-permissions-boundary")

    assert finding.detail == "github-deploy-role has no permissions boundary; the ci-deploy profile requires one."
    assert finding.severity is Severity.MEDIUM


def test_a_named_boundary_must_be_the_one_attached() -> None:
    baseline = parse_baseline(
        {
            "profiles": [
                {"name": "default", "require_permissions_boundary": True, "permissions_boundary": "OrgBoundary"}
            ]
        },
        "b.yaml",
    )
    boundary = {"Version": "2012-10-17", "Statement": [allow(["*"])]}
    right = role(
        "right",
        permissions_boundary=AttachedPolicy("OrgBoundary", boundary, f"arn:aws:iam::{ACCOUNT}:policy/OrgBoundary"),
    )
    wrong = role(
        "wrong", permissions_boundary=AttachedPolicy("Other", boundary, f"arn:aws:iam::{ACCOUNT}:policy/Other")
    )

    findings = audit(right, wrong, baseline=baseline)

    assert [f.resource.rsplit("/", 1)[1] for f in findings] == ["wrong"]
    assert "not the OrgBoundary the default profile requires" in findings[0].detail
    assert findings[0].remediation.cli[0].endswith(f"--permissions-boundary arn:aws:iam::{ACCOUNT}:policy/OrgBoundary")


def test_profiles_that_do_not_require_a_boundary_pass_without_one() -> None:
    assert audit(CLOUDWATCH_AGENT_ROLE, rules=["baseline-permissions-boundary"]) == []


# -- baseline-aws-managed-policy ------------------------------------------------------------------


def test_a_broad_aws_managed_policy_is_reported_with_its_scoped_replacement() -> None:
    finding = only(audit(S3_ACCESS_ROLE, rules=["baseline-aws-managed-policy"]), "baseline-aws-managed-policy")

    assert finding.severity is Severity.LOW
    assert finding.remediation.policy is not None
    assert finding.remediation.policy["Statement"][0]["Action"] == ["s3:GetObject", "s3:ListBucket"]


def test_without_a_corrected_policy_the_commands_start_from_the_current_document() -> None:
    reader = role(
        "auditor", trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), managed_policies=(managed("ReadOnlyAccess"),)
    )

    finding = only(audit(reader, rules=["baseline-aws-managed-policy"]), "baseline-aws-managed-policy")

    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert finding.remediation.policy is None
    assert finding.remediation.cli[:2] == (
        f"aws iam get-policy --policy-arn {arn} --query Policy.DefaultVersionId --output text",
        f"aws iam get-policy-version --policy-arn {arn} --version-id '<default-version-id>'",
    )
    assert finding.remediation.cli[-1] == f"aws iam detach-role-policy --role-name auditor --policy-arn {arn}"


def test_accepted_and_customer_managed_policies_and_opted_out_profiles_pass() -> None:
    sso = role(
        "AWSReservedSSO_ReadOnly_0123",
        trust({"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/AWSSSO_0123_DO_NOT_DELETE"}),
        path="/aws-reserved/sso.amazonaws.com/",
        managed_policies=(managed("ReadOnlyAccess"),),
    )

    assert audit(CLOUDWATCH_AGENT_ROLE, COMPANY1_LOGS_ROLE, sso, rules=["baseline-aws-managed-policy"]) == []


# -- baseline-untrusted-principal -----------------------------------------------------------------


def test_an_instance_role_that_another_account_can_assume_is_reported_with_a_corrected_trust() -> None:
    shared = role("shared", trust(EC2, {"AWS": "999988887777"}))

    finding = only(audit(shared, rules=["baseline-untrusted-principal"]), "baseline-untrusted-principal")

    assert finding.evidence == ("profile=instance-role", "principal=AWS:999988887777")
    assert finding.remediation.policy == trust(EC2)
    assert finding.remediation.cli == (
        "aws iam update-assume-role-policy --role-name shared --policy-document file://shared-trust.json",
    )


def test_bare_account_ids_match_root_arn_globs_and_empty_lists_restrict_nothing() -> None:
    baseline = parse_baseline(
        {
            "profiles": [
                {
                    "name": "partner",
                    "selector": {"name": "partner-*"},
                    "trusted_principals": ["arn:aws:iam::999988887777:root"],
                },
                {"name": "default"},
            ]
        },
        "b.yaml",
    )
    partner = role("partner-read", trust({"AWS": "999988887777"}))
    anyone = role("other", trust({"AWS": "444455556666"}))

    assert audit(partner, anyone, baseline=baseline, rules=["baseline-untrusted-principal"]) == []


# -- severities from the baseline -----------------------------------------------------------------


def test_a_profile_may_raise_the_severity_of_its_findings() -> None:
    baseline = parse_baseline(
        {
            "profiles": [
                {"name": "default", "required_tags": ["owner"], "severities": {"baseline-missing-tags": "high"}}
            ]
        },
        "b.yaml",
    )

    finding = only(audit(role("x", tags=()), baseline=baseline), "baseline-missing-tags")

    assert finding.severity is Severity.HIGH


@pytest.mark.parametrize("rule_id", BASELINE_RULES)
def test_every_baseline_finding_carries_a_command(rule_id: str) -> None:
    offenders = [
        S3_ACCESS_ROLE,
        role(
            "ops-admin",
            trust({"AWS": "999988887777"}),
            tags=(),
            max_session_duration=43200,
            managed_policies=(managed("AdministratorAccess"),),
        ),
        role("github-deploy", trust({"AWS": "999988887777"})),
    ]

    findings = audit(*offenders, rules=[rule_id])

    assert findings, rule_id
    assert all(f.remediation.cli and f.remediation.summary for f in findings)


def test_a_users_baseline_names_the_buckets_the_corrected_policy_is_scoped_to() -> None:
    strict = load_baseline(Path(__file__).resolve().parents[2] / "examples/baselines/strict.yaml")

    finding = only(
        audit(S3_ACCESS_ROLE, baseline=strict, rules=["baseline-disallowed-action"]), "baseline-disallowed-action"
    )

    assert finding.remediation.policy == {
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


def test_several_aws_managed_policies_make_one_finding_with_one_replacement() -> None:
    both = role(
        "auditor",
        trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
        managed_policies=(managed("ReadOnlyAccess"), managed("AmazonS3ReadOnlyAccess")),
    )

    findings = audit(both, rules=["baseline-aws-managed-policy"])

    assert len(findings) == 1
    [finding] = findings
    assert finding.evidence[1:] == (
        "policy=arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        "policy=arn:aws:iam::aws:policy/ReadOnlyAccess",
    )
    detaches = [c for c in finding.remediation.cli if "detach-role-policy" in c]
    assert len(detaches) == 2
