"""admin-access, service-wildcard and the access-level rules: a failing and a passing case each."""

from __future__ import annotations

import pytest
from helpers import allow, deny, findings, make_role, policy, rule_ids

from rolewatch.baseline import Baseline, Profile
from rolewatch.model import Severity


def only(rule: str, *documents, **kw):
    return [f for f in findings(make_role("r", *documents, **kw), [rule]) if f.rule == rule]


class TestAdminAccess:
    def test_action_star_is_critical(self):
        [f] = only("admin-access", policy(allow("*")))
        assert f.severity is Severity.CRITICAL
        assert f.actions == ("*",)
        assert "inline-0 Statement[0]" in f.evidence[0]

    def test_notaction_near_admin_is_reported(self):
        [f] = only(
            "admin-access", policy({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"})
        )
        assert f.severity is Severity.HIGH
        assert "near-administrator" in f.detail

    def test_notaction_leaving_iam_writes_is_full_admin(self):
        # fn4-style: NotAction excludes a few IAM verbs but leaves iam:PutRolePolicy -> still full admin
        doc = policy({"Effect": "Allow", "NotAction": ["iam:Update*", "iam:Create*"], "Resource": "*"})
        [f] = only("admin-access", doc)
        assert f.severity is Severity.HIGH  # near: iam:* is not whole

    def test_denied_admin_is_clean(self):
        assert only("admin-access", policy(allow("*"), deny("*"))) == []

    def test_scoped_star_is_not_admin(self):
        assert only("admin-access", policy(allow("*", "arn:aws:s3:::bucket/*"))) == []

    def test_boundary_caps_admin(self):
        boundary = policy(allow(["s3:GetObject", "s3:ListBucket"]))
        assert only("admin-access", policy(allow("*")), boundary=boundary) == []

    def test_conditional_admin_is_lowered(self):
        doc = policy(allow("*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
        [f] = only("admin-access", doc)
        assert f.severity is Severity.HIGH
        assert "conditions" in f.detail

    def test_admin_silences_access_level_rules(self):
        ids = rule_ids(make_role("r", policy(allow("*"))))
        assert "admin-access" in ids
        assert not ids & {"service-wildcard", "data-exfiltration", "resource-exposure", "infrastructure-modification"}


class TestServiceWildcard:
    def test_sensitive_service_on_every_resource_is_high(self):
        [f] = only("service-wildcard", policy(allow(["kms:*", "sqs:*"])))
        assert f.severity is Severity.HIGH
        assert set(f.actions) == {"kms:*", "sqs:*"}

    def test_plain_service_is_medium(self):
        [f] = only("service-wildcard", policy(allow("sqs:*")))
        assert f.severity is Severity.MEDIUM

    def test_scoped_wildcard_is_low(self):
        [f] = only("service-wildcard", policy(allow("sqs:*", "arn:aws:sqs:us-east-1:111122223333:orders")))
        assert f.severity is Severity.LOW

    def test_read_only_service_wildcard_is_clean(self):
        assert only("service-wildcard", policy(allow("pricing:*"))) == []

    def test_listed_actions_are_clean(self):
        assert only("service-wildcard", policy(allow(["sqs:SendMessage", "sqs:ReceiveMessage"]))) == []

    def test_one_denied_action_means_not_whole_service(self):
        assert only("service-wildcard", policy(allow("sqs:*"), deny("sqs:DeleteQueue"))) == []


class TestDataExfiltration:
    def test_s3_read_everywhere(self):
        [f] = only("data-exfiltration", policy(allow(["s3:Get*", "s3:List*"])))
        assert "s3:GetObject" in f.actions

    def test_secrets_everywhere(self):
        [f] = only("data-exfiltration", policy(allow("secretsmanager:GetSecretValue")))
        assert f.actions == ("secretsmanager:GetSecretValue",)

    def test_scoped_reads_are_clean(self):
        doc = policy(
            allow("s3:GetObject", "arn:aws:s3:::reports/*"),
            allow("ssm:GetParameter", "arn:aws:ssm:*:*:parameter/app/*"),
        )
        assert only("data-exfiltration", doc) == []


class TestCredentialsExposure:
    def test_create_access_key_everywhere_is_high(self):
        [f] = only("credentials-exposure", policy(allow("iam:CreateAccessKey")))
        assert f.severity is Severity.HIGH

    def test_scoped_is_medium(self):
        [f] = only("credentials-exposure", policy(allow("iam:CreateAccessKey", "arn:aws:iam::111122223333:user/ci")))
        assert f.severity is Severity.MEDIUM

    def test_registry_token_is_info(self):
        [f] = only("credentials-exposure", policy(allow("ecr:GetAuthorizationToken")))
        assert f.severity is Severity.INFO

    def test_assume_role_is_left_to_escalation_rules(self):
        assert only("credentials-exposure", policy(allow("sts:AssumeRole"))) == []


class TestResourceExposure:
    def test_bucket_policy_everywhere(self):
        [f] = only("resource-exposure", policy(allow(["s3:PutBucketPolicy", "kms:PutKeyPolicy"])))
        assert set(f.actions) == {"s3:PutBucketPolicy", "kms:PutKeyPolicy"}

    def test_scoped_is_clean(self):
        assert only("resource-exposure", policy(allow("s3:PutBucketPolicy", "arn:aws:s3:::site"))) == []

    def test_read_shaped_permission_actions_are_clean(self):
        assert only("resource-exposure", policy(allow("s3:GetBucketPolicy"))) == []


class TestInfrastructureModification:
    def test_write_everywhere(self):
        [f] = only("infrastructure-modification", policy(allow(["ec2:TerminateInstances", "rds:DeleteDBInstance"])))
        assert f.severity is Severity.LOW
        assert "ec2:TerminateInstances" in f.actions

    @pytest.mark.parametrize(
        "action",
        ["logs:PutLogEvents", "cloudwatch:PutMetricData", "ec2:DescribeInstances"],
        ids=["telemetry", "no-resource-level-support", "read"],
    )
    def test_not_scoping_failures(self, action):
        assert only("infrastructure-modification", policy(allow(action))) == []

    def test_scoped_writes_are_clean(self):
        arn = "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc"
        assert only("infrastructure-modification", policy(allow("ec2:TerminateInstances", arn))) == []


class TestCategoriesMeanWhatTheySay:
    """The README's categories: resource-exposure changes who can reach a resource; permissions management of
    principals is escalation; credentials-exposure obtains credentials."""

    @pytest.mark.parametrize(
        "action",
        ["iam:PassRole", "iam:AttachRolePolicy", "iam:PutRolePolicy", "iam:CreateAccessKey", "sso:CreatePermissionSet"],
    )
    def test_principal_permissions_are_not_resource_exposure(self, action):
        assert only("resource-exposure", policy(allow(action))) == []

    @pytest.mark.parametrize(
        "action",
        ["xray:PutEncryptionConfig", "lambda:EnableReplication", "waf:GetChangeToken", "rds-db:connect"],
    )
    def test_peer_list_entries_that_grant_no_reach_are_not_resource_exposure(self, action):
        assert only("resource-exposure", policy(allow(action))) == []

    @pytest.mark.parametrize(
        "action",
        ["ec2:ModifySnapshotAttribute", "ram:AssociateResourceShare", "s3:PutBucketAcl", "lambda:AddPermission"],
    )
    def test_sharing_and_acls_are_resource_exposure(self, action):
        [f] = only("resource-exposure", policy(allow(action)))
        assert f.category == "resource-exposure"

    @pytest.mark.parametrize("action", ["sts:GetSessionToken", "sts:GetFederationToken"])
    def test_user_only_token_calls_expose_nothing_on_a_role(self, action):
        assert only("credentials-exposure", policy(allow(action))) == []

    def test_user_only_token_calls_are_credentials_on_a_user(self):
        [f] = only("credentials-exposure", policy(allow("sts:GetFederationToken")), kind="user")
        assert f.actions == ("sts:GetFederationToken",)

    def test_switching_an_access_key_on_obtains_no_credentials(self):
        assert only("credentials-exposure", policy(allow("iam:UpdateAccessKey"))) == []


class TestQuietOnDocumentedPolicies:
    SSM_CHANNELS = (
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    )
    S3_READ_ONLY = policy(allow(["s3:Get*", "s3:List*"]))
    S3_READ_ONLY_ARN = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"

    def test_every_action_listed_by_name_is_not_a_service_wildcard(self):
        assert only("service-wildcard", policy(allow(list(self.SSM_CHANNELS)))) == []

    def test_the_same_service_through_a_wildcard_is(self):
        [f] = only("service-wildcard", policy(allow("ssmmessages:*")))
        assert f.actions == ("ssmmessages:*",)

    def test_reads_from_an_aws_read_only_policy_are_low_and_keep_the_policy(self):
        [f] = only("data-exfiltration", managed=[(self.S3_READ_ONLY_ARN, self.S3_READ_ONLY)])
        assert f.severity is Severity.LOW
        assert f.remediation.cli == ()
        assert "AmazonS3ReadOnlyAccess" in f.detail

    def test_the_same_reads_written_by_hand_stay_medium(self):
        [f] = only("data-exfiltration", self.S3_READ_ONLY)
        assert f.severity is Severity.MEDIUM

    def test_an_aws_policy_that_also_writes_is_not_read_only(self):
        doc = policy(allow(["s3:Get*", "s3:List*", "s3:PutObject"]))
        [f] = only("data-exfiltration", managed=[("arn:aws:iam::aws:policy/AmazonS3FullAccessLike", doc)])
        assert f.severity is Severity.MEDIUM


class TestEvidenceAndFixNameOnlyWhatContributes:
    ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
    LOGS = policy(
        allow(["logs:CreateLogStream", "logs:PutLogEvents"], "arn:aws:logs:us-east-1:111122223333:log-group:app:*"),
        allow("s3:PutObject", "arn:aws:s3:::company1-logs/*"),
    )

    def test_a_scoped_policy_is_neither_evidence_nor_deleted(self):
        role = make_role("Company1-Logs-Role", self.LOGS, managed=[(self.ADMIN, policy(allow("*")))])
        [f] = findings(role, ["admin-access"])
        assert f.evidence == (f"{self.ADMIN} Statement[0]",)
        assert f.remediation.cli == (
            f"aws iam detach-role-policy --role-name Company1-Logs-Role --policy-arn {self.ADMIN}",
        )

    def test_a_policy_with_other_statements_is_revised_not_deleted(self):
        mixed = policy(allow("*"), *self.LOGS["Statement"])
        [f] = findings(make_role("r", mixed), ["admin-access"])
        assert f.evidence == ("inline-0 Statement[0]",)
        assert not [c for c in f.remediation.cli if "delete-role-policy" in c]
        assert any("put-role-policy" in c and "inline-0" in c for c in f.remediation.cli)

    def test_a_policy_that_only_grants_admin_is_deleted(self):
        [f] = findings(make_role("r", policy(allow("*"))), ["admin-access"])
        assert f.remediation.cli == ("aws iam delete-role-policy --role-name r --policy-name inline-0",)


def test_the_fix_keeps_an_accepted_policy_and_removes_the_hand_written_grant():
    ssm_core = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    baseline = Baseline(profiles=(Profile(name="p", allowed_managed_policies=("AmazonSSMManagedInstanceCore",)),))
    role = make_role(
        "r",
        policy(allow("ssm:GetParameters")),
        managed=[(ssm_core, policy(allow(["ssm:GetParameter", "ssm:UpdateInstanceInformation"])))],
    )
    [f] = [f for f in findings(role, ["data-exfiltration"], baseline) if f.rule == "data-exfiltration"]
    assert f.severity is Severity.MEDIUM
    assert f.remediation.cli == ("aws iam delete-role-policy --role-name r --policy-name inline-0",)
