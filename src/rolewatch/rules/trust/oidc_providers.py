"""The OpenID Connect providers a web-identity trust is judged against (data: oidc_providers.yaml).

Each provider says how its tokens must be pinned: the subject claim, the documented audience, how bad
a missing audience or subject is, and which subject grammar grades a wildcard subject (a GitHub
`repo:OWNER/REPO:...`, an EKS `system:serviceaccount:NS:SA`, ...). The table is data a reviewer can
edit; the grammars, which parse subjects, are code below. The YAML is read once, on the first
web-identity trust an audit meets, and validated then.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from rolewatch.model import Severity
from rolewatch.yaml_data import load_yaml

PROVIDERS_FILE = "oidc_providers.yaml"


@dataclass(frozen=True)
class OidcScheme:
    """How one identity provider's tokens must be pinned, and how bad each gap is."""

    provider: str
    subject_claim: str  # "sub", or "amr" for Cognito
    expected_audience: str | None  # the only acceptable aud, when the provider documents one
    audience_missing: Severity
    subject_missing: Severity
    subject_risk: Callable[[str], Severity | None]  # literal head of a wildcard subject -> risk
    suggest_subject: Callable[[str], str]  # an existing subject value -> a pinned one
    subject_operator: str = "StringEquals"
    audience_placeholder: str = "REPLACE_WITH_AUDIENCE"
    audience_claim: str = "aud"  # Login with Amazon and Facebook name the client app_id
    audience_noun: str = "clients or subjects"  # whose tokens an open trust admits, in the finding's words


@dataclass(frozen=True)
class _Provider:
    """A scheme and the issuers it applies to (exact hosts, host prefixes, or a host pattern)."""

    scheme: OidcScheme
    issuers: frozenset[str]
    issuer_prefixes: tuple[str, ...]
    issuer_pattern: re.Pattern[str] | None

    def matches(self, host: str) -> bool:
        return (
            host in self.issuers
            or host.startswith(self.issuer_prefixes)
            or (self.issuer_pattern is not None and self.issuer_pattern.match(host) is not None)
        )


def oidc_scheme(issuer: str) -> OidcScheme:
    """The scheme of the first provider whose issuers match (case-insensitively), else the generic one."""
    host = issuer.lower()
    providers, generic = _table()
    return next((p.scheme for p in providers if p.matches(host)), generic)


# -- subject grammars ------------------------------------------------------------------------------
def _github_risk(head: str) -> Severity | None:
    if not head.startswith("repo:"):
        # `*`, `repo*`: any owner. A custom sub template (repository_owner:...) we cannot parse: high.
        return Severity.CRITICAL if "repo:".startswith(head) else Severity.HIGH
    _owner, slash, rest = head.removeprefix("repo:").partition("/")
    if not slash:
        return Severity.CRITICAL  # the owner is open: anyone can create a matching organisation
    if ":" not in rest:
        return Severity.HIGH  # every repository of the owner (`repo:org/*`, `repo:org/app*`)
    # `repo:org/repo:*`: any branch, tag, environment or pull request of one repository. GitHub's own
    # documentation shows this form; the risk is anyone who can push a branch there: low.
    return Severity.LOW


def _github_subject(value: str) -> str:
    match = re.match(r"^repo:([^*?/:]+)/([^*?/:]*)", value)
    owner = match.group(1) if match else "REPLACE_WITH_ORG"
    repo = match.group(2) if match and match.group(2) and not _followed_by_wildcard(value, match.end()) else None
    return f"repo:{owner}/{repo or 'REPLACE_WITH_REPO'}:ref:refs/heads/main"


def _followed_by_wildcard(value: str, end: int) -> bool:
    return end < len(value) and value[end] in "*?"


def _eks_risk(head: str) -> Severity | None:
    prefix = "system:serviceaccount:"
    if not head.startswith(prefix):
        return Severity.HIGH  # any service account of any namespace of the cluster
    _namespace, colon, _account = head.removeprefix(prefix).partition(":")
    return Severity.MEDIUM if colon else Severity.HIGH


def _eks_subject(value: str) -> str:
    match = re.match(r"^system:serviceaccount:([^*?:]+):([^*?:]*)", value)
    namespace = match.group(1) if match else "REPLACE_WITH_NAMESPACE"
    account = match.group(2) if match and match.group(2) and not _followed_by_wildcard(value, match.end()) else None
    return f"system:serviceaccount:{namespace}:{account or 'REPLACE_WITH_SERVICE_ACCOUNT'}"


def _gitlab_risk(head: str) -> Severity | None:
    prefix = "project_path:"
    if not head.startswith(prefix):
        return Severity.CRITICAL if prefix.startswith(head) else Severity.HIGH
    path, colon, _ = head.removeprefix(prefix).partition(":")
    if colon:
        return Severity.LOW  # one project, any ref
    return Severity.HIGH if "/" in path else Severity.CRITICAL


def _gitlab_subject(value: str) -> str:
    match = re.match(r"^project_path:([^*?:]+)/([^*?:/]+)(?=:)", value)
    path = f"{match.group(1)}/{match.group(2)}" if match else "REPLACE_WITH_GROUP/REPLACE_WITH_PROJECT"
    return f"project_path:{path}:ref_type:branch:ref:main"


