"""template.yaml keeps its contracts: handlers, environment, triggers, failure paths, encryption and
exactly the IAM actions the code declares."""

from __future__ import annotations

import ast
import json

import pytest
from cfn_template import (
    ACCOUNT,
    FORWARDER,
    REGION,
    TEMPLATE,
    Resolver,
    as_list,
    declarations,
    declared_actions,
    function_role,
    granted_actions,
    handler_module,
    load,
    module_file,
    resources_of_type,
    role_statements,
    sorted_list,
)

from rolewatch import settings
from rolewatch.event import triggers
from rolewatch.model import Severity
from rolewatch.policy.catalogue import ACCESS_LIST, ACCESS_READ, catalogue

FUNCTIONS = {
    "EventAuditFunction": "rolewatch.handlers.event_audit.handler",
    "AccountAuditFunction": "rolewatch.handlers.account_audit.handler",
    "OrgAuditFunction": "rolewatch.handlers.org_audit.handler",
}
CONTRACT_ENVIRONMENT = {
    "REPORT_TOPIC_ARN",
    "REPORT_BUCKET",
    "REPORT_KMS_KEY_ID",
    "IDEMPOTENCY_TABLE",
    "MIN_SEVERITY",
    "PUBLISH_CLEAN",
    "BASELINE_PATH",
    "ACCESS_ANALYZER",
    "SECURITY_HUB",
    "AUDIT_EVENT_BUS",
    "CHAT_TOPIC_ARN",
    "DEPLOYMENT_MODE",
    "READER_ROLE_NAME",
    "ORGANIZATION_ID",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "AWS_ENDPOINT_URL",  # AWS::NoValue when deployed; declared for `sam local invoke` (README, "Locally")
}
EVENT_FUNCTION_ONLY = {"IDEMPOTENCY_TABLE"}

EVENT, ACCOUNT_AUDIT = "EventAuditFunction", "AccountAuditFunction"
# Parameter sets under which the roles must grant exactly what the code declares for them.
DEPLOYMENTS = {
    "defaults": {},
    "every-option-on": {"SecurityHub": "true"},
    "every-option-off": {"AccessAnalyzer": "off", "SecurityHub": "false", "AuditEventBus": "off"},
    "organization": {"DeploymentMode": "organization", "OrganizationId": "o-abcdefghij"},
}
# OrgAuditFunction (and its role) exist in organization mode only: its grants are checked there.
ORGANIZATION = DEPLOYMENTS["organization"]


@pytest.fixture(scope="module")
def template() -> dict:
    return load(TEMPLATE)


@pytest.fixture(scope="module")
def resolved(template) -> dict:
    return Resolver(template).value(template["Resources"])


