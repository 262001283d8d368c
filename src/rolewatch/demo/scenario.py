"""The demo's story: risky (and one harmless) changes made through the API, each with its CloudTrail event.

Every step makes the real call against the embedded AWS first, then builds the EventBridge event that
CloudTrail would deliver for it, so the handler re-reads a state that really changed. The two steps
that make no call say why: a denied call changes nothing, and a duplicate is the same event again
(EventBridge delivers at least once).
"""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from rolewatch.demo import moto_fidelity
from rolewatch.demo.account import PRIVILEGED_ROLE, SeededAccount
from rolewatch.demo.cloudtrail import cloudtrail_event, iam_response_date, load_template, user_identity_of

ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
IAM_FULL_ACCESS_ARN = "arn:aws:iam::aws:policy/IAMFullAccess"
OIDC_ROLE = "github-deploy-role"
ADMIN_TARGET_ROLE = "Company1-Logs-Role"
SWAPPED_PROFILE = "S3AccessRole"  # the analytics-worker instance's profile, swapped for ops-admin
BENIGN_ROLE = "orders-api-lambda"
DENIED_ROLE = "CloudWatchAgentRole"
EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"

# Kinds of outcome a step is expected to have (the summary and the test compare against them).
PUBLISHES = "publishes"
PUBLISHES_NOTHING = "publishes nothing"
SKIPPED = "skipped"


@dataclass(frozen=True)
class Step:
    key: str  # stable id for the record and the tests
    title: str
    story: str  # one or two sentences for the reader
    expected: str  # PUBLISHES, PUBLISHES_NOTHING or SKIPPED
    event: dict[str, Any]


@dataclass(frozen=True)
class Context:
    account: SeededAccount
    region: str

    def iam(self) -> Any:
        return boto3.client("iam", region_name=self.region)

    def ec2(self) -> Any:
        return boto3.client("ec2", region_name=self.region)

    def event(self, template: dict[str, Any], **facts: Any) -> dict[str, Any]:
        return cloudtrail_event(template, account_id=self.account.account_id, region=self.region, **facts)


def create_oidc_role(ctx: Context) -> Step:
    template = load_template("iam-create-role.json")
    request = dict(template["detail"]["requestParameters"])
    trust = request["assumeRolePolicyDocument"]  # GitHub OIDC, sub "repo:example-org/*": any repo of the org
    role = ctx.iam().create_role(
        RoleName=OIDC_ROLE, AssumeRolePolicyDocument=trust, MaxSessionDuration=int(request["maxSessionDuration"])
    )["Role"]
    response = {
        "role": {
            "path": role["Path"],
            "roleName": role["RoleName"],
            "roleId": role["RoleId"],
            "arn": role["Arn"],
            "createDate": iam_response_date(role["CreateDate"]),
            "assumeRolePolicyDocument": urllib.parse.quote(trust, safe=""),
        }
    }
    sub = json.loads(trust)["Statement"][0]["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"]
    return Step(
        key="oidc-role",
        title=f"ci-deployer creates {OIDC_ROLE}, trusting GitHub Actions with sub {sub!r}",
        story="Any workflow in any repository of the organisation can assume the role.",
        expected=PUBLISHES,
        event=ctx.event(template, request_parameters=request, response_elements=response),
    )


def attach_admin_policy(ctx: Context) -> Step:
    template = load_template("iam-attach-role-policy.json")
    ctx.iam().attach_role_policy(RoleName=ADMIN_TARGET_ROLE, PolicyArn=ADMIN_POLICY_ARN)
    request = {"roleName": ADMIN_TARGET_ROLE, "policyArn": ADMIN_POLICY_ARN}
    return Step(
        key="admin-attach",
        title=f"ci-deployer attaches AdministratorAccess to {ADMIN_TARGET_ROLE}",
        story="The log shipper's instance role can now do anything in the account.",
        expected=PUBLISHES,
        event=ctx.event(template, request_parameters=request, response_elements=None),
    )


