"""Classify the principals a trust policy names: who, in which account, of which kind.

Pure helpers over the strings IAM accepts in `Principal`:
- AWS: "*", an account root ("arn:aws:iam::123456789012:root" or the bare "123456789012"), a role,
  user or STS session ARN, or a unique id ("AROA...") that IAM shows once the named principal is deleted;
- Service: "sns.amazonaws.com", regional forms ("logs.eu-west-1.amazonaws.com") and China
  ("ec2.amazonaws.com.cn");
- Federated: an OIDC provider ARN ("arn:aws:iam::ACCOUNT:oidc-provider/HOST[/PATH]"), a SAML provider
  ARN ("arn:aws:iam::ACCOUNT:saml-provider/NAME") or a web-identity domain ("cognito-identity.amazonaws.com",
  "accounts.google.com").
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class PrincipalClass(enum.Enum):
    WILDCARD = "wildcard"
    ACCOUNT_ROOT = "account-root"
    ROLE = "role"
    USER = "user"
    SESSION = "session"  # arn:aws:sts::ACCOUNT:assumed-role/... or federated-user/...
    UNIQUE_ID = "unique-id"  # AROA.../AIDA...: the named principal was deleted
    SERVICE = "service"
    OIDC_PROVIDER = "oidc-provider"
    SAML_PROVIDER = "saml-provider"
    WEB_IDENTITY = "web-identity"  # a Federated domain without a provider resource (Cognito, Google, ...)
    CANONICAL_USER = "canonical-user"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class TrustPrincipal:
    kind: str  # as in the policy: "AWS", "Service", "Federated" or "CanonicalUser"
    value: str  # as written
    cls: PrincipalClass
    account: str | None = None  # the 12-digit account the principal lives in, when the value says
    partition: str | None = None  # "aws", "aws-cn", "aws-us-gov" for ARNs
    name: str | None = None  # role/user name, OIDC issuer host[/path], SAML provider name or service prefix

    @property
    def label(self) -> str:
        """How the policy writes it, e.g. `Principal.AWS=arn:aws:iam::123456789012:root`."""
        return f"Principal.{self.kind}={self.value}"


ACCOUNT_ID = re.compile(r"^\d{12}$")
UNIQUE_ID = re.compile(r"^A[A-Z0-9]{3}[A-Z0-9]{12,}$")
_IAM_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):(?P<service>iam|sts)::(?P<account>\d{12}):(?P<resource>.+)$")
_SERVICE_SUFFIXES = (".amazonaws.com.cn", ".amazonaws.com", ".amazon.com")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


def classify_principal(kind: str, value: str) -> TrustPrincipal:
    """One principal value of a Principal/NotPrincipal element, classified."""
    if kind == "AWS":
        return _classify_aws(value)
    if kind == "Service":
        return TrustPrincipal(kind, value, PrincipalClass.SERVICE, name=service_prefix(value))
    if kind == "Federated":
        return _classify_federated(value)
    if kind == "CanonicalUser":
        return TrustPrincipal(kind, value, PrincipalClass.CANONICAL_USER)
    return TrustPrincipal(kind, value, PrincipalClass.UNKNOWN)


def _classify_aws(value: str) -> TrustPrincipal:
    if value == "*":
        return TrustPrincipal("AWS", value, PrincipalClass.WILDCARD)
    if ACCOUNT_ID.match(value):
        # IAM reads a bare account id as that account's root.
        return TrustPrincipal("AWS", value, PrincipalClass.ACCOUNT_ROOT, account=value)
    arn = _IAM_ARN.match(value)
    if arn is None:
        cls = PrincipalClass.UNIQUE_ID if UNIQUE_ID.match(value) else PrincipalClass.UNKNOWN
        return TrustPrincipal("AWS", value, cls)
    partition, service, account, resource = arn.group("partition", "service", "account", "resource")
    if service == "iam" and resource == "root":
        cls, name = PrincipalClass.ACCOUNT_ROOT, None
    elif service == "iam" and resource.startswith("role/"):
        cls, name = PrincipalClass.ROLE, resource.rsplit("/", 1)[-1]
    elif service == "iam" and resource.startswith("user/"):
        cls, name = PrincipalClass.USER, resource.rsplit("/", 1)[-1]
    elif service == "sts" and resource.startswith(("assumed-role/", "federated-user/")):
        cls, name = PrincipalClass.SESSION, resource.split("/", 1)[1]
    else:
        cls, name = PrincipalClass.UNKNOWN, None
    return TrustPrincipal("AWS", value, cls, account=account, partition=partition, name=name)


def _classify_federated(value: str) -> TrustPrincipal:
    arn = _IAM_ARN.match(value)
    if arn is not None:
        partition, account, resource = arn.group("partition", "account", "resource")
        if resource.startswith("oidc-provider/"):
            issuer = resource.removeprefix("oidc-provider/")
            return TrustPrincipal("Federated", value, PrincipalClass.OIDC_PROVIDER, account, partition, issuer)
        if resource.startswith("saml-provider/"):
            name = resource.removeprefix("saml-provider/")
            return TrustPrincipal("Federated", value, PrincipalClass.SAML_PROVIDER, account, partition, name)
        return TrustPrincipal("Federated", value, PrincipalClass.UNKNOWN, account, partition)
    if value and ":" not in value and "." in value:
        # Web-identity federation without a provider resource: the domain is the issuer.
        return TrustPrincipal("Federated", value, PrincipalClass.WEB_IDENTITY, name=value)
    return TrustPrincipal("Federated", value, PrincipalClass.UNKNOWN)


def service_prefix(service_principal: str) -> str:
    """`sns.amazonaws.com` -> `sns`; `logs.eu-west-1.amazonaws.com` -> `logs`;
    `delivery.logs.amazonaws.com` -> `delivery.logs`; `ec2.amazonaws.com.cn` -> `ec2`."""
    name = service_principal.strip().lower()
    for suffix in _SERVICE_SUFFIXES:
        if name.endswith(suffix):
            name = name.removesuffix(suffix)
            break
    labels = name.split(".")
    if len(labels) > 1 and _REGION.match(labels[-1]):
        labels = labels[:-1]  # regional service principal
    return ".".join(labels)


def is_ec2_service(service_principal: str) -> bool:
    return service_principal.strip().lower() in ("ec2.amazonaws.com", "ec2.amazonaws.com.cn")


def partition_of_arn(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"
