"""The demo account (examples/sample-account.json) in moto, and the calls of events/ replayed against it.

CloudTrail reports a call after it happened, so each test first makes the call (`replay`), then hands
the event to the auditor. EC2 ids are random in moto: `replay` returns the event with the instance and
association ids of the call it made. Test-only code: it seeds through boto3, never by patching.
"""

from __future__ import annotations

import copy
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]
EVENTS_DIR = ROOT / "events"
SAMPLE_ACCOUNT = ROOT / "examples" / "sample-account.json"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
BOUNDARY_POLICY = "workload-boundary"  # the policy events/iam-put-role-permissions-boundary.json names
BOUNDARY_DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "s3:List*", "logs:*"], "Resource": "*"}],
}


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))


def _text(document: Any) -> str:
    if isinstance(document, str):
        return urllib.parse.unquote(document) if document.startswith("%7B") else document
    return json.dumps(document)


@dataclass
class SeededAccount:
    iam: Any
    ec2: Any
    instances: dict[str, str] = field(default_factory=dict)  # label -> instance id

    def run_instance(self, label: str, profile: str | None = None) -> str:
        image = self.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        extra = {"IamInstanceProfile": {"Name": profile}} if profile else {}
        instance = self.ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", **extra)
        self.instances[label] = instance["Instances"][0]["InstanceId"]
        return self.instances[label]

    def association_of(self, instance_id: str) -> dict[str, Any]:
        found = self.ec2.describe_iam_instance_profile_associations(
            Filters=[{"Name": "instance-id", "Values": [instance_id]}]
        )["IamInstanceProfileAssociations"]
        return found[0]


def seed_account(region: str = REGION) -> SeededAccount:
    """Roles, inline and managed policies (with their versions), boundaries, tags and instance profiles of the
    sample account, plus the boundary policy the events name. Needs moto with AWS-managed policies loaded."""
    iam = boto3.client("iam", region_name=region)
    sample = json.loads(SAMPLE_ACCOUNT.read_text(encoding="utf-8"))
    for policy in sample["Policies"]:
        if ":iam::aws:" in policy["Arn"]:
            continue
        versions = sorted(policy["PolicyVersionList"], key=lambda v: v["VersionId"])
        iam.create_policy(PolicyName=policy["PolicyName"], PolicyDocument=_text(versions[0]["Document"]))
        for version in versions[1:]:
            iam.create_policy_version(
                PolicyArn=policy["Arn"],
                PolicyDocument=_text(version["Document"]),
                SetAsDefault=version["VersionId"] == policy["DefaultVersionId"],
            )
    iam.create_policy(PolicyName=BOUNDARY_POLICY, PolicyDocument=json.dumps(BOUNDARY_DOCUMENT))
    for role in sample["RoleDetailList"]:
        if role["Path"].startswith("/aws-service-role/"):
            continue
        extra = (
            {"PermissionsBoundary": role["PermissionsBoundary"]["PermissionsBoundaryArn"]}
            if role.get("PermissionsBoundary")
            else {}
        )
        iam.create_role(
            RoleName=role["RoleName"],
            Path=role["Path"],
            AssumeRolePolicyDocument=_text(role["AssumeRolePolicyDocument"]),
            Tags=role.get("Tags", []),
            **extra,
        )
        for inline in role.get("RolePolicyList", []):
            iam.put_role_policy(
                RoleName=role["RoleName"],
                PolicyName=inline["PolicyName"],
                PolicyDocument=_text(inline["PolicyDocument"]),
            )
        for attached in role.get("AttachedManagedPolicies", []):
            iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=attached["PolicyArn"])
        for profile in role.get("InstanceProfileList", []):
            iam.create_instance_profile(InstanceProfileName=profile["InstanceProfileName"])
            iam.add_role_to_instance_profile(
                InstanceProfileName=profile["InstanceProfileName"], RoleName=role["RoleName"]
            )
    return SeededAccount(iam=iam, ec2=boto3.client("ec2", region_name=region))


# -- replaying the calls of events/ ----------------------------------------------------------------


