"""Role snapshots from the JSON of `aws iam get-account-authorization-details` (or one policy document).

Pure: reads a parsed JSON value, calls nothing. Documents stay raw (object, JSON string or URL-encoded
string) and are parsed by the engine, so a malformed one is reported with its location while every
other role is still audited. Optional fields may be missing (moto, older CLIs, hand-made files).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rolewatch.model import AttachedPolicy, AuditError, InstanceProfileRef, RoleSnapshot

LONE_POLICY_ACCOUNT = "000000000000"


@dataclass
class AccountFile:
    roles: list[RoleSnapshot] = field(default_factory=list)
    errors: list[AuditError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kind: str = "authorization-details"  # or "policy"


class NotAnAccountFile(ValueError):
    """The JSON is neither authorization details nor a policy document."""


def read_account_json(value: Any, source: str) -> AccountFile:
    """Turn the parsed JSON of one input file into role snapshots."""
    if isinstance(value, dict) and "Statement" in value:
        return _lone_policy(value, source)
    if not isinstance(value, dict) or not any(
        k in value for k in ("RoleDetailList", "UserDetailList", "GroupDetailList", "Policies")
    ):
        raise NotAnAccountFile(
            "neither the output of `aws iam get-account-authorization-details` (no RoleDetailList) "
            "nor a policy document (no Statement)"
        )
    out = AccountFile()
    managed = _managed_policies(value.get("Policies"), out)
    roles = value.get("RoleDetailList") or []
    if not isinstance(roles, list):
        out.errors.append(AuditError(source, "RoleDetailList", "RoleDetailList must be a list"))
        return out
    missing: set[str] = set()
    for i, entry in enumerate(roles):
        where = f"RoleDetailList[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("Arn"), str):
            out.errors.append(AuditError(source, where, "a role entry must be an object with an Arn"))
            continue
        out.roles.append(_role(entry, where, managed, missing, out))
    if missing:
        out.notes.append(
            f"{len(missing)} attached managed polic{'y' if len(missing) == 1 else 'ies'} not in the file's "
            f"Policies list (run get-account-authorization-details without --filter to include them): "
            f"{', '.join(sorted(missing)[:5])}{' ...' if len(missing) > 5 else ''}"
        )
    return out


def _lone_policy(value: dict, source: str) -> AccountFile:
    name = source.rsplit("/", 1)[-1].removesuffix(".json") or "policy"
    role = RoleSnapshot(
        arn=f"policy:{source}",
        name=name,
        inline_policies=(AttachedPolicy(name=name, document=value, location=""),),
    )
    return AccountFile(roles=[role], kind="policy")


def _managed_policies(policies: Any, out: AccountFile) -> dict[str, AttachedPolicy]:
    managed: dict[str, AttachedPolicy] = {}
    if not isinstance(policies, list):
        return managed
    for i, p in enumerate(policies):
        where = f"Policies[{i}]"
        if not isinstance(p, dict) or not isinstance(p.get("Arn"), str):
            out.errors.append(AuditError("Policies", where, "a policy entry must be an object with an Arn"))
            continue
        arn = p["Arn"]
        name = p.get("PolicyName") or arn.rsplit("/", 1)[-1]  # moto omits PolicyName
        versions = p.get("PolicyVersionList") or []
        default_id = p.get("DefaultVersionId")
        document = None
        doc_where = where
        for j, v in enumerate(versions if isinstance(versions, list) else []):
            if isinstance(v, dict) and (v.get("IsDefaultVersion") or v.get("VersionId") == default_id):
                document = v.get("Document")
                doc_where = f"{where}.PolicyVersionList[{j}].Document"
                break
        managed[arn] = AttachedPolicy(name=name, document=document, arn=arn, location=doc_where)
    return managed


def _role(
    entry: dict, where: str, managed: dict[str, AttachedPolicy], missing: set[str], out: AccountFile
) -> RoleSnapshot:
    arn = entry["Arn"]
    inline = []
    for j, p in enumerate(_list(entry.get("RolePolicyList"))):
        if isinstance(p, dict):
            inline.append(
                AttachedPolicy(
                    name=str(p.get("PolicyName") or f"inline-{j}"),
                    document=p.get("PolicyDocument"),
                    location=f"{where}.RolePolicyList[{j}].PolicyDocument",
                )
            )
    attached = []
    for p in _list(entry.get("AttachedManagedPolicies")):
        if not isinstance(p, dict) or not isinstance(p.get("PolicyArn"), str):
            continue
        policy = managed.get(p["PolicyArn"])
        if policy is None or policy.document is None:
            missing.add(p["PolicyArn"])
            # Keep the attachment (rules on policy names still apply) without a document to analyse.
            attached.append(
                AttachedPolicy(name=str(p.get("PolicyName") or p["PolicyArn"]), document=None, arn=p["PolicyArn"])
            )
        else:
            attached.append(policy)
    boundary = None
    pb = entry.get("PermissionsBoundary")
    if isinstance(pb, dict) and isinstance(pb.get("PermissionsBoundaryArn"), str):
        b_arn = pb["PermissionsBoundaryArn"]
        known = managed.get(b_arn)
        if known is None:
            missing.add(b_arn)
        boundary = known or AttachedPolicy(name=b_arn.rsplit("/", 1)[-1], document=None, arn=b_arn)
    profiles = tuple(
        InstanceProfileRef(name=str(ip.get("InstanceProfileName", "")), arn=str(ip.get("Arn", "")))
        for ip in _list(entry.get("InstanceProfileList"))
        if isinstance(ip, dict)
    )
    tags = tuple(
        (str(t.get("Key")), str(t.get("Value", "")))
        for t in _list(entry.get("Tags"))
        if isinstance(t, dict) and "Key" in t
    )
    last_used = entry.get("RoleLastUsed") if isinstance(entry.get("RoleLastUsed"), dict) else {}
    duration = entry.get("MaxSessionDuration")
    return RoleSnapshot(
        arn=arn,
        name=str(entry.get("RoleName") or arn.rsplit("/", 1)[-1]),
        path=str(entry.get("Path") or "/"),
        trust_policy=entry.get("AssumeRolePolicyDocument"),
        inline_policies=tuple(inline),
        managed_policies=tuple(p for p in attached if p.document is not None),
        permissions_boundary=boundary,
        tags=tags,
        max_session_duration=duration if isinstance(duration, int) else 3600,
        instance_profiles=profiles,
        last_used=str(last_used.get("LastUsedDate")) if last_used.get("LastUsedDate") else None,
        create_date=str(entry["CreateDate"]) if entry.get("CreateDate") else None,
        attached_policy_arns=tuple(p.arn for p in attached if p.arn),
    )


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []
