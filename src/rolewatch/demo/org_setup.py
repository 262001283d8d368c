"""The organization demo's world: an AWS Organization in the embedded AWS, its members, their member stack.

The embedded AWS's default account is the organization's management account and the security account
that runs the central stack (in AWS the security account is usually a delegated administrator, not the
management account; rolewatch's calls are the same either way). Each member account is created with
Organizations' CreateAccount and seeded *as that account* (moto serves an account's resources to
credentials assumed into it, as AWS does): the sample account's roles through the IAM API, then the
member stack, templates/member.yaml itself, deployed by the embedded CloudFormation in the member, so
the reader role has exactly the name, trust and policy the StackSet would give it.

The central function roles are created with the names the central stack gives them in organization
mode (`<stack>-EventAuditRole`, `<stack>-OrgAuditRole`), the principals the reader role's trust names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from rolewatch.demo import moto_fidelity
from rolewatch.demo.account import REPO_ROOT, SeededAccount, load_sample, seed_account
from rolewatch.settings import DEFAULT_READER_ROLE

MEMBER_TEMPLATE = REPO_ROOT / "templates" / "member.yaml"
CENTRAL_STACK = "rolewatch"  # the central stack's name, which the member stack's trust names
MEMBER_STACK = "rolewatch-member"
CENTRAL_BUS = "rolewatch-organization"
SEED_ROLE = "OrganizationAccountAccessRole"  # the role Organizations creates in each new account
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


class OrganizationSetupError(RuntimeError):
    """The organization or a member stack could not be created in the embedded AWS."""


@dataclass(frozen=True)
class Member:
    name: str
    account_id: str
    seeded: SeededAccount
    reader_role_arn: str
    stack_status: str

    def session(self, region: str) -> boto3.Session:
        return member_session(self.account_id, region)


@dataclass
class DemoOrganization:
    id: str
    root_id: str
    central_account: str
    region: str
    bus_arn: str
    members: list[Member] = field(default_factory=list)
    function_roles: dict[str, str] = field(default_factory=dict)  # function logical id -> role ARN

    def member(self, name: str) -> Member:
        return next(m for m in self.members if m.name == name)


def member_session(account_id: str, region: str) -> boto3.Session:
    """Credentials *in* a member account, as its own administrator has them (Organizations' access role)."""
    granted = boto3.client("sts", region_name=region).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{SEED_ROLE}", RoleSessionName="rolewatch-demo-seed"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=granted["AccessKeyId"],
        aws_secret_access_key=granted["SecretAccessKey"],
        aws_session_token=granted["SessionToken"],
        region_name=region,
    )


def create_organization(region: str, member_names: tuple[str, ...]) -> DemoOrganization:
    """The organization, the central bus and function roles, and each member with roles and member stack."""
    orgs = boto3.client("organizations", region_name=region)
    organization = orgs.create_organization(FeatureSet="ALL")["Organization"]
    central = str(organization["MasterAccountId"])
    root_id = orgs.list_roots()["Roots"][0]["Id"]
    bus_arn = boto3.client("events", region_name=region).create_event_bus(Name=CENTRAL_BUS)["EventBusArn"]
    demo = DemoOrganization(
        id=str(organization["Id"]), root_id=root_id, central_account=central, region=region, bus_arn=bus_arn
    )
    demo.function_roles = _central_function_roles(region)
    sample = load_sample()
    for name in member_names:
        account_id = _create_account(orgs, name)
        session = member_session(account_id, region)
        seeded = seed_account(region, sample, with_instances=False, session=session)
        status = deploy_member_stack(session, demo)
        reader = session.client("iam").get_role(RoleName=DEFAULT_READER_ROLE)["Role"]["Arn"]
        demo.members.append(Member(name, account_id, seeded, reader, status))
    return demo


def _create_account(orgs: Any, name: str) -> str:
    status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
    if status.get("State") == "FAILED" or not status.get("AccountId"):
        raise OrganizationSetupError(f"CreateAccount {name}: {status.get('FailureReason', status.get('State'))}")
    return str(status["AccountId"])


def _central_function_roles(region: str) -> dict[str, str]:
    """The central stack's function roles, named as template.yaml names them in organization mode."""
    iam = boto3.client("iam", region_name=region)
    roles = {}
    for function, logical_id in (("EventAuditFunction", "EventAuditRole"), ("OrgAuditFunction", "OrgAuditRole")):
        name = f"{CENTRAL_STACK}-{logical_id}"
        roles[function] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"][
            "Arn"
        ]
    return roles


def deploy_member_stack(session: boto3.Session, demo: DemoOrganization, template: Path = MEMBER_TEMPLATE) -> str:
    """templates/member.yaml deployed in the member by the embedded CloudFormation (what the StackSet does)."""
    try:
        body = template.read_text(encoding="utf-8")
    except OSError as exc:
        raise OrganizationSetupError(f"{template}: {exc}") from None
    cfn = session.client("cloudformation")
    cfn.create_stack(
        StackName=MEMBER_STACK,
        TemplateBody=body,
        Parameters=[
            {"ParameterKey": "CentralAccountId", "ParameterValue": demo.central_account},
            {"ParameterKey": "CentralStackName", "ParameterValue": CENTRAL_STACK},
            {"ParameterKey": "CentralEventBusArn", "ParameterValue": demo.bus_arn},
            {"ParameterKey": "OrganizationId", "ParameterValue": demo.id},
            {"ParameterKey": "ReaderRoleName", "ParameterValue": DEFAULT_READER_ROLE},
        ],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    status = str(cfn.describe_stacks(StackName=MEMBER_STACK)["Stacks"][0]["StackStatus"])
    if status != "CREATE_COMPLETE":
        raise OrganizationSetupError(f"the member stack in {demo.region} ended {status}")
    moto_fidelity.store_inline_policies_as_text(_account_of(session))
    return status


def _account_of(session: boto3.Session) -> str:
    return str(session.client("sts").get_caller_identity()["Account"])


def delete_reader_role(member: Member, region: str) -> None:
    """What a member's administrator does by hand: the reader role removed (its inline policy first)."""
    iam = member.session(region).client("iam")
    for policy in iam.list_role_policies(RoleName=DEFAULT_READER_ROLE)["PolicyNames"]:
        iam.delete_role_policy(RoleName=DEFAULT_READER_ROLE, PolicyName=policy)
    iam.delete_role(RoleName=DEFAULT_READER_ROLE)


def reader_trust(member: Member, region: str) -> dict[str, Any]:
    document = member.session(region).client("iam").get_role(RoleName=DEFAULT_READER_ROLE)["Role"]
    trust = document["AssumeRolePolicyDocument"]
    return dict(json.loads(trust) if isinstance(trust, str) else trust)
