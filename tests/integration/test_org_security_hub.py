"""Security Hub in organization mode: a member account's findings are imported by that account, through its
reader role (real STS AssumeRole against moto, which keeps one Security Hub per account and serves it to
that account's credentials), never by the central account; the central account's own findings still go
through its own clients.

Covered: the event path (the real EventAuditFunction handler), the archive step in the member, the weekly
organization step (audit_member_step) for a member and for the central account, and a member whose reader
role may not import (AccessDenied, answered by botocore's Stubber on the member's own Security Hub client,
since moto grants every call): the audit completes, its report and the organization outcome name the
failure, and the step's metrics count it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from event_account import load_event
from event_stack import EventStack, LambdaContext, create_event_stack
from moto import mock_aws
from org_accounts import (
    ADMIN_POLICY,
    CENTRAL_ACCOUNT,
    REGION,
    Organization,
    create_organization,
    member_session,
    seed_member,
)

from rolewatch.org.credentials import MemberAccounts
from rolewatch.org_audit import audit_member_step
from rolewatch.report.render_asff import ID_PREFIX, product_arn
from rolewatch.settings import ACCOUNT_FUNCTION_REQUIRES, load_settings

CONTEXT = LambdaContext()
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
NOW = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


def member_event(account_id: str, role: str, *, name: str = "AttachRolePolicy", event_id: str) -> dict[str, Any]:
    """A policy change in the member, as its forwarding rule delivers it to the central bus."""
    event = copy.deepcopy(load_event("iam-attach-role-policy.json"))
    event["account"] = account_id
    detail = event["detail"]
    detail["recipientAccountId"] = account_id
    detail["eventID"] = event_id
    detail["eventName"] = name
    detail["userIdentity"].update(accountId=account_id, arn=f"arn:aws:iam::{account_id}:user/ci-deployer")
    detail["requestParameters"] = {"roleName": role, "policyArn": ADMIN}
    return event


def hub_of(session: boto3.Session | None = None) -> Any:
    """A Security Hub client acting in the session's account (None: the central account)."""
    return (session or boto3.Session(region_name=REGION)).client("securityhub", region_name=REGION)


def rolewatch_findings(hub: Any) -> dict[str, dict[str, Any]]:
    found = hub.get_findings(MaxResults=100)["Findings"]
    return {f["Id"]: f for f in found if f["Id"].startswith(ID_PREFIX)}


@pytest.fixture
def org_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[EventStack, Organization]]:
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        stack = create_event_stack()
        org = create_organization("alpha", "beta")
        environment = stack.environment(DEPLOYMENT_MODE="organization", ORGANIZATION_ID=org.id, SECURITY_HUB="true")
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        seed_member(org.account("alpha"), roles={"app-role": None})
        seed_member(org.account("beta"), roles={"beta-admin": ADMIN_POLICY})
        for session in (None, member_session(org.account("alpha")), member_session(org.account("beta"))):
            hub_of(session).enable_security_hub()
        yield stack, org


@pytest.fixture
def stack(org_stack: tuple[EventStack, Organization]) -> EventStack:
    """The central stack in organization mode: conftest's `function` loads the handler against it."""
    return org_stack[0]


def test_a_member_roles_findings_land_in_the_members_security_hub_and_are_archived_there(
    function: Any, org_stack: tuple[EventStack, Organization]
) -> None:
    _, org = org_stack
    alpha = org.account("alpha")
    iam = member_session(alpha).client("iam")
    iam.attach_role_policy(RoleName="app-role", PolicyArn=ADMIN)

    outcome = function.handler(member_event(alpha, "app-role", event_id="attach-1"), CONTEXT)

    hub = outcome["integrations"]["security-hub"]
    assert hub["status"] == "delivered" and hub["sent"] >= 1
    in_member = rolewatch_findings(hub_of(member_session(alpha)))
    assert len(in_member) == hub["sent"]
    assert {(f["AwsAccountId"], f["ProductArn"]) for f in in_member.values()} == {(alpha, product_arn(alpha, REGION))}
    assert any(f["GeneratorId"] == "admin-access" for f in in_member.values())
    assert rolewatch_findings(hub_of()) == {}  # the central account's hub has none of them

    iam.detach_role_policy(RoleName="app-role", PolicyArn=ADMIN)
    after = function.handler(member_event(alpha, "app-role", name="DetachRolePolicy", event_id="detach-1"), CONTEXT)

    assert after["integrations"]["security-hub"]["archived"] >= 1
    states = {f["GeneratorId"]: f["RecordState"] for f in rolewatch_findings(hub_of(member_session(alpha))).values()}
    assert states["admin-access"] == "ARCHIVED"
    assert rolewatch_findings(hub_of()) == {}


