"""The first fix of an event report is to undo the call, only when the role without the change is clean."""

from __future__ import annotations

from helpers import NEUTRAL, NOW, allow, make_role, policy

from rolewatch.audit import audit_roles
from rolewatch.event.delta import Before, before_role_change
from rolewatch.model import AttachedPolicy
from rolewatch.undo import undo_first

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
LOGS = policy(allow("logs:PutLogEvents", "arn:aws:logs:us-east-1:111122223333:log-group:app:*"))


def undone(event: str, params: dict, role, before: Before):
    result = audit_roles([role], NEUTRAL, now=NOW)
    return undo_first(
        result,
        event_name=event,
        params=params,
        roles={role.name: role},
        befores={role.name: before},
        baseline=NEUTRAL,
        now=NOW,
    )


def test_an_attached_admin_policy_is_detached_first():
    role = make_role("logs", LOGS, managed=[(ADMIN, policy(allow("*")))])
    params = {"roleName": "logs", "policyArn": ADMIN}
    result = undone("AttachRolePolicy", params, role, before_role_change("AttachRolePolicy", params, role))
    [admin] = [f for f in result.findings if f.rule == "admin-access"]
    assert admin.remediation.cli[0] == f"aws iam detach-role-policy --role-name logs --policy-arn {ADMIN}"
    assert admin.remediation.summary.startswith("First, undo the call")


def test_no_undo_when_the_role_had_the_finding_before_the_call():
    admin_inline = policy(allow("*"))
    role = make_role("ops", admin_inline, managed=[(ADMIN, policy(allow("*")))])
    params = {"roleName": "ops", "policyArn": ADMIN}
    result = undone("AttachRolePolicy", params, role, before_role_change("AttachRolePolicy", params, role))
    [admin] = [f for f in result.findings if f.rule == "admin-access"]
    assert not admin.remediation.summary.startswith("First, undo")


def test_a_new_default_version_is_set_back():
    arn = "arn:aws:iam::111122223333:policy/app"
    role = make_role("app", managed=[(arn, policy(allow("*")))])
    previous = AttachedPolicy(
        name="app", document=LOGS, arn=arn, location=f"iam:GetPolicyVersion(PolicyArn={arn}, VersionId=v3)"
    )
    params = {"policyArn": arn, "versionId": "v4"}
    before = before_role_change("SetDefaultPolicyVersion", params, role, policy_before=previous)
    result = undone("SetDefaultPolicyVersion", params, role, before)
    [admin] = [f for f in result.findings if f.rule == "admin-access"]
    assert admin.remediation.cli[0] == f"aws iam set-default-policy-version --policy-arn {arn} --version-id v3"


def test_a_deleted_inline_policy_cannot_be_undone():
    role = make_role("app", policy(allow("*")))
    params = {"roleName": "app", "policyName": "gone"}
    result = undone("DeleteRolePolicy", params, role, before_role_change("DeleteRolePolicy", params, role))
    assert not any(f.remediation.summary.startswith("First, undo") for f in result.findings)
