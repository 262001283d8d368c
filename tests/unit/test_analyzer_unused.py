"""Policies without unused permissions (pure): computed with the engine, or taken from Access Analyzer."""

from __future__ import annotations

import json

import pytest
from helpers import ACCOUNT, make_role, policy

from rolewatch.analyzer.unused import (
    UnusedPermissions,
    local_remediation,
    recommendation_remediation,
    revise_policies,
)
from rolewatch.policy.catalogue import catalogue
from rolewatch.policy.permissions import Permissions, compile_policy

S3_UNUSED = UnusedPermissions("s3", ("s3:PutObject", "s3:DeleteObject"))
CUSTOMER_ARN = f"arn:aws:iam::{ACCOUNT}:policy/app-data"
S3_READ_ONLY_ARN = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


def allowed(document) -> int:
    return Permissions([("p", compile_policy(document))]).allowed


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        ({"serviceNamespace": "s3", "actions": [{"action": "PutObject"}, {"action": "DeleteObject"}]}, S3_UNUSED),
        ({"serviceNamespace": "s3", "actions": [{"action": "s3:PutObject"}, {"action": "s3:DeleteObject"}]}, S3_UNUSED),
        ({"serviceNamespace": "EC2", "lastAccessed": "2025-01-01T00:00:00Z"}, UnusedPermissions("ec2", ())),
    ],
    ids=["bare-action-names", "prefixed-action-names", "whole-service"],
)
def test_unused_permission_details_are_read_in_either_form(details, expected) -> None:
    assert UnusedPermissions.from_details(details) == expected


def test_a_wildcard_is_expanded_without_the_unused_actions_and_nothing_else_changes() -> None:
    document = policy(
        {"Sid": "Data", "Effect": "Allow", "Action": ["s3:*", "sqs:SendMessage"], "Resource": "arn:aws:s3:::orders/*"},
        {"Sid": "Logs", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"},
    )
    role = make_role("app", document)
    [revised] = revise_policies(role, [S3_UNUSED])
    assert revised.label == "inline-0" and revised.document is not None
    data, logs = revised.document["Statement"]
    assert logs == document["Statement"][1]
    assert data["Resource"] == "arn:aws:s3:::orders/*" and data["Sid"] == "Data"
    assert "sqs:SendMessage" in data["Action"] and "s3:*" not in data["Action"]
    assert "s3:PutObject" not in data["Action"] and "s3:GetObject" in data["Action"]
    # Exactly the unused actions are gone: the engine agrees action by action.
    cat = catalogue()
    assert allowed(revised.document) == allowed(document) & ~S3_UNUSED.mask(cat)


def test_a_not_action_statement_gets_the_unused_actions_added() -> None:
    document = policy({"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"})
    [revised] = revise_policies(make_role("app", document), [S3_UNUSED])
    assert revised.document is not None
    assert revised.document["Statement"][0]["NotAction"] == ["iam:*", "s3:DeleteObject", "s3:PutObject"]
    assert allowed(revised.document) == allowed(document) & ~S3_UNUSED.mask(catalogue())


def test_a_policy_of_only_unused_actions_is_removed() -> None:
    document = policy({"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": "*"})
    role = make_role("app", document, policy({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}))
    revised = revise_policies(role, [S3_UNUSED])
    assert [(r.label, r.document) for r in revised] == [("inline-0", None)]
    remediation = local_remediation(role, [S3_UNUSED], "")
    assert remediation.policy is None
    assert remediation.cli == ("aws iam delete-role-policy --role-name app --policy-name inline-0",)
    assert "remove inline-0" in remediation.summary


def test_a_whole_unused_service_leaves_the_policy_without_it() -> None:
    document = policy({"Effect": "Allow", "Action": ["ec2:Describe*", "s3:GetObject"], "Resource": "*"})
    [revised] = revise_policies(make_role("app", document), [UnusedPermissions("ec2", ())])
    assert revised.document is not None
    assert revised.document["Statement"][0]["Action"] == "s3:GetObject"


def test_policies_that_do_not_grant_the_unused_actions_are_left_alone() -> None:
    role = make_role("app", policy({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}))
    assert revise_policies(role, [S3_UNUSED]) == []
    assert "No policy of the role grants the unused actions" in local_remediation(role, [S3_UNUSED], "").summary


def test_each_kind_of_policy_gets_its_own_commands() -> None:
    read_write = policy({"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"})
    role = make_role(
        "app",
        managed=[
            (CUSTOMER_ARN, read_write),
            (S3_READ_ONLY_ARN, policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})),
        ],
    )
    remediation = local_remediation(role, [S3_UNUSED], "Access Analyzer's recommendation is still being generated.")
    assert isinstance(remediation.policy, dict) and set(remediation.policy) == {CUSTOMER_ARN, S3_READ_ONLY_ARN}
    assert remediation.policy[CUSTOMER_ARN]["Statement"][0]["Action"] == "s3:GetObject"
    commands = "\n".join(remediation.cli)
    assert f"create-policy-version --policy-arn {CUSTOMER_ARN}" in commands  # customer-managed: new version
    assert f"detach-role-policy --role-name app --policy-arn {S3_READ_ONLY_ARN}" in commands  # AWS-managed: replaced
    assert "create-policy --policy-name app-least-privilege" in commands
    assert remediation.summary.endswith("still being generated.")


def test_access_analyzer_recommended_steps_become_the_remediation() -> None:
    recommended = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}],
    }
    steps = [
        {
            "unusedPermissionsRecommendedStep": {
                "recommendedAction": "CREATE_POLICY",
                "recommendedPolicy": json.dumps(recommended),
                "existingPolicyId": CUSTOMER_ARN,
            }
        },
        {
            "unusedPermissionsRecommendedStep": {
                "recommendedAction": "DETACH_POLICY",
                "existingPolicyId": "legacy-inline",
            }
        },
    ]
    remediation = recommendation_remediation(make_role("app"), steps)
    assert remediation is not None
    assert remediation.policy == {CUSTOMER_ARN: recommended}
    assert remediation.summary == f"IAM Access Analyzer's recommendation: replace {CUSTOMER_ARN}; remove legacy-inline."
    assert "aws iam delete-role-policy --role-name app --policy-name legacy-inline" in remediation.cli
    assert recommendation_remediation(make_role("app"), [{"unusedPermissionsRecommendedStep": {}}]) is None
