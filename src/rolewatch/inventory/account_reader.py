"""The whole account read in the fewest calls, for the weekly (and on-demand) account audit.

- IAM: GetAccountAuthorizationDetails (roles, customer- and AWS-managed policies with their default
  versions, inline policies, boundaries, tags, instance profiles, RoleLastUsed) with MaxItems=1000, the
  API's maximum: ceil(entities / 1000) pages. RoleDetail has no MaxSessionDuration, so ListRoles (also
  1000 per page) adds it. The pages are turned into snapshots by `authz_file.read_account_json`, the
  same conversion as `rolewatch check` uses on a saved file.
- EC2: DescribeRegions once, then DescribeIamInstanceProfileAssociations (state "associated", 1000 per
  page) in every enabled region, one call chain per region on a few threads.
(Access Analyzer's findings for the whole account are read by rolewatch.analyzer.account_findings.)

Partial failure loses nothing: a region, a service or a late IAM page that fails is recorded as an
`UnreadSource` (what, where, why) and the rest is kept. Only when IAM gives nothing at all does the
read raise `AccountReadError`, so the scheduled function fails loudly (retries, DLQ, alarms).
This module reads; it never judges.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rolewatch.aws_permissions import ACCOUNT_AUDIT, ORG_AUDIT, requires
from rolewatch.inventory.authz_file import read_account_json
from rolewatch.inventory.clients import AwsClients
from rolewatch.model import AuditError, InstanceProfileRef, RoleSnapshot

IAM_PAGE_SIZE = 1000  # the API maximum for GetAccountAuthorizationDetails and ListRoles
EC2_PAGE_SIZE = 1000  # the API maximum for DescribeIamInstanceProfileAssociations
AUTHZ_FILTER = ("Role", "LocalManagedPolicy", "AWSManagedPolicy")
AUTHZ_SOURCE = "iam:GetAccountAuthorizationDetails"
REGION_THREADS = 4
# The whole-account audit, and the weekly organization run, which reads the central (security) account
# itself with its own role (org/credentials.py: the central account is never assumed into).
READS_AN_ACCOUNT = (ACCOUNT_AUDIT, ORG_AUDIT)


class AccountReadError(RuntimeError):
    """Nothing could be read: the audit has no input and must fail loudly."""


@dataclass(frozen=True)
class UnreadSource:
    """Something the audit could not read, and why; the report lists these."""

    service: str  # "iam", "ec2", "access-analyzer"
    scope: str  # "global", a region, or an analyzer ARN
    operation: str  # the API operation that failed
    reason: str

    def describe(self) -> str:
        return f"{self.service} {self.operation} ({self.scope}): {self.reason}"

    def to_dict(self) -> dict[str, str]:
        return {"service": self.service, "scope": self.scope, "operation": self.operation, "reason": self.reason}

    def as_error(self, account_id: str) -> AuditError:
        return AuditError(
            resource=f"account:{account_id}" if account_id else "account",
            location=f"{self.service}:{self.operation}@{self.scope}",
            message=f"not read: {self.reason}",
        )


@dataclass(frozen=True)
class AccountInventory:
    """Every role of the account as snapshots, plus what could not be read."""

    account_id: str
    roles: tuple[RoleSnapshot, ...]
    errors: tuple[AuditError, ...] = ()  # malformed entries inside what was read
    notes: tuple[str, ...] = ()
    unread: tuple[UnreadSource, ...] = ()
    regions: tuple[str, ...] = ()  # regions whose instance associations were read
    iam_complete: bool = True  # False when an IAM page failed: some roles may be missing
    iam_pages: int = 0


def failure_reason(exc: Exception) -> str:
    """One line for a failed AWS call: the error code and message (or the exception), for `UnreadSource`s."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '') or exc}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


# -- IAM -------------------------------------------------------------------------------------------


@dataclass
class AuthorizationPages:
    """The merged pages of GetAccountAuthorizationDetails, as one value `read_account_json` accepts."""

    details: dict[str, list[Any]] = field(
        default_factory=lambda: {"RoleDetailList": [], "Policies": [], "UserDetailList": [], "GroupDetailList": []}
    )
    pages: int = 0
    failure: UnreadSource | None = None


