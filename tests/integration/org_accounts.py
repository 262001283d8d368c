"""An AWS Organization in moto: the management (central) account, member accounts with roles, and the
reader role in each, seeded through real STS AssumeRole (moto serves each account's resources to that
account's assumed-role credentials, so what a member holds is created *in* the member)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from rolewatch.settings import DEFAULT_READER_ROLE

REGION = "us-east-1"
CENTRAL_ACCOUNT = "123456789012"  # moto's default account: the organization's management account here
ADMIN_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
EC2_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)


def reader_trust(central_account: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{central_account}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def member_session(account_id: str, role: str = "OrganizationAccountAccessRole") -> boto3.Session:
    """A session *in* the member account (as the member's own administrator would have)."""
    sts = boto3.client("sts", region_name=REGION)
    granted = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{role}", RoleSessionName="seed")["Credentials"]
    return boto3.Session(
        aws_access_key_id=granted["AccessKeyId"],
        aws_secret_access_key=granted["SecretAccessKey"],
        aws_session_token=granted["SessionToken"],
        region_name=REGION,
    )


@dataclass
class Organization:
    id: str
    root_id: str
    members: dict[str, str] = field(default_factory=dict)  # name -> account id
    ous: dict[str, str] = field(default_factory=dict)  # name -> OU id

    def account(self, name: str) -> str:
        return self.members[name]


def create_organization(*names: str, ous: dict[str, list[str]] | None = None) -> Organization:
    """An organization whose management account is moto's default; `ous` puts named members in OUs."""
    orgs = boto3.client("organizations", region_name=REGION)
    org_id = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root_id = orgs.list_roots()["Roots"][0]["Id"]
    org = Organization(id=org_id, root_id=root_id)
    for name in names:
        status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        org.members[name] = status["AccountId"]
    for ou_name, members in (ous or {}).items():
        ou_id = orgs.create_organizational_unit(ParentId=root_id, Name=ou_name)["OrganizationalUnit"]["Id"]
        org.ous[ou_name] = ou_id
        for member in members:
            orgs.move_account(AccountId=org.members[member], SourceParentId=root_id, DestinationParentId=ou_id)
    return org


def seed_member(
    account_id: str,
    *,
    roles: dict[str, str | None] | None = None,
    reader_role: str | None = DEFAULT_READER_ROLE,
    central_account: str = CENTRAL_ACCOUNT,
) -> None:
    """Roles in the member (name -> inline policy JSON, or None for none) and, unless None, its reader role."""
    iam: Any = member_session(account_id).client("iam")
    for name, document in (roles or {}).items():
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=EC2_TRUST)
        if document is not None:
            iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=document)
    if reader_role:
        iam.create_role(RoleName=reader_role, AssumeRolePolicyDocument=reader_trust(central_account))