def weekly_step(stack: EventStack, members: MemberAccounts, account_id: str) -> dict[str, Any]:
    settings = load_settings(required=ACCOUNT_FUNCTION_REQUIRES)
    event = {"step": "audit-account", "run_id": "weekly-1", "account_id": account_id, "name": "n"}
    return audit_member_step(stack.clients, settings, members, event, now=NOW)


def stored_report(stack: EventStack, key: str) -> dict[str, Any]:
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=stack.bucket, Key=key)["Body"].read()
    return dict(json.loads(body))


def test_the_weekly_step_imports_each_accounts_findings_through_that_account(
    org_stack: tuple[EventStack, Organization],
) -> None:
    stack, org = org_stack
    beta = org.account("beta")
    stack.clients.iam.create_role(
        RoleName="central-admin",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    stack.clients.iam.attach_role_policy(RoleName="central-admin", PolicyArn=ADMIN)
    members = MemberAccounts(stack.clients, central_account=CENTRAL_ACCOUNT)

    member_outcome = weekly_step(stack, members, beta)
    central_outcome = weekly_step(stack, members, CENTRAL_ACCOUNT)

    assert member_outcome["integrations"]["notes"] == [] and central_outcome["integrations"]["notes"] == []
    assert member_outcome["integrations"]["metrics"]["SecurityHubImported"] >= 1
    in_beta = rolewatch_findings(hub_of(member_session(beta)))
    in_central = rolewatch_findings(hub_of())
    assert {f["AwsAccountId"] for f in in_beta.values()} == {beta}
    assert any(f["ProductFields"]["rolewatch/RoleName"] == "beta-admin" for f in in_beta.values())
    assert {f["AwsAccountId"] for f in in_central.values()} == {CENTRAL_ACCOUNT}
    assert any(f["ProductFields"]["rolewatch/RoleName"] == "central-admin" for f in in_central.values())


def test_a_member_whose_reader_may_not_import_is_still_audited_and_the_failure_named(
    org_stack: tuple[EventStack, Organization],
) -> None:
    stack, org = org_stack
    beta = org.account("beta")
    members = MemberAccounts(stack.clients, central_account=CENTRAL_ACCOUNT)
    reader = members.clients_for(beta, reason_id="warm-up")  # the clients the step will use (kept while warm)
    denied = f"User: arn:aws:sts::{beta}:assumed-role/rolewatch-reader/s is not authorized to perform: GetFindings"
    with Stubber(reader.client("securityhub")) as stub:
        stub.add_client_error(
            "get_findings",
            service_error_code="AccessDeniedException",
            service_message=denied,
            expected_params={"Filters": ANY, "MaxResults": 100},
        )
        outcome = weekly_step(stack, members, beta)
        stub.assert_no_pending_responses()

    assert outcome["status"] == "audited" and outcome["by_severity"]["critical"] >= 1
    [note] = outcome["integrations"]["notes"]
    assert note.startswith(f"security-hub failed: GetFindings denied: {denied}")
    assert "imports findings only when its member stack has SecurityHub=true" in note
    metrics = outcome["integrations"]["metrics"]
    assert metrics["IntegrationFailures"] == 1 and metrics["SecurityHubImported"] == 0
    assert metrics["SecurityHubFailedFindings"] == outcome["findings"]  # every open finding not delivered
    own_report = stored_report(stack, outcome["report"]["json"])  # the account's own report says so too
    assert note in own_report["summary"]["notes"] and own_report["weekly"]["integrations"] == [note]
    assert rolewatch_findings(hub_of(member_session(beta))) == {} and rolewatch_findings(hub_of()) == {}
