"""The functions' environment: every variable of the contract read, validated, with clear errors."""

from __future__ import annotations

import pytest

from rolewatch.model import Severity
from rolewatch.settings import (
    ACCOUNT_FUNCTION_REQUIRES,
    ConfigurationError,
    Settings,
    load_settings,
)

TOPIC = "arn:aws:sns:us-east-1:123456789012:rolewatch-reports"
COMPLETE = {
    "REPORT_TOPIC_ARN": TOPIC,
    "REPORT_BUCKET": "rolewatch-reports-123456789012",
    "REPORT_KMS_KEY_ID": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "IDEMPOTENCY_TABLE": "rolewatch-idempotency",
    "MIN_SEVERITY": "HIGH",
    "PUBLISH_CLEAN": "true",
    "BASELINE_PATH": "/opt/baseline.yaml",
    "ACCESS_ANALYZER": "off",
}


def test_every_variable_is_read() -> None:
    assert load_settings(COMPLETE) == Settings(
        report_topic_arn=TOPIC,
        report_bucket="rolewatch-reports-123456789012",
        report_kms_key_id=COMPLETE["REPORT_KMS_KEY_ID"],
        idempotency_table="rolewatch-idempotency",
        min_severity=Severity.HIGH,
        publish_clean=True,
        baseline_path="/opt/baseline.yaml",
        access_analyzer="off",
    )


def test_defaults_of_the_optional_variables() -> None:
    required_only = {k: COMPLETE[k] for k in ("REPORT_TOPIC_ARN", "REPORT_BUCKET", "IDEMPOTENCY_TABLE")}
    settings = load_settings({**required_only, "REPORT_KMS_KEY_ID": "", "BASELINE_PATH": ""})
    assert settings.min_severity is Severity.MEDIUM
    assert settings.publish_clean is False
    assert settings.access_analyzer == "auto"
    assert settings.report_kms_key_id is None and settings.baseline_path is None


@pytest.mark.parametrize("name", ["REPORT_TOPIC_ARN", "REPORT_BUCKET", "IDEMPOTENCY_TABLE"])
def test_a_missing_required_variable_is_named(name: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^{name} is not set"):
        load_settings({k: v for k, v in COMPLETE.items() if k != name})


def test_the_account_function_needs_no_idempotency_table() -> None:
    env = {k: v for k, v in COMPLETE.items() if k != "IDEMPOTENCY_TABLE"}
    assert load_settings(env, required=ACCOUNT_FUNCTION_REQUIRES).idempotency_table is None


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("REPORT_TOPIC_ARN", "rolewatch-reports", "not an SNS topic ARN"),
        ("REPORT_TOPIC_ARN", "arn:aws:sqs:us-east-1:123456789012:q", "not an SNS topic ARN"),
        ("REPORT_BUCKET", "Reports_Bucket", "not a valid S3 bucket name"),
        ("IDEMPOTENCY_TABLE", "t", "not a DynamoDB table name"),
        ("MIN_SEVERITY", "urgent", "unknown severity 'urgent'"),
        ("PUBLISH_CLEAN", "maybe", "not a boolean"),
        ("ACCESS_ANALYZER", "on", "not one of: auto, off"),
    ],
)
def test_an_invalid_value_is_named_with_what_was_expected(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=name) as raised:
        load_settings({**COMPLETE, name: value})
    assert message in str(raised.value)


def test_a_table_arn_is_accepted() -> None:
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/rolewatch-idempotency"
    assert load_settings({**COMPLETE, "IDEMPOTENCY_TABLE": arn}).idempotency_table == arn


# -- under `sam local invoke` (AWS_SAM_LOCAL=true) ------------------------------------------------------

SAM_LOCAL = {"AWS_SAM_LOCAL": "true"}


@pytest.mark.parametrize(
    ("name", "placeholder"),
    [
        ("REPORT_TOPIC_ARN", "ReportTopic"),
        ("REPORT_BUCKET", "ReportBucket"),
        ("REPORT_KMS_KEY_ID", "arn:aws:lambda:us-east-1:123456789012:function:ReportKey"),  # !GetAtt ReportKey.Arn
        ("REPORT_KMS_KEY_ID", "$ReportKey.KeyId"),
        ("IDEMPOTENCY_TABLE", "IdempotencyTable"),
    ],
)
def test_a_sam_placeholder_fails_with_one_line_naming_local_env(name: str, placeholder: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings({**COMPLETE, **SAM_LOCAL, name: placeholder})
    message = str(refused.value)
    assert "\n" not in message
    assert f"{name}={placeholder!r}" in message and "run `rolewatch local-env`" in message


def test_every_placeholder_is_named_in_the_one_line() -> None:
    placeholders = {"REPORT_TOPIC_ARN": "ReportTopic", "REPORT_BUCKET": "ReportBucket", "IDEMPOTENCY_TABLE": "T1"}
    with pytest.raises(ConfigurationError, match="REPORT_TOPIC_ARN='ReportTopic', REPORT_BUCKET='ReportBucket', "):
        load_settings({**COMPLETE, **SAM_LOCAL, **placeholders})


def test_outside_sam_local_a_logical_id_table_name_is_a_valid_name() -> None:
    # Why the check keys on AWS_SAM_LOCAL: "IdempotencyTable" is a legal DynamoDB table name.
    assert load_settings({**COMPLETE, "IDEMPOTENCY_TABLE": "IdempotencyTable"}).idempotency_table == "IdempotencyTable"


@pytest.mark.parametrize(
    "values",
    [
        COMPLETE,
        {**COMPLETE, "IDEMPOTENCY_TABLE": "rolewatch-IdempotencyTable-1A2B3C4D5E6F", "REPORT_KMS_KEY_ID": ""},
        {**COMPLETE, "REPORT_KMS_KEY_ID": "1234abcd-12ab-34cd-56ef-1234567890ab", "REPORT_BUCKET": "reports"},
        {**COMPLETE, "REPORT_KMS_KEY_ID": "alias/rolewatch-reports", "IDEMPOTENCY_TABLE": "idempotency"},
    ],
)
def test_real_values_pass_under_sam_local(values: dict[str, str]) -> None:
    assert load_settings({**values, **SAM_LOCAL}).report_topic_arn == TOPIC


def test_organization_mode_is_read_with_its_reader_role_and_organization() -> None:
    settings = load_settings(
        {
            **COMPLETE,
            "DEPLOYMENT_MODE": "Organization",
            "READER_ROLE_NAME": "sec-reader",
            "ORGANIZATION_ID": "o-a1b2c3d4e5",
        }
    )
    assert settings.organization
    assert (settings.reader_role_name, settings.organization_id) == ("sec-reader", "o-a1b2c3d4e5")
    default = load_settings(COMPLETE)
    assert not default.organization and default.reader_role_name == "rolewatch-reader"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEPLOYMENT_MODE", "org", "is not one of: account, organization"),
        ("READER_ROLE_NAME", "no/slash", "is not an IAM role name"),
        ("ORGANIZATION_ID", "123456789012", "is not an organization id"),
    ],
)
def test_invalid_organization_settings_are_named(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{name}=.*{message}"):
        load_settings({**COMPLETE, name: value})
