"""Meta-tests: rules are discovered, each with its metadata beside it; the metadata and the registry
match one to one; the check that the tests run every rule."""

from __future__ import annotations

import json
import os
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from rule_runs import RuleRuns, unexercised

import rolewatch
import rolewatch.rules

# Importing the emitting modules registers their findings: the engine's own, Access Analyzer's.
from rolewatch.analyzer.translate import ACCESS_ANALYZER_CHECK, SKIPPED_RULE
from rolewatch.audit import SUPPRESSION_EXPIRED
from rolewatch.model import CATEGORIES
from rolewatch.rule_metadata import METADATA_SUFFIX, metadata_files, parse_catalogue, rule_catalogue
from rolewatch.rules import RULE_MODULES, module_names
from rolewatch.rules.registry import cross_role_rules, live_check_finding, live_check_findings, registered_rules

TESTS = Path(__file__).resolve().parents[1]
PACKAGE = Path(rolewatch.__file__).parent
RULES = Path(rolewatch.rules.__file__).parent


def _module_of_file(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# -- discovery -------------------------------------------------------------------------------------------


def test_every_python_file_under_rules_is_a_discovered_module():
    """A module the walk misses (say, in a directory without __init__.py) would hold rules that never run."""
    on_disk = {_module_of_file(p) for p in RULES.rglob("*.py")} - {"rolewatch.rules"}
    assert {m.__name__ for m in RULE_MODULES} == on_disk


def test_a_directory_without_init_is_not_walked_and_so_fails_the_meta_test(tmp_path: Path):
    (tmp_path / "trust").mkdir()
    (tmp_path / "trust" / "__init__.py").write_text("")
    (tmp_path / "trust" / "account_root.py").write_text("")
    (tmp_path / "stray").mkdir()
    (tmp_path / "stray" / "forgotten_rule.py").write_text("")
    assert list(module_names(str(tmp_path), "pkg")) == ["pkg.trust", "pkg.trust.account_root"]


def test_rules_come_out_sorted_by_id_whatever_the_import_order():
    assert list(registered_rules()) == sorted(registered_rules())


def test_cross_role_rules_are_declared_by_their_modules():
    assert cross_role_rules() == {"privilege-escalation", "role-chain-escalation"}


# -- metadata beside each rule ----------------------------------------------------------------------------


def test_each_rule_module_has_its_metadata_beside_it_naming_exactly_its_rules():
    by_module: dict[str, set[str]] = {}
    for rule_id, fn in registered_rules().items():
        by_module.setdefault(fn.__module__, set()).add(rule_id)
    for module, ids in by_module.items():
        source = Path(sys.modules[module].__file__ or "")
        metadata = source.with_name(source.stem + METADATA_SUFFIX)
        assert metadata.is_file(), f"{module}: no {metadata.name} beside it"
        assert set(yaml.safe_load(metadata.read_text())) == ids, metadata


def test_every_metadata_file_sits_beside_a_module():
    for where, _text in metadata_files():
        module = PACKAGE / where.removesuffix(METADATA_SUFFIX)
        assert module.with_suffix(".py").is_file(), where


def test_an_id_described_twice_is_refused(monkeypatch: pytest.MonkeyPatch):
    entry = "x:\n  category: admin-access\n  severity: high\n  title: t\n  rationale: r\n  remediation: m\n"
    monkeypatch.setattr("rolewatch.rule_metadata.metadata_files", lambda: [("a.metadata.yaml", entry)] * 2)
    rule_catalogue.cache_clear()
    try:
        with pytest.raises(ValueError, match="already described"):
            rule_catalogue()
    finally:
        rule_catalogue.cache_clear()


def test_every_data_file_of_the_package_ships_in_the_wheel():
    """setuptools copies only what [tool.setuptools.package-data] names (SAM copies the whole src/)."""
    patterns = tomllib.loads((TESTS.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = {p for pattern in patterns["rolewatch"] for p in PACKAGE.glob(pattern) if p.is_file()}
    data = {p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")}
    assert data - shipped == set()


def test_catalogue_and_registry_match():
    assert set(registered_rules()) | live_check_findings() == set(rule_catalogue())
    assert not set(registered_rules()) & live_check_findings()
    assert live_check_findings("engine") == {SUPPRESSION_EXPIRED}
    assert SKIPPED_RULE in live_check_findings(ACCESS_ANALYZER_CHECK)


def test_a_finding_id_has_one_emitter():
    assert live_check_finding(SKIPPED_RULE, check=ACCESS_ANALYZER_CHECK) == SKIPPED_RULE  # idempotent
    with pytest.raises(ValueError, match="registered twice"):
        live_check_finding(SKIPPED_RULE, check="engine")
    with pytest.raises(ValueError, match="registered twice"):
        live_check_finding(next(iter(registered_rules())), check="engine")


def test_rule_ids_are_function_names():
    for rule_id, fn in registered_rules().items():
        assert fn.__name__.replace("_", "-") == rule_id


def test_every_catalogue_category_is_in_the_closed_set():
    assert {m.category for m in rule_catalogue().values()} <= CATEGORIES


# -- the tests run every rule: the rule_runs plugin (tests/rule_runs.py) --------------------------------


def test_a_rule_counts_only_when_called_and_a_finding_was_built():
    runs = RuleRuns()
    runs.add({"calls": {"admin-access": 2, "trust-account-root": 1}, "findings": {"admin-access": 1}})
    runs.add({"findings": {"suppression-expired": 1}, "complete": True})
    missing = unexercised(
        ["admin-access", "trust-account-root", "service-wildcard"],
        ["admin-access", "trust-account-root", "service-wildcard", "suppression-expired", "access-analyzer-skipped"],
        runs,
    )
    assert missing == {
        "access-analyzer-skipped": "never produced",
        "service-wildcard": "never called",
        "trust-account-root": "called, never produced a finding",
    }
    assert runs.complete_selection


SESSION_OF_ONE_RULE = """
from helpers import allow, make_role, policy, rule_ids

from rolewatch.model import Finding, Remediation, Severity


def test_admin():
    assert rule_ids(make_role("admin", policy(allow("*"))), rules=["admin-access"]) == {"admin-access"}


def test_names_a_rule_and_builds_a_finding_itself():
    Finding("service-wildcard", "admin-access", Severity.HIGH, "arn", "t", "d", Remediation("s"))
"""


@pytest.fixture
def session_of_one_rule(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project whose only unit test runs admin-access, with this suite's helpers and the plugin."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    pytester.makeini("[pytest]\n")
    pytester.mkdir("tests")
    pytester.mkdir("tests/unit")
    pytester.path.joinpath("tests/unit/test_one.py").write_text(SESSION_OF_ONE_RULE)
    return pytester


def test_a_session_of_every_unit_test_fails_when_a_rule_never_ran(session_of_one_rule: pytest.Pytester):
    result = session_of_one_rule.runpytest_subprocess("-p", "rule_runs", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*rules no test exercised*", "service-wildcard: never called"])
    assert "admin-access:" not in result.stdout.str()
    assert "2 passed" in result.stdout.str()


def test_a_partial_selection_is_not_asked_to_cover_every_rule(session_of_one_rule: pytest.Pytester):
    result = session_of_one_rule.runpytest_subprocess("-p", "rule_runs", "-p", "no:cacheprovider", "-k", "admin")
    assert result.ret == pytest.ExitCode.OK
    assert "rules no test exercised" not in result.stdout.str()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "must map finding ids"),
        ({"x": {"category": "admin-access"}}, "missing"),
        (
            {"x": {"category": "nope", "severity": "high", "title": "t", "rationale": "r", "remediation": "m"}},
            "category",
        ),
        (
            {"x": {"category": "admin-access", "severity": "huge", "title": "t", "rationale": "r", "remediation": "m"}},
            "severity",
        ),
        (
            {
                "x": {
                    "category": "admin-access",
                    "severity": "high",
                    "title": "t",
                    "rationale": "r",
                    "remediation": "m",
                    "y": 1,
                }
            },
            "unknown field",
        ),
    ],
    ids=["not-a-map", "missing-fields", "bad-category", "bad-severity", "extra-field"],
)
def test_catalogue_validation(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_catalogue(raw)


def test_packaged_privesc_methods_match_the_shared_corpus(shared_data):
    shared = json.loads((shared_data / "privesc-methods.json").read_text())["methods"]
    packaged_path = TESTS.parent / "src" / "rolewatch" / "rules" / "data" / "privesc-methods.json"
    packaged = json.loads(packaged_path.read_text())["methods"]
    assert [(m["actions"], m["known_as"]) for m in packaged] == [(m["actions"], m["known_as"]) for m in shared]
