"""The demo account: examples/sample-account.json made real in the embedded IAM and EC2.

The sample account is modelled on the project's seeds (S3AccessRole with AmazonS3ReadOnlyAccess on an EC2
instance, Company1-Logs-Role, a CloudWatch agent role, ...). Seeding goes through the ordinary IAM and EC2
APIs, so the handler reads the account exactly as it would read a real one. AWS-managed policies are
moto's copies of AWS's own documents; customer-managed ones come from the file with all their versions.

Two additions the scenario needs, both stated in the output: the privileged `ops-admin` role also gets an
instance profile (EC2 may assume it), so an instance's role can be swapped for it; and the account has a
GitHub OIDC provider, as any account with GitHub-deployed roles does.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

REPO_ROOT = Path(__file__).resolve().parents[3]
SAMPLE_ACCOUNT = REPO_ROOT / "examples" / "sample-account.json"
# moto accepts any image id unless MOTO_ENABLE_AMI_VALIDATION is set; events/ec2-run-instances.json uses this one.
DEMO_IMAGE_ID = "ami-0c02fb55956c7d316"
GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_THUMBPRINT = "6938fd4d98bab03faadb97b34396831e3780aea1"  # the published GitHub Actions thumbprint

PRIVILEGED_ROLE = "ops-admin"
# The EC2 instances running with the sample's instance profiles: profile name -> instance Name tag.
INSTANCES = {
    "S3AccessRole": "analytics-worker",
    "Company1-Logs-Role": "company1-log-shipper",
    "CloudWatchAgentRole": "cloudwatch-agent-host",
}
EC2_TRUST_STATEMENT = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}


class SeedError(RuntimeError):
    """The seed file is missing or not an authorization-details file."""


@dataclass(frozen=True)
class Instance:
    name: str
    instance_id: str
    profile_name: str
    association_id: str


@dataclass(frozen=True)
class SeededAccount:
    account_id: str
    roles: tuple[str, ...]
    customer_policies: tuple[str, ...]
    instances: tuple[Instance, ...]
    additions: tuple[str, ...]  # what the demo added to the sample account, for the reader

    def instance(self, profile_name: str) -> Instance:
        return next(i for i in self.instances if i.profile_name == profile_name)


def load_sample(path: Path = SAMPLE_ACCOUNT) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeedError(f"{path}: not found (the demo runs from a rolewatch source checkout)") from None
    except (OSError, ValueError) as exc:
        raise SeedError(f"{path}: cannot be read as JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("RoleDetailList"), list):
        raise SeedError(f"{path}: not a GetAccountAuthorizationDetails file (no RoleDetailList)")
    return data


def document_text(document: Any) -> str:
    """A policy document as the JSON text IAM's write APIs take (the file may hold it URL-encoded)."""
    if isinstance(document, str):
        text = urllib.parse.unquote(document) if document.lstrip().startswith("%") else document
        return json.dumps(json.loads(text))
    return json.dumps(document)


def seed_account(
    region: str,
    sample: dict[str, Any] | None = None,
    *,
    leave_out: Iterable[str] = (),
    with_instances: bool = True,
    session: boto3.Session | None = None,
) -> SeededAccount:
    """Create the sample account's policies, roles, instance profiles and instances (minus `leave_out` roles).

    `session` is the account to seed (a member's own credentials in the organization demo); by default
    the embedded AWS's default account."""
    sample = sample if sample is not None else load_sample()
    client = session.client if session is not None else boto3.client
    iam = client("iam", region_name=region)
    skipped = set(leave_out)
    policies = _create_customer_policies(iam, sample.get("Policies", []))
    roles = [r for r in sample["RoleDetailList"] if r["RoleName"] not in skipped]
    for role in roles:
        _create_role(iam, role, policies)
    additions = [_give_privileged_role_a_profile(iam, roles)]
    iam.create_open_id_connect_provider(
        Url=GITHUB_OIDC_URL, ClientIDList=["sts.amazonaws.com"], ThumbprintList=[GITHUB_OIDC_THUMBPRINT]
    )
    additions.append(f"an OIDC identity provider for {GITHUB_OIDC_URL.removeprefix('https://')}")
    instances = _launch_instances(client("ec2", region_name=region), roles) if with_instances else ()
    account_id = client("sts", region_name=region).get_caller_identity()["Account"]
    return SeededAccount(
        account_id=account_id,
        roles=tuple(r["RoleName"] for r in roles),
        customer_policies=tuple(policies),
        instances=instances,
        additions=tuple(a for a in additions if a),
    )


