"""Meta-tests: the catalogue and the registry match one to one, and every rule is exercised by tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rolewatch.model import CATEGORIES
from rolewatch.rule_metadata import parse_catalogue, rule_catalogue
from rolewatch.rules.registry import ENGINE_FINDINGS, registered_rules

TESTS = Path(__file__).resolve().parents[1]


def test_catalogue_and_registry_match():
    assert set(registered_rules()) | ENGINE_FINDINGS == set(rule_catalogue())
    assert not set(registered_rules()) & ENGINE_FINDINGS


def test_rule_ids_are_function_names():
    for rule_id, fn in registered_rules().items():
        assert fn.__name__.replace("_", "-") == rule_id


def test_every_catalogue_category_is_in_the_closed_set():
    assert {m.category for m in rule_catalogue().values()} <= CATEGORIES


def test_every_rule_is_named_in_the_unit_tests():
    text = "\n".join(p.read_text() for p in (TESTS / "unit").glob("test_*.py"))
    missing = [rule_id for rule_id in set(registered_rules()) | ENGINE_FINDINGS if f'"{rule_id}"' not in text]
    assert missing == []


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
