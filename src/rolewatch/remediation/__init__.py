"""Remediation material: corrected least-privilege policies and the exact AWS CLI commands to apply them.

Pure: builds documents and command lines, calls nothing. Every command quotes what it interpolates, so
it can be pasted into a shell as printed; `<...>` marks the values only a person can supply, and the
corrected documents are written to the `file://NAME.json` the commands name.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from rolewatch.baseline import Profile
from rolewatch.model import RoleSnapshot
from rolewatch.policy.catalogue import ActionCatalogue, catalogue
from rolewatch.policy.document import decode_document
from rolewatch.policy.permissions import CompiledPolicy, LabeledGrant, Permissions, resource_pattern_mask
from rolewatch.shell import command, quote

POLICY_VERSION = "2012-10-17"
MAX_STATEMENTS = 10
# IAM's quota for a customer-managed policy, counted without whitespace.
MAX_MANAGED_POLICY_CHARS = 6144
ANY_RESOURCE = ("*",)

_POLICY_VARIABLE = re.compile(r"\$\{([^}]*)\}")


# -- corrected identity policies -------------------------------------------------------------------


def least_privilege_policy(permissions: Permissions, profile: Profile, role: RoleSnapshot) -> dict[str, Any] | None:
    """A policy that keeps only what the role is granted now *and* the profile allows, scoped down.

    Actions: never any the role lacks today, the profile does not allow, or the profile marks as
    sensitive; actions granted only under conditions are left out rather than granted without them.
    Resources: the profile's ARNs for the service where it names some (policy variables such as
    ${aws:PrincipalTag/project} are filled from the role's tags where it has them); otherwise the
    resources the role's current statements name. Returns None when the profile does not restrict
    actions (nothing to correct towards), when nothing remains, or when the result exceeds IAM's quota.
    """
    if not profile.restricts_actions:
        return None
    cat = permissions.catalogue
    keep = permissions.definite & profile.permitted_mask & ~profile.sensitive_mask
    if not keep:
        return None
    groups: dict[tuple[str, ...], int] = {}
    for service in cat.services_in(keep):
        service_keep = keep & cat.service_mask(service)
        for resources, mask in _scoped_groups(service, service_keep, permissions, profile, role):
            groups[resources] = groups.get(resources, 0) | mask
    return _fit(_policy(_merge_excess(groups), cat))


def _scoped_groups(
    service: str, mask: int, permissions: Permissions, profile: Profile, role: RoleSnapshot
) -> list[tuple[tuple[str, ...], int]]:
    """(resources, actions) pairs for one service's kept actions."""
    profile_arns = tuple(fill_policy_variables(arn, role) for arn in profile.resources_for(service))
    if profile_arns:
        usable = 0
        for arn in profile_arns:
            usable |= resource_pattern_mask(_POLICY_VARIABLE.sub("*", arn))
        # Actions that cannot act on the named resources (s3:ListAllMyBuckets) still need "*".
        return [(profile_arns, mask & usable), (ANY_RESOURCE, mask & ~usable)]
    return _current_resources(service, mask, permissions.grants)


def _current_resources(service: str, mask: int, grants: list[LabeledGrant]) -> list[tuple[tuple[str, ...], int]]:
    """Keep each action on the resources the role's unconditional statements grant it on today."""
    by_resources: dict[tuple[str, ...], int] = {}
    unrestricted = 0
    for lg in grants:
        hit = lg.mask & mask
        if not hit or lg.grant.conditional or lg.grant.delegation:
            continue
        if lg.grant.unrestricted:
            unrestricted |= hit
            continue
        arns = tuple(sorted(r for r in lg.grant.resources if _arn_service_may_be(r, service)))
        if arns:
            by_resources[arns] = by_resources.get(arns, 0) | hit
    groups = [(ANY_RESOURCE, unrestricted)]
    groups += [(arns, m & ~unrestricted) for arns, m in by_resources.items()]
    return groups


def _arn_service_may_be(arn: str, service: str) -> bool:
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return arn == "*"
    return parts[2] == service or "*" in parts[2] or "?" in parts[2]


