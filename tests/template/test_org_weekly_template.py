"""The weekly organization run in template.yaml: OrgAuditFunction, the Standard state machine running
statemachine/organization_audit.asl.json (its error log and X-Ray traces), its role (the steps, the
Map's items, its child executions, log delivery, traces) and the weekly schedule whose input the state
machine and `org_audit.list_step` read. All of it exists in organization mode only, where it replaces
the single-account weekly schedule."""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

import pytest
from cfn_template import (
    ACCOUNT,
    REGION,
    ROOT,
    STACK,
    Resolver,
    as_list,
    declarations,
    granted_actions,
    load,
    resources_of_type,
)

from rolewatch.org.accounts import Selection
from rolewatch.org_audit import ORGANIZATION_PREFIX, run_prefix
from rolewatch.policy.catalogue import catalogue

ORGANIZATION = {"DeploymentMode": "organization", "OrganizationId": "o-abcdefghij"}
ORG_RESOURCES = {
    "OrgAuditFunction",
    "OrgAuditLogGroup",
    "OrgAuditRole",
    "OrganizationAuditStateMachine",
    "OrganizationAuditStateMachineLogGroup",
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
    assert as_list(granted["ReadMapItems"]["Action"]) == ["s3:GetObject"]
    # Only the items files the list step writes (run_prefix(run_id)/items.json), not the reports beside them.
    items = f"arn:aws:s3:::{STACK}-reportbucket/{ORGANIZATION_PREFIX}/runs/*/items.json"
    assert granted["ReadMapItems"]["Resource"] == items
    assert fnmatch.fnmatchcase(f"arn:aws:s3:::{STACK}-reportbucket/{run_prefix('weekly-1')}/items.json", items)
    assert not fnmatch.fnmatchcase(
        f"arn:aws:s3:::{STACK}-reportbucket/{ORGANIZATION_PREFIX}/2026-12-04/report.json", items
    )
    # Its key is decrypted only for S3 (the ItemReader's GetObject), not for any other use.
    assert granted["DecryptMapItems"]["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}
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
        *LOG_DELIVERY_ACTIONS,
        *TRACING_ACTIONS,
    }


# AWS's documented permissions of a state machine role for CloudWatch Logs delivery
# (step-functions/latest/dg/cw-logs.html) and for X-Ray tracing (step-functions/latest/dg/xray-iam.html).
LOG_DELIVERY_ACTIONS = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
TRACING_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
}


def test_the_state_machine_logs_its_errors_without_execution_data_and_is_traced(template):
    props = template["Resources"]["OrganizationAuditStateMachine"]["Properties"]
    logging = props["Logging"]
    # Failures only, and never the states' input and output (account ids, names, findings summaries).
    assert (logging["Level"], logging["IncludeExecutionData"]) == ("ERROR", False)
    [destination] = logging["Destinations"]
    assert destination == {
        "CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["OrganizationAuditStateMachineLogGroup", "Arn"]}}
    }
    assert props["Tracing"] == {"Enabled": True}
    group = template["Resources"]["OrganizationAuditStateMachineLogGroup"]
    resolved = Resolver(template, ORGANIZATION).value(group["Properties"])
    assert resolved["LogGroupName"] == f"/aws/vendedlogs/states/{STACK}-organization-audit"
    # Kept and encrypted exactly as the functions' log groups are.
    function_group = template["Resources"]["OrgAuditLogGroup"]["Properties"]
    for key in ("RetentionInDays", "KmsKeyId"):
        assert group["Properties"][key] == function_group[key], key
    with_key = Resolver(template, {**ORGANIZATION, "LogsKmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k"})
    assert with_key.value(group["Properties"])["KmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/k"


def test_the_state_machine_role_may_deliver_logs_and_traces_and_nothing_else_on_every_resource(template):
    granted = statements(
        Resolver(template, ORGANIZATION).value(template["Resources"])["OrganizationAuditStateMachineRole"]
    )
    assert set(as_list(granted["DeliverExecutionLogs"]["Action"])) == LOG_DELIVERY_ACTIONS
    assert set(as_list(granted["SendTraces"]["Action"])) == TRACING_ACTIONS
    on_every_resource = {a for s in granted.values() if s["Resource"] == "*" for a in as_list(s["Action"])}
    assert on_every_resource == LOG_DELIVERY_ACTIONS | TRACING_ACTIONS
    # "*" because none of them has a resource type IAM could scope it to.
    types = catalogue().resource_types
    assert [a for a in sorted(on_every_resource) if types[catalogue().index[a.lower()]]] == []
    # Log delivery set-up only: no action that reads or writes log events.
    assert not {a for a in on_every_resource if a.startswith("logs:") and "LogEvents" in a}
    assert all("Condition" not in s for s in (granted["DeliverExecutionLogs"], granted["SendTraces"]))


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


def test_organization_mode_has_no_single_account_weekly_schedule(template):
    """The organization run audits every ACTIVE account, this one included: a second schedule would
    audit the security account twice a week."""
    single_account = ("WeeklyAudit", "WeeklyAuditScheduleRole")
    for name in single_account:
        assert template["Resources"][name].get("Condition") == "AccountMode", name
    assert Resolver(template).condition("AccountMode")
    organization = Resolver(template, ORGANIZATION)
    assert not organization.condition("AccountMode")
    schedules = {
        name
        for name, r in resources_of_type(template, "AWS::Scheduler::Schedule").items()
        if organization.condition(r["Condition"])
    }
    assert schedules == {"OrganizationWeeklyAudit"}


def test_the_organization_run_may_read_the_security_account_itself(template):
    """org/credentials.py reads the central account with the function's own role (it never assumes
    into itself), so the weekly run's role needs the whole-account reads there."""
    account_reads = {a for g in declarations() if g.module == "rolewatch.inventory.account_reader" for a in g.actions}
    assert account_reads >= {"iam:GetAccountAuthorizationDetails", "iam:ListRoles", "ec2:DescribeRegions"}
    assert account_reads <= granted_actions(template, "OrgAuditRole", ORGANIZATION)


def test_the_per_account_step_has_the_memory_of_a_large_account(template):
    """The step holds one whole account: about 86 MB per 1,000 roles (benchmarks/README.md). Its memory is
    a parameter whose default holds a 20,000-role account (1,874 MB measured) and whose range is Lambda's."""
    function = template["Resources"]["OrgAuditFunction"]["Properties"]
    assert function["MemorySize"] == {"Ref": "OrganizationAuditMemorySize"}
    parameter = template["Parameters"]["OrganizationAuditMemorySize"]
    assert (parameter["Type"], parameter["MinValue"], parameter["MaxValue"]) == ("Number", 1024, 10240)
    assert parameter["Default"] >= 2 * 1024 + 512  # 20,000 roles and the runtime, with room to spare
