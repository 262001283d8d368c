"""CloudFormation and SAM templates into the role snapshots their stack would create.

cfn-lint's decoder reads YAML (short-form tags included) and JSON with the line of every node; SAM
templates go through AWS's translator (sam.py); intrinsics resolve as far as the template allows
(intrinsics.py). Read: `AWS::IAM::Role` (inline policies, managed policy ARNs, permissions boundary,
trust policy, maximum session duration, tags, path), `AWS::IAM::Policy`, `AWS::IAM::RolePolicy` and
`AWS::IAM::ManagedPolicy` attached to the template's roles, `AWS::IAM::InstanceProfile`. Managed policies
resolve to the template's own documents, or AWS's from the snapshot; any other ARN is a note.

Outcomes: a template over CloudFormation's 1 MB limit, or one that does not parse, or that has no
Resources, raises IacInputError (one line). A macro Transform, a SAM error, an unknown intrinsic or a
reference to a missing name is an AuditError with the file and line, and the rest is audited.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rolewatch.iac.intrinsics import NO_VALUE, Resolver, TemplateProblem
from rolewatch.iac.managed_policies import is_aws_managed, snapshot
from rolewatch.iac.placeholders import ACCOUNT, PARTITION, describe_pseudo
from rolewatch.iac.result import IacFile, IacInputError, roles_read
from rolewatch.iac.sam import SAM_TRANSFORM, SamError, translate
from rolewatch.model import AttachedPolicy, AuditError, InstanceProfileRef, RoleSnapshot, SourceLocation

# CloudFormation's own limit (a template in S3); a larger one cannot be deployed as written.
MAX_TEMPLATE_BYTES = 1_048_576
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
_MAX_LISTED = 5


@dataclass
class _Role:
    """A role being assembled: attachments arrive from other resources of the template."""

    logical: str
    arn: str
    name: str
    path: str
    props: dict[str, Any]
    inline: list[AttachedPolicy] = field(default_factory=list)
    managed_arns: list[str] = field(default_factory=list)
    profiles: list[InstanceProfileRef] = field(default_factory=list)


class _Reader:
    def __init__(self, source: str, decoded: dict[str, Any], parameters: Mapping[str, Any]) -> None:
        self.source = source
        self.parameters = parameters
        self.decoded = decoded  # with line marks, as written (before any transform)
        self.out = IacFile(kind="cloudformation")
        self.lines = _resource_lines(decoded)

    # -- locations -----------------------------------------------------------------------------------
    def line(self, logical: str, where: str = "") -> int:
        """The line of `where` (a path under the resource) in the template as written, else the line of the
        resource, else of the SAM resource it was generated from (FunctionRole from Function)."""
        node = _node_line(self.decoded, where) if where else None
        if node is not None:
            return node
        if logical in self.lines:
            return self.lines[logical]
        origins = [name for name in self.lines if logical.startswith(name)]
        return self.lines[max(origins, key=len)] if origins else 1

    def error(self, resource: str, logical: str, where: str, message: str) -> None:
        line = self.line(logical, where)
        self.out.errors.append(AuditError(resource, f"{self.source}:{line} {where}", message))
        self.out.locations.setdefault(resource, SourceLocation(self.source, logical, line))

    # -- reading ---------------------------------------------------------------------------------------
    def read(self) -> IacFile:
        template = self.transformed(json.loads(json.dumps(self.decoded)))
        resolver = Resolver(template, self.parameters)
        resources = {k: v for k, v in (template.get("Resources") or {}).items() if isinstance(v, dict)}
        roles = self.roles(resolver, resources)
        managed = self.managed_policies(resolver, resources, roles)
        self.policies(resolver, resources, roles)
        self.instance_profiles(resolver, resources, roles)
        missing: set[str] = set()
        for role in roles.values():
            self.out.roles.append(self.snapshot(resolver, role, managed, missing))
            self.out.locations[role.arn] = SourceLocation(self.source, role.logical, self.line(role.logical))
        self.notes(resolver, missing)
        return self.out

    def transformed(self, template: dict[str, Any]) -> dict[str, Any]:
        declared = template.get("Transform", [])
        names = declared if isinstance(declared, list) else [declared]
        for name in names:
            if name in (SAM_TRANSFORM, LANGUAGE_EXTENSIONS):
                continue
            shown = name if isinstance(name, str) else json.dumps(name)
            self.error(
                self.source,
                "",
                "Transform",
                f"Transform {shown} is a macro rolewatch cannot run: what it adds or changes is not audited",
            )
        for logical in template.get("Resources") or {}:
            if str(logical).startswith("Fn::ForEach"):
                self.error(self.source, logical, f"Resources.{logical}", "Fn::ForEach is not expanded: not audited")
        template["Resources"] = {
            k: v for k, v in (template.get("Resources") or {}).items() if not str(k).startswith("Fn::ForEach")
        }
        if SAM_TRANSFORM not in names:
            return template
        try:
            return translate(template, self.parameters)
        except SamError as exc:
            for message in exc.messages:
                logical = _logical_in(message, template.get("Resources") or {})
                where = f"Resources.{logical}" if logical else "Transform"
                self.error(self.source, logical, where, f"SAM transform: {message}")
            # Audit what does not need the transform: every resource that is not a SAM one.
            template["Resources"] = {
                k: v
                for k, v in template["Resources"].items()
                if not str(v.get("Type", "") if isinstance(v, dict) else "").startswith("AWS::Serverless::")
            }
            self.out.notes.append("SAM resources not audited (the SAM transform failed)")
            return template

    def active(self, resolver: Resolver, logical: str, resource: dict[str, Any]) -> bool:
        condition = resource.get("Condition")
        if condition is None:
            return True
        try:
            if resolver.condition(str(condition), f"Resources.{logical}.Condition"):
                return True
        except TemplateProblem as exc:
            self.error(self.source, logical, exc.where, exc.message)
            return True  # audit it rather than hide it
        self.out.notes.append(
            f"{logical} not audited: its condition {condition} is false with the parameters' defaults"
        )
        return False

    def roles(self, resolver: Resolver, resources: dict[str, Any]) -> dict[str, _Role]:
        roles: dict[str, _Role] = {}
        for logical, resource in resources.items():
            if resource.get("Type") != "AWS::IAM::Role" or not self.active(resolver, logical, resource):
                continue
            where = f"Resources.{logical}.Properties"
            props = resource.get("Properties") if isinstance(resource.get("Properties"), dict) else {}
            name = self.scalar(resolver, props.get("RoleName"), logical, f"{where}.RoleName") or logical
            path = self.scalar(resolver, props.get("Path"), logical, f"{where}.Path") or "/"
            arn = f"arn:{PARTITION}:iam::{ACCOUNT}:role{path}{name}"
            role = _Role(logical=logical, arn=arn, name=name, path=path, props=props)
            for i, entry in enumerate(props.get("Policies") or []):
                # An entry may be chosen by a condition (`!If [Cond, {policy}, !Ref AWS::NoValue]`): the
                # policy the parameters select is audited, an entry they remove is no policy.
                policy = (
                    self.resolved(resolver, entry, role.logical, f"{where}.Policies[{i}]") if _chosen(entry) else entry
                )
                if policy is NO_VALUE or policy is None:
                    continue
                self.inline(resolver, role, policy, f"{where}.Policies[{i}]", role.logical)
            arns = self.resolved(
                resolver, props.get("ManagedPolicyArns", []), role.logical, f"{where}.ManagedPolicyArns"
            )
            role.managed_arns.extend(a for a in arns or [] if isinstance(a, str))
            roles[role.name] = role
        return roles

    def inline(self, resolver: Resolver, role: _Role, policy: Any, where: str, logical: str) -> None:
        if not isinstance(policy, dict):
            self.error(role.arn, logical, where, "a policy must be an object with a name and a PolicyDocument")
            return
        name = (
            self.scalar(resolver, policy.get("PolicyName"), logical, f"{where}.PolicyName")
            or f"inline-{len(role.inline)}"
        )
        document = self.resolved(resolver, policy.get("PolicyDocument"), logical, f"{where}.PolicyDocument")
        if document is None:
            return
        role.inline.append(
            AttachedPolicy(name=name, document=document, location=f"{self.source}:{self.line(logical, where)} {where}")
        )

    def managed_policies(
        self, resolver: Resolver, resources: dict[str, Any], roles: dict[str, _Role]
    ) -> dict[str, AttachedPolicy]:
        """The template's AWS::IAM::ManagedPolicy documents by ARN; attached to the roles they name."""
        managed: dict[str, AttachedPolicy] = {}
        for logical, resource in resources.items():
            if resource.get("Type") != "AWS::IAM::ManagedPolicy" or not self.active(resolver, logical, resource):
                continue
            where = f"Resources.{logical}.Properties"
            props = resource.get("Properties") if isinstance(resource.get("Properties"), dict) else {}
            arn = self.scalar(resolver, {"Ref": logical}, logical, where)
            document = self.resolved(resolver, props.get("PolicyDocument"), logical, f"{where}.PolicyDocument")
            if arn is None or document is None:
                continue
            name = arn.rsplit("/", 1)[-1]
            location = f"{self.source}:{self.line(logical, where + '.PolicyDocument')} {where}.PolicyDocument"
            managed[arn] = AttachedPolicy(name=name, document=document, arn=arn, location=location)
            for role in self.named_roles(resolver, props.get("Roles"), roles, logical, f"{where}.Roles"):
                if arn not in role.managed_arns:
                    role.managed_arns.append(arn)
        return managed

    def policies(self, resolver: Resolver, resources: dict[str, Any], roles: dict[str, _Role]) -> None:
        """AWS::IAM::Policy (Roles: [...]) and AWS::IAM::RolePolicy (RoleName): inline policies of those roles."""
        for logical, resource in resources.items():
            rtype = resource.get("Type")
            if rtype not in ("AWS::IAM::Policy", "AWS::IAM::RolePolicy") or not self.active(
                resolver, logical, resource
            ):
                continue
            where = f"Resources.{logical}.Properties"
            props = resource.get("Properties") if isinstance(resource.get("Properties"), dict) else {}
            targets = props.get("Roles") if rtype == "AWS::IAM::Policy" else [props.get("RoleName")]
            for role in self.named_roles(resolver, targets, roles, logical, f"{where}.Roles"):
                self.inline(resolver, role, props, where, logical)

    def instance_profiles(self, resolver: Resolver, resources: dict[str, Any], roles: dict[str, _Role]) -> None:
        for logical, resource in resources.items():
            if resource.get("Type") != "AWS::IAM::InstanceProfile" or not self.active(resolver, logical, resource):
                continue
            where = f"Resources.{logical}.Properties"
            props = resource.get("Properties") if isinstance(resource.get("Properties"), dict) else {}
            name = self.scalar(resolver, {"Ref": logical}, logical, where) or logical
            arn = self.scalar(resolver, {"Fn::GetAtt": [logical, "Arn"]}, logical, where) or ""
            for role in self.named_roles(resolver, props.get("Roles"), roles, logical, f"{where}.Roles"):
                role.profiles.append(InstanceProfileRef(name=name, arn=arn))

    def named_roles(
        self, resolver: Resolver, names: Any, roles: dict[str, _Role], logical: str, where: str
    ) -> Iterable[_Role]:
        resolved = self.resolved(resolver, names if isinstance(names, list) else [], logical, where) or []
        for name in resolved:
            if isinstance(name, str) and name in roles:
                yield roles[name]
            else:
                self.out.notes.append(
                    f"{logical} attaches to role {name}, which this template does not define: not audited with it"
                )

    def snapshot(
        self, resolver: Resolver, role: _Role, managed: dict[str, AttachedPolicy], missing: set[str]
    ) -> RoleSnapshot:
        where = f"Resources.{role.logical}.Properties"
        props = role.props
        attached = [self.managed_document(arn, managed, missing) for arn in role.managed_arns]
        boundary_arn = self.scalar(
            resolver, props.get("PermissionsBoundary"), role.logical, f"{where}.PermissionsBoundary"
        )
        boundary = self.managed_document(boundary_arn, managed, missing) if boundary_arn else None
        trust = self.resolved(
            resolver, props.get("AssumeRolePolicyDocument"), role.logical, f"{where}.AssumeRolePolicyDocument"
        )
        duration = self.resolved(
            resolver, props.get("MaxSessionDuration", 3600), role.logical, f"{where}.MaxSessionDuration"
        )
        tags = self.resolved(resolver, props.get("Tags") or [], role.logical, f"{where}.Tags") or []
        return RoleSnapshot(
            arn=role.arn,
            name=role.name,
            path=role.path,
            trust_policy=trust,
            inline_policies=tuple(role.inline),
            managed_policies=tuple(p for p in attached if p.document is not None),
            permissions_boundary=boundary,
            tags=tuple((str(t["Key"]), str(t.get("Value", ""))) for t in tags if isinstance(t, dict) and "Key" in t),
            max_session_duration=int(duration) if str(duration).isdigit() else 3600,
            instance_profiles=tuple(role.profiles),
            attached_policy_arns=tuple(role.managed_arns),
        )

    def managed_document(self, arn: str, managed: dict[str, AttachedPolicy], missing: set[str]) -> AttachedPolicy:
        if arn in managed:
            return managed[arn]
        document = snapshot().document(arn)
        if document is None:
            missing.add(arn)
        location = f"AWS managed policy snapshot {snapshot().date}" if document is not None else ""
        return AttachedPolicy(name=arn.rsplit("/", 1)[-1], document=document, arn=arn, location=location)

    def notes(self, resolver: Resolver, missing: set[str]) -> None:
        if not self.out.roles:
            self.out.notes.append("no IAM role in the template: nothing to audit")
            return
        self.out.notes.append(roles_read(self.out))
        self.out.notes.append(describe_pseudo())
        if missing:
            unknown = sorted(missing)
            aws = [a for a in unknown if is_aws_managed(a)]
            self.out.notes.append(
                f"{len(unknown)} attached managed polic{'y' if len(unknown) == 1 else 'ies'} neither "
                f"in the template nor among the AWS managed policies of the snapshot"
                f"{' (AWS policies newer than the snapshot?)' if aws else ''}, audited without a document: "
                f"{', '.join(unknown[:_MAX_LISTED])}{' ...' if len(unknown) > _MAX_LISTED else ''}"
            )
        if resolver.unresolved:
            seen = list(dict.fromkeys(f"{u.placeholder} ({u.reason})" for u in resolver.unresolved))
            self.out.notes.append(
                f"{len(seen)} value(s) open until deployment, audited as placeholders: "
                f"{'; '.join(seen[:_MAX_LISTED])}{' ...' if len(seen) > _MAX_LISTED else ''}"
            )

    # -- resolving with the error listed -------------------------------------------------------------
    def resolved(self, resolver: Resolver, node: Any, logical: str, where: str) -> Any:
        try:
            return resolver.value(node, where)
        except TemplateProblem as exc:
            resource = self.role_arn_of(logical)
            self.error(resource, logical, exc.where, exc.message)
            return None

    def scalar(self, resolver: Resolver, node: Any, logical: str, where: str) -> str | None:
        if node is None:
            return None
        value = self.resolved(resolver, node, logical, where)
        if value is None or value is NO_VALUE:  # `!If [cond, x, !Ref AWS::NoValue]`: the property is absent
            return None
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        self.error(self.role_arn_of(logical), logical, where, f"expected a string, found {type(value).__name__}")
        return None

    def role_arn_of(self, logical: str) -> str:
        return f"{self.source}#{logical}"


