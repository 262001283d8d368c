"""Member accounts read through their reader role: real STS AssumeRole against moto, membership from
moto's Organizations, and the faults STS or Organizations answer with (botocore Stubber, since moto's
AssumeRole admits any role, even a missing one, where AWS answers AccessDenied)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from org_accounts import CENTRAL_ACCOUNT, REGION, Organization, create_organization, seed_member

from rolewatch.inventory.clients import AwsClients, make_clients
from rolewatch.org.accounts import every_account
from rolewatch.org.credentials import (
    MEMBERSHIP_UNVERIFIED,
    MIN_SESSION_SECONDS,
    OUTSIDE_ORGANIZATION,
    READER_ROLE_REFUSED,
    SUSPENDED,
    THROTTLED,
    AccountUnavailable,
    MemberAccounts,
    session_name,
)

EVENT_ID = "0c2a5b1e-7d3f-4a8e-9a43-2f6f0e1d9c11"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def org() -> Iterator[Organization]:
    with mock_aws():
        organization = create_organization("alpha", "beta")
        seed_member(organization.account("alpha"), roles={"alpha-app": None})
        seed_member(organization.account("beta"), roles={"beta-app": None})
        yield organization


@pytest.fixture
def central(org: Organization) -> AwsClients:
    return make_clients(region=REGION)


def role_names(clients: AwsClients) -> set[str]:
    return {r["RoleName"] for r in clients.iam.list_roles()["Roles"]}


def test_assumed_clients_read_the_member_account_not_the_central_one(org: Organization, central: AwsClients) -> None:
    members = MemberAccounts(central, central_account=CENTRAL_ACCOUNT)
    alpha = members.clients_for(org.account("alpha"), reason_id=EVENT_ID)
    assert role_names(alpha) >= {"alpha-app", "rolewatch-reader"}
    assert "alpha-app" not in role_names(central)
    arns = {r["Arn"] for r in alpha.iam.list_roles()["Roles"]}
    assert all(f":{org.account('alpha')}:" in arn for arn in arns)
    identity = alpha.sts.get_caller_identity()
    assert identity["Account"] == org.account("alpha")
    assert identity["Arn"].endswith(f"assumed-role/rolewatch-reader/rolewatch-{EVENT_ID}")


def test_the_central_account_is_read_with_the_functions_own_credentials(central: AwsClients) -> None:
    members = MemberAccounts(central, central_account=CENTRAL_ACCOUNT)
    assert members.clients_for(CENTRAL_ACCOUNT, reason_id=EVENT_ID) is central
    assert central.counter.total("sts") == 0


def test_credentials_are_kept_per_account_while_warm(org: Organization, central: AwsClients) -> None:
    members = MemberAccounts(central, central_account=CENTRAL_ACCOUNT)
    first = members.clients_for(org.account("alpha"), reason_id="event-1")
    again = members.clients_for(org.account("alpha"), reason_id="event-2")
    other = members.clients_for(org.account("beta"), reason_id="event-3")
    assert again is first and other is not first
    role_names(first), role_names(again), role_names(other)
    assert central.counter.calls["sts:AssumeRole"] == 2  # one per account
    assert central.counter.calls["organizations:DescribeAccount"] == 2


def test_credentials_are_renewed_before_they_expire(org: Organization, central: AwsClients) -> None:
    clock = Clock()
    members = MemberAccounts(central, central_account=CENTRAL_ACCOUNT, clock=clock)
    alpha = members.clients_for(org.account("alpha"), reason_id="event-1")
    role_names(alpha)
    clock.now += timedelta(seconds=MIN_SESSION_SECONDS - 400)  # still valid, outside the renewal margin
    role_names(alpha)
    assert central.counter.calls["sts:AssumeRole"] == 1
    members.clients_for(org.account("alpha"), reason_id="event-2")
    clock.now += timedelta(seconds=200)  # 200 s before expiry: inside the 300 s margin
    assert role_names(alpha) >= {"alpha-app", "rolewatch-reader"}
    assert central.counter.calls["sts:AssumeRole"] == 2
    # The renewed session carries the latest event id.
    assert alpha.sts.get_caller_identity()["Arn"].endswith("/rolewatch-event-2")


def test_an_account_outside_the_organization_is_never_assumed_into(central: AwsClients) -> None:
    members = MemberAccounts(central, central_account=CENTRAL_ACCOUNT)
    with pytest.raises(AccountUnavailable) as caught:
        members.clients_for("999999999999", reason_id=EVENT_ID)
    assert caught.value.kind == OUTSIDE_ORGANIZATION
    assert str(caught.value).startswith("cannot audit account 999999999999: not a member of this organization")
    assert central.counter.calls["sts:AssumeRole"] == 0


def test_a_suspended_account_is_not_audited(org: Organization, central: AwsClients) -> None:
    boto3.client("organizations", region_name=REGION).close_account(AccountId=org.account("beta"))
    members = MemberAccounts(central, central_account=CENTRAL_ACCOUNT)
    with pytest.raises(AccountUnavailable) as caught:
        members.clients_for(org.account("beta"), reason_id=EVENT_ID)
    assert caught.value.kind == SUSPENDED
    assert "SUSPENDED" in caught.value.reason
    assert central.counter.calls["sts:AssumeRole"] == 0


def test_a_missing_or_refusing_reader_role_is_named(org: Organization, central: AwsClients) -> None:
    members = MemberAccounts(central, central_account=CENTRAL_ACCOUNT)
    account = org.account("alpha")
    message = f"User: arn:aws:sts::{CENTRAL_ACCOUNT}:assumed-role/x/y is not authorized to perform: sts:AssumeRole"
    with Stubber(central.sts) as stub:
        stub.add_client_error("assume_role", service_error_code="AccessDenied", service_message=message)
        with pytest.raises(AccountUnavailable) as caught:
            members.clients_for(account, reason_id=EVENT_ID)
    assert caught.value.kind == READER_ROLE_REFUSED
    assert f"arn:aws:iam::{account}:role/rolewatch-reader is missing or does not trust" in str(caught.value)
    # Nothing cached: once the role is back, the next event assumes again.
    assert role_names(members.clients_for(account, reason_id="later")) >= {"alpha-app", "rolewatch-reader"}


def test_a_throttled_assume_role_is_reported_after_botocores_retries(org: Organization, central: AwsClients) -> None:
    members = MemberAccounts(central, central_account=CENTRAL_ACCOUNT)
    with Stubber(central.sts) as stub:
        stub.add_client_error("assume_role", service_error_code="Throttling", service_message="Rate exceeded")
        with pytest.raises(AccountUnavailable) as caught:
            members.clients_for(org.account("alpha"), reason_id=EVENT_ID)
    assert caught.value.kind == THROTTLED
    assert "throttled" in str(caught.value) and "Rate exceeded" in str(caught.value)


def test_a_membership_that_cannot_be_verified_is_not_assumed(org: Organization, central: AwsClients) -> None:
    members = MemberAccounts(central, central_account=CENTRAL_ACCOUNT)
    with Stubber(central.client("organizations")) as stub:
        stub.add_client_error("describe_account", service_error_code="AccessDeniedException", service_message="no")
        with pytest.raises(AccountUnavailable) as caught:
            members.clients_for(org.account("alpha"), reason_id=EVENT_ID)
    assert caught.value.kind == MEMBERSHIP_UNVERIFIED
    assert central.counter.calls["sts:AssumeRole"] == 0


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (EVENT_ID, f"rolewatch-{EVENT_ID}"),
        ("a b/c:d", "rolewatch-a_b_c_d"),
        ("x" * 100, "rolewatch-" + "x" * 54),
        ("", "rolewatch-unknown"),
    ],
)
def test_session_names_are_valid_for_sts(given: str, expected: str) -> None:
    assert session_name(given) == expected


def test_sessions_shorter_than_stss_minimum_are_refused(central: AwsClients) -> None:
    with pytest.raises(ValueError, match="at least 900"):
        MemberAccounts(central, central_account=CENTRAL_ACCOUNT, session_seconds=600)


def described(account_id: str, **state: str) -> dict:
    """DescribeAccount's answer as Organizations gives it since `Status` was retired (2026-09-09): `State`."""
    return {"Account": {"Id": account_id, "Name": "alpha", "Arn": f"arn:aws:organizations::{account_id}", **state}}


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        ({"State": "ACTIVE"}, None),
        ({"State": "ACTIVE", "Status": "SUSPENDED"}, None),  # State is the current field
        ({"State": "CLOSED"}, SUSPENDED),
        ({"State": "PENDING_CLOSURE"}, SUSPENDED),
        ({"State": "PENDING_ACTIVATION"}, MEMBERSHIP_UNVERIFIED),
        ({"Status": "SUSPENDED"}, SUSPENDED),  # an answer from before the retirement
    ],
    ids=["active", "state-wins", "closed", "pending-closure", "pending-activation", "status-only"],
)
def test_membership_reads_the_accounts_state(org: Organization, central: AwsClients, state: dict, kind: str) -> None:
    members = MemberAccounts(central, central_account=CENTRAL_ACCOUNT)
    account = org.account("alpha")
    with Stubber(central.client("organizations")) as stub:
        stub.add_response("describe_account", described(account, **state), {"AccountId": account})
        if kind is None:
            assert "alpha-app" in role_names(members.clients_for(account, reason_id=EVENT_ID))
            return
        with pytest.raises(AccountUnavailable) as caught:
            members.clients_for(account, reason_id=EVENT_ID)
    assert caught.value.kind == kind
    assert f"account status is {next(iter(state.values()))}, not ACTIVE" in caught.value.reason


def test_the_weekly_listing_reads_the_accounts_state(central: AwsClients) -> None:
    listed = [described(a, State=s)["Account"] for a, s in (("111111111111", "ACTIVE"), ("222222222222", "CLOSED"))]
    with Stubber(central.client("organizations")) as stub:
        stub.add_response("list_accounts", {"Accounts": listed}, {})
        accounts = every_account(central.client("organizations"))
    assert [(a.id, a.status) for a in accounts] == [("111111111111", "ACTIVE"), ("222222222222", "CLOSED")]
