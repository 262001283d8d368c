"""The live IAM reader against moto: every part of a role, default versions, deleted and late roles,
throttling, the AWS-managed policy cache, the declared actions, and the engine on what is read."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from helpers import NOW

from rolewatch.audit import audit_roles
from rolewatch.aws_permissions import declared_in
from rolewatch.baseline import Baseline, BaselineError, Profile, load_baseline
from rolewatch.inventory.clients import AwsClients, make_clients
from rolewatch.inventory.iam_reader import (
    AWS_MANAGED_POLICY_CACHE,
    REQUIRED_ACTIONS,
    SNAPSHOT_ATTEMPTS,
    RetryPolicy,
    RoleReadError,
    instances_for_profiles,
    profiles_for_instances,
    read_instance_profile,
    read_managed_policy,
    read_role,
    roles_for_policy,
)
from rolewatch.policy.document import parse_policy

S3_READ_ONLY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def policy(*actions: str, resource: str = "*") -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": resource}]}
    )


def create_role(clients: AwsClients, name: str, **extra: Any) -> str:
    return clients.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(EC2_TRUST), **extra)["Role"][
        "Arn"
    ]


def create_policy(clients: AwsClients, name: str, document: str) -> str:
    return clients.iam.create_policy(PolicyName=name, PolicyDocument=document)["Policy"]["Arn"]


def create_profile_with_role(clients: AwsClients, name: str, role: str) -> str:
    arn = clients.iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Arn"]
    clients.iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    return arn


def launch(clients: AwsClients, profile_arn: str | None = None) -> str:
    image = clients.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    extra = {"IamInstanceProfile": {"Arn": profile_arn}} if profile_arn else {}
    return clients.ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, **extra)["Instances"][0]["InstanceId"]


def seed_s3_access_role(clients: AwsClients) -> dict[str, str]:
    """The demo account's S3AccessRole: every kind of policy, a boundary, tags, a profile, an instance."""
    boundary = create_policy(clients, "workload-boundary", policy("s3:*", "logs:*"))
    create_role(
        clients,
        "S3AccessRole",
        PermissionsBoundary=boundary,
        MaxSessionDuration=7200,
        Tags=[{"Key": "project", "Value": "analytics"}, {"Key": "owner", "Value": "data-team"}],
    )
    clients.iam.put_role_policy(RoleName="S3AccessRole", PolicyName="write-logs", PolicyDocument=policy("logs:*"))
    logs = create_policy(clients, "Company1-Logs-Read", policy("logs:GetLogEvents"))
    clients.iam.create_policy_version(PolicyArn=logs, PolicyDocument=policy("logs:FilterLogEvents"), SetAsDefault=True)
    clients.iam.attach_role_policy(RoleName="S3AccessRole", PolicyArn=logs)
    clients.iam.attach_role_policy(RoleName="S3AccessRole", PolicyArn=S3_READ_ONLY)
    profile = create_profile_with_role(clients, "S3AccessRole", "S3AccessRole")
    instance = launch(clients, profile)
    return {"boundary": boundary, "logs": logs, "profile": profile, "instance": instance}


def actions_of(document: Any) -> set[str]:
    parsed = parse_policy(document, "test")
    return {a for s in parsed.statements for a in s.actions}


# -- a whole role ----------------------------------------------------------------------------------


@pytest.mark.slow  # every region's EC2, or every AWS-managed policy, in moto
def test_read_role_reads_every_part_of_the_role(managed_clients: AwsClients) -> None:
    seeded = seed_s3_access_role(managed_clients)

    role = read_role(managed_clients, "S3AccessRole")

    assert role is not None
    assert role.arn == "arn:aws:iam::123456789012:role/S3AccessRole"
    assert role.name == "S3AccessRole" and role.path == "/"
    assert actions_of(role.trust_policy) == {"sts:AssumeRole"}
    assert [(p.name, p.location) for p in role.inline_policies] == [
        ("write-logs", "iam:GetRolePolicy(RoleName=S3AccessRole, PolicyName=write-logs)")
    ]
    assert actions_of(role.inline_policies[0].document) == {"logs:*"}
    assert set(role.managed_policy_arns) == {seeded["logs"], S3_READ_ONLY}
    by_arn = {p.arn: p for p in role.managed_policies}
    assert by_arn[S3_READ_ONLY].is_aws_managed and "s3:Get*" in actions_of(by_arn[S3_READ_ONLY].document)
    assert by_arn[S3_READ_ONLY].location.startswith(f"iam:GetPolicyVersion(PolicyArn={S3_READ_ONLY}, VersionId=")
    assert role.permissions_boundary is not None and role.permissions_boundary.arn == seeded["boundary"]
    assert actions_of(role.permissions_boundary.document) == {"s3:*", "logs:*"}
    assert role.tag_map == {"project": "analytics", "owner": "data-team"}
    assert role.max_session_duration == 7200
    assert role.create_date is not None
    [profile] = role.instance_profiles
    assert (profile.name, profile.arn, profile.instance_ids) == (
        "S3AccessRole",
        seeded["profile"],
        (seeded["instance"],),
    )