def _terraform_risk(head: str) -> Severity | None:
    prefix = "organization:"
    if not head.startswith(prefix):
        return Severity.CRITICAL if prefix.startswith(head) else Severity.HIGH
    colons = head.removeprefix(prefix).count(":")
    if colons == 0:
        return Severity.CRITICAL  # any organisation
    if colons <= 2:
        return Severity.HIGH  # any project of the organisation
    if colons <= 4:
        return Severity.MEDIUM  # any workspace of the project
    return None  # only the run phase is open: HashiCorp's documented `run_phase:*` form


def _terraform_subject(value: str) -> str:
    parts = dict(re.findall(r"(organization|project|workspace):([^*?:]+)(?=:)", value))
    organization = parts.get("organization", "REPLACE_WITH_ORG")
    project = parts.get("project", "REPLACE_WITH_PROJECT")
    workspace = parts.get("workspace", "REPLACE_WITH_WORKSPACE")
    return f"organization:{organization}:project:{project}:workspace:{workspace}:run_phase:*"


def _cognito_risk(head: str) -> Severity | None:
    return Severity.MEDIUM


def _cognito_subject(value: str) -> str:
    return "authenticated"


def _generic_risk(head: str) -> Severity | None:
    return Severity.HIGH if not head else Severity.MEDIUM


def _generic_subject(value: str) -> str:
    return "REPLACE_WITH_SUBJECT"


# Subject grammars by the name the YAML gives them: (wildcard subject head -> risk, subject -> pinned one).
GRAMMARS: dict[str, tuple[Callable[[str], Severity | None], Callable[[str], str]]] = {
    "github": (_github_risk, _github_subject),
    "eks": (_eks_risk, _eks_subject),
    "gitlab": (_gitlab_risk, _gitlab_subject),
    "terraform": (_terraform_risk, _terraform_subject),
    "cognito": (_cognito_risk, _cognito_subject),
    "generic": (_generic_risk, _generic_subject),
}
_SCHEME_FIELDS = {
    "name",
    "subject_claim",
    "expected_audience",
    "audience_missing",
    "subject_missing",
    "subject_grammar",
    "subject_operator",
    "audience_placeholder",
    "audience_claim",
    "audience_noun",
}
_MATCH_FIELDS = {"issuers", "issuer_prefixes", "issuer_pattern"}


@cache
def _table() -> tuple[tuple[_Provider, ...], OidcScheme]:
    text = resources.files(__package__).joinpath(PROVIDERS_FILE).read_text()
    return parse_providers(load_yaml(text))


def parse_providers(raw: Any) -> tuple[tuple[_Provider, ...], OidcScheme]:
    """The providers in match order and the generic scheme, from the YAML's `providers` and `generic`."""
    if not isinstance(raw, dict) or set(raw) != {"providers", "generic"} or not isinstance(raw["providers"], list):
        raise ValueError(f"{PROVIDERS_FILE}: expected a mapping with `providers` (a list) and `generic`")
    providers = []
    for i, entry in enumerate(raw["providers"]):
        where = f"{PROVIDERS_FILE}: providers[{i}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: expected a mapping")
        _check_keys(entry, _SCHEME_FIELDS | _MATCH_FIELDS, where)
        pattern = entry.get("issuer_pattern")
        providers.append(
            _Provider(
                scheme=_scheme({k: v for k, v in entry.items() if k in _SCHEME_FIELDS}, where),
                issuers=frozenset(str(i).lower() for i in entry.get("issuers") or ()),
                issuer_prefixes=tuple(str(p).lower() for p in entry.get("issuer_prefixes") or ()),
                issuer_pattern=re.compile(str(pattern)) if pattern else None,
            )
        )
        if not (providers[-1].issuers or providers[-1].issuer_prefixes or providers[-1].issuer_pattern):
            raise ValueError(f"{where}: names no issuer")
    generic = raw["generic"]
    if not isinstance(generic, dict):
        raise ValueError(f"{PROVIDERS_FILE}: generic: expected a mapping")
    _check_keys(generic, _SCHEME_FIELDS, f"{PROVIDERS_FILE}: generic")
    return tuple(providers), _scheme(generic, f"{PROVIDERS_FILE}: generic")


def _check_keys(entry: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in set(entry) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")


def _scheme(entry: dict[str, Any], where: str) -> OidcScheme:
    required = {"name", "subject_claim", "audience_missing", "subject_missing", "subject_grammar"}
    missing = sorted(required - set(entry))
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    grammar = GRAMMARS.get(entry["subject_grammar"])
    if grammar is None:
        raise ValueError(
            f"{where}: unknown subject_grammar {entry['subject_grammar']!r} (one of {', '.join(GRAMMARS)})"
        )
    optional = {
        k: str(entry[k])
        for k in ("subject_operator", "audience_placeholder", "audience_claim", "audience_noun")
        if k in entry
    }
    expected = entry.get("expected_audience")
    return OidcScheme(
        provider=str(entry["name"]),
        subject_claim=str(entry["subject_claim"]),
        expected_audience=None if expected is None else str(expected),
        audience_missing=Severity.parse(entry["audience_missing"]),
        subject_missing=Severity.parse(entry["subject_missing"]),
        subject_risk=grammar[0],
        suggest_subject=grammar[1],
        **optional,
    )
