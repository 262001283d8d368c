"""Security Hub life cycle against moto (BatchImportFindings, GetFindings), faults through botocore's Stubber.

moto 5.2.5 upserts by Id but ignores GetFindings' Filters (it returns every finding): the archive step
is tested there, with findings of other roles, accounts and products present that must stay untouched.
What moto cannot do (the filters AWS applies, Security Hub not enabled, throttling, FailedFindings)
is tested with the Stubber, which also checks every request against botocore's model.
"""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest
from botocore.stub import ANY, Stubber
from helpers import NOW

from rolewatch.integrations.security_hub import BATCH_SIZE, MAX_ATTEMPTS, Scope, SecurityHubSync
from rolewatch.model import Finding, Remediation, Severity
from rolewatch.report.render_asff import finding_id, product_arn, to_asff

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
LATER = NOW + timedelta(days=1)


def finding(role: str = "app", rule: str = "admin-access", evidence: str = "AdministratorAccess", **kw) -> Finding:
    fields = {
        "rule": rule,
        "category": "admin-access",
        "severity": Severity.CRITICAL,
        "resource": f"arn:aws:iam::{ACCOUNT}:role/{role}",
        "title": "Role has administrator access",
        "detail": "Action * on Resource *.",
        "remediation": Remediation("Detach it."),
        "evidence": (evidence,),
    }
    return Finding(**{**fields, **kw})


@pytest.fixture
def hub(aws):
    client = boto3.client("securityhub", region_name=REGION)
    client.enable_security_hub()
    return client


def stored(client) -> dict[str, dict]:
    return {f["Id"]: f for f in client.get_findings()["Findings"]}


def sync_roles(client, findings, *names: str, now=NOW, sleep=None):
    sync = SecurityHubSync(client, account_id=ACCOUNT, region=REGION, sleep=sleep or (lambda _: None))
    return sync.sync(findings, Scope.roles(ACCOUNT, names), now=now)


def test_findings_are_imported_then_updated_in_place(hub):
    first = sync_roles(hub, [finding()], "app")
    assert (first.status, first.sent, first.archived) == ("delivered", 1, 0)
    again = sync_roles(hub, [finding(detail="Still administrator.")], "app", now=LATER)
    assert (again.status, again.sent) == ("delivered", 1)
    [only] = stored(hub).values()
    assert only["Id"] == finding_id(finding())
    assert only["Description"] == "Still administrator."
    assert only["CreatedAt"] == "2026-11-22T12:00:00Z" and only["UpdatedAt"] == "2026-11-23T12:00:00Z"
    assert only["FirstObservedAt"] == "2026-11-22T12:00:00Z"
    assert only["RecordState"] == "ACTIVE"


def test_a_finding_no_longer_produced_is_archived_and_passed(hub):
    fixed, still = finding(), finding(rule="service-wildcard", category="service-wildcard", severity=Severity.MEDIUM)
    sync_roles(hub, [fixed, still], "app")
    outcome = sync_roles(hub, [still], "app", now=LATER)
    assert (outcome.status, outcome.sent, outcome.archived) == ("delivered", 1, 1)
    findings = stored(hub)
    archived = findings[finding_id(fixed)]
    assert (archived["RecordState"], archived["Compliance"]["Status"]) == ("ARCHIVED", "PASSED")
    assert archived["UpdatedAt"] == "2026-11-23T12:00:00Z"
    assert findings[finding_id(still)]["RecordState"] == "ACTIVE"
    # Archived once: the next audit neither imports nor archives it again.
    third = sync_roles(hub, [still], "app", now=LATER + timedelta(days=1))
    assert third.archived == 0


def test_a_deleted_roles_findings_are_archived_when_its_name_is_in_scope(hub):
    sync_roles(hub, [finding("gone")], "gone")
    outcome = sync_roles(hub, [], "gone", now=LATER)
    assert outcome.archived == 1
    assert stored(hub)[finding_id(finding("gone"))]["RecordState"] == "ARCHIVED"


def test_findings_outside_the_scope_are_never_archived(hub):
    """moto returns every finding whatever the filters: the scope test on what comes back must hold."""
    sync_roles(hub, [finding("other-role")], "other-role")
    foreign = to_asff(finding("x"), region=REGION, now=NOW)
    foreign |= {"Id": "prowler/check-1", "GeneratorId": "prowler"}
    hub.batch_import_findings(Findings=[foreign])
    outcome = sync_roles(hub, [finding("app")], "app", now=LATER)
    assert outcome.archived == 0
    assert {f["Id"]: f["RecordState"] for f in stored(hub).values()} == {
        finding_id(finding("other-role")): "ACTIVE",
        "prowler/check-1": "ACTIVE",
        finding_id(finding("app")): "ACTIVE",
    }


