"""The Lambda functions' configuration, read from the environment once per cold start and validated.

The variable names are a contract with template.yaml (each function's Environment). A missing or invalid value
raises `ConfigurationError` naming the variable, what it holds and what was expected, so a bad deploy
fails at its first (cold) invocation with one readable line instead of publishing nothing or too much.
Under `sam local invoke` (AWS_SAM_LOCAL=true) a variable that names one of the stack's resources and
still holds SAM CLI's placeholder for it fails the same way, saying to run `rolewatch local-env`.
Pure: no AWS calls.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from rolewatch.model import Severity

REPORT_TOPIC_ARN = "REPORT_TOPIC_ARN"
REPORT_BUCKET = "REPORT_BUCKET"
REPORT_KMS_KEY_ID = "REPORT_KMS_KEY_ID"
IDEMPOTENCY_TABLE = "IDEMPOTENCY_TABLE"
MIN_SEVERITY = "MIN_SEVERITY"
PUBLISH_CLEAN = "PUBLISH_CLEAN"
BASELINE_PATH = "BASELINE_PATH"
ACCESS_ANALYZER = "ACCESS_ANALYZER"
SECURITY_HUB = "SECURITY_HUB"
AUDIT_EVENT_BUS = "AUDIT_EVENT_BUS"
CHAT_TOPIC_ARN = "CHAT_TOPIC_ARN"  # optional: Amazon Q Developer in chat applications custom notifications
# Organization mode (README, "The whole organization"): which accounts the functions read, and how.
DEPLOYMENT_MODE = "DEPLOYMENT_MODE"
READER_ROLE_NAME = "READER_ROLE_NAME"
ORGANIZATION_ID = "ORGANIZATION_ID"

# What each function cannot run without (the others have defaults).
EVENT_FUNCTION_REQUIRES: frozenset[str] = frozenset({REPORT_TOPIC_ARN, REPORT_BUCKET, IDEMPOTENCY_TABLE})
ACCOUNT_FUNCTION_REQUIRES: frozenset[str] = frozenset({REPORT_TOPIC_ARN, REPORT_BUCKET})
# The same, by the function's logical id in template.yaml (what `rolewatch local-env` and its tests check).
REQUIRED_BY_FUNCTION: dict[str, frozenset[str]] = {
    "EventAuditFunction": EVENT_FUNCTION_REQUIRES,
    "AccountAuditFunction": ACCOUNT_FUNCTION_REQUIRES,
    "OrgAuditFunction": ACCOUNT_FUNCTION_REQUIRES,  # organization mode only: the weekly state machine's steps
}
# The variables whose value is one of the stack's own resources (a !Ref or !GetAtt in template.yaml).
RESOURCE_SETTINGS = (REPORT_TOPIC_ARN, REPORT_BUCKET, REPORT_KMS_KEY_ID, IDEMPOTENCY_TABLE)
SAM_LOCAL = "AWS_SAM_LOCAL"  # set to "true" by `sam local invoke` in the function's container

ACCESS_ANALYZER_MODES = ("auto", "off")
DEPLOYMENT_MODES = ("account", "organization")
DEFAULT_READER_ROLE = "rolewatch-reader"
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_ORGANIZATION_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
# S3 bucket naming rules (lowercase letters, digits, dots, hyphens; 3-63; starts and ends alphanumeric).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# What SAM CLI puts where the template refers to one of the stack's own resources and no --env-vars value
# replaces it (samcli.lib.intrinsic_resolver.intrinsics_symbol_table): the logical id for !Ref, a Lambda
# function ARN named after the logical id for !GetAtt X.Arn, "$X.Attribute" for other attributes. A logical
# id is letters and digits only (with a capital, as template.yaml writes them); the real values are ARNs,
# key ids and CloudFormation-generated names with ":", "/" or "-", and bucket names are lowercase.
_SAM_PLACEHOLDERS = (
    re.compile(r"^(?=[A-Za-z0-9]*[A-Z])[A-Za-z][A-Za-z0-9]*$"),
    re.compile(r"^arn:aws:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z][A-Za-z0-9]*$"),
    re.compile(r"^\$[A-Za-z][A-Za-z0-9]*\.[A-Za-z0-9.]+$"),
)
# EventBridge bus names (1-256 of [A-Za-z0-9._-/]) or a bus ARN; "off" puts no audit event.
_EVENT_BUS = re.compile(
    r"^([A-Za-z0-9._/-]{1,256}|arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus/[A-Za-z0-9._/-]{1,256})$"
)
# DynamoDB table names: 3-255 of [a-zA-Z0-9_.-]; an ARN is accepted too.
_TABLE = re.compile(r"^([A-Za-z0-9_.-]{3,255}|arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/[A-Za-z0-9_.-]{3,255})$")


class ConfigurationError(ValueError):
    """An environment variable is missing or invalid; the message names it."""


@dataclass(frozen=True)
class Settings:
    report_topic_arn: str
    report_bucket: str | None = None
    report_kms_key_id: str | None = None  # None: the bucket's default encryption key
    idempotency_table: str | None = None
    min_severity: Severity = Severity.MEDIUM
    publish_clean: bool = False
    baseline_path: str | None = None  # None: the shipped default baseline
    access_analyzer: str = "auto"
    security_hub: bool = False  # import findings into Security Hub (ASFF), off unless the stack enables it
    audit_event_bus: str | None = "default"  # where the audit-result event goes; None: no event
    chat_topic_arn: str | None = None  # None: no chat notifications
    deployment_mode: str = "account"  # organization: events and weekly items name the account to read
    reader_role_name: str = DEFAULT_READER_ROLE  # the member stack's role, assumed in organization mode
    organization_id: str | None = None

    @property
    def organization(self) -> bool:
        return self.deployment_mode == "organization"


def load_settings(
    environ: Mapping[str, str] | None = None, *, required: Collection[str] = EVENT_FUNCTION_REQUIRES
) -> Settings:
    """The settings from `environ` (default: os.environ). Raises ConfigurationError."""
    env = os.environ if environ is None else environ
    _refuse_sam_placeholders(env)

    def value(name: str) -> str | None:
        text = env.get(name, "").strip()
        if not text and name in required:
            raise ConfigurationError(f"{name} is not set: the function needs it (see template.yaml)")
        return text or None

    topic = value(REPORT_TOPIC_ARN)
    if topic is not None and not _TOPIC_ARN.match(topic):
        raise ConfigurationError(f"{REPORT_TOPIC_ARN}={topic!r} is not an SNS topic ARN")
    bucket = value(REPORT_BUCKET)
    if bucket is not None and not _BUCKET.match(bucket):
        raise ConfigurationError(f"{REPORT_BUCKET}={bucket!r} is not a valid S3 bucket name")
    chat_topic = value(CHAT_TOPIC_ARN)
    if chat_topic is not None and not _TOPIC_ARN.match(chat_topic):
        raise ConfigurationError(f"{CHAT_TOPIC_ARN}={chat_topic!r} is not an SNS topic ARN")
    table = value(IDEMPOTENCY_TABLE)
    if table is not None and not _TABLE.match(table):
        raise ConfigurationError(f"{IDEMPOTENCY_TABLE}={table!r} is not a DynamoDB table name or ARN")
    reader_role = value(READER_ROLE_NAME) or DEFAULT_READER_ROLE
    if not _ROLE_NAME.match(reader_role):
        raise ConfigurationError(f"{READER_ROLE_NAME}={reader_role!r} is not an IAM role name")
    organization_id = value(ORGANIZATION_ID)
    if organization_id is not None and not _ORGANIZATION_ID.match(organization_id):
        raise ConfigurationError(f"{ORGANIZATION_ID}={organization_id!r} is not an organization id (o-...)")
    return Settings(
        report_topic_arn=topic or "",
        report_bucket=bucket,
        report_kms_key_id=value(REPORT_KMS_KEY_ID),
        idempotency_table=table,
        min_severity=_severity(value(MIN_SEVERITY) or Severity.MEDIUM.value),
        publish_clean=_boolean(PUBLISH_CLEAN, value(PUBLISH_CLEAN) or "false"),
        baseline_path=value(BASELINE_PATH),
        access_analyzer=_choice(ACCESS_ANALYZER, value(ACCESS_ANALYZER) or "auto", ACCESS_ANALYZER_MODES),
        security_hub=_boolean(SECURITY_HUB, value(SECURITY_HUB) or "false"),
        audit_event_bus=_event_bus(value(AUDIT_EVENT_BUS) or "default"),
        chat_topic_arn=chat_topic,
        deployment_mode=_choice(DEPLOYMENT_MODE, value(DEPLOYMENT_MODE) or "account", DEPLOYMENT_MODES),
        reader_role_name=reader_role,
        organization_id=organization_id,
    )


def _event_bus(text: str) -> str | None:
    if text.lower() == "off":
        return None
    if not _EVENT_BUS.match(text):
        raise ConfigurationError(f"{AUDIT_EVENT_BUS}={text!r} is not an EventBridge bus name or ARN (or off)")
    return text


def _refuse_sam_placeholders(env: Mapping[str, str]) -> None:
    """Under `sam local invoke`, the stack's resources must have come from env.json, not SAM's stand-ins."""
    if env.get(SAM_LOCAL, "").strip().lower() != "true":
        return
    held = {
        name: env[name].strip()
        for name in RESOURCE_SETTINGS
        if any(p.match(env.get(name, "").strip()) for p in _SAM_PLACEHOLDERS)
    }
    if held:
        values = ", ".join(f"{name}={value!r}" for name, value in held.items())
        what = "SAM CLI's placeholder" + ("s" if len(held) > 1 else "")
        raise ConfigurationError(
            f"sam local invoke: {values}: {what} for the stack's resources, not their values; "
            "run `rolewatch local-env` (deployed stack) or `make demo-serve` (embedded AWS) to write env.json, "
            "then invoke again"
        )


def _severity(text: str) -> Severity:
    try:
        return Severity.parse(text)
    except ValueError as exc:
        raise ConfigurationError(f"{MIN_SEVERITY}: {exc}") from None


def _boolean(name: str, text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(f"{name}={text!r} is not a boolean (expected true or false)")


def _choice(name: str, text: str, choices: tuple[str, ...]) -> str:
    lowered = text.lower()
    if lowered not in choices:
        raise ConfigurationError(f"{name}={text!r} is not one of: {', '.join(choices)}")
    return lowered