@requires("iam:GetAccountAuthorizationDetails", by=READS_AN_ACCOUNT)
def read_authorization_details(clients: AwsClients, page_size: int = IAM_PAGE_SIZE) -> AuthorizationPages:
    """Every page, following Marker while IsTruncated. A failing page keeps the pages before it.

    The loop is written out (not a paginator) so a page failure keeps what was read and a service that
    repeats a marker cannot make it loop forever.
    """
    out = AuthorizationPages()
    marker: str | None = None
    seen: set[str] = set()
    while True:
        kwargs: dict[str, Any] = {"Filter": list(AUTHZ_FILTER), "MaxItems": page_size}
        if marker is not None:
            kwargs["Marker"] = marker
        try:
            page = clients.iam.get_account_authorization_details(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            out.failure = UnreadSource("iam", "global", "GetAccountAuthorizationDetails", failure_reason(exc))
            return out
        out.pages += 1
        for key, items in out.details.items():
            items.extend(page.get(key) or [])
        if not page.get("IsTruncated"):
            return out
        marker = page.get("Marker")
        if not marker or marker in seen:
            reason = f"page {out.pages} is truncated but {'repeats its' if marker else 'has no'} Marker"
            out.failure = UnreadSource("iam", "global", "GetAccountAuthorizationDetails", reason)
            return out
        seen.add(marker)


@requires("iam:ListRoles", by=READS_AN_ACCOUNT)
def read_session_durations(clients: AwsClients, page_size: int = IAM_PAGE_SIZE) -> dict[str, int]:
    """MaxSessionDuration by role ARN (GetAccountAuthorizationDetails does not return it)."""
    durations: dict[str, int] = {}
    pages = clients.iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": page_size})
    for page in pages:
        for role in page.get("Roles", []):
            if isinstance(role.get("MaxSessionDuration"), int):
                durations[role["Arn"]] = role["MaxSessionDuration"]
    return durations


# -- EC2 -------------------------------------------------------------------------------------------


@requires("ec2:DescribeRegions", by=READS_AN_ACCOUNT)
def enabled_regions(clients: AwsClients) -> list[str]:
    """The regions enabled for the account (opt-in regions not opted into are left out by EC2 itself)."""
    regions = clients.ec2.describe_regions(AllRegions=False).get("Regions", [])
    return sorted(r["RegionName"] for r in regions if r.get("OptInStatus", "opt-in-not-required") != "not-opted-in")


@requires("ec2:DescribeIamInstanceProfileAssociations", by=READS_AN_ACCOUNT)
def read_region_associations(ec2: Any) -> dict[str, list[str]]:
    """{instance profile ARN: [instance id]} for the live associations of one region's EC2 client."""
    found: dict[str, list[str]] = {}
    pages = ec2.get_paginator("describe_iam_instance_profile_associations").paginate(
        Filters=[{"Name": "state", "Values": ["associated"]}], PaginationConfig={"PageSize": EC2_PAGE_SIZE}
    )
    for page in pages:
        for association in page.get("IamInstanceProfileAssociations", []):
            # Re-checked here, so the answer does not depend on every endpoint honouring the filter.
            arn = association.get("IamInstanceProfile", {}).get("Arn")
            if association.get("State") == "associated" and arn and association.get("InstanceId"):
                found.setdefault(arn, []).append(association["InstanceId"])
    return found


@dataclass
class InstanceAssociations:
    by_profile: dict[str, list[str]] = field(default_factory=dict)
    regions: list[str] = field(default_factory=list)
    unread: list[UnreadSource] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)