def test_the_weekly_scope_archives_account_wide(hub):
    sync_roles(hub, [finding("a"), finding("b")], "a", "b")
    sync = SecurityHubSync(hub, account_id=ACCOUNT, region=REGION)
    outcome = sync.sync([finding("a")], Scope.account(ACCOUNT), now=LATER)
    assert (outcome.sent, outcome.archived) == (1, 1)
    assert stored(hub)[finding_id(finding("b"))]["RecordState"] == "ARCHIVED"


def test_workflow_set_by_the_customer_survives_updates_and_archiving(hub):
    """moto has no BatchUpdateFindings: the customer's fields are seeded with the first import. moto
    merges an update into the stored finding, so a Workflow or Note that rolewatch sent would replace them."""
    customer = {
        "Workflow": {"Status": "NOTIFIED"},
        "Note": {"Text": "ticket SEC-1", "UpdatedBy": "alice", "UpdatedAt": "2026-11-22T13:00:00Z"},
    }
    hub.batch_import_findings(Findings=[to_asff(finding(), region=REGION, now=NOW) | customer])
    sync_roles(hub, [finding()], "app", now=LATER)
    assert stored(hub)[finding_id(finding())]["Workflow"]["Status"] == "NOTIFIED"
    sync_roles(hub, [], "app", now=LATER + timedelta(days=1))
    archived = stored(hub)[finding_id(finding())]
    assert archived["RecordState"] == "ARCHIVED"
    assert archived["Workflow"]["Status"] == "NOTIFIED" and archived["Note"]["Text"] == "ticket SEC-1"


def test_analyzer_findings_stay_active_when_the_analyzer_could_not_run(hub):
    analyzer = finding(rule="access-analyzer-external-access", category="access-analyzer", severity=Severity.HIGH)
    sync_roles(hub, [analyzer], "app")
    skipped = finding(rule="access-analyzer-skipped", category="access-analyzer", severity=Severity.INFO)
    outcome = sync_roles(hub, [skipped], "app", now=LATER)
    assert outcome.archived == 0
    assert stored(hub)[finding_id(analyzer)]["RecordState"] == "ACTIVE"


def test_suppressed_findings_and_other_accounts_findings_are_not_imported(hub):
    suppressed = finding(suppressed_by="accepted risk (until 2027-01-01)")
    other = finding(resource="arn:aws:iam::999999999999:role/app")
    outcome = sync_roles(hub, [suppressed, other], "app")
    assert outcome.status == "partial" and outcome.sent == 0
    assert outcome.errors == ("not imported: findings of account 999999999999 (import them through that account)",)
    assert stored(hub) == {}


def test_more_than_100_findings_go_in_batches(hub):
    many = [finding(evidence=f"e{i}") for i in range(BATCH_SIZE + 5)]
    sync = SecurityHubSync(hub, account_id=ACCOUNT, region=REGION)
    with Stubber(hub) as stub:
        stub.add_response("get_findings", {"Findings": []}, {"Filters": ANY, "MaxResults": 100})
        stub.add_response("batch_import_findings", {"FailedCount": 0, "SuccessCount": 100, "FailedFindings": []})
        stub.add_response("batch_import_findings", {"FailedCount": 0, "SuccessCount": 5, "FailedFindings": []})
        outcome = sync.sync(many, Scope.roles(ACCOUNT, ["app"]), now=NOW)
        stub.assert_no_pending_responses()
    assert (outcome.status, outcome.sent) == ("delivered", BATCH_SIZE + 5)


# -- what moto cannot show: AWS's filters, and faults -------------------------------------------------


def stubbed(sleeps: list[float] | None = None) -> tuple[object, Stubber, SecurityHubSync]:
    client = boto3.client("securityhub", region_name=REGION)
    stub = Stubber(client)
    sleeps = [] if sleeps is None else sleeps
    sync = SecurityHubSync(client, account_id=ACCOUNT, region=REGION, sleep=sleeps.append)
    return client, stub, sync


def test_getfindings_asks_aws_for_rolewatchs_active_findings_of_the_roles():
    _, stub, sync = stubbed()
    names = [f"role-{i:02d}" for i in range(25)]
    expected_base = {
        "ProductArn": [{"Value": product_arn(ACCOUNT, REGION), "Comparison": "EQUALS"}],
        "AwsAccountId": [{"Value": ACCOUNT, "Comparison": "EQUALS"}],
        "Id": [{"Value": "rolewatch/", "Comparison": "PREFIX"}],
        "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
    }
    for chunk in (names[:20], names[20:]):
        by_name = [{"Key": "rolewatch/RoleName", "Value": n, "Comparison": "EQUALS"} for n in chunk]
        stub.add_response(
            "get_findings",
            {"Findings": []},
            {"Filters": {**expected_base, "ProductFields": by_name}, "MaxResults": 100},
        )
    with stub:
        assert sync.active_findings(Scope.roles(ACCOUNT, names)) == []
        stub.assert_no_pending_responses()


def test_security_hub_not_enabled_is_an_outcome_not_an_exception():
    _, stub, sync = stubbed()
    stub.add_client_error(
        "get_findings", "InvalidAccessException", "Account 123456789012 is not subscribed to AWS Security Hub"
    )
    with stub:
        outcome = sync.sync([finding()], Scope.roles(ACCOUNT, ["app"]), now=NOW)
    assert (outcome.status, outcome.failed) == ("not-enabled", 1)
    assert "not enabled" in outcome.note()


def test_every_finding_refused_with_invalid_access_means_not_enabled():
    _, stub, sync = stubbed()
    stub.add_response("get_findings", {"Findings": []})
    refused = {"Id": finding_id(finding()), "ErrorCode": "InvalidAccess", "ErrorMessage": "not subscribed"}
    stub.add_response("batch_import_findings", {"FailedCount": 1, "SuccessCount": 0, "FailedFindings": [refused]})
    with stub:
        outcome = sync.sync([finding()], Scope.roles(ACCOUNT, ["app"]), now=NOW)
        stub.assert_no_pending_responses()  # InvalidAccess is not retried
    assert outcome.status == "not-enabled"


def test_throttling_beyond_the_sdks_retries_fails_the_integration_only():
    _, stub, sync = stubbed()
    stub.add_response("get_findings", {"Findings": []})
    stub.add_client_error("batch_import_findings", "TooManyRequestsException", "Rate exceeded", 429)
    with stub:
        outcome = sync.sync([finding()], Scope.roles(ACCOUNT, ["app"]), now=NOW)
    assert (outcome.status, outcome.failed) == ("failed", 1)
    assert "throttled" in outcome.reason


def test_failed_findings_are_retried_with_backoff_then_named():
    sleeps: list[float] = []
    _, stub, sync = stubbed(sleeps)
    good, flaky, bad = finding(), finding(evidence="flaky"), finding(evidence="bad")
    stub.add_response("get_findings", {"Findings": []})
    transient = {"Id": finding_id(flaky), "ErrorCode": "InternalException", "ErrorMessage": "try again"}
    invalid = {"Id": finding_id(bad), "ErrorCode": "InvalidInput", "ErrorMessage": "Resources too long"}
    stub.add_response(
        "batch_import_findings", {"FailedCount": 2, "SuccessCount": 1, "FailedFindings": [transient, invalid]}
    )
    for _ in range(MAX_ATTEMPTS - 1):
        stub.add_response(
            "batch_import_findings",
            {"FailedCount": 1, "SuccessCount": 0, "FailedFindings": [transient]},
            {"Findings": [ANY]},  # only the transient failure is sent again
        )
    with stub:
        outcome = sync.sync([good, flaky, bad], Scope.roles(ACCOUNT, ["app"]), now=NOW)
        stub.assert_no_pending_responses()
    assert sleeps == [0.5, 1.0]
    assert (outcome.status, outcome.sent, outcome.failed) == ("partial", 1, 2)
    assert sorted(outcome.errors) == sorted(
        [f"{finding_id(bad)}: InvalidInput Resources too long", f"{finding_id(flaky)}: InternalException try again"]
    )


def test_a_retry_that_succeeds_counts_as_sent():
    _, stub, sync = stubbed()
    stub.add_response("get_findings", {"Findings": []})
    transient = {"Id": finding_id(finding()), "ErrorCode": "InternalException", "ErrorMessage": "try again"}
    stub.add_response("batch_import_findings", {"FailedCount": 1, "SuccessCount": 0, "FailedFindings": [transient]})
    stub.add_response("batch_import_findings", {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []})
    with stub:
        outcome = sync.sync([finding()], Scope.roles(ACCOUNT, ["app"]), now=NOW)
    assert (outcome.status, outcome.sent, outcome.failed) == ("delivered", 1, 0)