def test_managed_policy_is_read_at_its_default_version(clients: AwsClients) -> None:
    arn = create_policy(clients, "Company1-Logs-Read", policy("logs:GetLogEvents"))
    clients.iam.create_policy_version(PolicyArn=arn, PolicyDocument=policy("logs:FilterLogEvents"), SetAsDefault=True)

    read = read_managed_policy(clients, arn)
    assert read is not None and actions_of(read.document) == {"logs:FilterLogEvents"}
    assert read.location == f"iam:GetPolicyVersion(PolicyArn={arn}, VersionId=v2)"

    clients.iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    back = read_managed_policy(clients, arn)
    assert back is not None and actions_of(back.document) == {"logs:GetLogEvents"}


def test_a_role_without_policies_or_profiles_reads_empty(clients: AwsClients) -> None:
    create_role(clients, "CloudWatchAgentRole")
    role = read_role(clients, "CloudWatchAgentRole")
    assert role is not None
    assert role.permission_policies == () and role.permissions_boundary is None and role.instance_profiles == ()
    assert role.tags == () and role.max_session_duration == 3600


# -- missing roles and eventual consistency ------------------------------------------------------------


def test_a_role_that_never_existed_reads_as_none(clients: AwsClients) -> None:
    assert read_role(clients, "no-such-role") is None


def test_a_deleted_role_reads_as_none(clients: AwsClients) -> None:
    create_role(clients, "Company1-Logs-Role")
    clients.iam.delete_role(RoleName="Company1-Logs-Role")
    assert read_role(clients, "Company1-Logs-Role") is None


def test_a_missing_role_is_not_waited_for_unless_asked(clients: AwsClients) -> None:
    slept: list[float] = []
    assert read_role(clients, "no-such-role", sleep=slept.append) is None
    assert slept == []


