"""The weekly account audit end to end against moto: IAM and EC2 read, reports to S3 (SSE-KMS), the summary
to SNS (received through an SQS subscription), the second week's diff, partial failures, the handler
with events/weekly-audit.json, and `rolewatch audit`."""

from __future__ import annotations

import importlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from bs4 import BeautifulSoup
from moto.iam.models import iam_backends

from rolewatch import cli
from rolewatch.account_service import AccountEventError, audit_account, parse_account_event, run_weekly_audit
from rolewatch.analyzer.translate import AnalyzerFinding, summary_finding
from rolewatch.baseline import Profile, load_baseline
from rolewatch.inventory.account_reader import AccountReadError
from rolewatch.inventory.clients import AwsClients
from rolewatch.model import RoleSnapshot, Severity
from rolewatch.settings import Settings
from rolewatch.weekly.store import ReportStoreError, index_key, report_keys

# End to end: the whole-account audit against moto (AWS-managed policies loaded), seconds each.
pytestmark = pytest.mark.slow

ACCOUNT = "123456789012"
BUCKET = "rolewatch-reports-test"
REGIONS = ["us-east-1", "eu-west-1"]
WEEK1 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
WEEK2 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
EVENTS = Path(__file__).resolve().parents[2] / "events"
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
PASS_AND_RUN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["iam:PassRole", "ec2:RunInstances"], "Resource": "*"}],
}
TAGS = [{"Key": "project", "Value": "demo"}, {"Key": "environment", "Value": "prod"}, {"Key": "owner", "Value": "sec"}]


@dataclass
class Account:
    clients: AwsClients
    settings: Settings
    queue_url: str

    def messages(self) -> list[dict[str, Any]]:
        out = []
        while True:
            got = self.clients.client("sqs").receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                return out
            for m in got["Messages"]:
                out.append(json.loads(m["Body"]))
                self.clients.client("sqs").delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])

    def object(self, key: str) -> dict[str, Any]:
        return self.clients.s3.get_object(Bucket=BUCKET, Key=key)

    def json(self, key: str) -> Any:
        return json.loads(self.object(key)["Body"].read())

    def text(self, key: str) -> str:
        return self.object(key)["Body"].read().decode("utf-8")


def add_role(clients: AwsClients, name: str, document: dict | None = None, **extra: Any) -> None:
    clients.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(EC2_TRUST), Tags=TAGS, **extra)
    if document is not None:
        clients.iam.put_role_policy(RoleName=name, PolicyName="main", PolicyDocument=json.dumps(document))


def set_last_used(name: str, when: datetime) -> None:
    backend = iam_backends[ACCOUNT]["global"]
    next(r for r in backend.roles.values() if r.name == name).last_used = when


