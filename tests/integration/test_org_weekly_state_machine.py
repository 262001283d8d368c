"""The weekly organization state machine (statemachine/organization_audit.asl.json) executed by moto's
Step Functions interpreter, with its Lambda tasks running the real OrgAuditFunction handler in-process.

How the Lambda tasks run: moto's Lambda cannot run code without Docker, so with
`"lambda": {"use_docker": False}` it answers invocations from `LambdaSimpleBackend.invoke`. The fixture
below replaces that method (monkeypatch, for this test only) by `dispatch`, which does what the Lambda
runtime does: JSON-decode the payload, call `rolewatch.handlers.org_audit.handler(event, context)`, and
JSON-encode its result; an exception becomes an "Unhandled" function error, as Lambda reports it. So
the state machine's own wiring (ItemReader over the listing in S3, ItemSelector, MaxConcurrencyPath,
ToleratedFailurePercentagePath, Retry, Catch, the final step) is what moto interprets, and every AWS call
the handler makes (Organizations, STS AssumeRole into the members, IAM, S3, SNS) goes to moto.
"""

from __future__ import annotations

import importlib
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.retries.standard import ExponentialBackoff
from event_stack import EventStack, LambdaContext, create_event_stack
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend
from org_accounts import ADMIN_POLICY, CENTRAL_ACCOUNT, REGION, Organization, create_organization, seed_member
from urllib3 import HTTPResponse

import rolewatch.handlers.org_audit
from rolewatch.settings import ACCOUNT_FUNCTION_REQUIRES, load_settings

# End to end: moto's Step Functions interpreter runs the Distributed Map on its own thread over several
# accounts, each audited by the real handler. `make test` runs it; `make unit` leaves it out.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = ROOT / "statemachine" / "organization_audit.asl.json"
CONTEXT = LambdaContext(function_name="OrgAuditFunction")
TIMED_OUT = "Task timed out after 900.00 seconds"


class Harness:
    """What the test's Lambda does with each invocation (and which accounts it makes time out)."""

    def __init__(self) -> None:
        self.module: Any = None
        self.time_out: set[str] = set()
        self.steps: list[str] = []

    def dispatch(self, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any) -> bytes:
        """LambdaSimpleBackend.invoke's signature (bound to the harness, so moto's backend is not passed)."""
        event = json.loads(body)
        self.steps.append(event.get("step", "?"))
        if event.get("account_id") in self.time_out:
            # How Lambda reports a timed-out invocation to its caller.
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": TIMED_OUT}).encode()
        try:
            return json.dumps(self.module.handler(event, CONTEXT)).encode()
        except Exception as exc:  # the Lambda runtime's own translation of an uncaught exception
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Harness, EventStack, Organization]]:
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    with mock_aws(config=config):
        stack = create_event_stack()
        org = create_organization("alpha", "beta", "gamma", "delta", ous={"workloads": ["alpha", "beta", "delta"]})
        for name, value in stack.environment(
            DEPLOYMENT_MODE="organization", ORGANIZATION_ID=org.id, IDEMPOTENCY_TABLE=""
        ).items():
            monkeypatch.setenv(name, value)
        seed_member(org.account("alpha"), roles={"alpha-admin": ADMIN_POLICY, "alpha-app": None})
        seed_member(org.account("beta"), roles={"beta-app": None})
        seed_member(org.account("delta"), roles={"delta-app": None})
        boto3.client("organizations", region_name=REGION).close_account(AccountId=org.account("gamma"))
        runner = Harness()
        runner.module = importlib.reload(rolewatch.handlers.org_audit)
        monkeypatch.setattr(LambdaSimpleBackend, "invoke", runner.dispatch)
        yield runner, stack, org
        runner.module.runtime.cache_clear()


