"""The organization event bus of template.yaml (organization mode) and how events reach the event function.

Where each event arrives, and so what the templates must wire:
- a member account's IAM calls (us-east-1) and EC2 calls (each region): its member stack's rules forward
  them to the organization bus through a role allowed only events:PutEvents on it; the bus admits any
  principal of the organization (`aws:PrincipalOrgID`) and nobody else;
- the security account's own calls: the member stack deployed there (the StackSet skips only the
  management account) forwards them the same way;
- Access Analyzer findings of the organization analyzer: on the security account's default bus, forwarded
  by the central stack's own rule and role to the organization bus;
- the event function's three rules listen on the organization bus in organization mode, on the default
  bus in account mode (as before).

The rules are read after the SAM transform (aws-sam-translator, as `sam deploy` runs it:
rolewatch.iac.sam.translate), where SAM has made them AWS::Events::Rule resources with their Lambda
targets and permissions.

Not tested in moto: moto 5.2.5 delivers a rule's event to another account's bus without evaluating the
bus policy or the target's role, rewrites the event's `account` to the receiving account, and has no
Lambda rule target, so a "forwarded event reaches the function, an outsider is refused" test would pass
whatever the policies say.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from cfn_template import (
    ACCOUNT,
    MEMBER,
    REGION,
    STACK,
    Resolver,
    as_list,
    load,
    resources_of_type,
    role_statements,
    rule_arn,
)

from rolewatch.event import triggers
from rolewatch.iac.sam import translate

ORGANIZATION_ID = "o-abcdefghij"
ORGANIZATION = {"DeploymentMode": "organization", "OrganizationId": ORGANIZATION_ID}
ACCOUNT_MODE: dict[str, str] = {}
BUS_NAME = f"{STACK}-organization"
BUS_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{BUS_NAME}"
DEFAULT_BUS_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
ORG_RESOURCES = ("OrganizationEventBus", "AnalyzerFindingsToOrganizationBus", "OrganizationBusForwarderRole")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load()


def bus_statements(template: dict[str, Any], parameters: dict[str, str]) -> list[dict[str, Any]]:
    bus = Resolver(template, parameters).value(template["Resources"]["OrganizationEventBus"]["Properties"])
    assert bus["Name"] == BUS_NAME
    return as_list(bus["Policy"]["Statement"])


def function_rules(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The AWS::Events::Rule resources SAM makes for the event function, resolved under `parameters`."""
    transformed = translate(template, parameters)
    resolver = Resolver(transformed, parameters)
    out = {}
    for name, rule in resources_of_type(transformed, "AWS::Events::Rule").items():
        if rule.get("Condition") and not resolver.condition(rule["Condition"]):
            continue
        props = resolver.value(rule["Properties"])
        if any(t["Arn"].endswith(":function:rolewatch-EventAuditFunction") for t in props["Targets"]):
            out[name] = props
    return out


def test_the_bus_its_forwarding_and_output_exist_in_organization_mode_only(template):
    for name in ORG_RESOURCES:
        assert template["Resources"][name]["Condition"] == "OrganizationMode", name
    assert template["Outputs"]["OrganizationEventBusArn"]["Condition"] == "OrganizationMode"


@pytest.mark.parametrize("organization_id", [ORGANIZATION_ID, "o-zyxwvutsrq9"])
def test_the_bus_admits_put_events_only_from_principals_of_the_organization(template, organization_id):
    statements = bus_statements(template, {**ORGANIZATION, "OrganizationId": organization_id})
    assert statements == [
        {
            "Sid": "OrganizationPutsEvents",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "events:PutEvents",
            "Resource": BUS_ARN,
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}},
        }
    ]


@pytest.mark.parametrize(
    "parameters, bus",
    [(ORGANIZATION, BUS_NAME), (ACCOUNT_MODE, None)],
    ids=["organization-mode", "account-mode"],
)
def test_the_event_functions_rules_listen_on_the_organization_bus_or_the_default_bus(template, parameters, bus):
    rules = function_rules(template, parameters)
    sources = sorted(source for rule in rules.values() for source in rule["EventPattern"]["source"])
    assert sources == sorted([triggers.ACCESS_ANALYZER_SOURCE, "aws.ec2", "aws.iam"]), (
        "one rule per source: IAM, EC2, Access Analyzer"
    )
    for name, rule in rules.items():
        assert rule.get("EventBusName") == bus, name  # absent (the default bus) in account mode


