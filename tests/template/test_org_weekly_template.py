"""The weekly organization run in template.yaml: OrgAuditFunction, the Standard state machine running
statemachine/organization_audit.asl.json, its role (the steps, the Map's items, its child executions)
and the weekly schedule whose input the state machine and `org_audit.list_step` read. All of it exists
in organization mode only."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cfn_template import ACCOUNT, REGION, ROOT, STACK, Resolver, as_list, load, resources_of_type

from rolewatch.org.accounts import Selection
from rolewatch.org_audit import ORGANIZATION_PREFIX

ORGANIZATION = {"DeploymentMode": "organization", "OrganizationId": "o-abcdefghij"}
ORG_RESOURCES = {
    "OrgAuditFunction",
    "OrgAuditLogGroup",
    "OrgAuditRole",
    "OrganizationAuditStateMachine",
    "OrganizationAuditStateMachineRole",
    "OrganizationAuditScheduleRole",
    "OrganizationWeeklyAudit",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load()


def statements(resolved_role: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for p in resolved_role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]}


def test_the_organization_run_exists_in_organization_mode_only(template):
    for name in ORG_RESOURCES:
        assert template["Resources"][name].get("Condition") == "OrganizationMode", name
    assert not Resolver(template).condition("OrganizationMode")  # the default deployment is one account
    assert Resolver(template, ORGANIZATION).condition("OrganizationMode")


def test_the_state_machine_runs_the_definition_file_on_the_function(template):
    props = template["Resources"]["OrganizationAuditStateMachine"]["Properties"]
    assert props["Type"] == "STANDARD"
    definition = (ROOT / props["DefinitionUri"]).read_text()
    placeholders = set(re.findall(r"\$\{(\w+)\}", definition))
    assert placeholders == set(props["DefinitionSubstitutions"]) == {"OrgAuditFunctionArn"}
    assert props["DefinitionSubstitutions"]["OrgAuditFunctionArn"] == {"Fn::GetAtt": ["OrgAuditFunction", "Arn"]}
    states = json.loads(definition)["States"]
    assert states["AuditEachAccount"]["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert template["Resources"]["OrgAuditFunction"]["Properties"]["Handler"] == "rolewatch.handlers.org_audit.handler"


def test_the_state_machine_role_grants_its_steps_items_and_child_executions(template):
    resolved = Resolver(template, ORGANIZATION).value(template["Resources"])
    name = resolved["OrganizationAuditStateMachine"]["Properties"]["Name"]
    granted = statements(resolved["OrganizationAuditStateMachineRole"])
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-OrgAuditFunction"
    assert as_list(granted["InvokeSteps"]["Action"]) == ["lambda:InvokeFunction"]
    assert granted["InvokeSteps"]["Resource"] == [function, f"{function}:*"]
    # The ItemReader reads the listing the first step writes, under the organization prefix only.
    assert as_list(granted["ReadMapItems"]["Action"]) == ["s3:GetObject"]
    assert granted["ReadMapItems"]["Resource"] == f"arn:aws:s3:::{STACK}-reportbucket/{ORGANIZATION_PREFIX}/*"
    assert granted["DecryptMapItems"]["Resource"].startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/")
    # Child executions of the Distributed Map: this state machine only, by the name the template gives it.
    assert granted["RunChildExecutions"]["Resource"] == f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
    assert granted["ManageChildExecutions"]["Resource"] == f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{name}/*"
    assert sorted(as_list(granted["ManageChildExecutions"]["Action"])) == [
        "states:DescribeExecution",
        "states:StopExecution",
    ]
    actions = {a for s in granted.values() for a in as_list(s["Action"])}
    assert actions == {
        "lambda:InvokeFunction",
        "s3:GetObject",
        "kms:Decrypt",
        "states:StartExecution",
        "states:DescribeExecution",
        "states:StopExecution",
    }


def test_the_weekly_schedule_starts_the_state_machine_with_its_parameters(template):
    props = template["Resources"]["OrganizationWeeklyAudit"]["Properties"]
    assert props["ScheduleExpression"] == {"Ref": "OrganizationAuditSchedule"}
    target = props["Target"]
    assert target["Arn"] == {"Ref": "OrganizationAuditStateMachine"}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["AuditDeadLetterQueue", "Arn"]}}
    default = json.loads(Resolver(template, ORGANIZATION).value(target["Input"]))
    assert default == {
        "selection": {"include_ous": "", "include_accounts": "", "exclude_ous": "", "exclude_accounts": ""},
        "max_concurrency": 10,
        "tolerated_failure_percentage": 10,
        "publish_account_summaries": False,
    }
    assert Selection.from_mapping(default["selection"]) == Selection()  # every account
    chosen = {
        **ORGANIZATION,
        "OrganizationAuditIncludeOus": "ou-ab12-cdef3456,r-ab12",
        "OrganizationAuditExcludeAccounts": "111111111111",
        "OrganizationAuditMaxConcurrency": "40",
        "OrganizationAuditToleratedFailurePercentage": "0",
        "OrganizationAuditPublishAccountSummaries": "true",
    }
    given = json.loads(Resolver(template, chosen).value(target["Input"]))
    assert Selection.from_mapping(given["selection"]) == Selection(
        include_ous=("ou-ab12-cdef3456", "r-ab12"), exclude_accounts=("111111111111",)
    )
    assert (given["max_concurrency"], given["tolerated_failure_percentage"]) == (40, 0)
    assert given["publish_account_summaries"] is True


def test_the_schedule_role_may_only_start_the_state_machine(template):
    granted = statements(template["Resources"]["OrganizationAuditScheduleRole"])
    assert granted["StartOrganizationAudit"]["Action"] == "states:StartExecution"
    assert granted["StartOrganizationAudit"]["Resource"] == {"Ref": "OrganizationAuditStateMachine"}
    assert {a for s in granted.values() for a in as_list(s["Action"])} == {
        "states:StartExecution",
        "sqs:SendMessage",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    }
    assert resources_of_type(template, "AWS::Serverless::StateMachine") == {
        "OrganizationAuditStateMachine": template["Resources"]["OrganizationAuditStateMachine"]
    }