def start(stack: EventStack, run_input: dict[str, Any]) -> dict[str, Any]:
    """Deploys the definition as SAM would (DefinitionSubstitutions) and runs it to its end."""
    iam = boto3.client("iam", region_name=REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role_arn = iam.create_role(RoleName="OrgAuditRole", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    lam = boto3.client("lambda", region_name=REGION)
    function_arn = lam.create_function(
        FunctionName="OrgAuditFunction",
        Runtime="python3.13",
        Role=role_arn,
        Handler="rolewatch.handlers.org_audit.handler",
        Code={"ZipFile": b"not run: the harness dispatches to the handler"},
    )["FunctionArn"]
    definition = DEFINITION.read_text(encoding="utf-8").replace("${OrgAuditFunctionArn}", function_arn)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(name="rolewatch-organization-audit", definition=definition, roleArn=role_arn)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=machine, name="weekly-1", input=json.dumps(run_input))
    # moto runs the execution on a thread of its own: wait for its end (bounded), then read its result.
    for _ in range(2400):
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError("the execution did not finish")


def run_input(**overrides: Any) -> dict[str, Any]:
    return {
        "selection": {},
        "max_concurrency": 10,
        "tolerated_failure_percentage": 50,
        "publish_account_summaries": False,
        **overrides,
    }


def stored_json(stack: EventStack, key: str) -> Any:
    return json.loads(boto3.client("s3", region_name=REGION).get_object(Bucket=stack.bucket, Key=key)["Body"].read())


def test_the_weekly_run_audits_every_account_and_reports_the_organization(
    harness: tuple[Harness, EventStack, Organization],
) -> None:
    runner, stack, org = harness
    runner.time_out = {org.account("delta")}
    execution = start(stack, run_input())
    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    report = stored_json(stack, output["report"]["json"])
    alpha, beta, gamma, delta = (org.account(n) for n in ("alpha", "beta", "gamma", "delta"))
    # Worst first: alpha has an administrator role, beta has nothing at medium or above.
    ranked = [a["account_id"] for a in report["accounts"]]
    assert ranked.index(alpha) < ranked.index(beta)
    assert report["accounts"][ranked.index(alpha)]["by_severity"]["critical"] >= 1
    assert report["summary"]["by_severity"]["critical"] >= 1 and "admin-access" in report["summary"]["by_category"]
    unauditable = {a["account_id"]: a for a in report["unauditable"]}
    assert unauditable[gamma]["kind"] == "not-active" and "SUSPENDED" in unauditable[gamma]["reason"]
    assert unauditable[delta]["kind"] == "step-failed"  # timed out: listed, never dropped
    # Each audited account's own report and diff live under its own prefix.
    alpha_report = stored_json(stack, report["accounts"][ranked.index(alpha)]["report"]["json"])
    assert alpha_report["account"]["id"] == alpha and "diff" in alpha_report
    assert any(f["resource"] == f"arn:aws:iam::{alpha}:role/alpha-admin" for f in alpha_report["findings"])
    # One SNS summary for the run (per-account summaries are off).
    [message] = stack.messages()
    assert message["Subject"].startswith("[rolewatch] Organization audit")
    assert message["Subject"].endswith("(2 not audited)")
    assert message["MessageAttributes"]["audit"]["Value"] == "organization"
    assert "Could not be audited" in message["Message"] and TIMED_OUT not in message["Message"]
    html = boto3.client("s3", region_name=REGION).get_object(Bucket=stack.bucket, Key=output["report"]["html"])
    page = html["Body"].read().decode("utf-8")
    assert "Could not be audited:" in page and "cannot audit</span> (step-failed)" in page
    # Each audited account's section links its own stored report of the run.
    alpha_html = report["accounts"][ranked.index(alpha)]["report"]["html"]
    assert report["accounts"][ranked.index(alpha)]["links"]["HTML"].endswith(f"prefix={alpha_html}")
    assert f"prefix={alpha_html}" in page
    assert runner.steps.count("audit-account") >= 4 and runner.steps[0] == "list-accounts"


def test_the_selection_narrows_the_run_by_ou_and_account(harness: tuple[Harness, EventStack, Organization]) -> None:
    _, stack, org = harness
    selection = {"include_ous": [org.ous["workloads"]], "exclude_accounts": [org.account("delta")]}
    execution = start(stack, run_input(selection=selection, publish_account_summaries=True))
    assert execution["status"] == "SUCCEEDED", execution
    report = stored_json(stack, json.loads(execution["output"])["report"]["json"])
    assert sorted(a["account_id"] for a in report["accounts"]) == sorted([org.account("alpha"), org.account("beta")])
    assert report["unauditable"] == [] and report["summary"]["left_out_by_selection"] == 1
    # Per-account summaries when asked for: one per audited account, plus the organization's.
    subjects = [m["Subject"] for m in stack.messages()]
    assert sum(s.startswith("[rolewatch] Weekly audit") for s in subjects) == 2
    assert sum(s.startswith("[rolewatch] Organization audit") for s in subjects) == 1


def test_moto_runs_every_item_whatever_the_tolerance(harness: tuple[Harness, EventStack, Organization]) -> None:
    """What moto 5.2.5 really does with ToleratedFailurePercentage 0 and three of four items timing out.

    In AWS this Map run fails with States.ExceedToleratedFailureThreshold (caught: see the next test).
    moto's parser ignores ToleratedFailurePercentage(Path) (it logs "currently have no effect") and its
    Distributed Map worker counts a failed item without failing the run, so here every item runs, the
    Map succeeds and the report has no "stopped early" note. Pinned so a moto that starts enforcing the
    tolerance shows up here; the accounts without an outcome are listed either way, never dropped."""
    runner, stack, org = harness
    runner.time_out = {org.account(n) for n in ("alpha", "beta", "delta")}
    execution = start(stack, run_input(tolerated_failure_percentage=0))
    assert execution["status"] == "SUCCEEDED", execution
    history = boto3.client("stepfunctions", region_name=REGION).get_execution_history(
        executionArn=execution["executionArn"], maxResults=1000
    )["events"]
    kinds = {event["type"] for event in history}
    assert "MapRunSucceeded" in kinds and "MapRunFailed" not in kinds
    assert runner.steps.count("audit-account") == 4  # every item ran, none was stopped
    report = stored_json(stack, json.loads(execution["output"])["report"]["json"])
    assert report["notes"] == []
    kinds_by_account = {a["account_id"]: a["kind"] for a in report["unauditable"]}
    assert kinds_by_account == {
        org.account("alpha"): "step-failed",
        org.account("beta"): "step-failed",
        org.account("delta"): "step-failed",
        org.account("gamma"): "not-active",
    }


def test_a_map_stopped_by_its_tolerance_is_caught_and_reported(
    harness: tuple[Harness, EventStack, Organization],
) -> None:
    """The AWS path moto cannot run: the definition binds the tolerance to the run's input and catches
    the Map's failure into $.map_error before the report step; the report step, given the state AWS
    passes after that Catch (States.ExceedToleratedFailureThreshold), says the run stopped early and
    lists every account without an outcome."""
    runner, stack, org = harness
    states = json.loads(DEFINITION.read_text(encoding="utf-8"))["States"]
    audit_map = states["AuditEachAccount"]
    assert audit_map["ToleratedFailurePercentagePath"] == "$.tolerated_failure_percentage"
    assert audit_map["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.map_error", "Next": "BuildOrganizationReport"}
    ]
    assert states["BuildOrganizationReport"]["Parameters"]["Payload"]["input.$"] == "$"
    listing = runner.module.handler({"step": "list-accounts", "run_id": "weekly-2", "selection": {}}, CONTEXT)
    audited = runner.module.handler(
        {"step": "audit-account", "run_id": "weekly-2", "account_id": org.account("alpha"), "name": "alpha"}, CONTEXT
    )
    assert audited["status"] == "audited"
    state = {
        **run_input(tolerated_failure_percentage=0),
        "listing": {key: listing[key] for key in ("bucket", "key", "run_id", "count")},
        "map_error": {
            "Error": "States.ExceedToleratedFailureThreshold",
            "Cause": "The specified tolerated failure threshold was exceeded",
        },
    }
    result = runner.module.handler({"step": "organization-report", "run_id": "weekly-2", "input": state}, CONTEXT)
    report = stored_json(stack, result["report"]["json"])
    assert report["notes"][0].startswith("the Map run stopped early (States.ExceedToleratedFailureThreshold")
    kinds_by_account = {a["account_id"]: a["kind"] for a in report["unauditable"]}
    assert kinds_by_account == {
        CENTRAL_ACCOUNT: "step-failed",  # listed (the organization's own account) but never audited here
        org.account("beta"): "step-failed",
        org.account("delta"): "step-failed",
        org.account("gamma"): "not-active",
    }
    assert [a["account_id"] for a in report["accounts"]] == [org.account("alpha")]


