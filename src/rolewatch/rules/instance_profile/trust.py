"""instance-profile-trust: a role in an instance profile must trust EC2."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rolewatch.model import Finding
from rolewatch.principals import is_ec2_service, partition_of_arn
from rolewatch.remediation import (
    update_trust_cli,
)
from rolewatch.rules.registry import RuleContext, rule
from rolewatch.rules.trust.statements import (
    ASSUME_ROLE,
    allows_action,
    trust_document,
)
from rolewatch.shell import join


@rule
def instance_profile_trust(ctx: RuleContext) -> Iterator[Finding]:
    """The role is in an instance profile but its trust policy does not let EC2 assume it.

    EC2 counts when an Allow statement names ec2.amazonaws.com (or ec2.amazonaws.com.cn) as a Service
    principal for sts:AssumeRole. Roles without a parsable trust policy produce nothing here.
    """
    if ctx.trust is None or not ctx.role.instance_profiles:
        return
    trusts_ec2 = any(
        allows_action(statement, ASSUME_ROLE) and any(is_ec2_service(s) for s in statement.principals.of("Service"))
        for statement in ctx.trust.statements
        if statement.principals is not None and not statement.not_principal
    )
    if trusts_ec2:
        return
    profiles = ctx.role.instance_profiles
    names = ", ".join(p.name for p in profiles)
    instances = [i for p in profiles for i in p.instance_ids]
    detail = (
        f"Role {ctx.role.name} is in instance profile(s) {names} but its trust policy does not allow "
        "ec2.amazonaws.com to call sts:AssumeRole, so no instance can use it"
        + (f" (running instances: {', '.join(instances)})." if instances else ".")
    )
    yield ctx.finding(
        "instance-profile-trust",
        detail,
        actions=[ASSUME_ROLE],
        evidence=[
            *(f"InstanceProfile={p.arn}" for p in profiles),
            *(f"Instance={i}" for i in instances),
            "AssumeRolePolicyDocument: no Allow for Service ec2.amazonaws.com",
        ],
        cli=[*(_remove_from_profile_cli(p.name, ctx.role.name) for p in profiles), update_trust_cli(ctx.role)],
        policy=_with_ec2_trust(ctx),
    )


def _remove_from_profile_cli(profile_name: str, role_name: str) -> str:
    return join(
        [
            "aws",
            "iam",
            "remove-role-from-instance-profile",
            "--instance-profile-name",
            profile_name,
            "--role-name",
            role_name,
        ]
    )


def _with_ec2_trust(ctx: RuleContext) -> dict[str, Any]:
    """The trust policy with an EC2 statement added (for when the role is meant to run on instances)."""
    document = trust_document(ctx)
    china = partition_of_arn(ctx.role.arn) == "aws-cn"
    service = "ec2.amazonaws.com.cn" if china else "ec2.amazonaws.com"
    document["Statement"].append({"Effect": "Allow", "Principal": {"Service": service}, "Action": ASSUME_ROLE})
    return document