def _pascal(params: Mapping[str, Any]) -> dict[str, Any]:
    """CloudTrail's camelCase request parameters as boto3's PascalCase ones (tags included)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        converted = [{"Key": t["key"], "Value": t["value"]} for t in value] if key == "tags" else value
        out[key[0].upper() + key[1:]] = converted
    return out


IAM_CALLS = {
    "CreateRole": None,  # the seeded account has the role already
    "CreateInstanceProfile": None,
    "AttachRolePolicy": "attach_role_policy",
    "DetachRolePolicy": "detach_role_policy",
    "PutRolePolicy": "put_role_policy",
    "DeleteRolePolicy": None,  # the seeded role never had the policy the event deletes
    "UpdateAssumeRolePolicy": "update_assume_role_policy",
    "CreatePolicyVersion": "create_policy_version",
    "SetDefaultPolicyVersion": "set_default_policy_version",
    "PutRolePermissionsBoundary": "put_role_permissions_boundary",
    "DeleteRolePermissionsBoundary": "delete_role_permissions_boundary",
    "UpdateRole": "update_role",
    "TagRole": "tag_role",
    "UntagRole": "untag_role",
    "AddRoleToInstanceProfile": "add_role_to_instance_profile",
    "RemoveRoleFromInstanceProfile": "remove_role_from_instance_profile",
}


def replay(account: SeededAccount, event: dict[str, Any]) -> dict[str, Any]:
    """Make the event's call in moto (as it happened before CloudTrail reported it); return the event
    with moto's instance and association ids."""
    event = copy.deepcopy(event)
    if "detail" not in event:  # direct invocation
        if event.get("instance_ids"):
            event["instance_ids"] = [account.run_instance("direct", "S3AccessRole")]
        return event
    detail = event["detail"]
    name = detail["eventName"]
    params = detail["requestParameters"]
    if name in IAM_CALLS:
        _prepare_iam(account, name, params)
        method = IAM_CALLS[name]
        if method:
            getattr(account.iam, method)(**_pascal(params))
        return event
    _replay_ec2(account, name, detail)
    return event


def _prepare_iam(account: SeededAccount, name: str, params: Mapping[str, Any]) -> None:
    if name in ("CreateInstanceProfile", "AddRoleToInstanceProfile"):
        account.iam.create_instance_profile(InstanceProfileName=params["instanceProfileName"])
    elif name == "SetDefaultPolicyVersion":
        # The event sets v3 as default: make v3 exist first (the seeded policy has v1 and v2).
        document = account.iam.get_policy_version(PolicyArn=params["policyArn"], VersionId="v1")["PolicyVersion"]
        account.iam.create_policy_version(PolicyArn=params["policyArn"], PolicyDocument=_text(document["Document"]))


def _replay_ec2(account: SeededAccount, name: str, detail: dict[str, Any]) -> None:
    request, response = detail["requestParameters"], detail["responseElements"]
    if name == "RunInstances":
        instance = account.run_instance("launched", "S3AccessRole")
        response["instancesSet"]["items"][0]["instanceId"] = instance
        return
    wrapped_request = request[f"{name}Request"]
    association = response[f"{name}Response"]["iamInstanceProfileAssociation"]
    if name == "AssociateIamInstanceProfile":
        instance = account.run_instance("plain")
        profile = wrapped_request["IamInstanceProfile"]["Name"]
        made = account.ec2.associate_iam_instance_profile(InstanceId=instance, IamInstanceProfile={"Name": profile})
        wrapped_request["InstanceId"] = instance
        association.update(instanceId=instance, associationId=made["IamInstanceProfileAssociation"]["AssociationId"])
    elif name == "ReplaceIamInstanceProfileAssociation":
        instance = account.run_instance("swapped", "S3AccessRole")
        old = account.association_of(instance)["AssociationId"]
        account.iam.create_instance_profile(InstanceProfileName="ops-admin")
        account.iam.add_role_to_instance_profile(InstanceProfileName="ops-admin", RoleName="ops-admin")
        account.ec2.replace_iam_instance_profile_association(
            AssociationId=old, IamInstanceProfile=wrapped_request["IamInstanceProfile"]
        )
        wrapped_request["AssociationId"] = old
        association.update(instanceId=instance, associationId=old)
    elif name == "DisassociateIamInstanceProfile":
        account.iam.create_instance_profile(InstanceProfileName="ops-admin")
        account.iam.add_role_to_instance_profile(InstanceProfileName="ops-admin", RoleName="ops-admin")
        instance = account.run_instance("released", "ops-admin")
        old = account.association_of(instance)["AssociationId"]
        account.ec2.disassociate_iam_instance_profile(AssociationId=old)
        wrapped_request["AssociationId"] = old
        association.update(instanceId=instance, associationId=old)
