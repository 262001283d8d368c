"""rolewatch audits its own roles: template.yaml (and templates/forwarder.yaml) read by `rolewatch check`'s
own infrastructure-as-code path (rolewatch.iac: SAM transform, intrinsics, managed policies), audited with
the shipped baseline."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from cfn_template import ACCOUNT, FORWARDER, MEMBER, TEMPLATE, declarations, load, mutated
from helpers import NOW

from rolewatch.audit import at_or_above, audit_roles
from rolewatch.iac import read_iac
from rolewatch.model import Finding, RoleSnapshot, Severity

# Parameters without a usable default get the value a deployment would pass.
DEPLOY_PARAMETERS = {"TargetEventBusArn": f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"}


def role_snapshots(template: Mapping | Path, parameters: Mapping[str, str] | None = None) -> list[RoleSnapshot]:
    """The roles as `rolewatch check` reads them from the template (a file, or a decoded and mutated copy)."""
    if isinstance(template, Path):
        read = read_iac(str(template), "cloudformation", parameters=parameters)
    else:
        read = read_iac("template.yaml", "cloudformation", text=json.dumps(template), parameters=parameters)
    assert not read.errors, [e.to_dict() for e in read.errors]
    return read.roles


def _serious(findings: tuple[Finding, ...]) -> list[str]:
    return [f"{f.resource}: {f.rule} ({f.severity.value}): {f.detail}" for f in at_or_above(findings, Severity.MEDIUM)]


@pytest.fixture(scope="module")
def template() -> dict:
    return load(TEMPLATE)


@pytest.mark.parametrize("path", [TEMPLATE, FORWARDER], ids=["template.yaml", "forwarder.yaml"])
@pytest.mark.parametrize("access_analyzer", ["auto", "off"])
def test_own_roles_have_no_finding_at_medium_or_above(path, access_analyzer):
    template = load(path)
    declared = template.get("Parameters", {})
    parameters = {k: v for k, v in {**DEPLOY_PARAMETERS, "AccessAnalyzer": access_analyzer}.items() if k in declared}
    roles = role_snapshots(path, parameters)
    assert roles, f"{path.name} defines no AWS::IAM::Role"
    result = audit_roles(roles, now=NOW)
    assert not result.errors, [e.to_dict() for e in result.errors]
    assert result.roles_audited == len(roles)
    assert _serious(result.findings) == []


ORGANIZATION = {"DeploymentMode": "organization", "OrganizationId": "o-abcdefghij"}
# Roles of organization mode only (the weekly run, its state machine and schedule, the forwarding of
# Access Analyzer findings to the organization bus); in organization mode
# the function roles have fixed names (<stack>-OrgAuditRole, the stack read as "stack").
ORG_AUDIT_ROLE = "stack-OrgAuditRole"
ORGANIZATION_ROLES = {
    ORG_AUDIT_ROLE,
    "OrganizationAuditStateMachineRole",
    "OrganizationAuditScheduleRole",
    "OrganizationBusForwarderRole",
}


@pytest.mark.parametrize("access_analyzer", ["auto", "off"])
def test_organization_mode_roles_have_no_finding_at_medium_or_above(access_analyzer):
    """Organization mode's roles, audited like the others, their conditional grants included: the event
    function's membership check (organizations:DescribeAccount) and the weekly run's account listing are
    reads of the organization, which the shipped lambda-execution profile does not count as changes."""
    roles = role_snapshots(TEMPLATE, {**ORGANIZATION, "AccessAnalyzer": access_analyzer})
    assert {r.name for r in roles} >= ORGANIZATION_ROLES
    assert "WeeklyAuditScheduleRole" not in {r.name for r in roles}  # account mode only
    organization_reads = {
        a
        for g in declarations()
        for a in g.actions
        if a.startswith("organizations:") and "OrgAuditFunction" in g.functions
    }
    assert "organizations:ListAccounts" in organization_reads  # the weekly run's grants are among those audited
    result = audit_roles(roles, now=NOW)
    assert not result.errors, [e.to_dict() for e in result.errors]
    assert _serious(result.findings) == []


def test_every_function_role_is_audited(template):
    names = {r.name for r in role_snapshots(template)}
    assert {"EventAuditRole", "AccountAuditRole", "WeeklyAuditScheduleRole"} <= names


def test_the_grants_a_condition_chooses_are_audited():
    """`make permissions` writes optional grants as `!If [Condition, {policy}, !Ref AWS::NoValue]` entries:
    the self-audit reads them when their condition holds (and only then)."""
    chat = {"ChatTopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:chat"}
    on = {
        r.name: [p.name for p in r.inline_policies] for r in role_snapshots(TEMPLATE, {"SecurityHub": "true", **chat})
    }
    off = {r.name: [p.name for p in r.inline_policies] for r in role_snapshots(TEMPLATE, {"AccessAnalyzer": "off"})}
    chosen = {"declared-permissions-if-UseSecurityHub", "declared-permissions-if-HasChatTopic"}
    assert chosen <= set(on["EventAuditRole"])
    assert not chosen & set(off["EventAuditRole"])
    assert "declared-permissions-if-UseAccessAnalyzer" in on["EventAuditRole"]
    assert "declared-permissions-if-UseAccessAnalyzer" not in off["EventAuditRole"]


@pytest.mark.parametrize("access_analyzer", ["auto", "off"])
def test_every_option_on_leaves_no_finding_at_medium_or_above(access_analyzer):
    roles = role_snapshots(
        TEMPLATE,
        {
            "AccessAnalyzer": access_analyzer,
            "SecurityHub": "true",
            "ChatTopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:c",
        },
    )
    result = audit_roles(roles, now=NOW)
    assert not result.errors, [e.to_dict() for e in result.errors]
    assert _serious(result.findings) == []


@pytest.mark.parametrize(
    "statement, expected_rules",
    [
        ({"Effect": "Allow", "Action": "iam:*", "Resource": "*"}, {"service-wildcard", "privilege-escalation"}),
        ({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}, {"privilege-escalation"}),
        ({"Effect": "Allow", "Action": "*", "Resource": "*"}, {"admin-access"}),
        (
            {
                "Effect": "Allow",
                "Action": ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"],
                "Resource": "*",
            },
            {"privilege-escalation"},
        ),
        ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, {"data-exfiltration"}),
    ],
    ids=["iam-star", "assume-any-role", "admin", "passrole-lambda", "s3-read-everywhere"],
)
def test_a_widened_role_is_flagged(template, statement, expected_rules):
    """The self-audit can fail: the same path reports a mutated template's role."""
    roles = role_snapshots(mutated(template, "EventAuditRole", statement))
    serious = at_or_above(audit_roles(roles, now=NOW).findings, Severity.MEDIUM)
    flagged = {f.rule for f in serious if f.resource.endswith(":role/EventAuditRole")}
    assert expected_rules & flagged, f"expected one of {expected_rules}, got {sorted(flagged)}"


