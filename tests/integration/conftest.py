"""moto fixtures shared by the integration tests: a fake account in us-east-1, never real AWS."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from event_account import SeededAccount, seed_account
from event_stack import EventStack, create_event_stack
from moto import mock_aws

import rolewatch.handlers.event_audit
from rolewatch.inventory.clients import AwsClients, make_clients
from rolewatch.inventory.iam_reader import AWS_MANAGED_POLICY_CACHE

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, a fixed region, and nothing that could point boto3 at a real endpoint."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")


@pytest.fixture(autouse=True)
def empty_policy_cache() -> Iterator[None]:
    """The AWS-managed policy cache lives at module level (warm Lambdas); tests start cold."""
    AWS_MANAGED_POLICY_CACHE.clear()
    yield
    AWS_MANAGED_POLICY_CACHE.clear()


@pytest.fixture
def aws() -> Iterator[None]:
    """A moto account without AWS-managed policies (fast)."""
    with mock_aws():
        yield


@pytest.fixture
def aws_with_managed_policies() -> Iterator[None]:
    """A moto account where AWS-managed policies (AmazonS3ReadOnlyAccess, ...) exist, as in real IAM."""
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        yield


@pytest.fixture
def clients(aws: None) -> AwsClients:
    return make_clients(region=REGION)


@pytest.fixture
def managed_clients(aws_with_managed_policies: None) -> AwsClients:
    return make_clients(region=REGION)


# The SAM local contract imports every handler afresh and replays every event file against a moto account:
# end to end, seconds per case. Its mark lives here while that file is being rewritten elsewhere.
SLOW_FILES = frozenset({"test_sam_local_contract.py"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)


# -- the event function against its stack (moto), for the handler-level tests ------------------------
@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[EventStack]:
    """The event function's resources in moto (AWS-managed policies loaded), its environment set."""
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        stack = create_event_stack()
        for name, value in stack.environment().items():
            monkeypatch.setenv(name, value)
        yield stack


@pytest.fixture
def function(stack: EventStack) -> Iterator[Any]:
    """The handler module as a new container loads it: imported with the function's environment set
    (Powertools reads POWERTOOLS_* when the module creates its Logger and Metrics)."""
    module = importlib.reload(rolewatch.handlers.event_audit)
    yield module
    module.runtime.cache_clear()


@pytest.fixture
def account(stack: EventStack) -> SeededAccount:
    return seed_account()
