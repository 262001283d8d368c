"""The rules' metadata: rolewatch/rules/catalogue.yaml, and the finding a rule id stands for.

Each rule id maps to its title, category, severity, rationale, remediation and references: data a
reviewer can edit, validated when first loaded. It sits below the baseline (which checks the rule ids
its severity overrides name), the rules and the renderers, none of which it imports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from rolewatch.model import CATEGORIES, Finding, Remediation, Severity


@dataclass(frozen=True)
class RuleMeta:
    id: str
    category: str
    severity: Severity
    title: str
    rationale: str
    remediation: str
    references: tuple[str, ...] = ()


@cache
def rule_catalogue() -> dict[str, RuleMeta]:
    # Read through the top package: resolving "rolewatch.rules" would import every rule module.
    text = resources.files("rolewatch").joinpath("rules", "catalogue.yaml").read_text()
    return parse_catalogue(yaml.safe_load(text))


def parse_catalogue(raw: Any) -> dict[str, RuleMeta]:
    if not isinstance(raw, dict):
        raise ValueError("rules/catalogue.yaml must map rule ids to their metadata")
    out = {}
    required = {"category", "severity", "title", "rationale", "remediation"}
    for rule_id, entry in raw.items():
        if not isinstance(entry, dict):
            raise ValueError(f"catalogue entry {rule_id}: expected a mapping")
        missing = required - set(entry)
        if missing:
            raise ValueError(f"catalogue entry {rule_id}: missing {', '.join(sorted(missing))}")
        extra = set(entry) - required - {"references"}
        if extra:
            raise ValueError(f"catalogue entry {rule_id}: unknown field(s) {', '.join(sorted(extra))}")
        if entry["category"] not in CATEGORIES:
            raise ValueError(f"catalogue entry {rule_id}: unknown category {entry['category']!r}")
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
