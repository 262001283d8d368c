"""The event function in organization mode: the event's account is read through its reader role (real
STS AssumeRole against moto, which serves each account's resources to that account's credentials), and
an account that cannot be read gives a published "cannot audit account X: <reason>", never a crash or
a silent skip."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from typing import Any

import pytest
from botocore.stub import Stubber
from event_account import load_event
from event_stack import EventStack, LambdaContext, create_event_stack
from moto import mock_aws
from org_accounts import CENTRAL_ACCOUNT, Organization, create_organization, member_session, seed_member

from rolewatch.event.triggers import parse_event
from rolewatch.event_service import EventAuditService, idempotency_key
from rolewatch.org.credentials import MemberAccounts

CONTEXT = LambdaContext()
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def member_event(account_id: str, role: str, *, event_id: str = "6d44b01c-af96-53ac-964a-14665f75c865") -> dict:
    """The AttachRolePolicy event as the member's forwarding rule delivers it to the central bus."""
    event = copy.deepcopy(load_event("iam-attach-role-policy.json"))
    event["account"] = account_id
    detail = event["detail"]
    detail["recipientAccountId"] = account_id
    detail["eventID"] = event_id
    detail["userIdentity"].update(accountId=account_id, arn=f"arn:aws:iam::{account_id}:user/ci-deployer")
    detail["requestParameters"] = {"roleName": role, "policyArn": ADMIN}
    return event


@pytest.fixture
def org_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[EventStack, Organization]]:
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        stack = create_event_stack()
        for name, value in stack.environment(DEPLOYMENT_MODE="organization").items():
            monkeypatch.setenv(name, value)
        org = create_organization("alpha", "beta", "gamma")
        seed_member(org.account("alpha"), roles={"app-role": None})
        seed_member(org.account("beta"), roles={"app-role": None})
        seed_member(org.account("gamma"), roles={"app-role": None}, reader_role=None)
        yield stack, org


@pytest.fixture
def stack(org_stack: tuple[EventStack, Organization]) -> EventStack:
    """The central stack in organization mode: conftest's `function` loads the handler against it."""
    return org_stack[0]


def attach_admin(account_id: str, role: str = "app-role") -> None:
    member_session(account_id).client("iam").attach_role_policy(RoleName=role, PolicyArn=ADMIN)


def test_a_member_accounts_change_is_read_in_that_account_and_reported_centrally(
    function: Any, org_stack: tuple[EventStack, Organization]
) -> None:
    stack, org = org_stack
    alpha = org.account("alpha")
    attach_admin(alpha)
    outcome = function.handler(member_event(alpha, "app-role"), CONTEXT)
    assert outcome["status"] == "published" and outcome["account"] == alpha
    [message] = stack.messages()
    assert message["Subject"].startswith(f"[rolewatch {alpha}] CRITICAL app-role")
    assert message["MessageAttributes"]["account"]["Value"] == alpha
    assert f"arn:aws:iam::{alpha}:role/app-role" in message["Message"]
    # The role exists only in the member: the central account has no app-role at all.
    assert "app-role" not in {r["RoleName"] for r in stack.clients.iam.list_roles()["Roles"]}


def test_the_same_event_id_in_two_accounts_is_two_audits(
    function: Any, org_stack: tuple[EventStack, Organization]
) -> None:
    stack, org = org_stack
    for name in ("alpha", "beta"):
        attach_admin(org.account(name))
    first = function.handler(member_event(org.account("alpha"), "app-role", event_id="same-id"), CONTEXT)
    second = function.handler(member_event(org.account("beta"), "app-role", event_id="same-id"), CONTEXT)
    again = function.handler(member_event(org.account("beta"), "app-role", event_id="same-id"), CONTEXT)
    assert not first["duplicate"] and not second["duplicate"] and again["duplicate"]
    messages = stack.messages()
    assert sorted(m["MessageAttributes"]["account"]["Value"] for m in messages) == sorted(
        [org.account("alpha"), org.account("beta")]
    )
    # Findings of identical roles in two accounts keep distinct fingerprints (the ARN holds the account).
    alpha_key = idempotency_key({}, parse_event(member_event(org.account("alpha"), "r", event_id="x")))
    assert alpha_key == f"cloudtrail:{org.account('alpha')}:x"


