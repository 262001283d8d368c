"""Reading `aws iam get-account-authorization-details` output, including moto's and partial files."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from helpers import NOW

from rolewatch.inventory.authz_file import NotAnAccountFile, read_account_json

DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def test_default_version_is_chosen_and_names_derived_from_arns():
    value = {
        "RoleDetailList": [
            {
                "Arn": "arn:aws:iam::111122223333:role/app",
                "RoleName": "app",
                "AttachedManagedPolicies": [{"PolicyArn": "arn:aws:iam::111122223333:policy/p"}],
                "PermissionsBoundary": {"PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/p"},
                "Tags": [{"Key": "owner", "Value": "team"}],
                "InstanceProfileList": [
                    {"InstanceProfileName": "app", "Arn": "arn:aws:iam::111122223333:instance-profile/app"}
                ],
                "RoleLastUsed": {"LastUsedDate": "2026-11-01T00:00:00Z"},
            }
        ],
        "Policies": [  # moto omits PolicyName and PolicyId
            {
                "Arn": "arn:aws:iam::111122223333:policy/p",
                "DefaultVersionId": "v2",
                "PolicyVersionList": [
                    {"VersionId": "v1", "IsDefaultVersion": False, "Document": {"Statement": []}},
                    {"VersionId": "v2", "IsDefaultVersion": True, "Document": quote(json.dumps(DOC))},
                ],
            }
        ],
    }
    account = read_account_json(value, "f.json")
    [role] = account.roles
    [policy] = role.managed_policies
    assert policy.name == "p"
    assert policy.document == quote(json.dumps(DOC))
    assert policy.location == "Policies[0].PolicyVersionList[1].Document"
    assert role.permissions_boundary is not None and role.permissions_boundary.arn.endswith("policy/p")
    assert role.tag_map == {"owner": "team"}
    assert role.instance_profiles[0].name == "app"
    assert role.last_used == "2026-11-01T00:00:00Z"
    assert account.errors == [] and account.notes == []


def test_attached_policy_missing_from_file_is_a_note_not_an_error():
    value = {
        "RoleDetailList": [
            {
                "Arn": "arn:aws:iam::111122223333:role/app",
                "AttachedManagedPolicies": [{"PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
            }
        ]
    }
    account = read_account_json(value, "f.json")
    [role] = account.roles
    assert role.managed_policies == ()
    assert role.managed_policy_arns == ("arn:aws:iam::aws:policy/ReadOnlyAccess",)
    assert "ReadOnlyAccess" in account.notes[0]


def test_entries_without_arn_are_errors_and_others_survive():
    value = {"RoleDetailList": [{"RoleName": "x"}, {"Arn": "arn:aws:iam::111122223333:role/ok"}]}
    account = read_account_json(value, "f.json")
    assert [r.name for r in account.roles] == ["ok"]
    assert account.errors[0].location == "RoleDetailList[0]"


def test_policy_document_file():
    account = read_account_json(DOC, "dir/policy.json")
    assert account.kind == "policy"
    assert account.roles[0].name == "policy"


@pytest.mark.parametrize("value", [[], {"a": 1}, "text", None], ids=["list", "object", "string", "null"])
def test_other_json_is_rejected(value):
    with pytest.raises(NotAnAccountFile):
        read_account_json(value, "f.json")


def test_cloudsplaining_example_account_audits_without_errors(shared_data):
    from helpers import NEUTRAL

    from rolewatch.audit import audit_roles

    value = json.loads((shared_data / "cloudsplaining" / "example-authz-details.json").read_text())
    account = read_account_json(value, "example")
    result = audit_roles(account.roles, NEUTRAL, now=NOW)
    assert account.errors == [] and result.errors == ()
    assert result.roles_audited == len(account.roles) - result.roles_skipped.get("service-linked", 0)
    assert any(f.category == "privilege-escalation" for f in result.findings)
