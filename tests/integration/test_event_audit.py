"""The event audit service against a seeded moto account: every sample event, each bad input, deltas.

Each test makes the event's call in moto first (CloudTrail reports calls after they happen), then hands
the event to the service and reads what an SQS subscriber of the topic receives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import boto3
import pytest
from event_account import EVENTS_DIR, SeededAccount, load_event, replay, seed_account
from event_stack import EventStack, create_event_stack
from moto import mock_aws

from rolewatch.baseline import Suppression, load_baseline
from rolewatch.delivery import DeliveryError
from rolewatch.event.triggers import EventError, parse_event, wrap_cloudtrail_record
from rolewatch.event_service import AuditOutcome, EventAuditService
from rolewatch.inventory.iam_reader import RetryPolicy
from rolewatch.model import LiveCheckResult, Severity
from rolewatch.rule_metadata import catalogue_finding

# End to end: every test builds the deployed stack in moto (AWS-managed policies loaded), seconds each.
pytestmark = pytest.mark.slow

CLOUDTRAIL_FILES = sorted(p.name for p in EVENTS_DIR.glob("*.json") if p.name.startswith(("iam-", "ec2-")))

# file -> (outcome status, roles audited). "published" means a message reached the subscriber.
EXPECTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "direct-invoke.json": ("published", ("S3AccessRole", "github-deploy-role")),
    "ec2-associate-iam-instance-profile.json": ("below-threshold", ("S3AccessRole",)),
    "ec2-disassociate-iam-instance-profile.json": ("published", ("ops-admin",)),
    "ec2-replace-iam-instance-profile-association.json": ("published", ("ops-admin",)),
    "ec2-run-instances.json": ("below-threshold", ("S3AccessRole",)),
    "iam-add-role-to-instance-profile.json": ("published", ("ops-admin",)),
    "iam-attach-role-policy.json": ("published", ("Company1-Logs-Role",)),
    "iam-create-instance-profile.json": ("nothing-to-audit", ()),
    "iam-create-policy-version.json": ("published", ("github-deploy-role",)),
    "iam-create-role.json": ("published", ("github-deploy-role",)),
    "iam-delete-role-permissions-boundary.json": ("published", ("github-deploy-role",)),
    "iam-delete-role-policy.json": ("below-threshold", ("Company1-Logs-Role",)),
    "iam-detach-role-policy.json": ("below-threshold", ("CloudWatchAgentRole",)),
    "iam-put-role-permissions-boundary.json": ("below-threshold", ("S3AccessRole",)),
    "iam-put-role-policy.json": ("published", ("Company1-Logs-Role",)),
    "iam-remove-role-from-instance-profile.json": ("below-threshold", ("CloudWatchAgentRole",)),
    "iam-set-default-policy-version.json": ("published", ("github-deploy-role",)),
    "iam-tag-role.json": ("below-threshold", ("CloudWatchAgentRole",)),
    "iam-untag-role.json": ("below-threshold", ("S3AccessRole",)),
    "iam-update-assume-role-policy.json": ("published", ("S3AccessRole",)),
    "iam-update-role.json": ("published", ("github-deploy-role",)),
}


@pytest.fixture
def stack() -> Iterator[EventStack]:
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        yield create_event_stack()


@pytest.fixture
def account(stack: EventStack) -> SeededAccount:
    return seed_account()


def service(stack: EventStack, **options: Any) -> EventAuditService:
    options.setdefault("sleep", lambda _: None)
    return EventAuditService(
        stack.clients, topic_arn=stack.topic_arn, bucket=stack.bucket, kms_key_id=stack.key_id, **options
    )


def attributes(message: dict[str, Any]) -> dict[str, Any]:
    return {
        k: json.loads(v["Value"]) if v["Type"] == "String.Array" else v["Value"]
        for k, v in message["MessageAttributes"].items()
    }


def test_every_sample_event_has_an_expectation() -> None:
    assert set(EXPECTED) == {*CLOUDTRAIL_FILES, "direct-invoke.json"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_sample_event_routes_audits_and_reports(name: str, stack: EventStack, account: SeededAccount) -> None:
    event = replay(account, load_event(name))
    status, roles = EXPECTED[name]
    outcome = service(stack).handle_event(event)
    assert (outcome.status, outcome.roles) == (status, roles), outcome.reason
    messages = stack.messages()
    assert len(messages) == (1 if status == "published" else 0)
    if messages:
        [message] = messages
        assert len(message["Subject"]) < 100 and "\n" not in message["Subject"]
        assert f"Event id: {outcome.event_id}" in message["Message"]
        assert "Who: " in message["Message"] and "Fix: " in message["Message"]
        assert attributes(message)["account"] == "123456789012"
        assert attributes(message)["severity"] in {"critical", "high", "medium"}


def test_attach_reports_the_new_administrator_and_who_did_it(stack: EventStack, account: SeededAccount) -> None:
    event = replay(account, load_event("iam-attach-role-policy.json"))
    service(stack).handle_event(event)
    [message] = stack.messages()
    body = message["Message"]
    assert "role Company1-Logs-Role: AttachRolePolicy arn:aws:iam::aws:policy/AdministratorAccess" in body
    assert "NEW: full administrator access" in body
    assert "Who: arn:aws:iam::123456789012:user/ci-deployer (IAMUser)" in body
    assert "source IP: 203.0.113." in body and "user agent: aws-cli/" in body
    assert message["Subject"].startswith("[rolewatch] CRITICAL Company1-Logs-Role")
    assert {"admin-access", "baseline"} <= set(attributes(message)["category"])


def test_the_first_fix_of_an_attach_is_to_detach_it_and_no_fix_deletes_the_scoped_policy(
    stack: EventStack, account: SeededAccount
) -> None:
    event = replay(account, load_event("iam-attach-role-policy.json"))
    audit = service(stack).audit(parse_event(event))
    detach = (
        "aws iam detach-role-policy --role-name Company1-Logs-Role "
        "--policy-arn arn:aws:iam::aws:policy/AdministratorAccess"
    )
    [admin] = [f for f in audit.result.findings if f.rule == "admin-access"]
    assert admin.remediation.cli == (detach,)
    assert admin.remediation.summary.startswith("First, undo the call that caused this finding: detach")
    assert admin.evidence == ("arn:aws:iam::aws:policy/AdministratorAccess Statement[0]",)
    [forbidden] = [f for f in audit.result.findings if f.rule == "baseline-forbidden-managed-policy"]
    assert forbidden.remediation.cli[:2] == (detach, "# Otherwise, instead of the command above:")
    # The log shipper's own inline policy grants nothing of what the findings are about.
    assert not [c for f in audit.result.findings for c in f.remediation.cli if "WriteCompanyLogs" in c]


def test_detach_reports_what_was_lost(stack: EventStack, account: SeededAccount) -> None:
    event = replay(account, load_event("iam-detach-role-policy.json"))
    audit = service(stack).audit(parse_event(event))
    [delta] = audit.deltas
    assert delta.known and delta.gained == 0
    lost = {s.service for s in delta.lost_by_service()}
    assert lost == {"ssm", "ec2messages", "ssmmessages"}


def test_a_swapped_instance_role_is_compared_old_against_new(stack: EventStack, account: SeededAccount) -> None:
    event = replay(account, load_event("ec2-replace-iam-instance-profile-association.json"))
    _keep_replaced_association_visible(account, event)
    audit = service(stack).audit(parse_event(event))
    [delta] = audit.deltas
    assert delta.known, delta.basis
    assert "profile arn:aws:iam::123456789012:instance-profile/S3AccessRole (role S3AccessRole)" in delta.basis
    assert delta.gained_admin  # S3 read-only -> AdministratorAccess
    assert "s3" not in {s.service for s in delta.lost_by_service()}  # admin keeps every S3 read


def _keep_replaced_association_visible(account: SeededAccount, event: dict[str, Any]) -> None:
    """After a replacement, EC2 keeps the old association visible for a while (state "disassociating",
    old id, old profile) and gives the instance a new association id; moto rewrites the association in
    place instead. Put moto's state where AWS's is: the old record kept beside a new association."""
    from moto.ec2.models import ec2_backends

    detail = event["detail"]
    old_id = detail["requestParameters"]["ReplaceIamInstanceProfileAssociationRequest"]["AssociationId"]
    instance = detail["responseElements"]["ReplaceIamInstanceProfileAssociationResponse"][
        "iamInstanceProfileAssociation"
    ]["instanceId"]
    backend = ec2_backends["123456789012"]["us-east-1"]
    current = backend.iam_instance_profile_associations[instance]
    account.ec2.disassociate_iam_instance_profile(AssociationId=old_id)
    new = account.ec2.associate_iam_instance_profile(InstanceId=instance, IamInstanceProfile={"Name": "ops-admin"})
    old_profile = account.iam.get_instance_profile(InstanceProfileName="S3AccessRole")["InstanceProfile"]["Arn"]
    current.iam_instance_profile = _moto_profile(old_profile)
    current.state = "disassociating"
    backend.iam_instance_profile_associations[f"{instance}/{old_id}"] = current
    detail["responseElements"]["ReplaceIamInstanceProfileAssociationResponse"]["iamInstanceProfileAssociation"][
        "associationId"
    ] = new["IamInstanceProfileAssociation"]["AssociationId"]


def _moto_profile(arn: str) -> Any:
    from moto.iam.models import iam_backends

    return next(p for p in iam_backends["123456789012"]["aws"].instance_profiles.values() if p.arn == arn)


def test_run_instances_reports_what_the_new_instance_can_do(stack: EventStack, account: SeededAccount) -> None:
    event = replay(account, load_event("ec2-run-instances.json"))
    audit = service(stack).audit(parse_event(event))
    [delta] = audit.deltas
    assert delta.subject.startswith("instance i-") and delta.lost == 0
    assert {s.service for s in delta.gained_by_service()} == {"s3", "s3-object-lambda"}


# -- bad input and edge cases ----------------------------------------------------------------------


def test_a_malformed_event_raises_before_any_aws_call(stack: EventStack) -> None:
    svc = service(stack)
    with pytest.raises(EventError, match=r"missing field 'detail\.eventName'"):
        svc.handle_event({"detail-type": "AWS API Call via CloudTrail", "detail": {"eventSource": "iam.amazonaws.com"}})
    with pytest.raises(EventError, match="not an EventBridge event"):
        svc.handle_event({"hello": "world"})
    assert stack.clients.counter.total() == 0


def test_an_unwatched_call_is_skipped(stack: EventStack) -> None:
    event = load_event("iam-tag-role.json")
    event["detail"]["eventName"] = "CreateUser"
    outcome = service(stack).handle_event(event)
    assert outcome.status == "skipped" and "not a watched call" in outcome.reason
    assert outcome.metrics() == {"SkippedEvents": 1}
    assert stack.messages() == [] and stack.clients.counter.total() == 0


def test_a_failed_call_is_skipped(stack: EventStack) -> None:
    event = load_event("iam-attach-role-policy.json")
    event["detail"].update(errorCode="AccessDenied", errorMessage="not authorized")
    outcome = service(stack).handle_event(event)
    assert outcome.status == "skipped" and "failed (AccessDenied)" in outcome.reason
    assert stack.messages() == []


def test_a_role_deleted_before_the_audit_is_a_short_info_report(stack: EventStack) -> None:
    event = load_event("iam-tag-role.json")  # no account seeded: the role does not exist; tags grant nothing
    assert service(stack).handle_event(event).deleted == ("CloudWatchAgentRole",)
    assert stack.messages() == []  # info is below the default MIN_SEVERITY
    outcome = service(stack, min_severity=Severity.INFO).handle_event(event)
    assert outcome.status == "published" and outcome.metrics()["DeletedBeforeAudit"] == 1
    [message] = stack.messages()
    assert message["Subject"] == "[rolewatch] INFO CloudWatchAgentRole deleted before audit (TagRole)"
    assert attributes(message)["severity"] == "info"
    assert "Deleted before audit: CloudWatchAgentRole" in message["Message"]


@pytest.mark.parametrize(
    ("file", "role", "claim"),
    [
        ("iam-attach-role-policy.json", "Company1-Logs-Role", "attached policy: arn:aws:iam::aws:policy/Administrator"),
        ("iam-create-role.json", "github-deploy-role", "trust policy: "),
        ("iam-put-role-policy.json", None, "inline policy document: "),
        ("iam-update-assume-role-policy.json", None, "trust policy: "),
    ],
)
def test_a_role_gone_after_a_granting_call_is_published_whatever_the_minimum(
    stack: EventStack, file: str, role: str | None, claim: str
) -> None:
    event = load_event(file)  # nothing seeded: the role is gone by the time it is read
    outcome = service(stack, min_severity=Severity.CRITICAL, retry=RetryPolicy(attempts=1)).handle_event(event)
    assert outcome.status == "published" and outcome.deleted
    [message] = stack.messages()
    assert attributes(message)["severity"] == "medium"
    assert "gone before audit after" in message["Subject"]
    assert "UNVERIFIED" in message["Message"] and "could not be read" in message["Message"]
    assert claim in message["Message"]
    if role:
        assert role in message["Subject"]


def test_a_cloudformation_rollback_of_a_role_stays_quiet(stack: EventStack) -> None:
    event = load_event("iam-create-role.json")
    event["detail"]["userIdentity"]["invokedBy"] = "cloudformation.amazonaws.com"
    outcome = service(stack, retry=RetryPolicy(attempts=1)).handle_event(event)
    assert outcome.deleted == ("github-deploy-role",) and outcome.status == "below-threshold"
    assert stack.messages() == []


def test_create_role_waits_for_eventual_consistency_then_reports_deletion(stack: EventStack) -> None:
    waited: list[float] = []
    svc = service(stack, sleep=waited.append, retry=RetryPolicy(attempts=3, first_delay=0.5))
    outcome = svc.handle_event(load_event("iam-create-role.json"))
    assert outcome.deleted == ("github-deploy-role",)
    assert waited == [0.5, 1.0]
    assert stack.clients.counter.calls["iam:GetRole"] == 3


def test_other_events_do_not_wait_for_a_missing_role(stack: EventStack) -> None:
    waited: list[float] = []
    service(stack, sleep=waited.append).handle_event(load_event("iam-tag-role.json"))
    assert waited == [] and stack.clients.counter.calls["iam:GetRole"] == 1


def test_a_policy_attached_to_no_role_has_nothing_to_audit(stack: EventStack) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    arn = iam.create_policy(PolicyName="GithubDeployPolicy", PolicyDocument=json.dumps(_s3_read()))["Policy"]["Arn"]
    event = load_event("iam-create-policy-version.json")
    assert event["detail"]["requestParameters"]["policyArn"] == arn
    outcome = service(stack).handle_event(event)
    assert outcome.status == "nothing-to-audit" and "attached to no role" in outcome.reason
    assert stack.messages() == []


def test_an_instance_without_a_profile_has_nothing_to_audit(stack: EventStack, account: SeededAccount) -> None:
    instance = account.run_instance("bare")
    outcome = service(stack).handle_event({"instance_ids": [instance]})
    assert outcome.status == "nothing-to-audit" and f"instance {instance} runs without an instance profile" in (
        outcome.reason
    )


def test_direct_invocation_audits_named_roles_and_instances(stack: EventStack, account: SeededAccount) -> None:
    instance = account.run_instance("direct", "CloudWatchAgentRole")
    outcome = service(stack).handle_event({"roles": ["ops-admin"], "instance_ids": [instance]})
    assert outcome.roles == ("ops-admin", "CloudWatchAgentRole") and outcome.status == "published"
    [message] = stack.messages()
    assert "Who: on demand, actor not verified (direct invocation)" in message["Message"]


# -- delivery --------------------------------------------------------------------------------------


def test_min_severity_and_publish_clean(stack: EventStack, account: SeededAccount) -> None:
    event = load_event("iam-detach-role-policy.json")  # CloudWatchAgentRole after the detach: low findings only
    replay(account, event)
    assert service(stack).handle_event(event).status == "below-threshold"
    assert service(stack, publish_clean=True).handle_event(event).status == "published"
    [clean] = stack.messages()
    assert clean["Subject"].startswith("[rolewatch] clean:") and attributes(clean)["severity"] == "none"
    assert service(stack, min_severity=Severity.LOW).handle_event(event).status == "published"
    [low] = stack.messages()
    assert attributes(low)["severity"] == "low"
    assert service(stack, min_severity=Severity.CRITICAL).handle_event(load_event("iam-tag-role.json")).status == (
        "below-threshold"
    )


def test_subscribers_can_filter_on_any_category(account: SeededAccount) -> None:
    # UpdateAssumeRolePolicy on S3AccessRole: trust-policy findings (high) lead, baseline ones follow.
    filtered = create_event_stack("filtered", filter_policy={"category": ["baseline"]})
    event = load_event("iam-update-assume-role-policy.json")
    replay(account, event)
    outcome = EventAuditService(filtered.clients, topic_arn=filtered.topic_arn, bucket=filtered.bucket).handle_event(
        event
    )
    assert outcome.status == "published"
    [message] = filtered.messages()
    assert attributes(message)["severity"] == "high" and attributes(message)["category"] == ["trust-policy", "baseline"]


# A role with every escalation-prone service: about 14 KB of report each, so 20 exceed SNS's 256 KB.
WIDE_SERVICES = (
    "iam",
    "ec2",
    "lambda",
    "glue",
    "cloudformation",
    "s3",
    "ssm",
    "kms",
    "secretsmanager",
    "sagemaker",
    "codebuild",
    "ecs",
    "datapipeline",
)
WIDE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [f"{service}:*" for service in WIDE_SERVICES],
            "Resource": "*",
        }
    ],
}


def seed_wide_roles(account: SeededAccount, count: int = 40) -> list[str]:
    names = [f"wide-role-{i:03d}" for i in range(count)]
    for name in names:
        account.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(_ec2_trust()))
        account.iam.put_role_policy(RoleName=name, PolicyName="wide", PolicyDocument=json.dumps(WIDE))
    return names


def test_an_oversize_report_goes_to_s3_encrypted_and_is_linked(stack: EventStack, account: SeededAccount) -> None:
    names = seed_wide_roles(account)
    outcome = service(stack).handle_event({"roles": names})
    assert outcome.status == "published" and outcome.overflow_key is not None
    [message] = stack.messages()
    assert f"s3://{stack.bucket}/{outcome.overflow_key}" in message["Message"]
    assert len(message["Message"].encode("utf-8")) <= 262_144
    s3 = boto3.client("s3", region_name="us-east-1")
    stored = s3.get_object(Bucket=stack.bucket, Key=outcome.overflow_key)
    assert stored["ServerSideEncryption"] == "aws:kms" and stored["SSEKMSKeyId"] == stack.key_id
    report = json.loads(stored["Body"].read())
    assert report["schema"] == "rolewatch.report/v1" and report["summary"]["roles"] == len(names)
    assert report["event"]["name"] == "DirectInvocation"


def test_an_sns_failure_raises(stack: EventStack, account: SeededAccount) -> None:
    boto3.client("sns", region_name="us-east-1").delete_topic(TopicArn=stack.topic_arn)
    event = replay(account, load_event("iam-attach-role-policy.json"))
    with pytest.raises(DeliveryError, match="SNS publish"):
        service(stack).handle_event(event)


def test_an_s3_failure_during_overflow_raises(stack: EventStack, account: SeededAccount) -> None:
    names = seed_wide_roles(account)
    with pytest.raises(DeliveryError, match="storing the full report"):
        EventAuditService(stack.clients, topic_arn=stack.topic_arn, bucket="no-such-bucket-here").handle_event(
            {"roles": names}
        )
    assert stack.messages() == []  # nothing half-published


# -- live checks -----------------------------------------------------------------------------------


def test_live_checks_add_findings_and_one_info_finding_for_what_was_skipped(
    stack: EventStack, account: SeededAccount
) -> None:
    seen: list[tuple[str, str]] = []

    def analyzer(snapshot: Any, profile: Any) -> LiveCheckResult:
        seen.append((snapshot.name, profile.name))
        return LiveCheckResult(skipped=("Access Analyzer: no analyzer in us-east-1",))

    def broken(snapshot: Any, profile: Any) -> LiveCheckResult:
        raise RuntimeError("boom")

    audit = service(stack, live_checks=[analyzer, broken]).audit(parse_event({"roles": ["S3AccessRole"]}))
    assert [name for name, _ in seen] == ["S3AccessRole"]
    [skipped] = [f for f in audit.result.findings if f.rule == "access-analyzer-skipped"]
    assert skipped.severity is Severity.INFO and "no analyzer in us-east-1" in skipped.detail
    assert [e.location for e in audit.result.errors] == ["live-check:broken"]


def test_live_checks_from_a_factory_are_made_once_per_audit(stack: EventStack, account: SeededAccount) -> None:
    made: list[int] = []

    def factory() -> list[Any]:
        made.append(1)
        return [lambda snapshot, profile: LiveCheckResult()]

    svc = service(stack, live_checks=factory)
    svc.audit(parse_event({"roles": ["S3AccessRole", "ops-admin"]}))
    svc.audit(parse_event({"roles": ["S3AccessRole"]}))
    assert len(made) == 2


# -- real CloudTrail records -----------------------------------------------------------------------


def test_real_cloudtrail_records_route_through_the_service(stack: EventStack, shared_data: Any) -> None:
    svc = service(stack, min_severity=Severity.INFO)
    for file in ("cloudtrail-target-events.json", "cloudtrail-other-events.json"):
        for entry in json.loads((shared_data / file).read_text()):
            record = entry.get("record", entry)
            outcome: AuditOutcome = svc.handle_event(wrap_cloudtrail_record(record))
            if file == "cloudtrail-other-events.json" or record.get("errorCode"):
                assert outcome.status == "skipped", (record["eventName"], outcome)
            elif outcome.status == "skipped":  # a watched call whose record names no target
                assert "names no target" in outcome.reason or "no instance with an instance profile" in outcome.reason
            elif record["eventName"] in {"CreateRole", "AttachRolePolicy", "UpdateAssumeRolePolicy"}:
                # The lab's roles do not exist in this account: each is reported as deleted before audit.
                assert outcome.deleted and outcome.status == "published", (record["eventName"], outcome)
            else:
                assert outcome.status in {"skipped", "nothing-to-audit"}, (record["eventName"], outcome)


def _ec2_trust() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }


def _s3_read(statements: int = 1) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": f"S{i}", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::b{i}/*"}
            for i in range(statements)
        ],
    }


@pytest.mark.parametrize(("expires", "suppressed"), [("2099-12-31", True), ("2020-01-01", False)])
def test_live_check_findings_honour_the_baselines_suppressions(
    stack: EventStack, account: SeededAccount, expires: str, suppressed: bool
) -> None:
    def analyzer(snapshot: Any, profile: Any) -> LiveCheckResult:
        return LiveCheckResult(
            findings=(catalogue_finding("access-analyzer-security-warning", snapshot.arn, "PassRole with star"),)
        )

    rule = Suppression(
        rule="access-analyzer-security-warning",
        role="S3AccessRole",
        justification="accepted by the platform team",
        expires=date.fromisoformat(expires),
    )
    baseline = replace(load_baseline(), suppressions=(rule,))
    audit = service(stack, baseline=baseline, live_checks=[analyzer]).audit(parse_event({"roles": ["S3AccessRole"]}))
    [found] = [f for f in audit.result.findings if f.rule == "access-analyzer-security-warning"]
    expired = [f for f in audit.result.findings if f.rule == "suppression-expired"]
    if suppressed:
        assert found.suppressed_by == "accepted by the platform team (until 2099-12-31)" and not expired
    else:
        assert found.suppressed_by is None and len(expired) == 1