def _chosen(node: Any) -> bool:
    """A list entry that is an intrinsic choosing what the entry is (Fn::If), not a literal object."""
    return isinstance(node, dict) and len(node) == 1 and "Fn::If" in node


def read_template(text: str, source: str, parameters: Mapping[str, Any] | None = None) -> IacFile:
    size = len(text.encode("utf-8"))
    if size > MAX_TEMPLATE_BYTES:
        raise IacInputError(
            f"template is {size / 1_048_576:.1f} MB; CloudFormation accepts at most 1 MB, so it cannot be "
            "deployed as written (not audited)"
        )
    from cfnlint.decode import decode_str

    decoded, matches = decode_str(text)
    if matches or decoded is None:
        first = matches[0] if matches else None
        where = f"line {first.linenumber}, column {first.columnnumber}: " if first is not None else ""
        message = first.message if first is not None else "empty"
        raise IacInputError(f"not a template: {where}{message}")
    if not isinstance(decoded, dict) or not isinstance(decoded.get("Resources"), dict):
        raise IacInputError("no Resources section: not a CloudFormation template")
    return _Reader(source, decoded, parameters or {}).read()


def _resource_lines(decoded: dict[str, Any]) -> dict[str, int]:
    lines: dict[str, int] = {}
    for key in decoded.get("Resources", {}):
        mark = getattr(key, "start_mark", None)
        lines[str(key)] = mark.line + 1 if mark is not None else 1
    return lines


def _node_line(decoded: Any, where: str) -> int | None:
    """The line of a path such as `Resources.R.Properties.Policies[0].PolicyDocument`, as deep as it exists."""
    node, line = decoded, None
    for part in where.replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("[") and isinstance(node, list):
            index = int(part.strip("[]")) if part.strip("[]").isdigit() else -1
            if not 0 <= index < len(node):
                break
            node = node[index]
        elif isinstance(node, dict) and part in node:
            key = next(k for k in node if k == part)
            mark = getattr(key, "start_mark", None)
            line = mark.line + 1 if mark is not None else line
            node = node[part]
            continue
        else:
            break
        mark = getattr(node, "start_mark", None)
        line = mark.line + 1 if mark is not None else line
    return line


def _logical_in(message: str, resources: dict[str, Any]) -> str:
    """The logical id the translator names in its message ("Resource with id [X] is invalid")."""
    start = message.find("[")
    end = message.find("]", start)
    candidate = message[start + 1 : end] if 0 <= start < end else ""
    return candidate if candidate in resources else ""
