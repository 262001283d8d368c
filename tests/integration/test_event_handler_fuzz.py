"""The event function's handler on generated envelopes (hypothesis), against moto.

Whatever the envelope, the handler ends in one of three ways: EventError naming a field (the invocation
fails and the event goes to the dead-letter queue), a skip, or an audit (published, below the threshold,
nothing to audit, or a duplicate of one). Any other exception is a bug.
"""

from __future__ import annotations

import importlib
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from event_account import seed_account
from event_stack import EventStack, LambdaContext, create_event_stack
from event_strategies import any_event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

import rolewatch.handlers.event_audit
from rolewatch.event.triggers import EventError

CONTEXT = LambdaContext()
NAMES_A_FIELD = re.compile(
    r"field '[^']+'|missing field|must be a JSON object|not an EventBridge event|bare CloudTrail"
)
AUDITED = {"published", "below-threshold", "nothing-to-audit", "duplicate-in-progress"}
OUTCOMES: Counter[str] = Counter()


@pytest.fixture(scope="module")
def stack() -> Iterator[EventStack]:
    monkeypatch = pytest.MonkeyPatch()
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        stack = create_event_stack()
        for name, value in stack.environment().items():
            monkeypatch.setenv(name, value)
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        seed_account()
        yield stack
    monkeypatch.undo()


@pytest.fixture(scope="module")
def function(stack: EventStack) -> Iterator[Any]:
    module = importlib.reload(rolewatch.handlers.event_audit)
    yield module
    module.runtime.cache_clear()


# Envelopes that name the seeded account's roles too, so generated events reach the audit.
seeded_roles = st.sampled_from(["S3AccessRole", "Company1-Logs-Role", "ops-admin", "no-such-role"])
direct_on_seeded = st.fixed_dictionaries({"roles": st.lists(seeded_roles, min_size=1, max_size=2)},
                                         optional={"id": st.text(min_size=1, max_size=8)})  # fmt: skip


@given(any_event | direct_on_seeded)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def handle_one_generated_envelope(function: Any, stack: EventStack, event: Any) -> None:
    try:
        outcome = function.handler(event, CONTEXT)
    except EventError as exc:
        assert NAMES_A_FIELD.search(str(exc)), str(exc)
        OUTCOMES["EventError"] += 1
        return
    if outcome["status"] == "skipped":
        OUTCOMES["skipped"] += 1
        return
    assert outcome["status"] in AUDITED, outcome
    OUTCOMES["audit"] += 1
    stack.messages()  # drain the subscriber queue


def test_generated_envelopes_end_as_a_named_event_error_a_skip_or_an_audit(function: Any, stack: EventStack) -> None:
    """Every generated envelope ends in one of the three outcomes, and the generators reach each of them
    (a generator that never reached an outcome would test nothing there)."""
    OUTCOMES.clear()
    handle_one_generated_envelope(function=function, stack=stack)
    assert set(OUTCOMES) == {"EventError", "skipped", "audit"}, OUTCOMES