@pytest.fixture
def account(clients: AwsClients) -> Account:
    clients.s3.create_bucket(Bucket=BUCKET)
    key_id = clients.client("kms").create_key(Description="reports")["KeyMetadata"]["KeyId"]
    topic = clients.sns.create_topic(Name="rolewatch-reports")["TopicArn"]
    sqs = clients.client("sqs")
    queue_url = sqs.create_queue(QueueName="subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    clients.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    add_role(clients, "ops-admin", ADMIN)
    add_role(clients, "app-server")
    add_role(clients, "stale-batch")
    clients.iam.create_instance_profile(InstanceProfileName="app-profile")
    clients.iam.add_role_to_instance_profile(InstanceProfileName="app-profile", RoleName="app-server")
    set_last_used("app-server", datetime.now(UTC) - timedelta(days=1))
    set_last_used("stale-batch", datetime.now(UTC) - timedelta(days=200))
    settings = Settings(
        report_topic_arn=topic, report_bucket=BUCKET, report_kms_key_id=key_id, min_severity=Severity.MEDIUM
    )
    return Account(clients, settings, queue_url)


def weekly(account: Account, now: datetime, **kwargs: Any):
    return run_weekly_audit(account.clients, account.settings, regions=REGIONS, now=now, **kwargs)


# -- the weekly flow -------------------------------------------------------------------------------


def test_the_first_week_stores_both_reports_and_publishes_the_summary(account: Account) -> None:
    outcome = weekly(account, WEEK1)

    json_key, html_key = report_keys(ACCOUNT, "2026-11-23")
    assert (outcome.stored.json_key, outcome.stored.html_key) == (json_key, html_key)
    report = account.json(json_key)
    assert report["schema"] == "rolewatch.report/v1"
    assert report["summary"]["roles"] == 3
    assert report["summary"]["api_calls"]["iam"] == 2  # one GetAccountAuthorizationDetails page + ListRoles
    # The regions were given, so no DescribeRegions: one association chain per region, nothing per role.
    assert report["summary"]["api_calls"]["ec2"] == len(REGIONS)
    # moto lacks Access Analyzer: ListAnalyzers (the account-wide read) and the first policy check each
    # find that out once; nothing is called per role after that.
    assert report["summary"]["api_calls"]["access-analyzer"] == 2
    rules = {(f["resource"].rsplit("/", 1)[-1], f["rule"]) for f in report["findings"]}
    assert ("ops-admin", "admin-access") in rules and ("stale-batch", "unused-role") in rules
    assert ("app-server", "unused-role") not in rules
    assert report["weekly"]["previous"] is None and report["account"]["iam_complete"] is True
    # moto has no Access Analyzer: one info finding says so, and the audit is otherwise complete.
    skipped = [f for f in report["findings"] if f["rule"] == "access-analyzer-skipped"]
    assert len(skipped) == 1 and skipped[0]["resource"] == f"arn:aws:iam::{ACCOUNT}:root"

    for key in (json_key, html_key, index_key(ACCOUNT)):
        head = account.clients.s3.head_object(Bucket=BUCKET, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"].endswith(account.settings.report_kms_key_id or "")
    html = account.text(html_key)
    assert "ops-admin" in html and 'id="trend"' not in html  # no earlier run yet

    index = account.json(index_key(ACCOUNT))
    assert [r["date"] for r in index["runs"]] == ["2026-11-23"] and index["runs"][0]["json"] == json_key

    [message] = account.messages()
    assert message["Subject"].startswith(f"[rolewatch] Weekly audit {ACCOUNT}: ")
    assert len(message["Subject"]) < 100
    attributes = {k: v["Value"] for k, v in message["MessageAttributes"].items()}
    assert attributes["severity"] == "critical" and attributes["account"] == ACCOUNT
    assert attributes["audit"] == "account" and "admin-access" in json.loads(attributes["category"])
    assert "First run for this account" in message["Message"]
    assert "ops-admin" in message["Message"] and f"s3://{BUCKET}/{html_key}" in message["Message"]
    assert outcome.to_dict()["published"] == outcome.delivered.message_id  # type: ignore[union-attr]


def test_the_second_week_reports_new_and_resolved_findings(account: Account) -> None:
    weekly(account, WEEK1)
    account.messages()
    clients = account.clients
    clients.iam.delete_role_policy(RoleName="ops-admin", PolicyName="main")  # fixed
    add_role(clients, "ci-runner", PASS_AND_RUN)  # new risk
    set_last_used("ci-runner", datetime.now(UTC))

    outcome = weekly(account, WEEK2)

    diff = outcome.diff
    assert diff.previous_date == "2026-11-23"
    assert {f.resource.rsplit("/", 1)[-1] for f in diff.new} == {"ci-runner"}
    resolved = {(r["resource"].rsplit("/", 1)[-1], r["rule"]) for r in diff.resolved}
    assert ("ops-admin", "admin-access") in resolved
    assert all(r["resource"].endswith("/ops-admin") for r in diff.resolved)
    assert diff.unchanged > 0  # stale-batch's unused-role and the tag-free roles are still there

    report = account.json(outcome.stored.json_key)
    assert report["diff"]["counts"]["resolved"] == len(diff.resolved)
    assert set(report["diff"]["new"]) == {f.fingerprint for f in diff.new}

    [message] = account.messages()
    text = message["Message"]
    assert f"Since the previous run (2026-11-23): {len(diff.new)} new, {len(diff.resolved)} resolved" in text
    assert "Resolved at medium or above:" in text and "ops-admin" in text.split("Resolved at")[1]
    assert "New at medium or above:" in text and "ci-runner" in text
    assert f"{len(diff.new)} new, {len(diff.resolved)} resolved" in message["Subject"]

    soup = BeautifulSoup(account.text(outcome.stored.html_key), "html.parser")
    changes = soup.select_one("#changes").get_text(" ", strip=True)
    assert f"New: {len(diff.new)}" in changes and f"Resolved: {len(diff.resolved)}" in changes
    assert [t.get_text() for t in soup.select("#trend text") if t.get_text() in ("2026-11-23", "this run")] == [
        "2026-11-23",
        "this run",
    ]
    assert soup.select("#roles details.role h3")[0].get_text() == "ci-runner"  # worst first
    assert len(soup.select("#roles .new")) == len(diff.new)

    index = account.json(index_key(ACCOUNT))
    assert [(r["date"], r["resolved"]) for r in index["runs"]] == [
        ("2026-11-23", 0),
        ("2026-11-30", len(diff.resolved)),
    ]


def test_a_rerun_on_the_same_day_replaces_it_and_still_compares_with_last_week(account: Account) -> None:
    weekly(account, WEEK1)
    weekly(account, WEEK2)
    again = weekly(account, WEEK2 + timedelta(hours=3))
    assert again.diff.previous_date == "2026-11-23"
    assert [r["date"] for r in account.json(index_key(ACCOUNT))["runs"]] == ["2026-11-23", "2026-11-30"]


def test_an_unreadable_index_is_kept_aside_and_a_new_one_started(account: Account) -> None:
    account.clients.s3.put_object(Bucket=BUCKET, Key=index_key(ACCOUNT), Body=b"{not json")
    outcome = weekly(account, WEEK1)
    assert account.object(f"{index_key(ACCOUNT)}.unreadable-2026-11-23")["Body"].read() == b"{not json"
    assert [r["date"] for r in account.json(index_key(ACCOUNT))["runs"]] == ["2026-11-23"]
    assert any("is not a valid index" in n for n in outcome.audit.result.notes)


def test_a_missing_previous_report_means_no_comparison_not_everything_new(account: Account) -> None:
    weekly(account, WEEK1)
    account.clients.s3.delete_object(Bucket=BUCKET, Key=report_keys(ACCOUNT, "2026-11-23")[0])
    outcome = weekly(account, WEEK2)
    assert outcome.diff.first_run and outcome.diff.new == ()
    assert any("no longer exists" in n for n in outcome.audit.result.notes)


def test_a_region_service_that_cannot_be_read_is_reported_and_the_rest_audited(account: Account) -> None:
    with Stubber(account.clients.ec2) as stub:
        stub.add_client_error("describe_regions", "UnauthorizedOperation", "denied by an SCP", 403)
        outcome = run_weekly_audit(account.clients, account.settings, now=WEEK1)
    report = account.json(outcome.stored.json_key)
    assert report["summary"]["roles"] == 3 and any(f["rule"] == "admin-access" for f in report["findings"])
    [problem] = report["account"]["not_read"]
    assert problem["operation"] == "DescribeRegions" and "denied by an SCP" in problem["reason"]
    assert any(e["location"] == "ec2:DescribeRegions@all regions" for e in report["errors"])
    [message] = account.messages()
    assert message["Subject"].endswith("(incomplete)") and "NOT READ (this audit is incomplete)" in message["Message"]
    assert (
        "denied by an SCP"
        in BeautifulSoup(account.text(outcome.stored.html_key), "html.parser").select_one("#not-read").get_text()
    )


def test_nothing_readable_raises_and_publishes_nothing(account: Account) -> None:
    with Stubber(account.clients.iam) as stub:
        stub.add_client_error("get_account_authorization_details", "AccessDenied", "no", 403)
        with pytest.raises(AccountReadError, match="cannot read the account"):
            weekly(account, WEEK1)
    assert account.messages() == []
    assert account.clients.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_a_report_that_cannot_be_stored_raises_before_anything_is_published(account: Account) -> None:
    broken = Settings(**{**account.settings.__dict__, "report_bucket": "no-such-bucket-here"})
    with pytest.raises(ReportStoreError, match="no-such-bucket-here"):
        run_weekly_audit(account.clients, broken, regions=REGIONS, now=WEEK1)
    assert account.messages() == []


def test_a_clean_week_is_stored_but_not_published(account: Account) -> None:
    quiet = Settings(**{**account.settings.__dict__, "min_severity": Severity.CRITICAL})
    account.clients.iam.delete_role_policy(RoleName="ops-admin", PolicyName="main")
    outcome = run_weekly_audit(account.clients, quiet, regions=REGIONS, now=WEEK1)
    assert outcome.delivered is None and account.messages() == []
    assert account.json(outcome.stored.json_key)["summary"]["roles"] == 3


# -- Access Analyzer summaries (from the account-wide read) ------------------------------------------


@pytest.mark.parametrize(
    ("finding_type", "rule", "category"),
    [
        ("ExternalAccess", "access-analyzer-external-access", "access-analyzer"),
        ("UnusedIAMRole", "access-analyzer-unused-role", "unused-access"),
        ("UnusedPermission", "access-analyzer-unused-permission", "unused-access"),
    ],
)
def test_analyzer_summaries_become_findings_with_stable_evidence(finding_type: str, rule: str, category: str) -> None:
    role = RoleSnapshot(arn=f"arn:aws:iam::{ACCOUNT}:role/vendor", name="vendor", trust_policy=EC2_TRUST)
    arn = f"arn:aws:access-analyzer:us-east-1:{ACCOUNT}:analyzer/a"
    summary = AnalyzerFinding(arn, "ACCOUNT", "f-1", finding_type, role.arn, "ACTIVE")
    finding = summary_finding(role, Profile(name="p"), summary)
    assert finding is not None and (finding.rule, finding.category) == (rule, category)
    assert finding.evidence == (f"analyzer={arn}", "finding=f-1")
    assert any("get-finding-v2" in c for c in finding.remediation.cli)
    assert summary_finding(role, Profile(name="p"), AnalyzerFinding(arn, "X", "i", "Other", role.arn, "")) is None


def test_an_on_demand_audit_of_named_roles_keeps_cross_role_context(account: Account) -> None:
    audit = audit_account(account.clients, load_baseline(), role_names=["OPS-ADMIN"], regions=REGIONS)
    assert audit.selected == ("ops-admin",) and audit.result.roles_audited == 1
    assert {f.resource for f in audit.result.findings} == {
        f"arn:aws:iam::{ACCOUNT}:role/ops-admin",
        f"arn:aws:iam::{ACCOUNT}:root",  # the one "Access Analyzer skipped" finding of the account
    }
    with pytest.raises(ValueError, match="no such role in account 123456789012: ghost"):
        audit_account(account.clients, role_names=["ghost"], regions=REGIONS)


# -- the handler and the sample event ---------------------------------------------------------------


@dataclass
class LambdaContext:
    function_name: str = "rolewatch-account-audit"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:rolewatch-account-audit"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


@pytest.fixture
def handler_env(account: Account, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from rolewatch.handlers import account_audit as module

    for name, value in {
        "REPORT_TOPIC_ARN": account.settings.report_topic_arn,
        "REPORT_BUCKET": BUCKET,
        "REPORT_KMS_KEY_ID": account.settings.report_kms_key_id or "",
        "MIN_SEVERITY": "medium",
        "PUBLISH_CLEAN": "false",
        "ACCESS_ANALYZER": "auto",
        "POWERTOOLS_SERVICE_NAME": "rolewatch",
        "POWERTOOLS_METRICS_NAMESPACE": "rolewatch",
    }.items():
        monkeypatch.setenv(name, value)
    # Powertools reads POWERTOOLS_* when the module creates its Metrics/Logger: import it as a cold start would.
    module = importlib.reload(module)
    yield module
    module.runtime.cache_clear()


def test_the_handler_runs_the_weekly_audit_from_the_sample_event(account: Account, handler_env: Any) -> None:
    event = json.loads((EVENTS / "weekly-audit.json").read_text())
    assert parse_account_event(event) == "direct"
    out = handler_env.handler(event, LambdaContext())
    assert out["account"] == ACCOUNT and out["roles"] == 3 and out["published"]
    assert out["api_calls"]["ec2"] >= 2  # DescribeRegions, then one chain per enabled region
    assert account.json(out["report"]["json"])["summary"]["roles"] == 3
    assert len(account.messages()) == 1


def test_the_handler_rejects_what_is_not_an_account_audit_request(handler_env: Any) -> None:
    with pytest.raises(AccountEventError, match="not an account-audit request"):
        handler_env.handler({"roles": ["x"]}, LambdaContext())


@pytest.mark.parametrize(
    ("event", "trigger"),
    [
        ({"mode": "account"}, "direct"),
        ({"mode": "account", "trigger": "schedule"}, "schedule"),
        ({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}, "schedule"),
    ],
)
def test_account_events_are_recognised(event: dict, trigger: str) -> None:
    assert parse_account_event(event) == trigger


@pytest.mark.parametrize("event", [None, [], {"mode": "roles"}, {"mode": "account", "trigger": "cron"}])
def test_other_payloads_are_refused(event: Any) -> None:
    with pytest.raises(AccountEventError):
        parse_account_event(event)


# -- rolewatch audit and the demo's function ----------------------------------------------------------


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_rolewatch_audit_prints_json_with_api_calls(account: Account) -> None:
    code, out, err = run_cli("audit", "--format", "json", "--region", "us-east-1")
    report = json.loads(out)
    assert code == 0 and err == ""
    assert report["summary"]["roles"] == 3 and report["summary"]["api_calls"]["iam"] == 2
    assert report["account"]["id"] == ACCOUNT


def test_rolewatch_audit_writes_html_and_json_to_a_directory(account: Account, tmp_path: Path) -> None:
    code, out, _ = run_cli("audit", "--format", "html", "--out", str(tmp_path), "--fail-on", "critical")
    assert code == 1  # ops-admin has administrator access
    assert "3 roles audited" in out and "report.html" in out
    assert "ops-admin" in (tmp_path / "report.html").read_text() and (tmp_path / "report.json").is_file()


def test_rolewatch_audit_of_named_roles_and_of_a_missing_one(account: Account) -> None:
    code, out, _ = run_cli("audit", "--role", "stale-batch", "--format", "text")
    assert code == 0 and "stale-batch" in out and "ops-admin" not in out
    code, out, err = run_cli("audit", "--role", "ghost")
    assert code == 2 and out == "" and err.strip() == "rolewatch: no such role in account 123456789012: ghost"


def test_rolewatch_check_still_works(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(ADMIN))
    code, out, _ = run_cli("check", str(path), "--format", "json", "--fail-on", "critical")
    assert code == 1 and json.loads(out)["findings"]


def test_the_cli_writes_the_html_and_json_reports(account: Account, tmp_path: Path) -> None:
    written = cli.write_account_reports(audit_account(account.clients), tmp_path / "out", ["html", "json"])
    assert set(written) == {"html", "json"}
    soup = BeautifulSoup(written["html"].read_text(), "html.parser")
    assert soup.select_one("#summary") is not None and "ops-admin" in soup.select_one("#roles").get_text()


def test_an_sns_failure_raises_after_the_reports_are_stored(account: Account) -> None:
    from rolewatch.delivery import DeliveryError

    gone = Settings(**{**account.settings.__dict__, "report_topic_arn": f"arn:aws:sns:us-east-1:{ACCOUNT}:deleted"})
    with pytest.raises(DeliveryError, match="SNS publish"):
        run_weekly_audit(account.clients, gone, regions=REGIONS, now=WEEK1)
    # The full report is kept: the retry (or a person) finds it, and the next week compares with it.
    assert account.json(index_key(ACCOUNT))["runs"][0]["date"] == "2026-11-23"
