"""env.json from a stack's values: what is written, what is refused, where the defaults come from (no AWS)."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import pytest

from rolewatch.local_env import LocalEnvError, local_environments, stack_defaults
from rolewatch.sam_template import StackResource, StackView, load_template

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
STACK = StackView(
    name="rolewatch",
    region="us-east-1",
    account_id=ACCOUNT,
    resources={
        "ReportTopic": StackResource("AWS::SNS::Topic", f"arn:aws:sns:us-east-1:{ACCOUNT}:rolewatch-ReportTopic-X1"),
        "ReportBucket": StackResource("AWS::S3::Bucket", "rolewatch-reportbucket-x1"),
        "ReportKey": StackResource("AWS::KMS::Key", "1234abcd-12ab-34cd-56ef-1234567890ab"),
        "IdempotencyTable": StackResource("AWS::DynamoDB::Table", "rolewatch-IdempotencyTable-X1"),
    },
)


@pytest.fixture(scope="module")
def template() -> dict:
    return load_template(ROOT / "template.yaml")


def test_every_declared_variable_is_written_no_value_as_empty(template: dict) -> None:
    environments = local_environments(template, STACK)
    event = environments["EventAuditFunction"]
    assert event["REPORT_KMS_KEY_ID"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert event["IDEMPOTENCY_TABLE"] == "rolewatch-IdempotencyTable-X1"
    assert event["AWS_ENDPOINT_URL"] == ""
    assert "IDEMPOTENCY_TABLE" not in environments["AccountAuditFunction"]


def test_overrides_apply_to_declared_variables_only(template: dict) -> None:
    pointed = local_environments(template, STACK, overrides={"AWS_ENDPOINT_URL": "http://host.docker.internal:5050"})
    assert {e["AWS_ENDPOINT_URL"] for e in pointed.values()} == {"http://host.docker.internal:5050"}
    with pytest.raises(LocalEnvError, match=r"AWS_ACCESS_KEY_ID is not declared .*sam local invoke would not pass it"):
        local_environments(template, STACK, overrides={"AWS_ACCESS_KEY_ID": "demo"})


def test_a_file_that_would_not_start_a_function_is_refused(template: dict) -> None:
    without_table = copy.deepcopy(template)
    del without_table["Resources"]["EventAuditFunction"]["Properties"]["Environment"]
    with pytest.raises(LocalEnvError, match="EventAuditFunction: the template does not declare IDEMPOTENCY_TABLE"):
        local_environments(without_table, STACK)
    wrong_kind = replace(STACK, resources={**STACK.resources, "ReportTopic": StackResource("AWS::SNS::Topic", "x")})
    with pytest.raises(LocalEnvError, match="REPORT_TOPIC_ARN='x' is not an SNS topic ARN"):
        local_environments(template, wrong_kind)


def test_stack_defaults_follow_sam_deploy_sections_then_global(tmp_path: Path) -> None:
    assert stack_defaults(ROOT / "samconfig.toml") == ("rolewatch", "us-east-1")
    config = tmp_path / "samconfig.toml"
    config.write_text(
        'version = 0.1\n[default.global.parameters]\nstack_name = "a"\nregion = "eu-west-1"\n'
        '[default.deploy.parameters]\nstack_name = "b"\n[prod.deploy.parameters]\nstack_name = "c"\n',
        encoding="utf-8",
    )
    assert stack_defaults(config) == ("b", "eu-west-1")
    assert stack_defaults(config, "prod") == ("c", None)
    assert stack_defaults(tmp_path / "absent.toml") == (None, None)
    config.write_text("[default\n", encoding="utf-8")
    with pytest.raises(LocalEnvError, match=r"samconfig\.toml: cannot read"):
        stack_defaults(config)
