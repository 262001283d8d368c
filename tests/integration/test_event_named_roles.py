"""The event path reads only the roles a PassRole/AssumeRole Resource names, to judge what passing them gives."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from helpers import NEUTRAL

from rolewatch.audit import audit_roles
from rolewatch.event.targets import read_named_roles
from rolewatch.inventory.clients import AwsClients
from rolewatch.inventory.iam_reader import read_role

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def trust(service: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def role(clients: AwsClients, name: str, service: str, *statements: dict) -> str:
    arn = clients.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(service))["Role"]["Arn"]
    if statements:
        document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
        clients.iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=document)
    return arn


def allow(action: str | list[str], resource: str | list[str] = "*") -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def test_only_the_named_roles_are_read_and_the_path_is_judged(clients: AwsClients) -> None:
    admin = role(clients, "ops-admin", "lambda.amazonaws.com", allow("*"))
    logs = role(clients, "log-shipper", "lambda.amazonaws.com", allow("logs:PutLogEvents"))
    role(clients, "unrelated-admin", "lambda.amazonaws.com", allow("*"))
    launch = allow(["lambda:CreateFunction", "lambda:InvokeFunction"])
    role(clients, "deployer", "ec2.amazonaws.com", launch, allow("iam:PassRole", [admin, logs]))
    target = read_role(clients, "deployer", include_instances=False)
    assert target is not None
    before = clients.counter.calls["iam:GetRole"]

    context = read_named_roles(clients, [target], NOW)

    assert sorted(r.arn for r in context) == sorted([admin, logs])
    assert clients.counter.calls["iam:GetRole"] - before == 2  # the unrelated role is never read
    result = audit_roles([target], NEUTRAL, now=NOW, rules=["privilege-escalation"], context=context)
    [finding] = result.findings
    assert finding.resource == target.arn
    assert "deployer -> ops-admin: administrator access" in finding.detail


def test_a_wildcard_resource_reads_nothing_and_stays_reported(clients: AwsClients) -> None:
    role(clients, "ops-admin", "lambda.amazonaws.com", allow("*"))
    launch = allow(["lambda:CreateFunction", "lambda:InvokeFunction"])
    role(clients, "deployer", "ec2.amazonaws.com", launch, allow("iam:PassRole"))
    target = read_role(clients, "deployer", include_instances=False)
    assert target is not None
    assert read_named_roles(clients, [target], NOW) == []
    [finding] = audit_roles([target], NEUTRAL, now=NOW, rules=["privilege-escalation"]).findings
    assert any("passable roles unknown" in e for e in finding.evidence)
