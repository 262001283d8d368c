"""The weekly organization run's per-account step keeps nothing of an account once its item is done.

A Lambda container of OrgAuditFunction audits Map item after Map item while warm. Whatever the step
kept per account would grow with the organization until Lambda stops the container for memory
(benchmarks/bench_org_audit.py measured 1 GB after 21 accounts of 1,000 roles when it kept the
account's clients and compiled policies): each account's reader clients and compiled policies are
dropped when its step ends, whatever its outcome. Real STS AssumeRole against moto counts the sessions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from event_stack import EventStack, create_event_stack
from moto import mock_aws
from org_accounts import CENTRAL_ACCOUNT, REGION, Organization, create_organization, seed_member

from rolewatch.inventory.clients import make_clients
from rolewatch.org.credentials import MemberAccounts
from rolewatch.org_audit import audit_member_step
from rolewatch.policy.permissions import compile_policy, compiled_policies_kept
from rolewatch.settings import ACCOUNT_FUNCTION_REQUIRES, load_settings

INLINE = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
)


@pytest.fixture
def org(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[EventStack, Organization]]:
    with mock_aws():
        stack = create_event_stack()
        organization = create_organization("alpha", "beta")
        for name, value in stack.environment(DEPLOYMENT_MODE="organization", ORGANIZATION_ID=organization.id).items():
            monkeypatch.setenv(name, value)
        seed_member(organization.account("alpha"), roles={"alpha-app": INLINE})
        seed_member(organization.account("beta"), roles={"beta-app": INLINE})
        yield stack, organization


def step(members: MemberAccounts, account_id: str, run_id: str) -> dict[str, Any]:
    settings = load_settings(required=ACCOUNT_FUNCTION_REQUIRES)
    event = {"run_id": run_id, "account_id": account_id, "name": "member"}
    return audit_member_step(members.central, settings, members, event)


def test_an_accounts_clients_and_compiled_policies_are_not_kept_after_its_item(
    org: tuple[EventStack, Organization],
) -> None:
    _, organization = org
    central = make_clients(region=REGION)
    members = MemberAccounts(central, central_account=CENTRAL_ACCOUNT)
    alpha = organization.account("alpha")
    compile_policy(INLINE)  # a policy compiled before the item (another audit's) is dropped as well
    assert step(members, alpha, "weekly-1")["status"] == "audited"
    assert compiled_policies_kept() == 0
    # The next run's item for the same account assumes the reader role again: no session was kept.
    assert step(members, alpha, "weekly-2")["status"] == "audited"
    assert central.counter.calls["sts:AssumeRole"] == 2
    # An account whose item fails to read keeps nothing either.
    assert step(members, "999999999999", "weekly-2")["status"] == "unauditable"
    assert compiled_policies_kept() == 0