def _environment(template: dict, function: str) -> dict:
    merged = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    merged.update(template["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {}))
    return merged


# -- functions and handlers ------------------------------------------------------------------------


@pytest.mark.parametrize("function, handler", FUNCTIONS.items())
def test_handler_resolves_to_a_module_under_src(template, function, handler):
    assert template["Resources"][function]["Properties"]["Handler"] == handler
    module = handler_module(template, function)
    path = module_file(module)
    assert path is not None, f"{function}'s Handler names {module}, which is no module under src/"
    tree = ast.parse(path.read_text())
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    names |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    assert handler.rsplit(".", 1)[1] in names, f"{path} defines no {handler.rsplit('.', 1)[1]!r}"


def test_runtime_architecture_and_code(template):
    globals_ = template["Globals"]["Function"]
    assert (globals_["Runtime"], globals_["Architectures"], globals_["CodeUri"]) == ("python3.13", ["arm64"], "src/")
    assert globals_["Tracing"] == "Active"


def test_sizes_and_concurrency(template):
    event = template["Resources"]["EventAuditFunction"]["Properties"]
    account = template["Resources"]["AccountAuditFunction"]["Properties"]
    assert (event["MemorySize"], event["Timeout"]) == (512, 60)
    assert event["ReservedConcurrentExecutions"] == {"Ref": "EventAuditConcurrency"}
    # The whole-account audit holds the account: 1,874 MB measured at 20,000 roles (benchmarks/README.md).
    assert (account["MemorySize"], account["Timeout"], account["ReservedConcurrentExecutions"]) == (3008, 900, 1)


def test_environment_names_are_the_contract(template):
    event, account, org = (set(_environment(template, f)) for f in FUNCTIONS)
    assert event == CONTRACT_ENVIRONMENT
    assert account == org == CONTRACT_ENVIRONMENT - EVENT_FUNCTION_ONLY
    assert event >= settings.EVENT_FUNCTION_REQUIRES
    assert account >= settings.ACCOUNT_FUNCTION_REQUIRES
    assert org >= settings.REQUIRED_BY_FUNCTION["OrgAuditFunction"]


def test_environment_values(template):
    env = Resolver(template).value(_environment(template, "EventAuditFunction"))
    assert env["REPORT_TOPIC_ARN"].startswith(f"arn:aws:sns:{REGION}:{ACCOUNT}:")
    assert env["REPORT_KMS_KEY_ID"].startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/")
    assert (env["MIN_SEVERITY"], env["PUBLISH_CLEAN"], env["ACCESS_ANALYZER"]) == ("medium", "false", "auto")
    assert env["BASELINE_PATH"] == ""
    assert env["POWERTOOLS_SERVICE_NAME"] == env["POWERTOOLS_METRICS_NAMESPACE"] == "rolewatch"


def test_a_deployed_function_has_no_endpoint_override(template):
    """Only env.json under `sam local invoke` may point the functions elsewhere; CloudFormation drops NoValue."""
    for function in FUNCTIONS:
        assert _environment(template, function)["AWS_ENDPOINT_URL"] == {"Ref": "AWS::NoValue"}


def test_parameters_match_the_code(template):
    params = template["Parameters"]
    assert params["MinimumSeverity"]["AllowedValues"] == [s.value for s in Severity]
    assert tuple(params["AccessAnalyzer"]["AllowedValues"]) == settings.ACCESS_ANALYZER_MODES
    assert params["WeeklyAuditSchedule"]["Default"] == "cron(0 7 ? * MON *)"
    assert {
        "AlertEmail",
        "PublishCleanAudits",
        "ReportRetentionDays",
        "LogRetentionDays",
        "EventAuditConcurrency",
    } <= set(params)


def test_outputs(template):
    assert {
        "ReportTopicArn",
        "ReportBucketName",
        "EventAuditFunctionName",
        "AccountAuditFunctionName",
        "DeadLetterQueueUrl",
        "EventBusArn",
    } <= set(template["Outputs"])
    bus = Resolver(template).value(template["Outputs"]["EventBusArn"]["Value"])
    assert bus == f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"


# -- triggers --------------------------------------------------------------------------------------


def _rules(template: dict) -> dict[str, dict]:
    events = template["Resources"]["EventAuditFunction"]["Properties"]["Events"]
    return {name: e["Properties"] for name, e in events.items() if e["Type"] == "EventBridgeRule"}


def _cloudtrail_rule(template: dict, source: str) -> dict:
    matching = [r["Pattern"] for r in _rules(template).values() if r["Pattern"]["source"] == [source]]
    assert len(matching) == 1, f"one rule on {source} expected, found {len(matching)}"
    return matching[0]


@pytest.mark.parametrize(
    "source, event_source, routes",
    [("aws.iam", triggers.IAM_SOURCE, triggers.IAM_ROUTES), ("aws.ec2", triggers.EC2_SOURCE, triggers.EC2_ROUTES)],
)
def test_cloudtrail_rules_match_the_routing_table(template, source, event_source, routes):
    pattern = _cloudtrail_rule(template, source)
    assert pattern["detail-type"] == [triggers.CLOUDTRAIL_DETAIL_TYPE]
    assert pattern["detail"]["eventSource"] == [event_source]
    names = pattern["detail"]["eventName"]
    assert len(names) == len(set(names))
    assert sorted(names) == sorted(routes)


def test_forwarder_forwards_exactly_the_ec2_calls():
    forwarder = load(FORWARDER)
    (rule,) = resources_of_type(forwarder, "AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.ec2"]
    assert pattern["detail"]["eventSource"] == [triggers.EC2_SOURCE]
    assert sorted(pattern["detail"]["eventName"]) == sorted(triggers.EC2_ROUTES)


def test_forwarder_role_may_only_put_events_on_the_target_bus():
    forwarder = load(FORWARDER)
    bus = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"
    statements = role_statements(forwarder, "ForwarderRole", {"TargetEventBusArn": bus})
    assert statements == [
        {"Sid": "PutEventsOnRolewatchBus", "Effect": "Allow", "Action": "events:PutEvents", "Resource": bus}
    ]
    (rule,) = resources_of_type(forwarder, "AWS::Events::Rule").values()
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": "TargetEventBusArn"}
    assert target["RoleArn"] == {"Fn::GetAtt": ["ForwarderRole", "Arn"]}


def test_access_analyzer_rule(template):
    source = triggers.ACCESS_ANALYZER_SOURCE
    patterns = [r["Pattern"] for r in _rules(template).values() if r["Pattern"]["source"] == [source]]
    assert len(patterns) == 1
    assert sorted(patterns[0]["detail-type"]) == sorted(triggers.ACCESS_ANALYZER_DETAIL_TYPES)


def test_every_rule_retries_then_dead_letters(template, resolved):
    rules = _rules(template)
    assert len(rules) == 3
    resolver = Resolver(template)
    allowed_sources = {
        arn
        for s in resolved["AuditDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow" and s["Principal"] == {"Service": "events.amazonaws.com"}
        for arn in as_list(s["Condition"]["ArnEquals"]["aws:SourceArn"])
    }
    for name, rule in rules.items():
        assert rule["RetryPolicy"]["MaximumRetryAttempts"] >= 1, name
        assert rule["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["AuditDeadLetterQueue", "Arn"]}}, name
        rule_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{resolver.value(rule['RuleName'])}"
        assert rule_arn in allowed_sources, f"{name}: the DLQ policy does not let {rule_arn} send to it"


def test_failed_invocations_go_to_the_dead_letter_queue(template):
    for function, retries in (("EventAuditFunction", 2), ("AccountAuditFunction", 1)):
        config = template["Resources"][function]["Properties"]["EventInvokeConfig"]
        assert config["MaximumRetryAttempts"] == retries
        assert config["DestinationConfig"]["OnFailure"] == {
            "Type": "SQS",
            "Destination": {"Fn::GetAtt": ["AuditDeadLetterQueue", "Arn"]},
        }


def test_weekly_schedule(template):
    assert set(resources_of_type(template, "AWS::Scheduler::Schedule")) == {"WeeklyAudit", "OrganizationWeeklyAudit"}
    props = template["Resources"]["WeeklyAudit"]["Properties"]
    assert props["ScheduleExpression"] == {"Ref": "WeeklyAuditSchedule"}
    target = props["Target"]
    assert target["Arn"] == {"Fn::GetAtt": ["AccountAuditFunction", "Arn"]}
    assert json.loads(target["Input"]) == {"mode": "account"}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["AuditDeadLetterQueue", "Arn"]}}


def test_dead_letter_alarm_publishes_to_its_own_topic(template, resolved):
    """A broken or deleted report topic must not silence the alarm that says reports are failing."""
    props = template["Resources"]["DeadLetterAlarm"]["Properties"]
    assert props["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["AuditDeadLetterQueue", "QueueName"]}}
    ]
    assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert template["Resources"]["AlarmSubscription"]["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert "AlarmTopicArn" in template["Outputs"]
    alarm_arn = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{resolved['DeadLetterAlarm']['Properties']['AlarmName']}"
    statements = resolved["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [allow] = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Condition"]["ArnEquals"]["aws:SourceArn"] == [alarm_arn]


@pytest.mark.parametrize("mode", ["account", "organization"])
def test_every_alarm_may_publish_to_the_alarm_topic_through_the_key(template, mode):
    """Each alarm of the mode (the organization run's own in organization mode) is admitted by the alarm
    topic's policy and the key's, by name; an alarm left out would be refused on AWS, silently."""
    parameters = {"DeploymentMode": mode, "OrganizationId": "o-abcdefghij" if mode == "organization" else ""}
    resolver = Resolver(template, parameters)
    resources = resolver.value(template["Resources"])
    alarms = {
        f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{r['Properties']['AlarmName']}"
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and ("Condition" not in r or resolver.condition(r["Condition"]))
    }
    assert len(alarms) == (2 if mode == "organization" else 1)
    for policy, sid in (
        ("AlarmTopicPolicy", "DeadLetterAlarmPublishes"),
        ("ReportKey", "CloudWatchAlarmsPublishToTopic"),
    ):
        document = resources[policy]["Properties"]["KeyPolicy" if policy == "ReportKey" else "PolicyDocument"]
        [statement] = [s for s in document["Statement"] if s.get("Sid") == sid]
        assert set(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) == alarms, policy


def test_a_failed_organization_run_raises_the_alarm(template):
    """Failed, timed-out and aborted executions of the weekly organization run, summed, on AlarmTopic."""
    alarm = template["Resources"]["OrganizationAuditFailedAlarm"]
    assert alarm["Condition"] == "OrganizationMode"
    props = alarm["Properties"]
    assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    metrics = {m["MetricStat"]["Metric"]["MetricName"]: m for m in props["Metrics"] if "MetricStat" in m}
    assert set(metrics) == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    for metric in metrics.values():
        assert metric["MetricStat"]["Metric"]["Dimensions"] == [
            {"Name": "StateMachineArn", "Value": {"Ref": "OrganizationAuditStateMachine"}}
        ]
    [expression] = [m for m in props["Metrics"] if m.get("ReturnData")]
    assert set(expression["Expression"].replace("+", " ").split()) == {m["Id"] for m in metrics.values()}
    assert (props["Threshold"], props["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")


def _statements(resolved: dict, policy: str) -> list[dict]:
    return resolved[policy]["Properties"]["PolicyDocument"]["Statement"]


@pytest.mark.parametrize("mode", ["account", "organization"])
def test_exactly_the_functions_that_publish_may_publish_reports(template, mode):
    """The topic's Deny admits the roles of the functions whose code declares sns:Publish, in each mode:
    a publishing function left out (the weekly organization run) would be refused by the Deny on AWS,
    which moto does not enforce."""
    parameters = {"DeploymentMode": mode, "OrganizationId": "o-abcdefghij" if mode == "organization" else ""}
    resolver = Resolver(template, parameters)
    resources = resolver.value(template["Resources"])
    publishers = {
        function_role(template, function)
        for g in declarations()
        if "sns:Publish" in g.actions and (g.only_if is None or resolver.condition(g.only_if))
        for function in g.functions
        if function in resources
        and ("Condition" not in resources[function] or resolver.condition(resources[function]["Condition"]))
    }
    assert ("OrgAuditRole" in publishers) is (mode == "organization")
    roles = sorted(f"arn:aws:iam::{ACCOUNT}:role/rolewatch-{name}" for name in publishers)
    statements = _statements(resources, "ReportTopicPolicy")
    [deny] = [s for s in statements if s["Effect"] == "Deny" and s["Action"] == "sns:Publish"]
    assert deny["Principal"] == "*"
    assert sorted(deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]) == roles
    [allow] = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Action"] == "sns:Publish" and sorted(allow["Principal"]["AWS"]) == roles


def test_only_configured_principals_may_subscribe_to_reports(template, resolved):
    statements = _statements(resolved, "ReportTopicPolicy")
    [deny] = [s for s in statements if s["Effect"] == "Deny" and s["Action"] == "sns:Subscribe"]
    assert deny["Principal"] == "*"
    assert template["Parameters"]["ReportSubscriberArns"]["Type"] == "CommaDelimitedList"
    raw = [
        s for s in template["Resources"]["ReportTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == deny["Sid"]
    ]  # fmt: skip
    assert raw[0]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == {"Ref": "ReportSubscriberArns"}
    # The stack's own e-mail subscription is made by CloudFormation with the deployer's credentials.
    assert deny["Condition"]["StringNotEquals"] == {"aws:CalledViaFirst": "cloudformation.amazonaws.com"}


def test_the_key_admits_only_this_stacks_alarm_and_rules(resolved):
    statements = {s["Sid"]: s for s in resolved["ReportKey"]["Properties"]["KeyPolicy"]["Statement"]}
    for sid in ("CloudWatchAlarmsPublishToTopic", "EventBridgeDeadLetters"):
        assert statements[sid]["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT, sid
    alarms = statements["CloudWatchAlarmsPublishToTopic"]["Condition"]["ArnEquals"]["aws:SourceArn"]
    name = resolved["DeadLetterAlarm"]["Properties"]["AlarmName"]
    assert alarms == [f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{name}"]  # account mode: that alarm only


def test_dead_letters_and_idempotency_records_outlive_the_stack(template):
    for name in ("AuditDeadLetterQueue", "IdempotencyTable", "ReportAccessLogBucket"):
        resource = template["Resources"][name]
        assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == ("Retain", "Retain"), name


def test_who_reads_the_reports_is_logged(template, resolved):
    logging = template["Resources"]["ReportBucket"]["Properties"]["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == {"Ref": "ReportAccessLogBucket"}
    log_bucket = template["Resources"]["ReportAccessLogBucket"]["Properties"]
    assert set(log_bucket["PublicAccessBlockConfiguration"].values()) == {True}
    policy = template["Resources"]["ReportAccessLogBucketPolicy"]["Properties"]["PolicyDocument"]
    [delivery] = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::GetAtt": ["ReportBucket", "Arn"]}
    assert resolved["ReportAccessLogBucketPolicy"]["Properties"]["Bucket"]


# -- storage and encryption ------------------------------------------------------------------------


def test_topic_and_queue_are_encrypted_with_the_report_key(template):
    resources = template["Resources"]
    assert resources["ReportTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "ReportKey"}
    queue = resources["AuditDeadLetterQueue"]["Properties"]
    assert queue["KmsMasterKeyId"] == {"Ref": "ReportKey"}
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert resources["ReportKey"]["Properties"]["EnableKeyRotation"] is True


def test_bucket_is_encrypted_private_and_expires_reports(template):
    bucket = template["Resources"]["ReportBucket"]["Properties"]
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": ["ReportKey", "Arn"]},
    }
    assert rule["BucketKeyEnabled"] is True
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    expiring = [r for r in bucket["LifecycleConfiguration"]["Rules"] if r.get("Prefix") == "reports/"]
    assert expiring and expiring[0]["ExpirationInDays"] == {"Ref": "ReportRetentionDays"}


def test_bucket_refuses_plain_http(resolved):
    statements = resolved["ReportBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert {
        "Effect": "Deny",
        "Condition": json.dumps({"Bool": {"aws:SecureTransport": "false"}}),
    } in [{"Effect": s["Effect"], "Condition": json.dumps(s.get("Condition"))} for s in statements]


def test_idempotency_table(template):
    table = template["Resources"]["IdempotencyTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


@pytest.mark.parametrize("function, group", [(EVENT, "EventAuditLogGroup"), (ACCOUNT_AUDIT, "AccountAuditLogGroup")])
def test_each_function_logs_to_its_own_group(template, resolved, function, group):
    assert template["Resources"][function]["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": group}}
    assert template["Resources"][group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    role = function_role(template, function)
    logs = [s for s in role_statements(template, role) if any(a.startswith("logs:") for a in as_list(s["Action"]))]
    assert [s["Resource"] for s in logs] == [
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{resolved[group]['Properties']['LogGroupName']}:*"
    ]


# -- least privilege -------------------------------------------------------------------------------


def test_roles_use_inline_policies_only(template):
    for name, role in resources_of_type(template, "AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], f"{name}: managed policies cannot be audited here"
    for function in FUNCTIONS:
        assert "Policies" not in template["Resources"][function]["Properties"], "SAM policy templates hide the grant"


@pytest.mark.parametrize("parameters", DEPLOYMENTS.values(), ids=DEPLOYMENTS)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_role_grants_exactly_what_its_function_declares(template, function, parameters):
    """The roles are generated from the declarations (tests/template/test_role_permissions.py); this is
    the meaning behind it: under each deployment's parameters, the actions granted are those declared."""
    if template["Resources"][function].get("Condition") == "OrganizationMode":
        parameters = {**parameters, **ORGANIZATION}
    role = function_role(template, function)
    granted = granted_actions(template, role, parameters)
    assert sorted_list(granted) == sorted_list(declared_actions(template, function, parameters))


def test_access_analyzer_off_removes_its_actions(template):
    for function in FUNCTIONS:
        role = function_role(template, function)
        assert any(a.startswith("access-analyzer:") for a in granted_actions(template, role))
        off = granted_actions(template, role, {"AccessAnalyzer": "off"})
        assert not [a for a in off if a.startswith("access-analyzer:")]


# Resources each service's actions are scoped to (resolved in the fake account).
SCOPES = {
    "sns": {f"arn:aws:sns:{REGION}:{ACCOUNT}:rolewatch-ReportTopic"},
    "s3": {"arn:aws:s3:::rolewatch-reportbucket/reports/*", "arn:aws:s3:::rolewatch-reportbucket"},
    "kms": {f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
    "dynamodb": {f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/rolewatch-IdempotencyTable"},
    "sqs": {f"arn:aws:sqs:{REGION}:{ACCOUNT}:rolewatch-AuditDeadLetterQueue"},
    "access-analyzer": {"*", f"arn:aws:access-analyzer:{REGION}:{ACCOUNT}:analyzer/*"},
    "securityhub": {
        f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default",
        f"arn:aws:securityhub:{REGION}:{ACCOUNT}:hub/default",
    },
    "events": {f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"},
}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_writes_are_scoped_and_star_is_for_reads_only(template, function):
    cat = catalogue()
    for statement in role_statements(template, function_role(template, function)):
        resources = set(as_list(statement["Resource"]))
        for action in as_list(statement["Action"]):
            service = action.split(":")[0]
            if service in SCOPES:
                assert resources <= SCOPES[service], f"{action} on {sorted(resources)}"
            if "*" in resources:
                index = cat.index.get(action.lower())
                without_resource_types = index is not None and not cat.resource_types[index]
                assert cat.access_level(action) in {ACCESS_LIST, ACCESS_READ} or without_resource_types, (
                    f"{action} is granted on '*' but is neither a read nor an action without resource-level permissions"
                )
    s3_list = [
        s
        for s in role_statements(template, function_role(template, function))
        if "s3:ListBucket" in as_list(s["Action"])
    ]
    for statement in s3_list:
        assert statement["Condition"] == {"StringLike": {"s3:prefix": ["reports/", "reports/*"]}}


def test_region_guards():
    """IAM events reach EventBridge only in us-east-1; forwarding from there would double every event."""
    main_rule = load(TEMPLATE)["Rules"]["DeployInUsEast1"]
    assert main_rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    (forwarder_rule,) = load(FORWARDER)["Rules"].values()
    assert forwarder_rule["Assertions"][0]["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}]
    }


def test_organization_mode_needs_the_organization_id():
    rule = load(TEMPLATE)["Rules"]["OrganizationModeNeedsTheOrganizationId"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "DeploymentMode"}, "organization"]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "OrganizationId"}, ""]}]}


def test_reports_and_their_key_outlive_the_stack(template):
    for name in ("ReportBucket", "ReportKey"):
        resource = template["Resources"][name]
        assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == ("Retain", "Retain"), name
