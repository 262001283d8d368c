"""The organization's accounts the weekly run audits: every ACTIVE account, narrowed by OU and account id.

Selection (the state machine's parameters, each a list): with `include_ous` or `include_accounts`
given, only the accounts under those OUs (at any depth) plus those accounts; otherwise every account
of the organization. Then the accounts under `exclude_ous` and the `exclude_accounts` are removed
(exclusion wins). An account that is selected but not ACTIVE (suspended, pending closure) is not
audited and is listed with its status, so the organization report says why it is missing: nothing
leaves the run silently. Accounts removed by the selection are counted, not listed as faults.

Calls: ListAccounts (20 per page, paginated) for the whole organization, or per OU
ListAccountsForParent and ListOrganizationalUnitsForParent (paginated) down the tree.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rolewatch.aws_permissions import ORG_AUDIT, requires
from rolewatch.inventory.clients import AwsClients
from rolewatch.org.credentials import ORGANIZATION_MODE, account_state

ACTIVE = "ACTIVE"


class AccountListError(RuntimeError):
    """The organization's accounts could not be listed: the weekly run cannot start (it fails loudly)."""


@dataclass(frozen=True)
class Selection:
    include_ous: tuple[str, ...] = ()
    exclude_ous: tuple[str, ...] = ()
    include_accounts: tuple[str, ...] = ()
    exclude_accounts: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, data: Any) -> Selection:
        """From the run's input: each key a list of ids or a comma-separated string (CloudFormation's)."""
        data = data if isinstance(data, dict) else {}

        def ids(key: str) -> tuple[str, ...]:
            value = data.get(key) or ()
            items = value.split(",") if isinstance(value, str) else value
            return tuple(sorted({str(item).strip() for item in items if str(item).strip()}))

        return cls(ids("include_ous"), ids("exclude_ous"), ids("include_accounts"), ids("exclude_accounts"))

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "include_ous": list(self.include_ous),
            "exclude_ous": list(self.exclude_ous),
            "include_accounts": list(self.include_accounts),
            "exclude_accounts": list(self.exclude_accounts),
        }


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    status: str

    def item(self) -> dict[str, str]:
        return {"account_id": self.id, "name": self.name}


@dataclass
class AccountListing:
    audit: list[Account] = field(default_factory=list)  # ACTIVE and selected: one Map item each
    inactive: list[Account] = field(default_factory=list)  # selected, not ACTIVE: reported, not audited
    left_out: int = 0  # removed by the selection
    calls: int = 0


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def _account(data: dict[str, Any]) -> Account:
    return Account(id=str(data["Id"]), name=str(data.get("Name", "")), status=account_state(data))


@requires("organizations:ListAccounts", by=ORG_AUDIT, only_if=ORGANIZATION_MODE)
def every_account(orgs: Any) -> list[Account]:
    return [_account(a) for a in _pages(orgs, "list_accounts", "Accounts")]


@requires(
    "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent",
    by=ORG_AUDIT,
    only_if=ORGANIZATION_MODE,
)
def accounts_under(orgs: Any, parent_id: str) -> list[Account]:
    """Every account under an OU (or root), at any depth."""
    found = [_account(a) for a in _pages(orgs, "list_accounts_for_parent", "Accounts", ParentId=parent_id)]
    for ou in _pages(orgs, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent_id):
        found.extend(accounts_under(orgs, str(ou["Id"])))
    return found


@requires("organizations:DescribeAccount", by=ORG_AUDIT, only_if=ORGANIZATION_MODE)
def describe_accounts(orgs: Any, account_ids: Collection[str]) -> list[Account]:
    """Accounts named by id; one that is not in the organization is listed with status NOT_IN_ORGANIZATION."""
    out = []
    for account_id in sorted(account_ids):
        try:
            out.append(_account(orgs.describe_account(AccountId=account_id)["Account"]))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "AccountNotFoundException":
                raise
            out.append(Account(id=account_id, name="", status="NOT_IN_ORGANIZATION"))
    return out


def list_accounts(clients: AwsClients, selection: Selection) -> AccountListing:
    """The accounts to audit and those selected but not auditable. Raises AccountListError."""
    orgs = clients.client("organizations")
    before = clients.counter.total("organizations")
    try:
        if selection.include_ous or selection.include_accounts:
            chosen: dict[str, Account] = {}
            for ou in selection.include_ous:
                chosen.update((a.id, a) for a in accounts_under(orgs, ou))
            chosen.update((a.id, a) for a in describe_accounts(orgs, set(selection.include_accounts) - set(chosen)))
        else:
            chosen = {a.id: a for a in every_account(orgs)}
        excluded = set(selection.exclude_accounts)
        for ou in selection.exclude_ous:
            excluded.update(a.id for a in accounts_under(orgs, ou))
    except (ClientError, BotoCoreError) as exc:
        raise AccountListError(f"the organization's accounts could not be listed: {exc}") from exc
    listing = AccountListing()
    for account in sorted(chosen.values(), key=lambda a: a.id):
        if account.id in excluded:
            listing.left_out += 1
        elif account.status == ACTIVE:
            listing.audit.append(account)
        else:
            listing.inactive.append(account)
    listing.calls = clients.counter.total("organizations") - before
    return listing