THROTTLED_BODY = (
    b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
    b"<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>t-1</RequestId></ErrorResponse>"
)


def test_a_throttled_assume_role_inside_the_map_is_retried_then_reported_and_the_others_kept(
    harness: tuple[Harness, EventStack, Organization], monkeypatch: pytest.MonkeyPatch
) -> None:
    """STS answers Throttling to every AssumeRole into alpha (an injected HTTP response on the handler's
    real STS client, `before-send`, so botocore parses it and its retry handler decides): the client's
    standard-mode retries (RETRY_CONFIG: 5 retries with exponential backoff) run out, the item's outcome
    is "cannot audit account alpha: ... throttled", and every other account is audited in the same run.
    The Map's own Retry (Lambda errors only) does not apply: the step succeeded with that outcome.
    botocore computes each backoff; the test records it and waits zero seconds instead."""
    runner, stack, org = harness
    alpha = org.account("alpha")
    delays: list[float] = []
    real_delay = ExponentialBackoff.delay_amount

    def no_wait(self: ExponentialBackoff, context: Any) -> float:
        delays.append(real_delay(self, context))
        return 0.0

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", no_wait)
    clients, _, _ = runner.module.runtime(load_settings(required=ACCOUNT_FUNCTION_REQUIRES))
    attempts: list[str] = []

    def throttle_alpha(request: Any, **_: Any) -> AWSResponse | None:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        if f"arn%3Aaws%3Aiam%3A%3A{alpha}%3Arole" not in body:
            return None
        attempts.append(alpha)
        raw = HTTPResponse(body=io.BytesIO(THROTTLED_BODY), status=400, preload_content=False)
        return AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, raw)

    clients.sts.meta.events.register("before-send.sts.AssumeRole", throttle_alpha)
    execution = start(stack, run_input())
    assert execution["status"] == "SUCCEEDED", execution
    assert len(attempts) == 6 and len(delays) == 5  # the first try and botocore's 5 retries, each backed off
    report = stored_json(stack, json.loads(execution["output"])["report"]["json"])
    unauditable = {a["account_id"]: a for a in report["unauditable"]}
    assert unauditable[alpha]["kind"] == "throttled"
    assert "throttled after retries" in unauditable[alpha]["reason"] and "Rate exceeded" in unauditable[alpha]["reason"]
    audited = {a["account_id"] for a in report["accounts"]}
    assert audited == {CENTRAL_ACCOUNT, org.account("beta"), org.account("delta")}
    [message] = stack.messages()
    assert f"{alpha} «alpha»: AssumeRole of arn:aws:iam::{alpha}:role/rolewatch-reader throttled" in message["Message"]