def swap_instance_role(ctx: Context) -> Step:
    template = load_template("ec2-replace-iam-instance-profile-association.json")
    instance = ctx.account.instance(SWAPPED_PROFILE)
    replaced = moto_fidelity.snapshot_association(ctx.account.account_id, ctx.region, instance.instance_id)
    association = ctx.ec2().replace_iam_instance_profile_association(
        AssociationId=instance.association_id, IamInstanceProfile={"Name": PRIVILEGED_ROLE}
    )["IamInstanceProfileAssociation"]
    new_id = moto_fidelity.settle_replacement(ctx.account.account_id, ctx.region, instance.instance_id, replaced)
    request = {
        "ReplaceIamInstanceProfileAssociationRequest": {
            "AssociationId": instance.association_id,
            "IamInstanceProfile": {"Name": PRIVILEGED_ROLE},
        }
    }
    response = {
        "ReplaceIamInstanceProfileAssociationResponse": {
            "xmlns": EC2_XMLNS,
            "requestId": str(uuid.uuid4()),
            "iamInstanceProfileAssociation": {
                "associationId": new_id,
                "iamInstanceProfile": {
                    "arn": association["IamInstanceProfile"]["Arn"],
                    "id": association["IamInstanceProfile"]["Id"],
                },
                "instanceId": instance.instance_id,
                "state": "associating",
            },
        }
    }
    return Step(
        key="instance-swap",
        title=f"alice swaps the role of instance {instance.name} ({instance.instance_id}): "
        f"{SWAPPED_PROFILE} -> {PRIVILEGED_ROLE}",
        story="Whoever runs code on that instance now holds an administrator role instead of S3 read access.",
        expected=PUBLISHES,
        event=ctx.event(template, request_parameters=request, response_elements=response),
    )


def denied_attach(ctx: Context) -> Step:
    template = load_template("iam-attach-role-policy.json")
    identity = user_identity_of(template)
    identity.update(
        principalId="AIDAQXAMPLEDEVUSER01",
        arn=f"arn:aws:iam::{ctx.account.account_id}:user/dev-bob",
        accessKeyId="AKIAQXAMPLEDEVUSER01",
        userName="dev-bob",
    )
    request = {"roleName": DENIED_ROLE, "policyArn": IAM_FULL_ACCESS_ARN}
    message = (
        f"User: arn:aws:iam::{ctx.account.account_id}:user/dev-bob is not authorized to perform: "
        f"iam:AttachRolePolicy on resource: role {DENIED_ROLE} because no identity-based policy allows the "
        "iam:AttachRolePolicy action"
    )
    return Step(
        key="denied-call",
        title=f"dev-bob tries to attach IAMFullAccess to {DENIED_ROLE}, and is denied",
        story="IAM refused the call (no API call is made here), so nothing changed: CloudTrail still records it.",
        expected=SKIPPED,
        event=ctx.event(
            template,
            request_parameters=request,
            response_elements=None,
            user_identity=identity,
            error=("AccessDenied", message),
        ),
    )


def tag_role(ctx: Context) -> Step:
    template = load_template("iam-tag-role.json")
    tags = [{"Key": "cost-center", "Value": "orders-4711"}]
    ctx.iam().tag_role(RoleName=BENIGN_ROLE, Tags=tags)
    request = {"roleName": BENIGN_ROLE, "tags": [{"key": t["Key"], "value": t["Value"]} for t in tags]}
    return Step(
        key="benign-tag",
        title=f"alice tags {BENIGN_ROLE} with cost-center=orders-4711",
        story="A bookkeeping change on a least-privilege role: audited, and nothing worth an alert.",
        expected=PUBLISHES_NOTHING,
        event=ctx.event(template, request_parameters=request, response_elements=None),
    )


def duplicate_of(step: Step, number: int) -> Step:
    return Step(
        key="duplicate-delivery",
        title=f"EventBridge delivers the {step.event['detail']['eventName']} event of step {number} a second time",
        story="Delivery is at least once; the idempotency table makes the duplicate publish nothing new.",
        expected=PUBLISHES_NOTHING,
        event=step.event,
    )


CHANGES: tuple[Callable[[Context], Step], ...] = (
    create_oidc_role,
    attach_admin_policy,
    swap_instance_role,
    denied_attach,
    tag_role,
)
