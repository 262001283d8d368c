"""Fault injection on the event function's own clients: no report lost, none published twice.

Each case answers one AWS operation of the running function with an error, for good or once, through a
botocore hook on the very client the handler uses; then checks whether the invocation failed or
completed, what the idempotency table holds, and that once the fault is cleared a redelivery of the
same event brings the total to exactly one report. moto answers everything not injected.

Reads (IAM, EC2) are answered at `before-send`, below botocore's retry handler, so a fault that clears
within the SDK's retries is seen as AWS would produce it (botocore's back-off is made instant: no real
sleeping). Writes (SNS, S3, DynamoDB) are answered at `before-call`, as botocore's Stubber does: moto
also sees every `before-send`, and would perform the write the injected error claims did not happen;
these faults are therefore the ones that outlast the SDK's retries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from event_account import SeededAccount, load_event, replay
from event_stack import EventStack, LambdaContext

import rolewatch.delivery
import rolewatch.handlers.event_audit
from rolewatch.settings import EVENT_FUNCTION_REQUIRES, load_settings

# The whole fault suite runs every fault against a full stack (about a minute): `make test` runs it,
# `make unit` leaves it out.
pytestmark = pytest.mark.slow

CONTEXT = LambdaContext()
ATTACH = "iam-attach-role-policy.json"  # ci-deployer attaches AdministratorAccess: one CRITICAL report
RUN_INSTANCES = "ec2-run-instances.json"  # an instance launched with a profile: EC2 is read too


class _Body:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def error_body(service: str, code: str) -> tuple[bytes, dict[str, str]]:
    """An error response in the service's own protocol, as botocore parses it."""
    if service == "dynamodb":
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"})
        return body.encode(), {"Content-Type": "application/x-amz-json-1.0"}
    if service == "ec2":
        xml = f"<Response><Errors><Error><Code>{code}</Code><Message>injected</Message></Error></Errors></Response>"
    elif service == "s3":
        xml = f"<Error><Code>{code}</Code><Message>injected</Message></Error>"
    else:  # iam, sns: the query protocol
        xml = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected</Message></Error>"
            "<RequestId>injected</RequestId></ErrorResponse>"
        )
    return xml.encode(), {"Content-Type": "text/xml"}


WRITES = {"Publish", "PutObject", "PutItem", "UpdateItem", "DeleteItem"}


