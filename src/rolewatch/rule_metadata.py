"""The findings' metadata, each beside the code that emits it, and the finding a rule id stands for.

Each finding id maps to its title, category, severity, rationale, remediation and references: data a
reviewer can edit, in a `<module>.metadata.yaml` file next to the module that emits the finding (a
rule's module under rolewatch/rules/, the engine's audit.py, the live check's analyzer/translate.py),
validated when first loaded. The files are found by walking the package's resources, not by importing
code: this module sits below the baseline (which checks the rule ids its severity overrides name), the
rules and the renderers, none of which it imports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from rolewatch.model import CATEGORIES, Finding, Remediation, Severity
from rolewatch.yaml_data import load_yaml


@dataclass(frozen=True)
class RuleMeta:
    id: str
    category: str
    severity: Severity
    title: str
    rationale: str
    remediation: str
    references: tuple[str, ...] = ()


METADATA_SUFFIX = ".metadata.yaml"
_NOT_CODE = {"__pycache__", "data"}  # directories that hold no module, so no metadata


@cache
def rule_catalogue() -> dict[str, RuleMeta]:
    """Every finding id's metadata, sorted by id, from every metadata file of the package."""
    merged: dict[str, RuleMeta] = {}
    origin: dict[str, str] = {}
    for where, text in metadata_files():
        for rule_id, meta in parse_catalogue(load_yaml(text), where).items():
            if rule_id in merged:
                raise ValueError(f"{where}: {rule_id} is already described in {origin[rule_id]}")
            merged[rule_id], origin[rule_id] = meta, where
    return dict(sorted(merged.items()))


def metadata_files() -> list[tuple[str, str]]:
    """(path inside the package, text) of every `*.metadata.yaml`, sorted by path.

    Read through the top package's resources: resolving "rolewatch.rules" would import every rule module."""
    found: list[tuple[str, str]] = []
    pending: list[tuple[str, Traversable]] = [("", resources.files("rolewatch"))]
    while pending:
        prefix, folder = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                if entry.name not in _NOT_CODE:
                    pending.append((f"{prefix}{entry.name}/", entry))
            elif entry.name.endswith(METADATA_SUFFIX):
                found.append((f"{prefix}{entry.name}", entry.read_text()))
    return sorted(found)


def parse_catalogue(raw: Any, where: str = "metadata") -> dict[str, RuleMeta]:
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must map finding ids to their metadata")
    out = {}
    required = {"category", "severity", "title", "rationale", "remediation"}
    for rule_id, entry in raw.items():
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: entry {rule_id}: expected a mapping")
        missing = required - set(entry)
        if missing:
            raise ValueError(f"{where}: entry {rule_id}: missing {', '.join(sorted(missing))}")
        extra = set(entry) - required - {"references"}
        if extra:
            raise ValueError(f"{where}: entry {rule_id}: unknown field(s) {', '.join(sorted(extra))}")
        if entry["category"] not in CATEGORIES:
            raise ValueError(f"{where}: entry {rule_id}: unknown category {entry['category']!r}")
        out[rule_id] = RuleMeta(
            id=rule_id,
            category=entry["category"],
            severity=Severity.parse(entry["severity"]),
            title=str(entry["title"]).strip(),
            rationale=" ".join(str(entry["rationale"]).split()),
            remediation=" ".join(str(entry["remediation"]).split()),
            references=tuple(entry.get("references") or ()),
        )
    return out


def catalogue_finding(
    rule_id: str,
    resource: str,
    detail: str,
    *,
    actions: Iterable[str] = (),
    evidence: Iterable[str] = (),
    cli: Iterable[str] = (),
    policy: dict[str, Any] | None = None,
    severity: Severity | None = None,
    title: str | None = None,
    remediation: str | None = None,
) -> Finding:
    """A finding of `rule_id` on `resource`, its title, severity, rationale and fix from the catalogue."""
    meta = rule_catalogue()[rule_id]
    return Finding(
        rule=rule_id,
        category=meta.category,
        severity=severity or meta.severity,
        resource=resource,
        title=title or meta.title,
        detail=detail,
        rationale=meta.rationale,
        actions=tuple(actions),
        evidence=tuple(evidence),
        remediation=Remediation(summary=remediation or meta.remediation, cli=tuple(cli), policy=policy),
    )