def _create_customer_policies(iam: Any, policies: list[dict[str, Any]]) -> dict[str, str]:
    """Name -> ARN in the seeded account (the file's ARNs name the account it was exported from)."""
    created = {}
    for policy in policies:
        if policy["Arn"].startswith("arn:aws:iam::aws:"):
            continue  # AWS-managed: already in the account
        versions = sorted(policy.get("PolicyVersionList", []), key=lambda v: int(v["VersionId"].lstrip("v")))
        if not versions:
            raise SeedError(f"policy {policy['PolicyName']} has no versions in the seed file")
        arn = iam.create_policy(
            PolicyName=policy["PolicyName"],
            Path=policy.get("Path", "/"),
            PolicyDocument=document_text(versions[0]["Document"]),
        )["Policy"]["Arn"]
        for version in versions[1:]:
            iam.create_policy_version(PolicyArn=arn, PolicyDocument=document_text(version["Document"]))
        default = policy.get("DefaultVersionId") or versions[-1]["VersionId"]
        if default != "v1" or len(versions) == 1:
            iam.set_default_policy_version(PolicyArn=arn, VersionId=default)
        created[policy["PolicyName"]] = arn
    return created


def _in_this_account(arn: str, customer_policies: dict[str, str]) -> str:
    """A customer-managed policy's ARN in the seeded account (AWS-managed ARNs are the same everywhere)."""
    if arn.startswith("arn:aws:iam::aws:"):
        return arn
    return customer_policies.get(arn.rsplit("/", 1)[-1], arn)


def _create_role(iam: Any, role: dict[str, Any], customer_policies: dict[str, str]) -> None:
    name = role["RoleName"]
    kwargs: dict[str, Any] = {
        "RoleName": name,
        "Path": role.get("Path", "/"),
        "AssumeRolePolicyDocument": document_text(role["AssumeRolePolicyDocument"]),
        "Tags": role.get("Tags", []),
    }
    if role.get("MaxSessionDuration"):
        kwargs["MaxSessionDuration"] = role["MaxSessionDuration"]
    if boundary := (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"):
        kwargs["PermissionsBoundary"] = _in_this_account(boundary, customer_policies)
    if role.get("Description"):
        kwargs["Description"] = role["Description"]
    iam.create_role(**kwargs)
    for inline in role.get("RolePolicyList", []):
        iam.put_role_policy(
            RoleName=name, PolicyName=inline["PolicyName"], PolicyDocument=document_text(inline["PolicyDocument"])
        )
    for attached in role.get("AttachedManagedPolicies", []):
        iam.attach_role_policy(RoleName=name, PolicyArn=_in_this_account(attached["PolicyArn"], customer_policies))
    for profile in role.get("InstanceProfileList", []):
        iam.create_instance_profile(InstanceProfileName=profile["InstanceProfileName"], Path=profile.get("Path", "/"))
        iam.add_role_to_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName=name)


def _give_privileged_role_a_profile(iam: Any, roles: list[dict[str, Any]]) -> str:
    if not any(r["RoleName"] == PRIVILEGED_ROLE for r in roles):
        return ""
    trust = _trust_document(iam, PRIVILEGED_ROLE)
    trust["Statement"] = [*trust.get("Statement", []), EC2_TRUST_STATEMENT]
    iam.update_assume_role_policy(RoleName=PRIVILEGED_ROLE, PolicyDocument=json.dumps(trust))
    iam.create_instance_profile(InstanceProfileName=PRIVILEGED_ROLE)
    iam.add_role_to_instance_profile(InstanceProfileName=PRIVILEGED_ROLE, RoleName=PRIVILEGED_ROLE)
    return f"instance profile {PRIVILEGED_ROLE} (its role also trusts ec2.amazonaws.com)"


def _trust_document(iam: Any, role_name: str) -> dict[str, Any]:
    document = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    return json.loads(document_text(document)) if isinstance(document, str) else dict(document)


def _launch_instances(ec2: Any, roles: list[dict[str, Any]]) -> tuple[Instance, ...]:
    profiles = {p["InstanceProfileName"] for r in roles for p in r.get("InstanceProfileList", [])}
    launched = []
    for profile, instance_name in INSTANCES.items():
        if profile not in profiles:
            continue
        instance = ec2.run_instances(
            ImageId=DEMO_IMAGE_ID,
            InstanceType="t3.micro",
            MinCount=1,
            MaxCount=1,
            IamInstanceProfile={"Name": profile},
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": instance_name}]}],
        )["Instances"][0]
        launched.append((instance_name, instance["InstanceId"], profile))
    associations = {
        a["InstanceId"]: a["AssociationId"]
        for a in ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"]
    }
    return tuple(Instance(name, iid, profile, associations[iid]) for name, iid, profile in launched)
