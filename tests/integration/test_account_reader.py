"""The whole-account reader: GetAccountAuthorizationDetails pagination (botocore Stubber: moto returns one
page), ListRoles, EC2 associations in every region (moto), Access Analyzer account-wide (Stubber: moto
has no Access Analyzer), and every partial failure."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto.iam.models import iam_backends

from rolewatch.analyzer.account_findings import read_account_analyzer_findings
from rolewatch.analyzer.calls import ROLE_ANALYZER_TYPES
from rolewatch.aws_permissions import declared_in
from rolewatch.inventory.account_reader import (
    AUTHZ_FILTER,
    AccountReadError,
    read_account,
    read_authorization_details,
    read_instance_associations,
)
from rolewatch.inventory.clients import AwsClients, make_clients

ACCOUNT = "123456789012"
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
S3_READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def encoded(document: dict[str, Any]) -> str:
    return urllib.parse.quote(json.dumps(document))


def role_detail(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "Path": "/",
        "RoleName": name,
        "RoleId": f"AROA{name.upper():A<17}"[:21],
        "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
        "CreateDate": WHEN,
        "AssumeRolePolicyDocument": encoded(EC2_TRUST),
        "InstanceProfileList": [],
        "RolePolicyList": [],
        "AttachedManagedPolicies": [],
        "Tags": [],
        **extra,
    }


def policy_detail(name: str, document: dict[str, Any]) -> dict[str, Any]:
    return {
        "PolicyName": name,
        "Arn": f"arn:aws:iam::{ACCOUNT}:policy/{name}",
        "DefaultVersionId": "v2",
        "PolicyVersionList": [
            {
                "Document": encoded({"Version": "2012-10-17", "Statement": []}),
                "VersionId": "v1",
                "IsDefaultVersion": False,
            },
            {"Document": encoded(document), "VersionId": "v2", "IsDefaultVersion": True},
        ],
    }


def gaad_params(marker: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"Filter": list(AUTHZ_FILTER), "MaxItems": 1000}
    if marker:
        params["Marker"] = marker
    return params


def page(*, roles: list[dict] = (), policies: list[dict] = (), marker: str | None = None) -> dict[str, Any]:  # type: ignore[assignment]
    out: dict[str, Any] = {"RoleDetailList": list(roles), "Policies": list(policies), "IsTruncated": marker is not None}
    if marker:
        out["Marker"] = marker
    return out


@pytest.fixture
def offline() -> AwsClients:
    """Clients for Stubber tests (the autouse fixture already removed any real credentials/endpoint)."""
    return make_clients(region="us-east-1")


@pytest.fixture
def iam_stub(offline: AwsClients) -> Iterator[Stubber]:
    with Stubber(offline.iam) as stub:
        yield stub
        stub.assert_no_pending_responses()


def list_roles(stub: Stubber, durations: dict[str, int]) -> None:
    roles = [
        {
            "Path": "/",
            "RoleName": name,
            "RoleId": f"AROA{name.upper():A<17}"[:21],
            "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
            "CreateDate": WHEN,
            "MaxSessionDuration": seconds,
        }
        for name, seconds in durations.items()
    ]
    stub.add_response("list_roles", {"Roles": roles, "IsTruncated": False}, {"MaxItems": 1000})


# -- GetAccountAuthorizationDetails -----------------------------------------------------------------


def test_every_page_is_read_following_the_marker(offline: AwsClients, iam_stub: Stubber) -> None:
    attached = {"PolicyName": "s3-read", "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/s3-read"}
    iam_stub.add_response(
        "get_account_authorization_details",
        page(roles=[role_detail("first", AttachedManagedPolicies=[attached])], marker="m1"),
        gaad_params(),
    )
    iam_stub.add_response(
        "get_account_authorization_details",
        page(policies=[policy_detail("s3-read", S3_READ)], marker="m2"),
        gaad_params("m1"),
    )
    last_used = {"LastUsedDate": datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), "Region": "eu-west-1"}
    iam_stub.add_response(
        "get_account_authorization_details",
        page(roles=[role_detail("third", RoleLastUsed=last_used)]),
        gaad_params("m2"),
    )
    list_roles(iam_stub, {"first": 3600, "third": 43200})

    inventory = read_account(offline, regions=[])

    assert inventory.iam_pages == 3 and inventory.iam_complete and inventory.unread == ()
    by_name = {r.name: r for r in inventory.roles}
    assert set(by_name) == {"first", "third"} and inventory.account_id == ACCOUNT
    # The policy came on another page than the role that uses it: the default version is still found.
    [managed] = by_name["first"].managed_policies
    assert managed.document == S3_READ  # botocore decodes the URL-encoded document
    assert by_name["third"].last_used is not None and by_name["third"].last_used.startswith("2026-03-04")
    assert by_name["third"].max_session_duration == 43200  # from ListRoles: RoleDetail has no MaxSessionDuration
    # The stubs are consumed in order (the fixture checks none is left): exactly 3 pages and 1 ListRoles.


def test_a_failing_later_page_keeps_the_earlier_pages_and_says_so(offline: AwsClients, iam_stub: Stubber) -> None:
    iam_stub.add_response(
        "get_account_authorization_details", page(roles=[role_detail("kept")], marker="m1"), gaad_params()
    )
    iam_stub.add_client_error(
        "get_account_authorization_details", "ServiceFailure", "try again later", 500, expected_params=gaad_params("m1")
    )
    list_roles(iam_stub, {"kept": 3600})
    inventory = read_account(offline, regions=[])
    assert [r.name for r in inventory.roles] == ["kept"]
    assert not inventory.iam_complete
    [unread] = inventory.unread
    assert (unread.service, unread.operation) == ("iam", "GetAccountAuthorizationDetails")
    assert "ServiceFailure" in unread.reason
    assert inventory.roles and unread.as_error(ACCOUNT).resource == f"account:{ACCOUNT}"


def test_a_repeated_marker_cannot_make_the_read_loop(offline: AwsClients, iam_stub: Stubber) -> None:
    iam_stub.add_response(
        "get_account_authorization_details", page(roles=[role_detail("a")], marker="same"), gaad_params()
    )
    iam_stub.add_response(
        "get_account_authorization_details", page(roles=[role_detail("b")], marker="same"), gaad_params("same")
    )
    pages = read_authorization_details(offline)
    assert pages.pages == 2 and pages.failure is not None and "repeats its Marker" in pages.failure.reason


def test_nothing_readable_fails_loudly(offline: AwsClients, iam_stub: Stubber) -> None:
    iam_stub.add_client_error("get_account_authorization_details", "AccessDenied", "not authorized", 403)
    with pytest.raises(
        AccountReadError, match=r"cannot read the account: iam GetAccountAuthorizationDetails .*AccessDenied"
    ):
        read_account(offline, regions=[])


def test_without_list_roles_session_durations_default_and_the_report_says_so(
    offline: AwsClients, iam_stub: Stubber
) -> None:
    iam_stub.add_response("get_account_authorization_details", page(roles=[role_detail("a")]), gaad_params())
    iam_stub.add_client_error("list_roles", "AccessDenied", "no", 403)
    inventory = read_account(offline, regions=[])
    assert inventory.roles[0].max_session_duration == 3600 and inventory.iam_complete
    assert [u.operation for u in inventory.unread] == ["ListRoles"]


# -- against moto: last use, session durations, instances in every region --------------------------


def run_instance(region: str, profile: str) -> str:
    ec2 = boto3.client("ec2", region_name=region)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    return ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, IamInstanceProfile={"Name": profile})["Instances"][
        0
    ]["InstanceId"]


@pytest.mark.slow  # every region's EC2, or every AWS-managed policy, in moto
def test_the_account_is_read_from_moto_with_instances_of_every_region(clients: AwsClients) -> None:
    clients.iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(EC2_TRUST), MaxSessionDuration=7200)
    clients.iam.create_role(RoleName="idle", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    clients.iam.create_instance_profile(InstanceProfileName="app-profile")
    clients.iam.add_role_to_instance_profile(InstanceProfileName="app-profile", RoleName="app")
    used = datetime.now(UTC) - timedelta(days=3)
    backend = iam_backends[ACCOUNT]["global"]
    next(r for r in backend.roles.values() if r.name == "app").last_used = used
    home = run_instance("us-east-1", "app-profile")
    away = run_instance("eu-west-1", "app-profile")

    inventory = read_account(clients)

    app = next(r for r in inventory.roles if r.name == "app")
    assert app.max_session_duration == 7200
    assert app.last_used is not None and app.last_used.startswith(used.date().isoformat())
    assert app.instance_profiles[0].instance_ids == tuple(sorted([home, away]))
    assert next(r for r in inventory.roles if r.name == "idle").last_used is None
    assert {"us-east-1", "eu-west-1"} <= set(inventory.regions) and inventory.unread == ()
    calls = clients.counter.calls
    assert calls["iam:GetAccountAuthorizationDetails"] == 1 and calls["iam:ListRoles"] == 1
    assert calls["ec2:DescribeRegions"] == 1
    # One call chain per region, and nothing per role.
    assert calls["ec2:DescribeIamInstanceProfileAssociations"] == len(inventory.regions)
    assert not any(op.startswith(("iam:GetRole", "iam:ListRolePolicies", "iam:GetPolicy")) for op in calls)


def test_one_failing_region_loses_only_that_region(clients: AwsClients) -> None:
    clients.iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    clients.iam.create_instance_profile(InstanceProfileName="app-profile")
    clients.iam.add_role_to_instance_profile(InstanceProfileName="app-profile", RoleName="app")
    instance = run_instance("us-east-1", "app-profile")
    denied = boto3.client("ec2", region_name="eu-west-1")
    stub = Stubber(denied)
    stub.add_client_error("describe_iam_instance_profile_associations", "UnauthorizedOperation", "SCP denies", 403)
    stub.activate()

    def ec2_for_region(region: str) -> Any:
        return denied if region == "eu-west-1" else boto3.client("ec2", region_name=region)

    found = read_instance_associations(clients, ["us-east-1", "eu-west-1"], ec2_for_region=ec2_for_region)
    assert found.regions == ["us-east-1"]
    assert list(found.by_profile.values()) == [[instance]]
    [problem] = found.unread
    assert (problem.scope, problem.operation) == ("eu-west-1", "DescribeIamInstanceProfileAssociations")
    assert "UnauthorizedOperation: SCP denies" in problem.reason


def test_without_describe_regions_the_home_region_is_still_read(clients: AwsClients) -> None:
    with Stubber(clients.ec2) as stub:
        stub.add_client_error("describe_regions", "UnauthorizedOperation", "no", 403)
        found = read_instance_associations(clients)
    assert found.regions == ["us-east-1"]
    assert found.unread[0].operation == "DescribeRegions" and "only us-east-1 was read" in found.unread[0].reason


# -- Access Analyzer, account-wide ------------------------------------------------------------------

ANALYZER_ARN = f"arn:aws:access-analyzer:us-east-1:{ACCOUNT}:analyzer/"


def analyzer(name: str, kind: str, status: str = "ACTIVE") -> dict[str, Any]:
    return {"arn": ANALYZER_ARN + name, "name": name, "type": kind, "createdAt": WHEN, "status": status}


def summary(finding_id: str, role: str, finding_type: str) -> dict[str, Any]:
    return {
        "id": finding_id,
        "resource": f"arn:aws:iam::{ACCOUNT}:role/{role}",
        "resourceType": "AWS::IAM::Role",
        "resourceOwnerAccount": ACCOUNT,
        "status": "ACTIVE",
        "findingType": finding_type,
        "createdAt": WHEN,
        "updatedAt": WHEN,
        "analyzedAt": WHEN,
    }


def findings_params(name: str, token: str | None = None, org: bool = False) -> dict[str, Any]:
    criteria: dict[str, Any] = {"status": {"eq": ["ACTIVE"]}, "resourceType": {"eq": ["AWS::IAM::Role"]}}
    if org:
        criteria["resourceOwnerAccount"] = {"eq": [ACCOUNT]}
    params: dict[str, Any] = {"analyzerArn": ANALYZER_ARN + name, "filter": criteria, "maxResults": 100}
    if token:
        params["nextToken"] = token
    return params


@pytest.fixture
def analyzer_stub(offline: AwsClients) -> Iterator[Stubber]:
    with Stubber(offline.accessanalyzer) as stub:
        yield stub
        stub.assert_no_pending_responses()


def test_one_paginated_list_per_analyzer_covers_every_role(offline: AwsClients, analyzer_stub: Stubber) -> None:
    analyzer_stub.add_response(
        "list_analyzers",
        {
            "analyzers": [analyzer("external", "ACCOUNT"), analyzer("internal", "ACCOUNT_INTERNAL_ACCESS")],
            "nextToken": "t",
        },
        {},
    )
    analyzer_stub.add_response(
        "list_analyzers",
        {"analyzers": [analyzer("unused", "ACCOUNT_UNUSED_ACCESS"), analyzer("old", "ACCOUNT", "DISABLED")]},
        {"nextToken": "t"},
    )
    analyzer_stub.add_response(
        "list_findings_v2",
        {"findings": [summary("f1", "vendor", "ExternalAccess")], "nextToken": "n"},
        findings_params("external"),
    )
    analyzer_stub.add_response(
        "list_findings_v2", {"findings": [summary("f2", "ci", "ExternalAccess")]}, findings_params("external", "n")
    )
    analyzer_stub.add_response(
        "list_findings_v2",
        {"findings": [summary("u1", "vendor", "UnusedPermission"), summary("u2", "idle", "UnusedIAMRole")]},
        findings_params("unused"),
    )
    found = read_account_analyzer_findings(offline, ACCOUNT)
    assert found.skipped == [] and found.analyzers == [ANALYZER_ARN + "external", ANALYZER_ARN + "unused"]
    vendor = found.for_role(f"arn:aws:iam::{ACCOUNT}:role/vendor")
    assert [(f.id, f.finding_type, f.analyzer_type) for f in vendor] == [
        ("f1", "ExternalAccess", "ACCOUNT"),
        ("u1", "UnusedPermission", "ACCOUNT_UNUSED_ACCESS"),
    ]
    assert sum(len(v) for v in found.by_role.values()) == 4
    # Exactly the stubbed calls (none left over, none extra): 2 ListAnalyzers pages and 3 ListFindingsV2
    # pages for 4 findings on 3 roles; no call per role.


def test_an_organization_analyzer_is_limited_to_this_account(offline: AwsClients, analyzer_stub: Stubber) -> None:
    analyzer_stub.add_response("list_analyzers", {"analyzers": [analyzer("org", "ORGANIZATION")]}, {})
    analyzer_stub.add_response(
        "list_findings_v2", {"findings": [summary("o1", "vendor", "ExternalAccess")]}, findings_params("org", org=True)
    )
    assert len(read_account_analyzer_findings(offline, ACCOUNT).by_role) == 1


def test_access_denied_on_list_analyzers_is_a_skip_reason(offline: AwsClients, analyzer_stub: Stubber) -> None:
    analyzer_stub.add_client_error("list_analyzers", "AccessDeniedException", "not authorized", 403)
    found = read_account_analyzer_findings(offline, ACCOUNT)
    assert found.by_role == {} and "ListAnalyzers failed (AccessDeniedException: not authorized)" in found.skipped[0]


def test_no_active_analyzer_is_a_skip_reason(offline: AwsClients, analyzer_stub: Stubber) -> None:
    analyzer_stub.add_response("list_analyzers", {"analyzers": [analyzer("off", "ACCOUNT", "DISABLED")]}, {})
    found = read_account_analyzer_findings(offline, ACCOUNT)
    assert found.skipped == [
        "Access Analyzer findings not read: no active external-access or unused-access analyzer in us-east-1"
    ]


def test_one_failing_analyzer_keeps_the_others(offline: AwsClients, analyzer_stub: Stubber) -> None:
    analyzer_stub.add_response(
        "list_analyzers", {"analyzers": [analyzer("a", "ACCOUNT"), analyzer("b", "ACCOUNT_UNUSED_ACCESS")]}, {}
    )
    analyzer_stub.add_client_error(
        "list_findings_v2", "AccessDeniedException", "denied", 403, expected_params=findings_params("a")
    )
    analyzer_stub.add_response(
        "list_findings_v2", {"findings": [summary("u", "idle", "UnusedIAMRole")]}, findings_params("b")
    )
    found = read_account_analyzer_findings(offline, ACCOUNT)
    assert found.analyzers == [ANALYZER_ARN + "b"] and len(found.by_role) == 1
    assert found.skipped == ["Access Analyzer findings of a not read (AccessDeniedException: denied)"]


def test_an_endpoint_without_access_analyzer_is_a_skip_reason(clients: AwsClients) -> None:
    found = read_account_analyzer_findings(clients, ACCOUNT)  # moto implements no Access Analyzer
    assert found.by_role == {} and found.skipped and "ListAnalyzers failed" in found.skipped[0]


def test_the_readers_declare_the_actions_they_call() -> None:
    declared = declared_in("rolewatch.inventory.account_reader")
    assert declared["read_authorization_details"] == {"iam:GetAccountAuthorizationDetails"}
    assert declared["read_session_durations"] == {"iam:ListRoles"}
    assert declared["enabled_regions"] == {"ec2:DescribeRegions"}
    assert declared["read_region_associations"] == {"ec2:DescribeIamInstanceProfileAssociations"}
    assert declared_in("rolewatch.analyzer.account_findings")["read_account_analyzer_findings"] == {
        "access-analyzer:ListAnalyzers",
        "access-analyzer:ListFindings",
    }
    assert {"ACCOUNT", "ACCOUNT_UNUSED_ACCESS"} <= ROLE_ANALYZER_TYPES
