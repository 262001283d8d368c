"""Member accounts read from the central account through their reader role (STS AssumeRole).

In organization mode an event or a weekly item names the account to read; its IAM and EC2 are read
with the credentials of the fixed-name role the member stack creates in every account, while reports
are stored and published with the central function's own credentials.

- **Membership first.** `organizations:DescribeAccount` (the security account is a delegated
  administrator, which may call it) says whether the account is in this organization and ACTIVE; the
  answer for an ACTIVE account is kept while the container is warm. A non-member is never assumed into.
- **Session.** `RoleSessionName` carries the event id (or the weekly item's id), so the member's
  CloudTrail ties every read to what caused it. `DurationSeconds` is STS's minimum, 900 s, unless a
  longer one is asked for: it outlives the event function's 60 s timeout plus the renewal margin.
- **Cache.** One set of clients per account while warm. Their credentials are botocore
  `RefreshableCredentials` renewed `renew_before` seconds before they expire (the renewal's session
  name carries the latest id), so a long read never signs with expired credentials and a warm
  container calls AssumeRole about once per account per 10 minutes of activity.
- **Faults** become `AccountUnavailable(account, kind, reason)`, never a crash and never silence: the
  caller reports "cannot audit account X: <reason>" and counts it. Kinds: outside the organization,
  suspended, membership not verifiable, reader role missing or refusing (STS answers AccessDenied for
  both: AWS does not tell them apart), throttled (after botocore's standard retries), unreachable.

Calls per account and container: 1 DescribeAccount, 1 AssumeRole per session (both on the central
clients, so they are counted there).
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.session
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError

from rolewatch.aws_permissions import EVENT_AUDIT, ORG_AUDIT, Scope, declarations, declared_in, requires
from rolewatch.inventory.clients import AwsClients
from rolewatch.settings import DEFAULT_READER_ROLE, Settings

MIN_SESSION_SECONDS = 900  # STS's minimum DurationSeconds
RENEW_BEFORE_SECONDS = 300  # renew this long before expiry: more than any function's remaining work per call
MANDATORY_RENEW_SECONDS = 60  # below this, a failed renewal fails the call instead of using old credentials
SESSION_PREFIX = "rolewatch-"
_SESSION_CHARS = re.compile(r"[^\w+=,.@-]")
_ACCOUNT_ID = re.compile(r"^\d{12}$")

THROTTLING_CODES = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"})
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})

# AccountUnavailable.kind values (also the org report's and the metric's vocabulary).
OUTSIDE_ORGANIZATION = "outside-organization"
SUSPENDED = "suspended"
MEMBERSHIP_UNVERIFIED = "membership-unverified"
READER_ROLE_REFUSED = "reader-role-refused"
THROTTLED = "throttled"
UNREACHABLE = "unreachable"
INVALID_ACCOUNT = "invalid-account"


# Template condition of every grant below: they exist only in organization mode.
ORGANIZATION_MODE = "OrganizationMode"
# The member stack's reader role in any account, assumable only in this organization's accounts.
MEMBER_READER_ROLES = Scope(
    "MemberReaderRoles",
    {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${ReaderRoleName}"},
    {"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}},
)


class AccountUnavailable(RuntimeError):
    """An account that cannot be audited from here, and why (the message is the report's sentence)."""

    def __init__(self, account_id: str, kind: str, reason: str) -> None:
        super().__init__(f"cannot audit account {account_id}: {reason}")
        self.account_id = account_id
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class ReaderRole:
    """The member stack's read-only role: a fixed name, so its ARN is known for any account id."""

    name: str = DEFAULT_READER_ROLE
    partition: str = "aws"

    def arn(self, account_id: str) -> str:
        return f"arn:{self.partition}:iam::{account_id}:role/{self.name}"


def session_name(reason_id: str) -> str:
    """A RoleSessionName (2-64 of [\\w+=,.@-]) carrying the event or item id."""
    cleaned = _SESSION_CHARS.sub("_", reason_id or "unknown")
    return (SESSION_PREFIX + cleaned)[:64]


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _client_reason(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip().rstrip(":")


class _StaticProvider(CredentialProvider):  # type: ignore[misc]
    """Hands botocore one credentials object (the refreshable one below)."""

    METHOD = "rolewatch-reader-role"
    CANONICAL_NAME = "rolewatch-reader-role"

    def __init__(self, credentials: RefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> RefreshableCredentials:
        return self._credentials


class MemberAccounts:
    """Clients for any account of the organization, assumed through the reader role and kept while warm."""

    def __init__(
        self,
        central: AwsClients,
        *,
        central_account: str,
        reader: ReaderRole | None = None,
        session_seconds: int = MIN_SESSION_SECONDS,
        renew_before: int = RENEW_BEFORE_SECONDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if session_seconds < MIN_SESSION_SECONDS:
            raise ValueError(f"session_seconds must be at least {MIN_SESSION_SECONDS} (STS's minimum)")
        self.central = central
        self.central_account = central_account
        self.reader = reader or ReaderRole()
        self.session_seconds = session_seconds
        self.renew_before = renew_before
        self.clock = clock
        self._members: set[str] = set()  # accounts seen ACTIVE in the organization
        self._clients: dict[str, AwsClients] = {}
        self._latest_id: dict[str, str] = {}
        self._lock = threading.Lock()

    def clients_for(self, account_id: str, *, reason_id: str) -> AwsClients:
        """The clients that read `account_id` (the central ones for the central account itself).

        Raises AccountUnavailable; `reason_id` (event id, item id) names the STS session."""
        if not _ACCOUNT_ID.match(account_id or ""):
            raise AccountUnavailable(account_id or "(none)", INVALID_ACCOUNT, "not a 12-digit account id")
        if account_id == self.central_account:
            return self.central
        with self._lock:
            self._latest_id[account_id] = reason_id
            if account_id in self._clients:
                return self._clients[account_id]
            self.check_membership(account_id)
            made = self._assumed_clients(account_id)
            self._clients[account_id] = made
            return made

    def forget(self, account_id: str) -> None:
        """Drop an account's cached clients (its role was found refusing: the next use assumes again)."""
        with self._lock:
            self._clients.pop(account_id, None)

    def check_membership(self, account_id: str) -> None:
        """Raises AccountUnavailable unless the account is an ACTIVE member of this organization."""
        if account_id in self._members:
            return
        try:
            account = describe_member(self.central, account_id)
        except ClientError as exc:
            code = error_code(exc)
            if code == "AccountNotFoundException":
                raise AccountUnavailable(
                    account_id, OUTSIDE_ORGANIZATION, "not a member of this organization: its events are not audited"
                ) from exc
            if code in THROTTLING_CODES:
                raise AccountUnavailable(
                    account_id, THROTTLED, f"membership check throttled ({_client_reason(exc)})"
                ) from exc
            raise AccountUnavailable(
                account_id, MEMBERSHIP_UNVERIFIED, f"membership could not be verified ({_client_reason(exc)})"
            ) from exc
        except BotoCoreError as exc:
            raise AccountUnavailable(account_id, UNREACHABLE, f"AWS Organizations unreachable ({exc})") from exc
        status = account_state(account)
        if status != "ACTIVE":
            kind = SUSPENDED if status in ("SUSPENDED", "PENDING_CLOSURE", "CLOSED") else MEMBERSHIP_UNVERIFIED
            raise AccountUnavailable(account_id, kind, f"account status is {status or 'unknown'}, not ACTIVE")
        self._members.add(account_id)

    def _assumed_clients(self, account_id: str) -> AwsClients:
        first = self.assume_reader_role(account_id)
        credentials = RefreshableCredentials(
            access_key=first["access_key"],
            secret_key=first["secret_key"],
            token=first["token"],
            expiry_time=datetime.fromisoformat(first["expiry_time"]),
            refresh_using=lambda: self.assume_reader_role(account_id),
            method=_StaticProvider.METHOD,
            time_fetcher=self.clock,
            advisory_timeout=self.renew_before,
            mandatory_timeout=min(MANDATORY_RENEW_SECONDS, self.renew_before),
        )
        session = botocore.session.Session()
        session.register_component("credential_provider", CredentialResolver([_StaticProvider(credentials)]))
        return AwsClients(session=boto3.Session(botocore_session=session), region=self.central.region)

    def assume_reader_role(self, account_id: str) -> dict[str, Any]:
        """Fresh credentials of the account's reader role, in botocore's refresh format."""
        role_arn = self.reader.arn(account_id)
        try:
            granted = assume_role(
                self.central, role_arn, session_name(self._latest_id.get(account_id, "")), self.session_seconds
            )
        except ClientError as exc:
            code = error_code(exc)
            if code in DENIED_CODES:
                reason = f"reader role {role_arn} is missing or does not trust this function ({_client_reason(exc)})"
                raise AccountUnavailable(account_id, READER_ROLE_REFUSED, reason) from exc
            if code in THROTTLING_CODES:
                reason = f"AssumeRole of {role_arn} throttled after retries ({_client_reason(exc)})"
                raise AccountUnavailable(account_id, THROTTLED, reason) from exc
            reason = f"AssumeRole of {role_arn} failed ({_client_reason(exc)})"
            raise AccountUnavailable(account_id, UNREACHABLE, reason) from exc
        except BotoCoreError as exc:
            raise AccountUnavailable(account_id, UNREACHABLE, f"STS unreachable ({exc})") from exc
        return {
            "access_key": granted["AccessKeyId"],
            "secret_key": granted["SecretAccessKey"],
            "token": granted["SessionToken"],
            "expiry_time": granted["Expiration"].astimezone(UTC).isoformat(),
        }


@requires("organizations:DescribeAccount", by=(EVENT_AUDIT, ORG_AUDIT), only_if=ORGANIZATION_MODE)
def account_state(account: dict[str, Any]) -> str:
    """An Organizations account's life-cycle state: `State` (PENDING_ACTIVATION, ACTIVE, SUSPENDED,
    PENDING_CLOSURE, CLOSED), else the `Status` AWS retired on 2026-09-09 (ACTIVE, SUSPENDED,
    PENDING_CLOSURE), which older endpoints and moto still send; "" when neither is there."""
    return str(account.get("State") or account.get("Status") or "")


def describe_member(central: AwsClients, account_id: str) -> dict[str, Any]:
    """The organization's record of an account (Id, Name, Status); AccountNotFoundException if not a member."""
    return dict(central.client("organizations").describe_account(AccountId=account_id)["Account"])


@requires("sts:AssumeRole", by=(EVENT_AUDIT, ORG_AUDIT), on=MEMBER_READER_ROLES, only_if=ORGANIZATION_MODE)
def assume_role(central: AwsClients, role_arn: str, name: str, seconds: int) -> dict[str, Any]:
    """Temporary credentials of `role_arn` (AccessKeyId, SecretAccessKey, SessionToken, Expiration)."""
    response = central.sts.assume_role(RoleArn=role_arn, RoleSessionName=name, DurationSeconds=seconds)
    return dict(response["Credentials"])


# Not declared with @requires: GetCallerIdentity needs no permission.
def member_accounts(central: AwsClients, settings: Settings) -> MemberAccounts | None:
    """The member-account reader for organization mode (None in account mode: every read is local)."""
    if not settings.organization:
        return None
    own_account = str(central.sts.get_caller_identity()["Account"])
    return MemberAccounts(central, central_account=own_account, reader=ReaderRole(settings.reader_role_name))


# The readers whose clients are the member's reader role (Access Analyzer is read centrally, reports are
# stored and published centrally): templates/member.yaml grants the role exactly their IAM and EC2 actions.
MEMBER_READ_MODULES = (
    "rolewatch.inventory.iam_reader",
    "rolewatch.inventory.change_history",
    "rolewatch.inventory.account_reader",
)
MEMBER_READ_SERVICES = ("iam", "ec2")


def member_read_actions() -> frozenset[str]:
    """The reader role's actions: what the member-side readers declare (`requires`), IAM and EC2 only."""
    for module in MEMBER_READ_MODULES:
        importlib.import_module(module)  # their declarations are made at import
    return frozenset(
        action
        for module in MEMBER_READ_MODULES
        for actions in declared_in(module).values()
        for action in actions
        if action.split(":", 1)[0] in MEMBER_READ_SERVICES
    )


# With Security Hub on, a member's findings are imported through its reader role, in its own account (the
# default product accepts a finding only from the account it belongs to): the role may also make the
# Security Hub calls of this module, on the scopes it declares, which name the role's own account.
MEMBER_IMPORT_MODULE = "rolewatch.integrations.security_hub"


@dataclass(frozen=True)
class MemberGrant:
    """One statement of the reader role's Security Hub policy: `actions` on `resource` (Sid `sid`)."""

    sid: str
    actions: frozenset[str]
    resource: Any


def member_security_hub_grants() -> tuple[MemberGrant, ...]:
    """The reader role's Security Hub statements, one per declared scope (templates/member.yaml grants
    them under its condition ImportsSecurityHubFindings; a test holds it to this)."""
    importlib.import_module(MEMBER_IMPORT_MODULE)
    by_scope: dict[str, MemberGrant] = {}
    for d in declarations():
        if d.module != MEMBER_IMPORT_MODULE:
            continue
        before = by_scope.get(d.scope.name)
        actions = d.actions | (before.actions if before else frozenset())
        by_scope[d.scope.name] = MemberGrant(d.scope.name, actions, d.scope.arn)
    return tuple(by_scope[sid] for sid in sorted(by_scope))


def refused(exc: Exception) -> bool:
    """A read inside the member refused by its reader role (or an SCP): the account cannot be audited."""
    return isinstance(exc, ClientError) and error_code(exc) in DENIED_CODES