def read_instance_associations(
    clients: AwsClients,
    regions: Iterable[str] | None = None,
    *,
    ec2_for_region: Callable[[str], Any] | None = None,
) -> InstanceAssociations:
    """Associations in every enabled region; a region that fails is reported and the others are kept.

    `ec2_for_region` gives the EC2 client of a region (default: the clients' session in that region,
    with its calls counted into `clients.counter`).
    """
    out = InstanceAssociations()
    if regions is None:
        try:
            regions = enabled_regions(clients)
        except (ClientError, BotoCoreError) as exc:
            home = clients.region or "us-east-1"
            out.unread.append(
                UnreadSource("ec2", "all regions", "DescribeRegions", f"{failure_reason(exc)}; only {home} was read")
            )
            regions = [home]
    wanted = list(regions)
    # Clients are made here, on one thread (creating clients is not thread-safe; using them is). Each
    # region counts its own calls, merged below, so no counter is shared between threads.
    regional: dict[str, AwsClients] = {}
    if ec2_for_region is None:
        regional = {region: _regional_clients(clients, region) for region in wanted}
        ec2_clients = {region: client_set.ec2 for region, client_set in regional.items()}
    else:
        ec2_clients = {region: ec2_for_region(region) for region in wanted}

    def read(region: str) -> tuple[str, dict[str, list[str]] | None, UnreadSource | None]:
        try:
            return region, read_region_associations(ec2_clients[region]), None
        except Exception as exc:  # any failure of one region is reported as such; the other regions are kept
            unread = UnreadSource("ec2", region, "DescribeIamInstanceProfileAssociations", failure_reason(exc))
            return region, None, unread

    with ThreadPoolExecutor(max_workers=REGION_THREADS) as pool:
        results = list(pool.map(read, wanted))
    for region, found, problem in results:
        if problem is not None:
            out.unread.append(problem)
            continue
        out.regions.append(region)
        for arn, ids in (found or {}).items():
            out.by_profile.setdefault(arn, []).extend(ids)
    for client_set in regional.values():
        out.calls.update(client_set.counter.calls)
    return out


def _regional_clients(clients: AwsClients, region: str) -> AwsClients:
    # The same session (credentials, endpoint configuration), another region.
    return AwsClients(session=clients._session, region=region)


# -- the whole account ---------------------------------------------------------------------------


# Not declared with `requires`: GetCallerIdentity needs no permission (an explicit Deny cannot block it),
# so no policy grants it. Called only for an account whose IAM read holds no role at all.
def caller_account(clients: AwsClients) -> str:
    return str(clients.sts.get_caller_identity()["Account"])


def _account_from(roles: Iterable[RoleSnapshot]) -> str:
    return next((r.account_id for r in roles if r.account_id), "")


def read_account(
    clients: AwsClients,
    *,
    regions: Iterable[str] | None = None,
    ec2_for_region: Callable[[str], Any] | None = None,
) -> AccountInventory:
    """The account's roles with instance ids and session durations; raises AccountReadError if IAM gave nothing."""
    pages = read_authorization_details(clients)
    if pages.pages == 0 and pages.failure is not None:  # nothing read: the first page failed
        raise AccountReadError(f"cannot read the account: {pages.failure.describe()}")
    converted = read_account_json(pages.details, AUTHZ_SOURCE)
    roles = list(converted.roles)
    unread: list[UnreadSource] = [pages.failure] if pages.failure else []
    notes = list(converted.notes)
    account_id = _account_from(roles)
    if not account_id:
        try:
            account_id = caller_account(clients)
        except (ClientError, BotoCoreError) as exc:
            unread.append(UnreadSource("sts", "global", "GetCallerIdentity", failure_reason(exc)))

    try:
        durations = read_session_durations(clients)
    except (ClientError, BotoCoreError) as exc:
        durations = {}
        unread.append(
            UnreadSource("iam", "global", "ListRoles", f"{failure_reason(exc)}; session durations are taken as 3600 s")
        )

    associations = (
        read_instance_associations(clients, regions, ec2_for_region=ec2_for_region)
        if any(r.instance_profiles for r in roles)
        else InstanceAssociations(regions=[])
    )
    clients.counter.calls.update(associations.calls)
    unread.extend(associations.unread)

    roles = [_complete(role, durations, associations.by_profile) for role in roles]
    return AccountInventory(
        account_id=account_id,
        roles=tuple(roles),
        errors=tuple(converted.errors),
        notes=tuple(notes),
        unread=tuple(unread),
        regions=tuple(sorted(associations.regions)),
        iam_complete=pages.failure is None,
        iam_pages=pages.pages,
    )


def _complete(role: RoleSnapshot, durations: dict[str, int], instances: dict[str, list[str]]) -> RoleSnapshot:
    profiles = tuple(
        InstanceProfileRef(name=p.name, arn=p.arn, instance_ids=tuple(sorted(set(instances.get(p.arn, ())))))
        for p in role.instance_profiles
    )
    return replace(
        role, max_session_duration=durations.get(role.arn, role.max_session_duration), instance_profiles=profiles
    )
