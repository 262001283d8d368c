"""unused-role: a role that has not been used for longer than its baseline profile allows.

The evidence is IAM's RoleLastUsed (GetRole, and GetAccountAuthorizationDetails' RoleDetailList) and the
role's creation date. The evidence that goes into the finding's fingerprint is the last-use *date* (or
"never"), which does not change while the role stays unused, so the weekly comparison sees the same
finding every week instead of a new one each time the day count grows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

from rolewatch.model import Finding, RoleSnapshot
from rolewatch.rules.registry import RuleContext, rule
from rolewatch.shell import command


def parse_day(value: str | None) -> date | None:
    """The UTC date of an IAM timestamp as the readers keep it (ISO 8601, "Z" or offset); None if unusable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def _cmd(*parts: str) -> str:
    return command(*parts)


def delete_role_cli(role: RoleSnapshot) -> list[str]:
    """Everything `aws iam delete-role` needs first, in order, then the deletion itself."""
    commands = [
        _cmd("aws", "iam", "detach-role-policy", "--role-name", role.name, "--policy-arn", arn)
        for arn in role.managed_policy_arns
    ]
    commands += [
        _cmd("aws", "iam", "delete-role-policy", "--role-name", role.name, "--policy-name", policy.name)
        for policy in role.inline_policies
    ]
    commands += [
        _cmd(
            "aws",
            "iam",
            "remove-role-from-instance-profile",
            "--instance-profile-name",
            p.name,
            "--role-name",
            role.name,
        )
        for p in role.instance_profiles
    ]
    if role.permissions_boundary is not None:
        commands.append(_cmd("aws", "iam", "delete-role-permissions-boundary", "--role-name", role.name))
    commands.append(_cmd("aws", "iam", "delete-role", "--role-name", role.name))
    return commands


@rule
def unused_role(ctx: RuleContext) -> Iterator[Finding]:
    limit = ctx.profile.max_unused_days
    if limit is None:
        return
    role = ctx.role
    today = ctx.now.date()
    last_used = parse_day(role.last_used)
    created = parse_day(role.create_date)
    if last_used is not None:
        idle = (today - last_used).days
        if idle <= limit:
            return
        detail = (
            f"{role.name} was last used on {last_used.isoformat()}, {idle} days ago; profile {ctx.profile.name} "
            f"allows {limit} days without use."
        )
        evidence = (f"last_used={last_used.isoformat()}",)
    elif created is not None:
        age = (today - created).days
        if age <= limit:
            return
        detail = (
            f"{role.name} has no recorded use since it was created on {created.isoformat()}, {age} days ago "
            f"(IAM tracks the last 400 days); profile {ctx.profile.name} allows {limit} days without use."
        )
        evidence = ("last_used=never", f"created={created.isoformat()}")
    else:
        return  # neither date known (a hand-made file): nothing to judge by
    running = sorted({i for p in role.instance_profiles for i in p.instance_ids})
    if running:
        detail += f" Instances still run with its instance profile ({', '.join(running[:5])}): stop them first."
    cli = [
        _cmd("aws", "iam", "get-role", "--role-name", role.name, "--query", "Role.RoleLastUsed"),
        *delete_role_cli(role),
    ]
    yield ctx.finding(
        "unused-role",
        detail,
        evidence=evidence,
        cli=cli,
        severity=ctx.profile.severity_for("unused-role"),
    )
