"""`python -m rolewatch.demo --serve` in-process (issue 13, point 2): no Docker here, so the functions run in
this process with exactly the environment env.json gives them (plus what SAM itself sets in a container),
against the embedded AWS the server mode keeps running, for every event of events/.

The server is asked to name itself "localhost" in env.json while this process's own clients use
127.0.0.1, so every call the handlers make goes where env.json says.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from event_stack import LambdaContext
from test_sam_local_contract import EVENT_PREFIXES, EVENT_STATUSES, EVENTS_DIR, event_files, import_handler

from rolewatch.demo.embedded_aws import EmbeddedAwsError, embedded_aws
from rolewatch.demo.serve import Served, serving
from rolewatch.demo.subscriber import drain
from rolewatch.sam_template import load_template

pytestmark = pytest.mark.slow
TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
# What SAM sets in the container besides the template's variables (samcli EnvironmentVariables), with the
# dummy credentials the server's printed command uses.
SAM_SETS = {
    "AWS_SAM_LOCAL": "true",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "demo",
    "AWS_SECRET_ACCESS_KEY": "demo",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    env_file = tmp_path_factory.mktemp("serve") / "env.json"
    with serving(env_file, port=0, bind="127.0.0.1", host="localhost") as running:
        yield running


# The demo serves one account (DeploymentMode=account): functions of organization mode only (OrgAuditFunction)
# have nothing to run against until the demo gains its organization mode (issue 11).
ACCOUNT_MODE_FUNCTIONS = [
    f for f in EVENT_PREFIXES if load_template(TEMPLATE)["Resources"][f].get("Condition") != "OrganizationMode"
]
CASES = [(function, path.name) for function in ACCOUNT_MODE_FUNCTIONS for path in event_files(function)]


@pytest.mark.parametrize(("function", "event_file"), CASES)
def test_every_event_runs_with_env_json_against_the_server(
    function: str, event_file: str, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = json.loads(served.env_file.read_text(encoding="utf-8"))[function]
    port = served.aws.endpoint_url.rsplit(":", 1)[1]
    assert environment["AWS_ENDPOINT_URL"] == f"http://localhost:{port}"
    for name, value in {**environment, **SAM_SETS, "AWS_LAMBDA_FUNCTION_NAME": function}.items():
        monkeypatch.setenv(name, value)
    properties = load_template(TEMPLATE)["Resources"][function]["Properties"]
    handler = import_handler(properties["Handler"])
    event = json.loads((EVENTS_DIR / event_file).read_text(encoding="utf-8"))
    try:
        result = handler(event, LambdaContext(function_name=function))
    finally:
        runtime = getattr(sys.modules[handler.__module__], "runtime", None)
        if runtime is not None:
            runtime.cache_clear()
    messages = drain(served.resources.queue_url, served.resources.region)
    json.dumps(result)
    if function == "EventAuditFunction":
        assert result["status"] in EVENT_STATUSES, result
        assert bool(messages) == (result["status"] == "published"), (result, messages)
    else:
        assert messages, result  # the weekly audit always publishes its summary


def test_the_attached_administrator_policy_reaches_the_subscriber(served: Served, monkeypatch: pytest.MonkeyPatch):
    environment = json.loads(served.env_file.read_text(encoding="utf-8"))["EventAuditFunction"]
    for name, value in {**environment, **SAM_SETS, "AWS_LAMBDA_FUNCTION_NAME": "EventAuditFunction"}.items():
        monkeypatch.setenv(name, value)
    handler = import_handler("rolewatch.handlers.event_audit.handler")
    event = json.loads((EVENTS_DIR / "iam-attach-role-policy.json").read_text(encoding="utf-8"))
    event["id"] = event["detail"]["eventID"] = "0f0e0d0c-5e7e-4e57-8000-000000000001"  # not seen before
    role = event["detail"]["requestParameters"]["roleName"]
    boto3.client("iam", region_name="us-east-1").attach_role_policy(
        RoleName=role, PolicyArn=event["detail"]["requestParameters"]["policyArn"]
    )
    try:
        result = handler(event, LambdaContext(function_name="EventAuditFunction"))
    finally:
        sys.modules[handler.__module__].runtime.cache_clear()
    assert result["status"] == "published", result
    messages = drain(served.resources.queue_url, served.resources.region)
    assert any(role in m.message for m in messages), messages


def test_a_busy_port_is_one_line_not_a_hang() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = pytest.raises(
            EmbeddedAwsError, match=rf"cannot listen on 127\.0\.0\.1:{port}: .*choose another --port"
        )
        with refused, embedded_aws(bind="127.0.0.1", port=port):
            pass