def test_an_organization_analyzers_finding_on_a_member_role_is_audited_in_that_account(
    function: Any, org_stack: tuple[EventStack, Organization]
) -> None:
    """The organization analyzer lives in the security account, so its event arrives there naming the
    member's role: the audit reads the member through its reader role, not the central account."""
    stack, org = org_stack
    alpha = org.account("alpha")
    attach_admin(alpha)
    event = copy.deepcopy(load_event("access-analyzer-external-access.json"))
    event["account"] = CENTRAL_ACCOUNT
    event["resources"] = [f"arn:aws:access-analyzer:us-east-1:{CENTRAL_ACCOUNT}:analyzer/organization"]
    event["detail"].update(resource=f"arn:aws:iam::{alpha}:role/app-role", resourceOwnerAccount=alpha)
    outcome = function.handler(event, CONTEXT)
    assert outcome["status"] == "published" and outcome["account"] == alpha
    assert outcome["roles"] == ["app-role"]
    [message] = stack.messages()
    assert message["MessageAttributes"]["account"]["Value"] == alpha
    assert f"arn:aws:iam::{alpha}:role/app-role" in message["Message"]


def test_an_account_outside_the_organization_is_reported_not_audited(
    function: Any, org_stack: tuple[EventStack, Organization]
) -> None:
    stack, _ = org_stack
    out = io.StringIO()
    with redirect_stdout(out):
        outcome = function.handler(member_event("999999999999", "app-role"), CONTEXT)
    assert outcome["status"] == "unauditable"
    assert outcome["reason"].startswith("cannot audit account 999999999999: not a member of this organization")
    [message] = stack.messages()
    assert message["Subject"].startswith("[rolewatch 999999999999] MEDIUM cannot audit account 999999999999: not a")
    assert message["MessageAttributes"]["severity"]["Value"] == "medium"
    assert "AttachRolePolicy" in message["Message"]
    metrics = [json.loads(line) for line in out.getvalue().splitlines() if '"_aws"' in line]
    assert any(m.get("UnauditableAccounts") == [1.0] or m.get("UnauditableAccounts") == 1.0 for m in metrics)


def test_a_suspended_account_is_reported_not_audited(function: Any, org_stack: tuple[EventStack, Organization]) -> None:
    stack, org = org_stack
    beta = org.account("beta")
    stack.clients.client("organizations").close_account(AccountId=beta)
    outcome = function.handler(member_event(beta, "app-role"), CONTEXT)
    assert outcome["status"] == "unauditable" and "SUSPENDED" in outcome["reason"]
    assert len(stack.messages()) == 1


def service(stack: EventStack, members: MemberAccounts) -> EventAuditService:
    return EventAuditService(stack.clients, topic_arn=stack.topic_arn, bucket=stack.bucket, readers=members.clients_for)


def test_a_missing_reader_role_is_reported(org_stack: tuple[EventStack, Organization]) -> None:
    """gamma has no reader role: AWS answers AccessDenied (moto would admit any role, so STS is stubbed)."""
    stack, org = org_stack
    gamma = org.account("gamma")
    members = MemberAccounts(stack.clients, central_account=CENTRAL_ACCOUNT)
    caller = f"arn:aws:sts::{CENTRAL_ACCOUNT}:assumed-role/EventAuditRole/fn"
    denied = f"User: {caller} is not authorized to perform: sts:AssumeRole"
    with Stubber(stack.clients.sts) as stub:
        stub.add_client_error("assume_role", service_error_code="AccessDenied", service_message=denied)
        outcome = service(stack, members).handle_event(member_event(gamma, "app-role"))
    assert outcome.status == "unauditable" and outcome.account == gamma
    assert f"reader role arn:aws:iam::{gamma}:role/rolewatch-reader is missing" in outcome.reason
    assert outcome.metrics() == {"UnauditableAccounts": 1, "ReportsPublished": 1}
    assert "cannot audit account" in stack.messages()[0]["Subject"]


def test_a_throttled_assume_role_is_reported(org_stack: tuple[EventStack, Organization]) -> None:
    stack, org = org_stack
    members = MemberAccounts(stack.clients, central_account=CENTRAL_ACCOUNT)
    with Stubber(stack.clients.sts) as stub:
        stub.add_client_error("assume_role", service_error_code="Throttling", service_message="Rate exceeded")
        outcome = service(stack, members).handle_event(member_event(org.account("alpha"), "app-role"))
    assert outcome.status == "unauditable" and "throttled" in outcome.reason
    assert len(stack.messages()) == 1


def test_a_read_the_reader_role_is_refused_is_reported(org_stack: tuple[EventStack, Organization]) -> None:
    """The role was assumed, then IAM refused a read (its policy lacks the action, or an SCP denies it)."""
    stack, org = org_stack
    alpha = org.account("alpha")
    members = MemberAccounts(stack.clients, central_account=CENTRAL_ACCOUNT)
    reader = members.clients_for(alpha, reason_id="warm-up")
    with Stubber(reader.iam) as stub:
        stub.add_client_error("get_role", service_error_code="AccessDenied", service_message="explicit deny in an SCP")
        outcome = service(stack, members).handle_event(member_event(alpha, "app-role"))
    assert outcome.status == "unauditable"
    assert "the reader role was refused GetRole" in outcome.reason and "explicit deny in an SCP" in outcome.reason
