"""The weekly organization run in the embedded AWS: the real state machine definition, run by moto's
Step Functions interpreter, whose Lambda tasks run the real OrgAuditFunction handler in this process.

- **The definition** is statemachine/organization_audit.asl.json with `${OrgAuditFunctionArn}`
  substituted as SAM's DefinitionSubstitutions would; the execution's input is the schedule's
  (`OrganizationWeeklyAudit`'s Target Input in template.yaml, with the parameters' defaults).
- **The interpreter.** moto runs an execution only with its `stepfunctions.execute_state_machine`
  setting on; its Lambda runs code only in Docker unless `lambda.use_docker` is off, and then answers
  invocations from `LambdaSimpleBackend.invoke`. While the run lasts both settings are on (the embedded
  server's /moto-api/config) and that method is replaced by `LambdaDispatch`, which does what the Lambda
  runtime does: the JSON payload to the handler, its JSON result back, an exception as an "Unhandled"
  function error. The interpreter calls the embedded server at localhost:$MOTO_PORT, so the port is set.
- **Why the interpreter and not the steps one by one:** the whole run over four accounts takes about a
  second of the demo's time (measured: 1.9 s for the same run in test_org_weekly_state_machine.py), and
  it shows the definition's wiring (ItemReader, ItemSelector, MaxConcurrencyPath, Retry, Catch) working.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3

from rolewatch.demo.account import REPO_ROOT
from rolewatch.demo.embedded_aws import EmbeddedAws, environment
from rolewatch.demo.invoke import Handler, LambdaContext, LogSink

DEFINITION = REPO_ROOT / "statemachine" / "organization_audit.asl.json"
FUNCTION = "OrgAuditFunction"
SCHEDULE = "OrganizationWeeklyAudit"
STATE_MACHINE = "rolewatch-organization-audit"
MEMORY_MB = 1024  # template.yaml's OrgAuditFunction
TIMEOUT_SECONDS = 900
RUN_LIMIT_SECONDS = 600.0  # the demo gives up waiting after this (a run takes seconds)
POLL_SECONDS = 0.1
# The schedule's input when template.yaml cannot give it (its parameters' defaults).
DEFAULT_INPUT: dict[str, Any] = {
    "selection": {"include_ous": "", "include_accounts": "", "exclude_ous": "", "exclude_accounts": ""},
    "max_concurrency": 10,
    "tolerated_failure_percentage": 10,
    "publish_account_summaries": False,
}
_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9:]+)\}")


class OrgRunError(RuntimeError):
    """The state machine could not be deployed or its run did not end in time."""


@dataclass
class Invocation:
    step: str
    account_id: str
    seconds: float
    error: str = ""


@dataclass
class LambdaDispatch:
    """What the embedded Lambda does with an invocation of OrgAuditFunction: run the real handler."""

    handler: Handler
    context: LambdaContext
    sink: LogSink
    invocations: list[Invocation] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def invoke(self, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any) -> bytes:
        """LambdaSimpleBackend.invoke's signature (bound here, so moto's backend is not passed)."""
        event = json.loads(body)
        # One at a time: the handler's log goes to one sink, and the demo is about outcomes, not speed.
        with self._lock:
            started = time.perf_counter()
            try:
                result = json.dumps(self.handler(event, self.context)).encode()
                error = ""
            except Exception as exc:  # the Lambda runtime reports an uncaught exception as a function error
                response_headers["x-amz-function-error"] = "Unhandled"
                result = json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()
                error = f"{type(exc).__name__}: {exc}"
            self.invocations.append(
                Invocation(
                    str(event.get("step", "?")), str(event.get("account_id", "")), time.perf_counter() - started, error
                )
            )
        return result


def _moto_config(endpoint_url: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Sets (POST) the embedded server's settings and returns them as they were before."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with direct.open(f"{endpoint_url}/moto-api/config", timeout=10) as response:
        before = json.loads(response.read())
    request = urllib.request.Request(f"{endpoint_url}/moto-api/config", method="POST", data=json.dumps(config).encode())
    with direct.open(request, timeout=10):
        pass
    return {key: before.get(key, {}) for key in config}


@contextmanager
def interpreter(aws: EmbeddedAws, dispatch: LambdaDispatch) -> Iterator[None]:
    """moto's Step Functions interpreter on, its Lambda answering through `dispatch`, until the block ends."""
    from moto.awslambda_simple.models import LambdaSimpleBackend  # dev dependency, as embedded_aws's

    port = aws.endpoint_url.rsplit(":", 1)[1]
    before = _moto_config(
        aws.endpoint_url, {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    )
    original = LambdaSimpleBackend.invoke
    LambdaSimpleBackend.invoke = dispatch.invoke  # type: ignore[assignment, method-assign]
    try:
        with environment({"MOTO_PORT": port}):
            yield
    finally:
        LambdaSimpleBackend.invoke = original  # type: ignore[method-assign]
        _moto_config(aws.endpoint_url, before)


def schedule_input(template: Mapping[str, Any] | None) -> tuple[dict[str, Any], str]:
    """The input OrganizationWeeklyAudit gives the state machine, and where it came from."""
    resource = ((template or {}).get("Resources") or {}).get(SCHEDULE) or {}
    text = ((resource.get("Properties") or {}).get("Target") or {}).get("Input")
    if isinstance(text, dict) and isinstance(text.get("Fn::Sub"), str):
        parameters = (template or {}).get("Parameters") or {}

        def default(match: re.Match[str]) -> str:
            return str((parameters.get(match.group(1)) or {}).get("Default", match.group(0)))

        try:
            return json.loads(_SUB_NAME.sub(default, text["Fn::Sub"])), f"template.yaml ({SCHEDULE}, defaults)"
        except ValueError:
            pass
    return dict(DEFAULT_INPUT), "the parameters' documented defaults (template.yaml's schedule not readable)"


@dataclass(frozen=True)
class Execution:
    arn: str
    status: str
    output: dict[str, Any]
    error: str
    seconds: float
    history: tuple[str, ...]  # event types, in order


def deploy_and_run(region: str, role_arn: str, run_input: Mapping[str, Any], name: str) -> Execution:
    """The function and the state machine created as the stack would, one execution run to its end."""
    lam = boto3.client("lambda", region_name=region)
    function_arn = lam.create_function(
        FunctionName=f"rolewatch-{FUNCTION}",
        Runtime="python3.13",
        Role=role_arn,
        Handler="rolewatch.handlers.org_audit.handler",
        Code={"ZipFile": b"run in the demo's process by LambdaDispatch"},
        MemorySize=MEMORY_MB,
        Timeout=TIMEOUT_SECONDS,
    )["FunctionArn"]
    try:
        definition = DEFINITION.read_text(encoding="utf-8").replace("${OrgAuditFunctionArn}", function_arn)
    except OSError as exc:
        raise OrgRunError(f"{DEFINITION}: {exc}") from None
    sfn = boto3.client("stepfunctions", region_name=region)
    machine = sfn.create_state_machine(name=STATE_MACHINE, definition=definition, roleArn=role_arn)["stateMachineArn"]
    started = time.perf_counter()
    arn = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(run_input))["executionArn"]
    # moto runs the execution on a thread of its own: wait for its end.
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        if time.perf_counter() - started > RUN_LIMIT_SECONDS:
            raise OrgRunError(f"the execution {name} did not end within {RUN_LIMIT_SECONDS:.0f} s")
        time.sleep(POLL_SECONDS)
    seconds = time.perf_counter() - started
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return Execution(
        arn=arn,
        status=str(described["status"]),
        output=json.loads(described.get("output") or "{}"),
        error=" ".join(str(described.get(k, "")) for k in ("error", "cause")).strip(),
        seconds=seconds,
        history=tuple(str(e["type"]) for e in events),
    )
