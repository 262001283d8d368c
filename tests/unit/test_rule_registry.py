"""Meta-tests: the catalogue and the registry match one to one; the check that the tests run every rule."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from rule_runs import RuleRuns, unexercised

# Importing the emitting modules registers their findings: the engine's own, Access Analyzer's.
from rolewatch.analyzer.translate import ACCESS_ANALYZER_CHECK, SKIPPED_RULE
from rolewatch.audit import SUPPRESSION_EXPIRED
from rolewatch.model import CATEGORIES
from rolewatch.rule_metadata import parse_catalogue, rule_catalogue
from rolewatch.rules.registry import live_check_finding, live_check_findings, registered_rules

TESTS = Path(__file__).resolve().parents[1]


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
        ([], "must map rule ids"),
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
