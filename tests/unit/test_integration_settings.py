"""The integrations' settings: Security Hub off unless asked for, the audit event on the default bus."""

from __future__ import annotations

import pytest

from rolewatch.settings import ConfigurationError, load_settings

BASE = {"REPORT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:reports", "REPORT_BUCKET": "reports-bucket"}


def test_security_hub_is_off_and_the_event_goes_to_the_default_bus_by_default() -> None:
    settings = load_settings(BASE, required=())
    assert (settings.security_hub, settings.audit_event_bus) == (False, "default")


@pytest.mark.parametrize(
    "bus, expected",
    [
        ("security-events", "security-events"),
        (
            "arn:aws:events:us-east-1:111122223333:event-bus/central",
            "arn:aws:events:us-east-1:111122223333:event-bus/central",
        ),
        ("off", None),
        ("OFF", None),
    ],
)
def test_the_bus_is_a_name_an_arn_or_off(bus: str, expected: str | None) -> None:
    settings = load_settings({**BASE, "SECURITY_HUB": "true", "AUDIT_EVENT_BUS": bus}, required=())
    assert (settings.security_hub, settings.audit_event_bus) == (True, expected)


@pytest.mark.parametrize(
    "name, value, message",
    [("SECURITY_HUB", "maybe", "not a boolean"), ("AUDIT_EVENT_BUS", "bus with spaces", "not an EventBridge bus")],
)
def test_invalid_values_are_named(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{name}=.*{message}"):
        load_settings({**BASE, name: value}, required=())