@dataclass
class Fault:
    service: str
    operation: str
    code: str
    status: int
    times: int | None = None  # None: until cleared
    sent: int = 0
    active: bool = True

    def _due(self) -> bool:
        if not self.active or (self.times is not None and self.sent >= self.times):
            return False
        self.sent += 1
        return True

    def respond(self, request: Any, **_: Any) -> AWSResponse | None:
        """A `before-send` answer: the HTTP error, parsed and retried by botocore as a real one."""
        if not self._due():
            return None
        body, headers = error_body(self.service, self.code)
        return AWSResponse(request.url, self.status, headers, _Body(body))

    def answer(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        """A `before-call` answer (no request is sent, as with Stubber): the parsed error."""
        if not self._due():
            return None
        parsed = {
            "Error": {"Code": self.code, "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": self.status},
        }
        return AWSResponse("https://injected", self.status, {}, None), parsed


@dataclass(frozen=True)
class Case:
    name: str
    event: str
    service: str
    operation: str
    code: str
    status: int
    times: int | None  # None: the fault lasts until cleared
    invocation: str  # "fails" or "completes"
    record: str  # what the idempotency table holds right after: "none", "INPROGRESS", "COMPLETED"
    reports_during: int  # reports published while the fault was active


def iam_read_cases() -> list[Case]:
    reads = [
        "GetRole",
        "ListAttachedRolePolicies",
        "GetPolicy",
        "GetPolicyVersion",
        "ListRolePolicies",
        "GetRolePolicy",
        "ListInstanceProfilesForRole",
    ]
    cases = []
    for op in reads:
        cases.append(Case(f"iam-{op}-throttled", ATTACH, "iam", op, "Throttling", 400, None, "fails", "none", 0))
        cases.append(
            Case(f"iam-{op}-throttled-once", ATTACH, "iam", op, "Throttling", 400, 1, "completes", "COMPLETED", 1)
        )
        cases.append(
            Case(f"iam-{op}-vanished-once", ATTACH, "iam", op, "NoSuchEntity", 404, 1, "completes", "COMPLETED", 1)
        )
        if op == "GetRole":
            # IAM says the role is gone: the audit reports that (unverified claim of the grant), and is done.
            cases.append(
                Case("iam-GetRole-gone", ATTACH, "iam", op, "NoSuchEntity", 404, None, "completes", "COMPLETED", 1)
            )
        else:
            cases.append(Case(f"iam-{op}-vanishing", ATTACH, "iam", op, "NoSuchEntity", 404, None, "fails", "none", 0))
    return cases  # fmt: skip


CASES = [
    *iam_read_cases(),
    Case("sns-publish-unavailable", ATTACH, "sns", "Publish", "InternalError", 500, None, "fails", "none", 0),
    Case("sns-publish-denied", ATTACH, "sns", "Publish", "AuthorizationError", 403, None, "fails", "none", 0),
    Case("sns-publish-throttled", ATTACH, "sns", "Publish", "Throttling", 400, None, "fails", "none", 0),
    Case("s3-overflow-unavailable", ATTACH, "s3", "PutObject", "InternalError", 500, None, "fails", "none", 0),
    Case("s3-overflow-denied", ATTACH, "s3", "PutObject", "AccessDenied", 403, None, "fails", "none", 0),
    Case("dynamodb-put-throttled", ATTACH, "dynamodb", "PutItem", "ProvisionedThroughputExceededException", 400,
         None, "fails", "none", 0),
    Case("dynamodb-put-unavailable", ATTACH, "dynamodb", "PutItem", "InternalServerError", 500, None, "fails",
         "none", 0),
    Case("dynamodb-update-throttled", ATTACH, "dynamodb", "UpdateItem", "ProvisionedThroughputExceededException",
         400, None, "completes", "INPROGRESS", 1),
    Case("dynamodb-update-unavailable", ATTACH, "dynamodb", "UpdateItem", "InternalServerError", 500, None,
         "completes", "INPROGRESS", 1),
    Case("ec2-associations-unavailable", RUN_INSTANCES, "ec2", "DescribeIamInstanceProfileAssociations",
         "InternalError", 500, None, "fails", "none", 0),
    Case("ec2-associations-denied", RUN_INSTANCES, "ec2", "DescribeIamInstanceProfileAssociations",
         "UnauthorizedOperation", 403, None, "fails", "none", 0),
    Case("ec2-associations-throttled-once", RUN_INSTANCES, "ec2", "DescribeIamInstanceProfileAssociations",
         "RequestLimitExceeded", 503, 1, "completes", "COMPLETED", 1),
]  # fmt: skip


@pytest.fixture
def function(function: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The handler of conftest.py, with botocore's retry back-off made instant."""
    module = function

    class _Clock:  # botocore's retry back-off, made instant: the retries happen, the waiting does not
        time = staticmethod(__import__("time").time)

        @staticmethod
        def sleep(_: float) -> None:
            return None

    monkeypatch.setattr(botocore.endpoint, "time", _Clock)
    yield module


def record_state(stack: EventStack) -> str:
    items = stack.idempotency_records()
    assert len(items) <= 1
    return items[0]["status"]["S"] if items else "none"


def expire_in_progress_records(stack: EventStack) -> None:
    """What the passing of the in-progress window does (the function's remaining time at the fault)."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    for item in stack.idempotency_records():
        if item["status"]["S"] == "INPROGRESS":
            dynamodb.update_item(
                TableName=stack.table,
                Key={"id": item["id"]},
                UpdateExpression="SET in_progress_expiration = :past",
                ExpressionAttributeValues={":past": {"N": "1"}},
            )


def inject(function: Any, case: Case) -> Fault:
    service, _ = function.runtime(load_settings(required=EVENT_FUNCTION_REQUIRES))
    fault = Fault(case.service, case.operation, case.code, case.status, case.times)
    client = service.clients.client(case.service)
    model = client.meta.service_model
    if case.operation in WRITES:
        client.meta.events.register_first(f"before-call.{model.service_id.hyphenize()}.{case.operation}", fault.answer)
    else:
        client.meta.events.register_first(f"before-send.{model.endpoint_prefix}.{case.operation}", fault.respond)
    return fault


def prepare(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    if case.service == "s3":  # only a report too large for SNS goes to S3: make every report that large
        monkeypatch.setattr(rolewatch.delivery, "SNS_MESSAGE_LIMIT", 4_096 + 200)
    if case.event == RUN_INSTANCES:  # the launch's audit may find nothing at medium: publish it anyway
        monkeypatch.setenv("PUBLISH_CLEAN", "true")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_fault_loses_no_report_and_publishes_none_twice(
    function: Any, stack: EventStack, account: SeededAccount, case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare(case, monkeypatch)
    event = replay(account, load_event(case.event))
    fault = inject(function, case)

    try:
        outcome = function.handler(event, CONTEXT)
        result = "completes"
    except Exception:
        outcome, result = None, "fails"

    assert fault.sent >= 1, f"{case.operation} was never called: the case tests nothing"
    assert result == case.invocation, outcome
    assert record_state(stack) == case.record
    assert len(stack.messages()) == case.reports_during

    fault.active = False
    if result == "fails":
        expire_in_progress_records(stack)  # Lambda's retry comes after the failed invocation's window
    again = function.handler(event, CONTEXT)
    published_again = len(stack.messages())
    assert case.reports_during + published_again == 1, again
    if case.record == "INPROGRESS":
        # Published, but the record could not be completed: an EventBridge duplicate delivery (seconds
        # later) finds it in progress; only one arriving after the window would audit again (README).
        assert again["status"] == "duplicate-in-progress" and record_state(stack) == "INPROGRESS"
        return
    assert record_state(stack) == "COMPLETED"
    # Any later redelivery is a duplicate.
    assert function.handler(event, CONTEXT)["duplicate"] and stack.messages() == []


def test_a_redelivery_while_the_record_is_in_progress_is_a_counted_duplicate_not_a_failure(
    function: Any, stack: EventStack, account: SeededAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    event = replay(account, load_event(ATTACH))
    case = next(c for c in CASES if c.name == "dynamodb-update-unavailable")
    inject(function, case)
    function.handler(event, CONTEXT)  # published; its record stays in progress
    capsys.readouterr()

    second = function.handler(event, CONTEXT)

    assert second == {"status": "duplicate-in-progress", "duplicate": True}
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert metrics and metrics[-1].get("DuplicateEvents") == [1.0] and "FailedAudits" not in metrics[-1]
    assert len(stack.messages()) == 1


def test_a_failed_audit_whose_record_cannot_be_deleted_is_retried_after_the_in_progress_window(
    function: Any, stack: EventStack, account: SeededAccount
) -> None:
    event = replay(account, load_event(ATTACH))
    sns = inject(function, Case("sns", ATTACH, "sns", "Publish", "InternalError", 500, None, "fails", "none", 0))
    delete = inject(function, Case("ddb", ATTACH, "dynamodb", "DeleteItem", "InternalServerError", 500, None,
                                   "fails", "INPROGRESS", 0))  # fmt: skip

    with pytest.raises(Exception, match=r"idempotency|Failed to delete"):
        function.handler(event, CONTEXT)
    assert record_state(stack) == "INPROGRESS" and stack.messages() == []

    sns.active = delete.active = False
    assert function.handler(event, CONTEXT)["status"] == "duplicate-in-progress"  # still in its window
    expire_in_progress_records(stack)
    assert function.handler(event, CONTEXT)["status"] == "published"
    assert len(stack.messages()) == 1 and record_state(stack) == "COMPLETED"
