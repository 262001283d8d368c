"""Terraform plans (`terraform show -json plan.out`) into the role snapshots the apply would leave.

Read from `resource_changes` (each resource's planned `after` values; resources the plan deletes are
left out), with `planned_values` as the fallback: `aws_iam_role` (inline_policy blocks,
managed_policy_arns, permissions_boundary, assume_role_policy, path, max_session_duration, tags),
`aws_iam_role_policy`, `aws_iam_policy` with `aws_iam_role_policy_attachment`, `aws_iam_instance_profile`.

Values unknown until apply (`after_unknown`) are placeholders. Where the link between two resources is
unknown (a role name from `name_prefix`, the ARN of a policy the same plan creates), the plan's
`configuration` references say which resource it is. A policy document unknown until apply is rebuilt
from its `aws_iam_policy_document` data source's configuration when it comes from one (constants as
written, references as placeholders), else it is a note: not audited.

Lines: a plan carries no source positions, so a resource's line is that of its `resource "TYPE" "NAME"`
block in the `.tf` files beside the plan (the root module, and local modules by their `source`), else
the line of its address in the plan file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rolewatch.iac.managed_policies import snapshot
from rolewatch.iac.placeholders import ACCOUNT, PARTITION, describe_pseudo, unresolved
from rolewatch.iac.result import IacFile, IacInputError, roles_read
from rolewatch.model import AttachedPolicy, AuditError, InstanceProfileRef, RoleSnapshot, SourceLocation

IAM_TYPES = (
    "aws_iam_role",
    "aws_iam_role_policy",
    "aws_iam_policy",
    "aws_iam_role_policy_attachment",
    "aws_iam_instance_profile",
)
_INDEX = re.compile(r"\[[^\]]*\]$")


@dataclass
class _Resource:
    address: str  # e.g. module.app.aws_iam_role.task["web"]
    type: str
    values: dict[str, Any]
    unknown: Any  # after_unknown: the same shape, True where the value is known only after apply

    @property
    def module(self) -> str:
        """`module.app.` for module.app.aws_iam_role.task, "" in the root module."""
        base = _INDEX.sub("", self.address)
        return base[: -len(f"{self.type}.{base.rsplit('.', 1)[-1]}")]

    @property
    def config_address(self) -> str:
        return _INDEX.sub("", self.address)

    def known(self, key: str) -> Any:
        """The value, or None when it is known only after apply."""
        if isinstance(self.unknown, dict) and self.unknown.get(key) is True:
            return None
        return self.values.get(key)


@dataclass
class _Role:
    resource: _Resource
    arn: str
    name: str
    inline: list[AttachedPolicy] = field(default_factory=list)
    managed_arns: list[str] = field(default_factory=list)
    profiles: list[InstanceProfileRef] = field(default_factory=list)


class _Plan:
    def __init__(self, plan: dict[str, Any], text: str, source: str) -> None:
        self.plan = plan
        self.text = text
        self.source = source
        self.out = IacFile(kind="terraform-plan")
        self.config = _configuration(plan.get("configuration"))
        self.modules = _module_dirs(plan.get("configuration"), Path(source).parent)
        self.tf_lines: dict[str, int | tuple[str, int]] = {}
        self.placeholders: list[str] = []

    def read(self) -> IacFile:
        resources = [r for r in _planned(self.plan) if r.type in IAM_TYPES]
        if not resources:
            self.out.notes.append("no IAM resources in the plan (aws_iam_role and its policies): nothing to audit")
            return self.out
        roles = [self.role(r) for r in resources if r.type == "aws_iam_role"]
        by_name = {role.name: role for role in roles}
        by_address: dict[str, list[_Role]] = {}
        for role in roles:
            by_address.setdefault(role.resource.config_address, []).append(role)
        policies = {}  # config address -> (arn or None, document)
        for r in resources:
            if r.type == "aws_iam_policy":
                policies[r.config_address] = (r.known("arn"), self.document(r, "policy"), r)
        for r in resources:
            linked = r.type in ("aws_iam_role_policy", "aws_iam_role_policy_attachment", "aws_iam_instance_profile")
            targets = self.targets(r, "role", by_name, by_address) if linked else []
            if r.type == "aws_iam_role_policy":
                document = self.document(r, "policy")
                name = r.known("name") or r.address
                for role in targets:
                    if document is not None:
                        role.inline.append(AttachedPolicy(name=str(name), document=document, location=self.where(r)))
            elif r.type == "aws_iam_role_policy_attachment":
                arn = self.policy_arn(r, policies)
                for role in targets:
                    role.managed_arns.append(arn)
            elif r.type == "aws_iam_instance_profile":
                name = r.known("name") or unresolved(f"{r.address}.name")
                arn = (
                    r.known("arn")
                    or f"arn:{PARTITION}:iam::{ACCOUNT}:instance-profile{r.values.get('path') or '/'}{name}"
                )
                for role in targets:
                    role.profiles.append(InstanceProfileRef(name=str(name), arn=str(arn)))
        managed_docs = {arn or f"{address}.arn": (doc, r) for address, (arn, doc, r) in policies.items()}
        missing: set[str] = set()
        for role in roles:
            self.out.roles.append(self.snapshot(role, managed_docs, missing))
            self.out.locations[role.arn] = self.location(role.resource)
        self.out.notes.append(roles_read(self.out))
        self.out.notes.append(describe_pseudo())
        if missing:
            listed = sorted(missing)
            self.out.notes.append(
                f"{len(listed)} attached managed polic{'y' if len(listed) == 1 else 'ies'} neither in the plan nor "
                f"among the AWS managed policies of the snapshot, audited without a document: {', '.join(listed[:5])}"
                f"{' ...' if len(listed) > 5 else ''}"
            )
        if self.placeholders:
            shown = list(dict.fromkeys(self.placeholders))
            self.out.notes.append(
                f"{len(shown)} value(s) known only after apply, audited as placeholders: {'; '.join(shown[:5])}"
                f"{' ...' if len(shown) > 5 else ''}"
            )
        return self.out

    # -- one resource at a time ----------------------------------------------------------------------
    def role(self, r: _Resource) -> _Role:
        name = r.known("name") or self.placeholder(f"{r.address}.name")
        path = r.known("path") or "/"
        arn = r.known("arn") or f"arn:{PARTITION}:iam::{ACCOUNT}:role{path}{name}"
        role = _Role(resource=r, arn=str(arn), name=str(name))
        unknown_blocks = r.unknown.get("inline_policy") if isinstance(r.unknown, dict) else None
        for i, block in enumerate(r.values.get("inline_policy") or []):
            if not isinstance(block, dict) or (not block.get("name") and not block.get("policy")):
                continue  # the provider's empty inline_policy block: no policy
            block_unknown = unknown_blocks[i] if isinstance(unknown_blocks, list) and i < len(unknown_blocks) else {}
            sub = _Resource(address=f"{r.address}.inline_policy[{i}]", type=r.type, values=block, unknown=block_unknown)
            blocks = self.config.get(r.config_address, {}).get("inline_policy")
            config_block = blocks[i] if isinstance(blocks, list) and i < len(blocks) else {}
            document = self.document(sub, "policy", owner=r, expression=(config_block or {}).get("policy"))
            if document is not None:
                name_i = sub.known("name") or f"inline_policy[{i}]"
                role.inline.append(AttachedPolicy(name=str(name_i), document=document, location=self.where(r)))
        for arn_i in r.known("managed_policy_arns") or []:
            role.managed_arns.append(str(arn_i))
        return role

    def document(self, r: _Resource, key: str, owner: _Resource | None = None, expression: Any = None) -> Any:
        """A policy attribute as a document: the JSON text when known, else rebuilt from the data source.
        `owner` is the resource a nested block (an inline_policy) belongs to; `expression` its configuration."""
        holder = owner or r
        value = r.known(key)
        if isinstance(value, str) and value.strip():
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                self.error(holder, f"{key}: not valid JSON: {exc.msg}")
                return None
        if value is not None:
            return value if isinstance(value, dict) else None
        if expression is None:
            expression = self.config.get(holder.config_address, {}).get(key)
        rebuilt = self.from_data_source(holder, expression)
        if rebuilt is None:
            self.out.notes.append(
                f"{r.address}: {key} is known only after apply and does not come from an aws_iam_policy_document "
                "in this plan: not audited"
            )
        return rebuilt

    def from_data_source(self, r: _Resource, expression: Any) -> Any:
        references = _references(expression)
        for ref in references:
            base = ref.removesuffix(".json").removesuffix(".minified_json")
            if base.startswith("data.aws_iam_policy_document.") and ref != base:
                config = self.config.get(r.module + base)
                if config is not None:
                    return self.policy_document(config, r.module)
        return None

    def policy_document(self, expressions: dict[str, Any], module: str) -> dict[str, Any]:
        """An aws_iam_policy_document's configuration as a document: constants as written, references as
        placeholders (each kept as a literal, so `*` appears only where the configuration wrote one)."""
        statements = []
        for block in expressions.get("statement") or []:
            statement: dict[str, Any] = {"Effect": self.constant(block.get("effect"), module) or "Allow"}
            for tf_key, iam_key in (
                ("sid", "Sid"),
                ("actions", "Action"),
                ("not_actions", "NotAction"),
                ("resources", "Resource"),
                ("not_resources", "NotResource"),
            ):
                if tf_key in block:
                    statement[iam_key] = self.constant(block[tf_key], module, many=tf_key != "sid")
            for tf_key, iam_key in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
                for principal in block.get(tf_key) or []:
                    kind = self.constant(principal.get("type"), module)
                    statement.setdefault(iam_key, {})[str(kind)] = self.constant(
                        principal.get("identifiers"), module, many=True
                    )
            for condition in block.get("condition") or []:
                test, variable = (self.constant(condition.get(k), module) for k in ("test", "variable"))
                statement.setdefault("Condition", {}).setdefault(str(test), {})[str(variable)] = self.constant(
                    condition.get("values"), module, many=True
                )
            statements.append(statement)
        return {"Version": "2012-10-17", "Statement": statements}

    def constant(self, expression: Any, module: str, many: bool = False) -> Any:
        """A configuration expression's value: its constant, else one placeholder per resource it references
        (a list when the attribute is a list: `many`)."""
        if not isinstance(expression, dict):
            return expression
        if "constant_value" in expression:
            return expression["constant_value"]
        refs = [ref for ref in _references(expression) if ref.count(".") >= 2 or ref.startswith("var.")]
        targets = list(dict.fromkeys(".".join(ref.split(".")[:2]) for ref in refs))
        chosen = [next(ref for ref in refs if ref.startswith(target)) for target in targets] or ["expression"]
        placeholders = [self.placeholder(f"{module}{ref}") for ref in chosen]
        return placeholders if many else placeholders[0]

    def targets(
        self, r: _Resource, key: str, by_name: dict[str, _Role], by_address: dict[str, list[_Role]]
    ) -> list[_Role]:
        name = r.known(key)
        if isinstance(name, str) and name in by_name:
            return [by_name[name]]
        for ref in _references(self.config.get(r.config_address, {}).get(key)):
            address = r.module + ".".join(ref.split(".")[:2])
            if address in by_address:
                return by_address[address]
        shown = name if isinstance(name, str) else f"the role {key} of {r.address} (known only after apply)"
        self.out.notes.append(f"{r.address} attaches to {shown}, which the plan does not create: not audited with it")
        return []

    def policy_arn(self, r: _Resource, policies: dict[str, tuple[Any, Any, _Resource]]) -> str:
        arn = r.known("policy_arn")
        if isinstance(arn, str):
            return arn
        for ref in _references(self.config.get(r.config_address, {}).get("policy_arn")):
            address = r.module + ".".join(ref.split(".")[:2])
            if address in policies:
                return policies[address][0] or f"{address}.arn"
        return self.placeholder(f"{r.address}.policy_arn")

    def snapshot(self, role: _Role, managed: dict[str, tuple[Any, _Resource]], missing: set[str]) -> RoleSnapshot:
        r = role.resource
        attached = []
        for arn in role.managed_arns:
            attached.append(self.managed(arn, managed, missing))
        boundary_arn = r.known("permissions_boundary")
        boundary = self.managed(str(boundary_arn), managed, missing) if boundary_arn else None
        trust = self.document(r, "assume_role_policy")
        duration = r.known("max_session_duration")
        tags = r.known("tags") or r.known("tags_all") or {}
        return RoleSnapshot(
            arn=role.arn,
            name=role.name,
            path=str(r.known("path") or "/"),
            trust_policy=trust,
            inline_policies=tuple(role.inline),
            managed_policies=tuple(p for p in attached if p.document is not None),
            permissions_boundary=boundary,
            tags=tuple((str(k), str(v)) for k, v in tags.items()) if isinstance(tags, dict) else (),
            max_session_duration=duration if isinstance(duration, int) else 3600,
            instance_profiles=tuple(role.profiles),
            attached_policy_arns=tuple(role.managed_arns),
        )

    def managed(self, arn: str, managed: dict[str, tuple[Any, _Resource]], missing: set[str]) -> AttachedPolicy:
        if arn in managed:
            document, r = managed[arn]
            return AttachedPolicy(
                name=str(r.known("name") or r.address), document=document, arn=arn, location=self.where(r)
            )
        document = snapshot().document(arn)
        if document is None:
            missing.add(arn)
        return AttachedPolicy(name=arn.rsplit("/", 1)[-1], document=document, arn=arn)

    # -- placeholders, errors and locations ----------------------------------------------------------
    def placeholder(self, what: str) -> str:
        self.placeholders.append(unresolved(what))
        return unresolved(what)

    def error(self, r: _Resource, message: str) -> None:
        location = self.location(r)
        self.out.errors.append(AuditError(r.address, f"{location.path}:{location.line} {r.address}", message))
        self.out.locations.setdefault(r.address, location)

    def where(self, r: _Resource) -> str:
        location = self.location(r)
        return f"{location.path}:{location.line} {r.address}"

    def location(self, r: _Resource) -> SourceLocation:
        found = _tf_block_line(self.modules.get(r.module), r.type, r.config_address.rsplit(".", 1)[-1])
        if found is not None:
            path, line = found
            return SourceLocation(path, r.address, line)
        return SourceLocation(self.source, r.address, _plan_line(self.text, r.address))


def read_plan(text: str, source: str) -> IacFile:
    try:
        plan = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IacInputError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise IacInputError("not valid JSON: nested too deeply") from None
    if not isinstance(plan, dict) or not ("resource_changes" in plan or "planned_values" in plan):
        raise IacInputError("a Terraform JSON without resource_changes or planned_values: not a plan")
    return _Plan(plan, text, source).read()


def _planned(plan: dict[str, Any]) -> list[_Resource]:
    changes = plan.get("resource_changes")
    if isinstance(changes, list):
        out = []
        for change in changes:
            if not isinstance(change, dict) or change.get("mode", "managed") != "managed":
                continue
            after = (change.get("change") or {}).get("after")
            if not isinstance(after, dict):  # deleted by the plan
                continue
            unknown = (change.get("change") or {}).get("after_unknown")
            out.append(_Resource(str(change.get("address")), str(change.get("type")), after, unknown or {}))
        return out
    out = []
    stack = [((plan.get("planned_values") or {}).get("root_module") or {})]
    while stack:
        module = stack.pop()
        for resource in module.get("resources") or []:
            if isinstance(resource, dict) and resource.get("mode", "managed") == "managed":
                values = resource.get("values") if isinstance(resource.get("values"), dict) else {}
                out.append(_Resource(str(resource.get("address")), str(resource.get("type")), values, {}))
        stack.extend(m for m in module.get("child_modules") or [] if isinstance(m, dict))
    return out


def _configuration(configuration: Any) -> dict[str, dict[str, Any]]:
    """Every resource's and data source's `expressions`, by full config address (module.a.aws_iam_role.r)."""
    out: dict[str, dict[str, Any]] = {}
    stack = [("", (configuration or {}).get("root_module") or {})]
    while stack:
        prefix, module = stack.pop()
        for resource in module.get("resources") or []:
            if isinstance(resource, dict):
                out[prefix + str(resource.get("address"))] = resource.get("expressions") or {}
        for name, call in (module.get("module_calls") or {}).items():
            if isinstance(call, dict):
                stack.append((f"{prefix}module.{name}.", call.get("module") or {}))
    return out


def _module_dirs(configuration: Any, root: Path) -> dict[str, Path]:
    """Where each module's .tf files are: the plan's folder for the root, local `source` paths for modules."""
    out = {"": root}
    stack = [("", root, (configuration or {}).get("root_module") or {})]
    while stack:
        prefix, folder, module = stack.pop()
        for name, call in (module.get("module_calls") or {}).items():
            source = str(call.get("source", "")) if isinstance(call, dict) else ""
            if source.startswith(("./", "../")):
                child = Path(folder, source)
                out[f"{prefix}module.{name}."] = child
                stack.append((f"{prefix}module.{name}.", child, call.get("module") or {}))
    return out


def _tf_block_line(folder: Path | None, rtype: str, name: str) -> tuple[str, int] | None:
    if folder is None or not folder.is_dir():
        return None
    block = re.compile(rf'^[ \t]*resource\s+"{re.escape(rtype)}"\s+"{re.escape(name)}"', re.MULTILINE)
    for tf in sorted(folder.glob("*.tf")):
        try:
            text = tf.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        match = block.search(text)
        if match:
            return str(tf), text.count("\n", 0, match.start()) + 1
    return None


def _plan_line(text: str, address: str) -> int:
    at = text.find(f'"address": {json.dumps(address)}')
    if at < 0:
        at = text.find(f'"address":{json.dumps(address)}')
    return text.count("\n", 0, at) + 1 if at >= 0 else 1


def _references(expression: Any) -> list[str]:
    if isinstance(expression, list):
        return [ref for item in expression for ref in _references(item)]
    if isinstance(expression, dict):
        refs = expression.get("references")
        return [str(ref) for ref in refs] if isinstance(refs, list) else []
    return []