def fill_policy_variables(arn: str, role: RoleSnapshot) -> str:
    """Replace ${aws:PrincipalTag/KEY} and ${aws:PrincipalAccount} by the role's values where known."""
    tags = {k.lower(): v for k, v in role.tags}

    def value(match: re.Match[str]) -> str:
        variable = match.group(1)
        lowered = variable.lower()
        if lowered.startswith("aws:principaltag/") and lowered.split("/", 1)[1] in tags:
            return tags[lowered.split("/", 1)[1]]
        if lowered == "aws:principalaccount" and role.account_id:
            return role.account_id
        return match.group(0)

    return _POLICY_VARIABLE.sub(value, arn)


def _merge_excess(groups: dict[tuple[str, ...], int]) -> dict[tuple[str, ...], int]:
    """At most MAX_STATEMENTS resource groups: the smallest scoped groups are folded together (their
    actions then apply to each other's resources, which stay within what the role has today)."""
    live = {r: m for r, m in groups.items() if m}
    if len(live) <= MAX_STATEMENTS:
        return live
    scoped = sorted((r for r in live if r != ANY_RESOURCE), key=lambda r: live[r].bit_count(), reverse=True)
    room = MAX_STATEMENTS - 1 - (ANY_RESOURCE in live)
    out = {r: live[r] for r in scoped[:room]}
    if ANY_RESOURCE in live:
        out[ANY_RESOURCE] = live[ANY_RESOURCE]
    merged_resources: list[str] = []
    merged_mask = 0
    for r in scoped[room:]:
        merged_resources.extend(x for x in r if x not in merged_resources)
        merged_mask |= live[r]
    out[tuple(merged_resources)] = out.get(tuple(merged_resources), 0) | merged_mask
    return out


def _policy(groups: dict[tuple[str, ...], int], cat: ActionCatalogue) -> dict[str, Any]:
    statements: list[dict[str, Any]] = []
    sids: set[str] = set()
    for resources, mask in sorted(groups.items(), key=lambda item: (item[0] == ANY_RESOURCE, item[0])):
        if not mask:
            continue
        actions = sorted(cat.names_in(mask))
        statements.append(
            {
                "Sid": _unique_sid(_sid_for(resources, mask, cat), sids),
                "Effect": "Allow",
                "Action": actions,
                "Resource": resources[0] if len(resources) == 1 else list(resources),
            }
        )
    return {"Version": POLICY_VERSION, "Statement": statements}


def _fit(policy: dict[str, Any]) -> dict[str, Any] | None:
    """None when nothing remains or the policy exceeds IAM's size quota: folding action names into
    wildcards to make it fit would no longer be least privilege (Access Analyzer's policy generation,
    from CloudTrail, is the better start then)."""
    if not policy["Statement"] or policy_size(policy) > MAX_MANAGED_POLICY_CHARS:
        return None
    return policy


def policy_size(policy: dict[str, Any]) -> int:
    """Characters IAM counts against the quota (it ignores whitespace)."""
    return len(json.dumps(policy, separators=(",", ":")))


def _sid_for(resources: tuple[str, ...], mask: int, cat: ActionCatalogue) -> str:
    services = cat.services_in(mask)
    if resources == ANY_RESOURCE:
        return "AllowOnAnyResource" if len(services) > 1 else f"Allow{_camel(services[0])}"
    return "Allow" + "".join(_camel(s) for s in services[:3]) + "Scoped"


