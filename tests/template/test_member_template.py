"""templates/member.yaml, the stack a service-managed StackSet puts in every member account: a reader role
with exactly the read actions the member-side readers declare (plus, with SecurityHub=true, exactly the
Security Hub calls the sync declares, on the account's own hub and product), trusted only by the central
functions of this organization, and forwarding rules whose role may only put events on the central bus."""

from __future__ import annotations

from typing import Any

import pytest
from cfn_template import MEMBER, ROOT, TEMPLATE, as_list, function_role, load, resources_of_type

from rolewatch.aws_permissions import SECURITY_HUB, SECURITY_HUB_PRODUCT
from rolewatch.org.credentials import member_read_actions, member_security_hub_grants
from rolewatch.policy.catalogue import ACCESS_LIST, ACCESS_READ, catalogue


@pytest.fixture(scope="module")
def member() -> dict[str, Any]:
    return load(MEMBER)


def statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in resource["Properties"]["Policies"] for s in as_list(p["PolicyDocument"]["Statement"])]


def policies_of(template: dict[str, Any], role: str) -> dict[str, dict[str, Any]]:
    """{logical id: resource} of the AWS::IAM::Policy resources attached to `role`."""
    return {
        name: r
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]
    }


def test_the_reader_role_grants_exactly_the_declared_reads(member: dict[str, Any]) -> None:
    reader = member["Resources"]["ReaderRole"]
    assert set(policies_of(member, "ReaderRole")) == {"ReaderSecurityHubImport"}  # the only other grant: below
    granted = {a for s in statements(reader) if s["Effect"] == "Allow" for a in as_list(s["Action"])}
    assert granted == member_read_actions()
    levels = {catalogue().access_level(a) for a in granted}
    assert levels <= {ACCESS_READ, ACCESS_LIST}, "the reader role may only read"
    assert "iam:PassRole" not in granted