def test_the_account_mode_rules_are_unchanged(template):
    """Account mode deploys exactly what it did before organization mode existed: the default bus."""
    for name, event in template["Resources"]["EventAuditFunction"]["Properties"]["Events"].items():
        resolved = Resolver(template).value(event["Properties"])
        assert "EventBusName" not in resolved, name
    assert Resolver(template).value(template["Outputs"]["EventBusArn"]["Value"]) == DEFAULT_BUS_ARN


def test_the_organization_analyzers_findings_are_forwarded_to_the_bus(template):
    resolver = Resolver(template, ORGANIZATION)
    forward = resolver.value(template["Resources"]["AnalyzerFindingsToOrganizationBus"]["Properties"])
    assert "EventBusName" not in forward  # the default bus, where an analyzer's findings arrive
    listened = template["Resources"]["EventAuditFunction"]["Properties"]["Events"]["AccessAnalyzerFinding"]
    assert forward["EventPattern"] == listened["Properties"]["Pattern"]  # every finding the function audits
    [target] = forward["Targets"]
    assert target["Arn"] == BUS_ARN
    assert target["RoleArn"] == resolver.value({"Fn::GetAtt": ["OrganizationBusForwarderRole", "Arn"]})
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert target["DeadLetterConfig"] == {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{STACK}-AuditDeadLetterQueue"}


def test_the_forwarding_role_may_only_put_events_on_the_organization_bus(template):
    assert role_statements(template, "OrganizationBusForwarderRole", ORGANIZATION) == [
        {"Sid": "PutEventsOnOrganizationBus", "Effect": "Allow", "Action": "events:PutEvents", "Resource": BUS_ARN}
    ]
    trust = Resolver(template, ORGANIZATION).value(
        template["Resources"]["OrganizationBusForwarderRole"]["Properties"]["AssumeRolePolicyDocument"]
    )
    [statement] = trust["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


@pytest.mark.parametrize("parameters", [ORGANIZATION, ACCOUNT_MODE], ids=["organization-mode", "account-mode"])
def test_every_rule_may_dead_letter_on_either_bus(template, parameters):
    resolver = Resolver(template, parameters)
    policy = resolver.value(template["Resources"]["AuditDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"])
    [allow] = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    admitted = set(as_list(allow["Condition"]["ArnEquals"]["aws:SourceArn"]))
    # A rule on a custom bus has the ARN rule/<bus>/<rule>: the account-mode ARNs would admit none of them.
    expected = {
        rule_arn(rule["Name"], rule.get("EventBusName")) for rule in function_rules(template, parameters).values()
    }
    if parameters:
        expected.add(resolver.value({"Fn::GetAtt": ["AnalyzerFindingsToOrganizationBus", "Arn"]}))
        assert all(
            f":rule/{BUS_NAME}/" in arn for arn in expected - {rule_arn(f"{STACK}-access-analyzer-to-organization-bus")}
        )
    assert admitted == expected


def test_the_outputs_name_the_bus_the_rules_listen_on(template):
    organization = Resolver(template, ORGANIZATION)
    assert organization.value(template["Outputs"]["OrganizationEventBusArn"]["Value"]) == BUS_ARN
    assert organization.value(template["Outputs"]["EventBusArn"]["Value"]) == BUS_ARN


def test_the_member_stacks_forwarding_fits_the_bus_and_its_policy(template):
    """Cross-account PutEvents needs both: the member's role allowed on the bus, the bus admitting the member."""
    member = load(MEMBER)
    output = Resolver(template, ORGANIZATION).value(template["Outputs"]["OrganizationEventBusArn"]["Value"])
    assert re.fullmatch(member["Parameters"]["CentralEventBusArn"]["AllowedPattern"], output)
    parameters = {"CentralAccountId": ACCOUNT, "CentralEventBusArn": output, "OrganizationId": ORGANIZATION_ID}
    [put] = role_statements(member, "ForwarderRole", parameters)
    [admit] = bus_statements(template, ORGANIZATION)
    assert (put["Effect"], put["Action"], put["Resource"]) == ("Allow", "events:PutEvents", admit["Resource"])
    # The bus admits by organization, not by account: an account created tomorrow is admitted too.
    assert admit["Principal"] == "*"
    assert admit["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION_ID}}
    # A bus granted to an organization accepts only rules that name a role (EventBridge's PutTargets rule).
    for name in ("ForwardRoleChanges", "ForwardInstanceProfileCalls"):
        [target] = member["Resources"][name]["Properties"]["Targets"]
        assert target["Arn"] == {"Ref": "CentralEventBusArn"}, name
        assert target["RoleArn"] == {"Fn::GetAtt": ["ForwarderRole", "Arn"]}, name