def test_a_late_role_is_found_after_a_backoff(clients: AwsClients) -> None:
    slept: list[float] = []

    def sleep_then_role_appears(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 1:  # IAM catches up while we wait
            create_role(clients, "github-deploy-role")

    role = read_role(clients, "github-deploy-role", retry_missing=True, sleep=sleep_then_role_appears)

    assert role is not None and role.name == "github-deploy-role"
    assert slept == [0.5]


def test_the_retry_for_a_missing_role_is_bounded(clients: AwsClients) -> None:
    slept: list[float] = []
    assert read_role(clients, "never-created", retry_missing=True, sleep=slept.append) is None
    assert slept == [0.5, 1.0, 2.0]
    assert clients.counter.calls["iam:GetRole"] == 4


def test_backoff_doubles_up_to_its_cap() -> None:
    assert RetryPolicy(attempts=6).delays() == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert RetryPolicy(attempts=1).delays() == []


# -- throttling and errors -------------------------------------------------------------------------


class _Body:
    """The raw body botocore reads from an HTTP response."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def inject_error_response(client: Any, operation: str, code: str, status: int, times: int) -> list[int]:
    """Answer the first `times` HTTP attempts of `operation` with an IAM error; moto answers the rest.

    This acts below botocore's retry handler (unlike Stubber, whose canned responses skip retries),
    so it shows what the standard retry mode really does with the error.
    """
    sent: list[int] = []
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected</Message></Error>"
        "<RequestId>injected</RequestId></ErrorResponse>"
    ).encode()

    def respond(request: Any, **_: Any) -> AWSResponse | None:
        sent.append(1)
        if len(sent) <= times:
            return AWSResponse(request.url, status, {"Content-Type": "text/xml"}, _Body(body))
        return None

    client.meta.events.register_first(f"before-send.iam.{operation}", respond)
    return sent


def test_throttling_is_retried_by_the_standard_retry_mode(clients: AwsClients) -> None:
    create_role(clients, "S3AccessRole")
    sent = inject_error_response(clients.iam, "GetRole", "Throttling", 400, times=1)

    role = read_role(clients, "S3AccessRole")

    assert role is not None and role.name == "S3AccessRole"
    assert len(sent) == 2  # the throttled attempt, then the retry that succeeded
    assert clients.counter.calls["iam:GetRole"] == 1


def test_a_missing_permission_raises_instead_of_reading_as_deleted(clients: AwsClients) -> None:
    create_role(clients, "S3AccessRole")
    sent = inject_error_response(clients.iam, "GetRole", "AccessDenied", 403, times=1)

    with pytest.raises(ClientError, match="AccessDenied"):
        read_role(clients, "S3AccessRole", retry_missing=True, sleep=lambda _: None)
    assert len(sent) == 1  # not retryable


def test_an_inline_policy_deleted_while_reading_is_left_out(clients: AwsClients) -> None:
    create_role(clients, "Company1-Logs-Role")
    for name in ("gone", "kept"):
        clients.iam.put_role_policy(RoleName="Company1-Logs-Role", PolicyName=name, PolicyDocument=policy("logs:*"))

    def delete_first(params: dict[str, Any], **_: Any) -> None:
        if params.get("PolicyName") == "gone":  # someone deletes it between ListRolePolicies and GetRolePolicy
            clients.iam.meta.events.unregister("provide-client-params.iam.GetRolePolicy", delete_first)
            clients.iam.delete_role_policy(RoleName="Company1-Logs-Role", PolicyName="gone")

    clients.iam.meta.events.register("provide-client-params.iam.GetRolePolicy", delete_first)

    role = read_role(clients, "Company1-Logs-Role")

    assert role is not None  # the role is still there: only the policy vanished, and the re-read shows it
    assert [p.name for p in role.inline_policies] == ["kept"]
    assert clients.counter.calls["iam:GetRole"] == 2


@pytest.mark.parametrize("operation", ["GetPolicyVersion", "GetPolicy", "GetRolePolicy"])
def test_a_policy_piece_vanishing_once_rereads_the_live_role(clients: AwsClients, operation: str) -> None:
    """A NoSuchEntity from anything but GetRole is not the role's deletion: the role is read again."""
    create_role(clients, "Company1-Logs-Role")
    clients.iam.put_role_policy(RoleName="Company1-Logs-Role", PolicyName="logs", PolicyDocument=policy("logs:*"))
    arn = create_policy(clients, "admin", policy("*"))
    clients.iam.attach_role_policy(RoleName="Company1-Logs-Role", PolicyArn=arn)
    inject_error_response(clients.iam, operation, "NoSuchEntity", 404, times=1)

    role = read_role(clients, "Company1-Logs-Role")

    assert role is not None and [p.arn for p in role.managed_policies] == [arn]
    assert [p.name for p in role.inline_policies] == ["logs"]
    assert clients.counter.calls["iam:GetRole"] == 2


def test_a_boundary_version_vanishing_rereads_the_role(clients: AwsClients) -> None:
    boundary = create_policy(clients, "boundary", policy("s3:*"))
    create_role(clients, "S3AccessRole", PermissionsBoundary=boundary)
    inject_error_response(clients.iam, "GetPolicyVersion", "NoSuchEntity", 404, times=1)

    role = read_role(clients, "S3AccessRole")

    assert role is not None and role.permissions_boundary is not None
    assert role.permissions_boundary.document is not None  # never an empty boundary standing in for a real one


def test_a_piece_that_keeps_vanishing_fails_the_read_instead_of_calling_the_role_deleted(clients: AwsClients) -> None:
    create_role(clients, "Company1-Logs-Role")
    clients.iam.attach_role_policy(RoleName="Company1-Logs-Role", PolicyArn=create_policy(clients, "a", policy("*")))
    inject_error_response(clients.iam, "GetPolicyVersion", "NoSuchEntity", 404, times=10_000)

    with pytest.raises(RoleReadError, match="GetPolicyVersion answered NoSuchEntity"):
        read_role(clients, "Company1-Logs-Role")
    assert clients.counter.calls["iam:GetRole"] == SNAPSHOT_ATTEMPTS


def test_a_role_deleted_during_the_read_still_reads_as_deleted(clients: AwsClients) -> None:
    create_role(clients, "Company1-Logs-Role")
    clients.iam.attach_role_policy(RoleName="Company1-Logs-Role", PolicyArn=create_policy(clients, "a", policy("*")))

    def delete_role(**_: Any) -> None:
        clients.iam.meta.events.unregister("provide-client-params.iam.GetPolicy", delete_role)
        for attached in clients.iam.list_attached_role_policies(RoleName="Company1-Logs-Role")["AttachedPolicies"]:
            clients.iam.detach_role_policy(RoleName="Company1-Logs-Role", PolicyArn=attached["PolicyArn"])
        clients.iam.delete_role(RoleName="Company1-Logs-Role")

    clients.iam.meta.events.register("provide-client-params.iam.GetPolicy", delete_role)
    inject_error_response(clients.iam, "GetPolicy", "NoSuchEntity", 404, times=1)

    assert read_role(clients, "Company1-Logs-Role") is None
    assert clients.counter.calls["iam:GetRole"] == 2


# -- policies, profiles, instances -----------------------------------------------------------------


def test_roles_for_policy_lists_every_attached_role(clients: AwsClients) -> None:
    arn = create_policy(clients, "GithubDeployPolicy", policy("s3:PutObject"))
    for name in ("github-deploy-role", "S3AccessRole", "CloudWatchAgentRole"):
        create_role(clients, name)
    clients.iam.attach_role_policy(RoleName="github-deploy-role", PolicyArn=arn)
    clients.iam.attach_role_policy(RoleName="S3AccessRole", PolicyArn=arn)

    assert roles_for_policy(clients, arn) == ["S3AccessRole", "github-deploy-role"]
    assert roles_for_policy(clients, "arn:aws:iam::123456789012:policy/deleted") == []


def test_roles_for_policy_follows_every_page(clients: AwsClients) -> None:
    # moto's ListEntitiesForPolicy never sets IsTruncated/Marker, so the pages come from botocore's Stubber.
    arn = "arn:aws:iam::123456789012:policy/shared"
    page_one = {
        "PolicyRoles": [{"RoleName": "role-a", "RoleId": "AROAEXAMPLEROLEA01"}],
        "IsTruncated": True,
        "Marker": "m1",
    }
    page_two = {"PolicyRoles": [{"RoleName": "role-b", "RoleId": "AROAEXAMPLEROLEB02"}], "IsTruncated": False}
    with Stubber(clients.iam) as stub:
        stub.add_response("list_entities_for_policy", page_one, {"PolicyArn": arn, "EntityFilter": "Role"})
        stub.add_response(
            "list_entities_for_policy", page_two, {"PolicyArn": arn, "EntityFilter": "Role", "Marker": "m1"}
        )
        assert roles_for_policy(clients, arn) == ["role-a", "role-b"]
        stub.assert_no_pending_responses()


def test_read_instance_profile_by_name_or_arn(clients: AwsClients) -> None:
    create_role(clients, "CloudWatchAgentRole")
    arn = create_profile_with_role(clients, "CloudWatchAgentRole", "CloudWatchAgentRole")

    by_name = read_instance_profile(clients, "CloudWatchAgentRole")
    by_arn = read_instance_profile(clients, arn)

    assert by_name == by_arn
    assert by_name is not None and by_name.role_names == ("CloudWatchAgentRole",) and by_name.arn == arn
    assert read_instance_profile(clients, "no-such-profile") is None


@pytest.mark.slow  # every region's EC2, or every AWS-managed policy, in moto
def test_instances_are_mapped_to_their_profiles_and_back(clients: AwsClients) -> None:
    for name in ("S3AccessRole", "CloudWatchAgentRole"):
        create_role(clients, name)
    s3_profile = create_profile_with_role(clients, "S3AccessRole", "S3AccessRole")
    idle_profile = create_profile_with_role(clients, "CloudWatchAgentRole", "CloudWatchAgentRole")
    first, second = launch(clients, s3_profile), launch(clients, s3_profile)
    bare = launch(clients)

    running = instances_for_profiles(clients, [s3_profile, idle_profile])

    assert running == {s3_profile: sorted([first, second]), idle_profile: []}
    assert profiles_for_instances(clients, [first, bare]) == {first: s3_profile}


# -- warm containers: the AWS-managed policy cache -----------------------------------------------------


def test_aws_managed_policy_versions_are_cached_across_reads(managed_clients: AwsClients) -> None:
    seed_s3_access_role(managed_clients)
    first = read_role(managed_clients, "S3AccessRole")
    cold_versions = managed_clients.counter.calls["iam:GetPolicyVersion"]
    managed_clients.counter.reset()

    second = read_role(managed_clients, "S3AccessRole")

    assert first == second
    # Warm: the customer-managed policy and the boundary are re-read, AmazonS3ReadOnlyAccess is not.
    assert cold_versions == 3
    assert managed_clients.counter.calls["iam:GetPolicyVersion"] == 2
    assert managed_clients.counter.calls["iam:GetPolicy"] == 3  # the default version id is always checked
    assert AWS_MANAGED_POLICY_CACHE.hits == 1 and len(AWS_MANAGED_POLICY_CACHE) == 1


def test_the_cache_is_bounded_and_keyed_by_version() -> None:
    from rolewatch.inventory.iam_reader import AWSManagedPolicyCache
    from rolewatch.model import AttachedPolicy

    cache = AWSManagedPolicyCache(max_entries=2)
    for version in ("v1", "v2", "v3"):
        cache.put("arn:aws:iam::aws:policy/P", version, AttachedPolicy(name=version, document={}))
    assert cache.get("arn:aws:iam::aws:policy/P", "v1") is None  # evicted, oldest first
    hit = cache.get("arn:aws:iam::aws:policy/P", "v3")
    assert hit is not None and hit.name == "v3" and len(cache) == 2


# -- declared actions and call counts --------------------------------------------------------------


def _calls_of(clients: AwsClients, read: Callable[[], object]) -> frozenset[str]:
    clients.counter.reset()
    read()
    return clients.counter.operations()


@pytest.mark.slow  # every region's EC2, or every AWS-managed policy, in moto
def test_every_reader_calls_only_the_actions_it_declares(managed_clients: AwsClients) -> None:
    seeded = seed_s3_access_role(managed_clients)
    reads: dict[str, Callable[[], object]] = {
        "read_role": lambda: read_role(managed_clients, "S3AccessRole"),
        "read_managed_policy": lambda: read_managed_policy(managed_clients, seeded["logs"]),
        "read_inline_policies": lambda: read_role(managed_clients, "S3AccessRole", include_instances=False),
        "roles_for_policy": lambda: roles_for_policy(managed_clients, seeded["logs"]),
        "read_instance_profile": lambda: read_instance_profile(managed_clients, "S3AccessRole"),
        "instances_for_profiles": lambda: instances_for_profiles(managed_clients, [seeded["profile"]]),
        "profiles_for_instances": lambda: profiles_for_instances(managed_clients, [seeded["instance"]]),
    }
    own = declared_in("rolewatch.inventory.iam_reader")
    assert set(reads) == set(own)
    for name, read in reads.items():
        called = _calls_of(managed_clients, read)
        assert called, name
        if name != "read_inline_policies":  # reached through read_role, which declares its own set
            assert called <= own[name], name
    # read_role needs every action it declares (nothing is granted that is never used).
    assert _calls_of(managed_clients, reads["read_role"]) == own["read_role"]
    assert frozenset().union(*own.values()) == REQUIRED_ACTIONS
    assert all(a.split(":")[0] in {"iam", "ec2"} for a in REQUIRED_ACTIONS)


def test_calls_per_role_read_are_counted_by_service(managed_clients: AwsClients) -> None:
    seed_s3_access_role(managed_clients)
    managed_clients.counter.reset()
    read_role(managed_clients, "S3AccessRole")
    # GetRole; ListRolePolicies + 1 GetRolePolicy; ListAttachedRolePolicies + 3 x (GetPolicy +
    # GetPolicyVersion), the boundary included; ListInstanceProfilesForRole; one EC2 call for the instances.
    assert managed_clients.counter.by_service() == {"iam": 11, "ec2": 1}
    assert managed_clients.counter.total() == 12


# -- the client factory ----------------------------------------------------------------------------


def test_clients_are_made_lazily_with_standard_retries(aws: None) -> None:
    clients = make_clients(region="us-east-1")
    assert clients._clients == {}
    iam = clients.iam
    assert clients.iam is iam and set(clients._clients) == {"iam"}
    # botocore's "max_attempts" counts retries, so a call is tried at most six times in all.
    assert iam.meta.config.retries == {"mode": "standard", "total_max_attempts": 6}


def test_clients_honour_aws_endpoint_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5099")
    assert make_clients(region="us-east-1").sns.meta.endpoint_url == "http://127.0.0.1:5099"


# -- the engine accepts what the reader produces ------------------------------------------------------


def _baseline() -> Baseline:
    try:
        return load_baseline()
    except (BaselineError, OSError):  # the shipped default may not exist yet: a catch-all profile
        return Baseline(profiles=(Profile(name="default"),))


def test_the_engine_audits_a_live_snapshot(managed_clients: AwsClients) -> None:
    seed_s3_access_role(managed_clients)
    role = read_role(managed_clients, "S3AccessRole")
    assert role is not None

    result = audit_roles([role], _baseline(), now=NOW)

    assert result.errors == ()
    assert result.roles_audited == 1
    exfiltration = [f for f in result.findings if f.rule == "data-exfiltration"]
    assert exfiltration and exfiltration[0].resource == role.arn
    assert any(a.startswith("s3:Get") for a in exfiltration[0].actions)