def test_the_reader_role_trusts_only_the_central_functions_of_the_organization(member: dict[str, Any]) -> None:
    reader = member["Resources"]["ReaderRole"]["Properties"]
    assert reader["RoleName"] == {"Ref": "ReaderRoleName"}  # fixed: the central account computes its ARN
    [trust] = reader["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${CentralAccountId}:root"}}
    assert trust["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}
    assert "ArnLike" not in trust["Condition"]  # exact names: a pattern admits roles anyone could create
    arns = trust["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    assert [a["Fn::Sub"].rsplit("/", 1)[-1] for a in arns] == [
        "${CentralStackName}-EventAuditRole",
        "${CentralStackName}-AccountAuditRole",
        "${CentralStackName}-OrgAuditRole",  # the weekly organization run's steps
    ]


def test_forwarding_may_only_put_events_on_the_central_bus(member: dict[str, Any]) -> None:
    [statement] = statements(member["Resources"]["ForwarderRole"])
    assert (statement["Action"], statement["Resource"]) == ("events:PutEvents", {"Ref": "CentralEventBusArn"})
    for rule in ("ForwardRoleChanges", "ForwardInstanceProfileCalls"):
        [target] = member["Resources"][rule]["Properties"]["Targets"]
        assert target["Arn"] == {"Ref": "CentralEventBusArn"}
        assert target["RoleArn"] == {"Fn::GetAtt": ["ForwarderRole", "Arn"]}


def test_iam_pieces_exist_once_per_account_in_us_east_1(member: dict[str, Any]) -> None:
    """IAM is global: its events reach EventBridge in us-east-1 only, and a role name exists once."""
    assert member["Conditions"]["InUsEast1"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    assert member["Resources"]["ReaderRole"]["Condition"] == "InUsEast1"
    assert member["Resources"]["ForwardRoleChanges"]["Condition"] == "InUsEast1"
    assert "Condition" not in member["Resources"]["ForwardInstanceProfileCalls"]  # EC2: every region


def test_the_forwarded_calls_are_the_ones_the_central_rules_watch() -> None:
    central = load(ROOT / "template.yaml")["Resources"]["EventAuditFunction"]["Properties"]["Events"]
    member_rules = load(MEMBER)["Resources"]
    for central_rule, member_rule in (
        ("IamRoleChange", "ForwardRoleChanges"),
        ("Ec2InstanceProfileChange", "ForwardInstanceProfileCalls"),
    ):
        watched = central[central_rule]["Properties"]["Pattern"]["detail"]["eventName"]
        forwarded = member_rules[member_rule]["Properties"]["EventPattern"]["detail"]["eventName"]
        assert forwarded == watched


def test_the_reader_role_trusts_the_role_of_every_central_function(member: dict[str, Any]) -> None:
    """A central function missing from the trust (OrgAuditFunction, the weekly run) could read no member."""
    central = load(TEMPLATE)
    roles = {function_role(central, f) for f in resources_of_type(central, "AWS::Serverless::Function")}
    trust = member["Resources"]["ReaderRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    trusted = {a["Fn::Sub"].rsplit("/", 1)[-1] for a in trust["Condition"]["ArnEquals"]["aws:PrincipalArn"]}
    assert trusted == {f"${{CentralStackName}}-{role}" for role in roles}
    # ...and in organization mode the central stack gives each of those roles exactly that name.
    for role in roles:
        name = central["Resources"][role]["Properties"]["RoleName"]
        org_name = name["Fn::If"][1] if "Fn::If" in name else name
        assert org_name == {"Fn::Sub": f"${{AWS::StackName}}-{role}"}, role
        if "Fn::If" in name:  # account mode keeps CloudFormation's generated names
            assert name["Fn::If"][0] == "OrganizationMode" and name["Fn::If"][2] == {"Ref": "AWS::NoValue"}


def test_with_security_hub_the_reader_role_may_import_only_into_its_own_accounts_hub(member: dict[str, Any]) -> None:
    """Security Hub takes a finding only from the account it belongs to, so the member's findings are imported
    through its reader role: exactly the calls the sync declares, on the scopes it declares (this account's
    hub and default product), and only when the member stack says SecurityHub=true in us-east-1."""
    policy = member["Resources"]["ReaderSecurityHubImport"]
    assert policy["Condition"] == "UseSecurityHub" and policy["Properties"]["Roles"] == [{"Ref": "ReaderRole"}]
    granted = {
        s["Sid"]: (frozenset(as_list(s["Action"])), s["Resource"])
        for s in as_list(policy["Properties"]["PolicyDocument"]["Statement"])
        if s["Effect"] == "Allow"
    }
    declared = {g.sid: (g.actions, g.resource) for g in member_security_hub_grants()}
    assert granted == declared
    assert declared == {
        "SecurityHub": (frozenset({"securityhub:GetFindings"}), SECURITY_HUB.arn),
        "SecurityHubDefaultProduct": (frozenset({"securityhub:BatchImportFindings"}), SECURITY_HUB_PRODUCT.arn),
    }
    for _, resource in granted.values():  # the role's own account, never another one's
        assert "${AWS::AccountId}:" in resource["Fn::Sub"] and "*" not in resource["Fn::Sub"]
    assert member["Parameters"]["SecurityHub"]["Default"] == "false"  # off unless the central one is on
    assert member["Conditions"]["UseSecurityHub"] == {
        "Fn::And": [member["Conditions"]["InUsEast1"], {"Fn::Equals": [{"Ref": "SecurityHub"}, "true"]}]
    }
    central = load(TEMPLATE)["Parameters"]["SecurityHub"]
    assert member["Parameters"]["SecurityHub"]["AllowedValues"] == central["AllowedValues"]


def test_the_reader_roles_description_says_when_it_writes(member: dict[str, Any]) -> None:
    condition, writes, reads = member["Resources"]["ReaderRole"]["Properties"]["Description"]["Fn::If"]
    assert condition == "UseSecurityHub"
    assert "imports rolewatch findings into this account's Security Hub" in writes
    assert "read-only" in reads and "read-only" not in writes
