"""The embedded moto demo has no Access Analyzer: the audit completes and says, once, why it was skipped.

moto 5.2 answers every Access Analyzer operation with a bare HTTP 404 "Not yet implemented" in process
(mock_aws) and with an HTTP 500 HTML page from its server (what `make demo` runs); both must end as one
skipped reason, after which the check asks nothing more for the rest of the invocation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from helpers import NOW
from moto.server import ThreadedMotoServer

from rolewatch.analyzer.check import AccessAnalyzerCheck
from rolewatch.analyzer.translate import skipped_finding
from rolewatch.audit import audit_roles
from rolewatch.baseline import load_baseline
from rolewatch.inventory.clients import AwsClients, make_clients
from rolewatch.inventory.iam_reader import read_role

REGION = "us-east-1"
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
INLINE = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def seed(clients: AwsClients, *names: str) -> None:
    for name in names:
        clients.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
        clients.iam.put_role_policy(RoleName=name, PolicyName="app", PolicyDocument=json.dumps(INLINE))


def test_an_audit_against_moto_completes_with_one_info_finding(clients: AwsClients) -> None:
    seed(clients, "S3AccessRole", "CloudWatchAgentRole")
    baseline = load_baseline()
    check = AccessAnalyzerCheck(clients)
    results = {}
    for name in ("S3AccessRole", "CloudWatchAgentRole"):
        snapshot = read_role(clients, name)
        assert snapshot is not None
        audit = audit_roles([snapshot], baseline, now=NOW)
        assert audit.roles_audited == 1 and not audit.errors
        profile = baseline.profile_for(snapshot, frozenset({"ec2.amazonaws.com"}))
        results[name] = (snapshot, check(snapshot, profile))

    for snapshot, result in results.values():
        assert result.findings == ()
        [reason] = result.skipped
        assert "does not implement IAM Access Analyzer (HTTP 404 Not yet implemented)" in reason
        assert reason.startswith("ValidatePolicy, CheckNoPublicAccess, CheckAccessNotGranted, CheckNoNewAccess, ")
        info = skipped_finding(snapshot, result.skipped)
        assert info is not None and info.severity.value == "info" and info.resource == snapshot.arn
    # The first call found out; nothing else was sent to the endpoint in this invocation.
    assert clients.counter.total("access-analyzer") == 1
    assert check.unavailable is not None


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    yield endpoint
    server.stop()


def test_the_moto_server_of_the_demo_is_recognised_too(moto_server: str) -> None:
    clients = make_clients(region=REGION)
    seed(clients, "ops-admin")
    snapshot = read_role(clients, "ops-admin")
    assert snapshot is not None
    check = AccessAnalyzerCheck(clients)
    profile = load_baseline().profile_for(snapshot, frozenset({"ec2.amazonaws.com"}))
    result = check(snapshot, profile)
    [reason] = result.skipped
    assert f"the endpoint {moto_server} does not implement IAM Access Analyzer (HTTP 500)" in reason
    assert check(snapshot, profile).skipped == result.skipped
    assert clients.counter.total("access-analyzer") == 1  # one call (botocore retried it), then no more
