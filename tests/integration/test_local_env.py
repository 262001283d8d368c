"""`rolewatch local-env` against template.yaml deployed in moto's CloudFormation (issue 13, point 1).

The oracle is CloudFormation's own resolution: moto creates the Lambda functions with the Environment it
resolved from the transformed template, and env.json must hold exactly those values for every variable
each function declares (AWS::NoValue, absent when deployed, written empty).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

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

from rolewatch import cli
from rolewatch.sam_template import function_environments, load_template
from rolewatch.settings import REQUIRED_BY_FUNCTION, load_settings

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings(MOTO_SKIPS_TYPES),
    pytest.mark.skipif(not SAM_PYTHON.exists(), reason=".venv-sam (SAM CLI's transform) is absent: `make test`"),
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's template and samconfig.toml, as the working directory."""
    shutil.copy(TEMPLATE, tmp_path / "template.yaml")
    shutil.copy(SAMCONFIG, tmp_path / "samconfig.toml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def local_env(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = cli.main(["local-env", *args], stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


@mock_aws
def test_env_json_holds_the_deployed_value_of_every_declared_variable(project: Path) -> None:
    deploy("rolewatch", parameters={"MinimumSeverity": "high", "PublishCleanAudits": "true"})
    status, out, err = local_env()  # stack name and region from samconfig.toml
    assert (status, err) == (0, ""), err
    assert out.count("\n") == 1 and "stack rolewatch (123456789012, us-east-1)" in out
    written = json.loads((project / "env.json").read_text(encoding="utf-8"))
    declared = function_environments(load_template(TEMPLATE))
    assert set(written) == set(declared) == set(REQUIRED_BY_FUNCTION)
    # An account-mode stack has no OrgAuditFunction: env.json still gives it the stack's values.
    assert set(written) - deployed_functions("rolewatch") == {"OrgAuditFunction"}
    for function, environment in written.items():
        assert set(environment) == set(declared[function])
        if function not in deployed_functions("rolewatch"):
            assert environment["REPORT_BUCKET"] == written["AccountAuditFunction"]["REPORT_BUCKET"]
            continue
        deployed = deployed_environment("rolewatch", function)
        assert set(deployed) <= set(environment)
        assert environment == {name: deployed.get(name, "") for name in environment}, function
        settings = load_settings({**environment, "AWS_SAM_LOCAL": "true"}, required=REQUIRED_BY_FUNCTION[function])
        assert settings.report_topic_arn.startswith("arn:aws:sns:us-east-1:123456789012:rolewatch-ReportTopic-")
        assert settings.report_kms_key_id and settings.report_kms_key_id.startswith("arn:aws:kms:us-east-1:")
        # The stack's parameter values, not the template's defaults.
        assert (environment["MIN_SEVERITY"], environment["PUBLISH_CLEAN"]) == ("high", "true")
        assert environment["AWS_ENDPOINT_URL"] == ""  # AWS::NoValue: the shell's value cannot leak in
    assert written["EventAuditFunction"]["IDEMPOTENCY_TABLE"].startswith("rolewatch-IdempotencyTable-")


@mock_aws
def test_stack_name_and_region_default_to_samconfig_and_options_override_them(project: Path) -> None:
    deploy("rolewatch-staging")
    (project / "samconfig.toml").write_text(
        'version = 0.1\n[default.global.parameters]\nstack_name = "rolewatch-staging"\nregion = "us-east-1"\n'
        '[default.deploy.parameters]\nstack_name = "rolewatch-staging"\n',
        encoding="utf-8",
    )
    assert local_env()[0] == 0
    staging = json.loads((project / "env.json").read_text(encoding="utf-8"))
    assert staging["EventAuditFunction"]["REPORT_TOPIC_ARN"].endswith(
        deployed_environment("rolewatch-staging", "EventAuditFunction")["REPORT_TOPIC_ARN"].rsplit(":", 1)[1]
    )
    status, _, err = local_env("--stack-name", "rolewatch-prod", "--out", "prod.json")
    assert status == 2
    assert err == (
        "rolewatch: stack 'rolewatch-prod' not found in us-east-1: deploy it with `sam deploy`, "
        "or pass --stack-name/--region\n"
    )
    assert not (project / "prod.json").exists()


@mock_aws
def test_a_template_newer_than_the_stack_names_what_the_stack_lacks(project: Path) -> None:
    deploy("rolewatch")
    template = (project / "template.yaml").read_text(encoding="utf-8")
    newer = template.replace(
        "          IDEMPOTENCY_TABLE: !Ref IdempotencyTable\n",
        "          IDEMPOTENCY_TABLE: !Ref IdempotencyTable\n          AUDIT_BUS: !Ref AuditBus\n",
    )
    assert newer != template
    (project / "template.yaml").write_text(newer, encoding="utf-8")
    status, _, err = local_env()
    assert status == 2
    assert err.startswith("rolewatch: EventAuditFunction: AUDIT_BUS: Ref to 'AuditBus', which is neither ")
    assert err.count("\n") == 1
    assert not (project / "env.json").exists()
