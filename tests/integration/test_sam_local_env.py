"""What `sam local invoke` gives each function, computed by SAM CLI's own code (issue 13, point 3).

sam_resolved_environment.py runs in .venv-sam (SAM CLI's virtualenv) the steps of `sam local invoke` up to
the Docker container: samconfig.toml's local_invoke section, the function provider, env.json, and the
environment resolution. Its answer is checked here against rolewatch.settings, the code each function runs
at its cold start under AWS_SAM_LOCAL=true (which SAM sets):

- without env.json, every variable naming one of the stack's resources holds SAM's placeholder (the
  logical id for !Ref, a Lambda ARN named after it for !GetAtt), and the functions refuse to start,
  saying to run `rolewatch local-env`;
- with the env.json `rolewatch local-env` writes from a deployed stack (moto's CloudFormation), every
  variable holds the deployed function's value and the settings load;
- with the env.json `python -m rolewatch.demo --serve` writes, the functions are pointed at the embedded
  AWS as a container reaches it; credentials come from the invoking shell, never from env.json.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from sam_stack import (
    MOTO_SKIPS_TYPES,
    SAM_PYTHON,
    SAMCONFIG,
    TEMPLATE,
    deploy,
    deployed_environment,
    deployed_functions,
)

from rolewatch.demo.serve import serving
from rolewatch.local_env import local_environments, read_stack, write_env_file
from rolewatch.sam_template import function_environments, load_template
from rolewatch.settings import REQUIRED_BY_FUNCTION, RESOURCE_SETTINGS, ConfigurationError, load_settings

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings(MOTO_SKIPS_TYPES),
    pytest.mark.skipif(not SAM_PYTHON.exists(), reason=".venv-sam (SAM CLI) is absent: `make test` creates it"),
]
SCRIPT = Path(__file__).with_name("sam_resolved_environment.py")
# The invoking shell: no credentials or config of this machine, so SAM's own defaults show.
SHELL = {"PATH": os.environ.get("PATH", ""), "SAM_CLI_TELEMETRY": "0", "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(TEMPLATE, tmp_path / "template.yaml")
    shutil.copy(SAMCONFIG, tmp_path / "samconfig.toml")
    return tmp_path


def sam_environments(project: Path, *flags: str, shell: dict[str, str] | None = None) -> dict[str, Any]:
    environment = {
        **SHELL,
        "HOME": str(project),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        **(shell or {}),
    }
    done = subprocess.run(
        [str(SAM_PYTHON), str(SCRIPT), str(project), *flags],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_without_env_json_the_functions_get_placeholders_and_refuse_them(project: Path) -> None:
    template = load_template(TEMPLATE)
    declared = function_environments(template)
    resolved = sam_environments(project, "--no-env-vars")
    assert resolved["samconfig_env_vars"] == "env.json"  # what `sam local invoke` reads unless told otherwise
    functions = resolved["functions"]
    assert set(functions) == set(declared) == set(REQUIRED_BY_FUNCTION)
    for function, environment in functions.items():
        assert environment["AWS_SAM_LOCAL"] == "true"
        references = {
            name: value["Ref"]
            for name, value in declared[function].items()
            if isinstance(value, dict) and value.get("Ref") in template["Resources"]
        }
        assert references, function
        for name, logical_id in references.items():
            assert environment[name] == logical_id, (function, name)  # SAM's placeholder: the logical id
        # !GetAtt ReportKey.Arn: SAM makes up a Lambda function ARN named after the key's logical id.
        assert environment["REPORT_KMS_KEY_ID"] == "arn:aws:lambda:us-east-1:123456789012:function:ReportKey"
        with pytest.raises(ConfigurationError) as refused:
            load_settings(environment, required=REQUIRED_BY_FUNCTION[function])
        message = str(refused.value)
        assert "\n" not in message and "run `rolewatch local-env`" in message
        assert all(f"{name}=" in message for name in RESOURCE_SETTINGS if name in environment)
    # Without the check, a placeholder table name would pass validation and fail at the first DynamoDB call.
    event = functions["EventAuditFunction"]
    assert event["IDEMPOTENCY_TABLE"] == "IdempotencyTable"


@mock_aws
def test_with_the_deployed_env_json_every_variable_is_the_deployed_value(project: Path) -> None:
    deploy("rolewatch")
    stack = read_stack(boto3.client("cloudformation", region_name="us-east-1"), "rolewatch")
    write_env_file(project / "env.json", local_environments(load_template(TEMPLATE), stack))
    functions = sam_environments(project)["functions"]
    declared = function_environments(load_template(TEMPLATE))
    deployed_ones = deployed_functions("rolewatch")
    assert set(functions) - deployed_ones == {"OrgAuditFunction"}  # organization mode only
    for function, environment in functions.items():
        if function not in deployed_ones:
            continue
        deployed = deployed_environment("rolewatch", function)
        assert {name: environment[name] for name in declared[function]} == {
            name: deployed.get(name, "") for name in declared[function]
        }, function
        settings = load_settings(environment, required=REQUIRED_BY_FUNCTION[function])
        assert settings.report_topic_arn == deployed["REPORT_TOPIC_ARN"]
        assert settings.report_bucket == deployed["REPORT_BUCKET"]
        assert settings.report_kms_key_id == deployed["REPORT_KMS_KEY_ID"]
        assert settings.idempotency_table == deployed.get("IDEMPOTENCY_TABLE")
    assert functions["EventAuditFunction"]["IDEMPOTENCY_TABLE"].startswith("rolewatch-IdempotencyTable-")


def test_with_the_embedded_env_json_the_functions_reach_the_server(project: Path) -> None:
    with serving(project / "env.json", port=0, bind="127.0.0.1") as served:
        port = served.aws.endpoint_url.rsplit(":", 1)[1]
        functions = sam_environments(project, shell={"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo"})[
            "functions"
        ]
        resources = served.resources
    for function, environment in functions.items():
        assert environment["AWS_ENDPOINT_URL"] == f"http://host.docker.internal:{port}"
        assert environment["ACCESS_ANALYZER"] == "off"
        # Credentials are the invoking shell's: SAM passes no --env-vars value for them.
        assert (environment["AWS_ACCESS_KEY_ID"], environment["AWS_SECRET_ACCESS_KEY"]) == ("demo", "demo")
        settings = load_settings(environment, required=REQUIRED_BY_FUNCTION[function])
        assert (settings.report_topic_arn, settings.report_bucket) == (resources.topic_arn, resources.bucket)
        assert settings.report_kms_key_id == resources.key_arn
    assert functions["EventAuditFunction"]["IDEMPOTENCY_TABLE"] == resources.table
    # A value for an undeclared name, or for the credentials, in env.json is dropped by SAM.
    written = json.loads((project / "env.json").read_text(encoding="utf-8"))
    written["EventAuditFunction"] |= {"AWS_ACCESS_KEY_ID": "from-env-json", "NOT_DECLARED": "x"}
    (project / "env.json").write_text(json.dumps(written), encoding="utf-8")
    event = sam_environments(project)["functions"]["EventAuditFunction"]
    assert event["AWS_ACCESS_KEY_ID"] == "defaultkey" and "NOT_DECLARED" not in event
