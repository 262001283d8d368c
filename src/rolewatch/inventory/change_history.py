"""Reads that reconstruct the state *before* a change (the AWS side of rolewatch.event.delta).

IAM keeps a managed policy's earlier versions (up to five) but not which one was the default before;
EC2 keeps a replaced instance-profile association visible, in state "disassociating", for a while. These
readers fetch what is left and say nothing when it is gone; the caller marks the delta as unknown.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from rolewatch.aws_permissions import EVENT_AUDIT, requires
from rolewatch.inventory.clients import AwsClients
from rolewatch.model import AttachedPolicy

_MISSING = {"NoSuchEntity", "NoSuchEntityException", "InvalidAssociationID.NotFound"}


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in _MISSING


@requires("iam:ListPolicyVersions", "iam:GetPolicyVersion", by=EVENT_AUDIT)
def previous_default_version(clients: AwsClients, policy_arn: str) -> AttachedPolicy | None:
    """The policy at the version that was most likely the default before the current one.

    IAM does not record earlier defaults. The inference: the most recently created version other than
    the current default. That is exact for CreatePolicyVersion with setAsDefault (the new version is the
    newest) and for a roll-forward; for a rollback (SetDefaultPolicyVersion to an older version) it
    names the newest version, the usual one to roll back from. None when there is no other version.
    """
    try:
        pages = clients.iam.get_paginator("list_policy_versions").paginate(PolicyArn=policy_arn)
        versions: list[dict[str, Any]] = [v for page in pages for v in page.get("Versions", [])]
    except ClientError as exc:
        if _missing(exc):
            return None
        raise
    others = [v for v in versions if not v.get("IsDefaultVersion")]
    if not others:
        return None
    previous = max(others, key=lambda v: (str(v.get("CreateDate", "")), _version_number(v["VersionId"])))
    version_id = previous["VersionId"]
    try:
        document = clients.iam.get_policy_version(PolicyArn=policy_arn, VersionId=version_id)["PolicyVersion"][
            "Document"
        ]
    except ClientError as exc:
        if _missing(exc):  # deleted in between
            return None
        raise
    return AttachedPolicy(
        name=policy_arn.rsplit("/", 1)[-1],
        document=document,
        arn=policy_arn,
        location=f"iam:GetPolicyVersion(PolicyArn={policy_arn}, VersionId={version_id})",
    )


def _version_number(version_id: str) -> int:
    digits = version_id.lstrip("vV")
    return int(digits) if digits.isdigit() else 0


@requires("ec2:DescribeIamInstanceProfileAssociations", by=EVENT_AUDIT)
def association_profile(clients: AwsClients, association_id: str) -> tuple[str, str, str] | None:
    """(instance id, profile ARN, state) of an association in any state, or None once EC2 forgot it."""
    try:
        found = clients.ec2.describe_iam_instance_profile_associations(AssociationIds=[association_id])
    except ClientError as exc:
        if _missing(exc):
            return None
        raise
    for association in found.get("IamInstanceProfileAssociations", []):
        arn = association.get("IamInstanceProfile", {}).get("Arn")
        if association.get("AssociationId") == association_id and arn:
            return association.get("InstanceId", ""), arn, association.get("State", "")
    return None