def _camel(service: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", service))


def _unique_sid(sid: str, used: set[str]) -> str:
    candidate, n = sid, 2
    while candidate in used:
        candidate, n = f"{sid}{n}", n + 1
    used.add(candidate)
    return candidate


# -- corrected trust policies ----------------------------------------------------------------------


def trust_policy_without(raw_trust: Any, is_untrusted: Callable[[str, str], bool]) -> dict[str, Any] | None:
    """The trust policy with every principal (kind, value) the predicate rejects removed from its Allow
    statements; statements left without principals are dropped. None when no Allow statement remains."""
    document = copy.deepcopy(decode_document(raw_trust))
    if not isinstance(document, dict):
        return None
    statements = document.get("Statement")
    statements = [statements] if isinstance(statements, dict) else list(statements or [])
    kept: list[Any] = []
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow" or "Principal" not in statement:
            kept.append(statement)
            continue
        principal = _principal_without(statement["Principal"], is_untrusted)
        if principal:
            kept.append({**statement, "Principal": principal})
    if not any(isinstance(s, dict) and s.get("Effect") == "Allow" for s in kept):
        return None
    return {**document, "Statement": kept}


def _principal_without(principal: Any, is_untrusted: Callable[[str, str], bool]) -> dict[str, Any]:
    if principal == "*":
        principal = {"AWS": "*"}
    if not isinstance(principal, dict):
        return {}
    out: dict[str, Any] = {}
    for kind, values in principal.items():
        listed = [values] if isinstance(values, str) else list(values)
        remaining = [v for v in listed if not is_untrusted(kind, v)]
        if remaining:
            out[kind] = remaining[0] if len(remaining) == 1 else remaining
    return out


# -- AWS CLI commands ------------------------------------------------------------------------------


def _cmd(*parts: str) -> str:
    # Everything is quoted, placeholders too: an unquoted <value> would be a shell redirection.
    return command(*parts)


def policy_file(name: str) -> str:
    return f"file://{name}.json"


def customer_policy_arn(role: RoleSnapshot, policy_name: str) -> str:
    parts = role.arn.split(":")
    partition = parts[1] if len(parts) > 1 and parts[1] else "aws"
    return f"arn:{partition}:iam::{role.account_id or '<account-id>'}:policy/{policy_name}"


def corrected_policy_name(role: RoleSnapshot) -> str:
    return f"{role.name}-least-privilege"


def detach_policy_cli(role: RoleSnapshot, policy_arn: str) -> str:
    return _cmd("aws", "iam", "detach-role-policy", "--role-name", role.name, "--policy-arn", policy_arn)


def attach_policy_cli(role: RoleSnapshot, policy_arn: str) -> str:
    return _cmd("aws", "iam", "attach-role-policy", "--role-name", role.name, "--policy-arn", policy_arn)


def delete_boundary_cli(role: RoleSnapshot) -> str:
    return _cmd("aws", "iam", "delete-role-permissions-boundary", "--role-name", role.name)


def set_default_version_cli(policy_arn: str, version_id: str) -> str:
    return _cmd("aws", "iam", "set-default-policy-version", "--policy-arn", policy_arn, "--version-id", version_id)


def remove_policy_cli(role: RoleSnapshot, label: str) -> str:
    """Detach a managed policy (label is its ARN) or delete an inline one (label is its name)."""
    if label.startswith("arn:"):
        return detach_policy_cli(role, label)
    return _cmd("aws", "iam", "delete-role-policy", "--role-name", role.name, "--policy-name", label)


def remove_grants_cli(
    role: RoleSnapshot, policies: Iterable[tuple[str, CompiledPolicy]], grants: Iterable[LabeledGrant]
) -> list[str]:
    """Commands that take the grants away from the role and nothing else: a policy every statement of
    which is among the grants is detached (managed) or deleted (inline), as is an AWS-managed policy
    (it cannot be edited); a policy that also holds other statements is revised instead (fetched, and
    put back without those statements), so no legitimate grant goes with the risky one."""
    by_policy: dict[str, set[str]] = {}
    for lg in grants:
        by_policy.setdefault(lg.policy, set()).add(lg.grant.location)
    documents = dict(policies)
    cli: list[str] = []
    for label, locations in by_policy.items():
        compiled = documents.get(label)
        statements = {st.location for st in compiled.document.statements} if compiled is not None else set()
        if ":iam::aws:policy/" in label or statements <= locations:
            cli.append(remove_policy_cli(role, label))
        else:
            cli.extend(revise_policy_cli(role, label))
    return cli


def revise_policy_cli(role: RoleSnapshot, label: str) -> list[str]:
    """Commands to fetch a policy and put a revised version back (an AWS-managed one can only be detached)."""
    if not label.startswith("arn:"):
        return [
            _cmd("aws", "iam", "get-role-policy", "--role-name", role.name, "--policy-name", label),
            _cmd(
                "aws", "iam", "put-role-policy", "--role-name", role.name, "--policy-name", label,
                "--policy-document", policy_file(label),
            ),
        ]  # fmt: skip
    if ":iam::aws:policy/" in label:
        return [detach_policy_cli(role, label)]
    file_name = label.rsplit("/", 1)[-1]
    return [
        *fetch_managed_policy_cli(label),
        _cmd(
            "aws", "iam", "create-policy-version", "--policy-arn", label,
            "--policy-document", policy_file(file_name), "--set-as-default",
        ),
    ]  # fmt: skip


def fetch_managed_policy_cli(policy_arn: str) -> list[str]:
    """Commands that print a managed policy's default version (the document to start a revision from)."""
    return [
        _cmd(
            "aws",
            "iam",
            "get-policy",
            "--policy-arn",
            policy_arn,
            "--query",
            "Policy.DefaultVersionId",
            "--output",
            "text",
        ),
        _cmd("aws", "iam", "get-policy-version", "--policy-arn", policy_arn, "--version-id", "<default-version-id>"),
    ]


def replace_with_policy_cli(role: RoleSnapshot, remove: Iterable[str]) -> list[str]:
    """Create the corrected customer-managed policy, attach it, then remove the policies it replaces."""
    name = corrected_policy_name(role)
    commands = [
        _cmd("aws", "iam", "create-policy", "--policy-name", name, "--policy-document", policy_file(name)),
        _cmd(
            "aws",
            "iam",
            "attach-role-policy",
            "--role-name",
            role.name,
            "--policy-arn",
            customer_policy_arn(role, name),
        ),
    ]
    commands += [remove_policy_cli(role, label) for label in remove]
    return commands


def tag_role_cli(role: RoleSnapshot, keys: Iterable[str]) -> str:
    tags = [f"Key={key},Value=<{key}>" for key in keys]
    return " ".join([_cmd("aws", "iam", "tag-role", "--role-name", role.name, "--tags"), *(quote(t) for t in tags)])


def max_session_cli(role: RoleSnapshot, seconds: int) -> str:
    return _cmd("aws", "iam", "update-role", "--role-name", role.name, "--max-session-duration", str(seconds))


def permissions_boundary_cli(role: RoleSnapshot, boundary_arn: str) -> str:
    return _cmd(
        "aws", "iam", "put-role-permissions-boundary", "--role-name", role.name, "--permissions-boundary", boundary_arn
    )


def boundary_arn_for(role: RoleSnapshot, boundary: str | None) -> str:
    """The profile's boundary as an ARN in the role's account (a bare name is a customer-managed policy)."""
    if boundary is None:
        return customer_policy_arn(role, "<permissions-boundary-policy>")
    return boundary if boundary.startswith("arn:") else customer_policy_arn(role, boundary)


def update_trust_cli(role: RoleSnapshot) -> str:
    return _cmd(
        "aws", "iam", "update-assume-role-policy", "--role-name", role.name,
        "--policy-document", policy_file(f"{role.name}-trust"),
    )  # fmt: skip


def action_summary(names: list[str], limit: int, total: int | None = None) -> str:
    """'a, b, c and 12 more' for a sorted list of names (or its first names, of `total` in all)."""
    total = len(names) if total is None else total
    shown = ", ".join(names[:limit])
    return f"{shown} and {total - limit} more" if total > limit else shown


def catalogue_names(mask: int, limit: int | None = None) -> list[str]:
    """Action names of a mask, the most dangerous access levels first, then alphabetically; with a
    limit, only the first ones (callers count the rest with mask.bit_count())."""
    return catalogue().names_by_danger(mask, limit)