def test_a_trust_policy_open_to_everyone_is_flagged(template):
    widened = mutated(template, "EventAuditRole")
    trust = widened["Resources"]["EventAuditRole"]["Properties"]["AssumeRolePolicyDocument"]
    trust["Statement"].append({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})
    serious = at_or_above(audit_roles(role_snapshots(widened), now=NOW).findings, Severity.MEDIUM)
    assert "trust-wildcard-principal" in {f.rule for f in serious}


MEMBER_PARAMETERS = {
    "CentralAccountId": "111122223333",
    "OrganizationId": "o-abcdefghij",
    "CentralEventBusArn": "arn:aws:events:us-east-1:111122223333:event-bus/rolewatch-organization",
}


@pytest.mark.parametrize("security_hub", ["false", "true"])
def test_the_member_stacks_roles_have_no_finding_at_medium_or_above(security_hub):
    """templates/member.yaml as a StackSet deploys it in us-east-1 (`rolewatch check` reads pseudo
    parameters as stand-ins, so the region conditions are set true here): the reader role, with and
    without its Security Hub import, and the forwarding role."""
    member = load(MEMBER)
    for name in ("InUsEast1", "UseSecurityHub"):
        member["Conditions"][name] = {"Fn::Equals": [security_hub if name == "UseSecurityHub" else "true", "true"]}
    roles = role_snapshots(member, {**MEMBER_PARAMETERS, "SecurityHub": security_hub})
    assert {r.name for r in roles} == {"rolewatch-reader", "ForwarderRole"}
    reader = next(r for r in roles if r.name == "rolewatch-reader")
    imports = [a for p in reader.permission_policies for s in p.document["Statement"] for a in _actions(s)]
    assert ("securityhub:BatchImportFindings" in imports) is (security_hub == "true")
    result = audit_roles(roles, now=NOW)
    assert not result.errors, [e.to_dict() for e in result.errors]
    assert _serious(result.findings) == []


def _actions(statement: Mapping) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)
