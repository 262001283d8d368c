"""IAM Access Analyzer answers -> rolewatch Findings. Pure: plain dicts in (as boto3 returns them), no AWS calls.

Severity of ValidatePolicy findings (each findingType is its own rule, so the catalogue holds the
default and a baseline profile's `severities` can change it):

| findingType        | rule                                 | severity | why                                          |
|--------------------|--------------------------------------|----------|----------------------------------------------|
| SECURITY_WARNING   | access-analyzer-security-warning     | high     | overly permissive access (PassRole on "*",   |
|                    |                                      |          | NotPrincipal, unpaired condition keys): the  |
|                    |                                      |          | class of risk of rolewatch's high rules      |
| ERROR              | access-analyzer-policy-error         | medium   | the policy does not do what it says (invalid |
|                    |                                      |          | element, unknown action): access is wrong,   |
|                    |                                      |          | in either direction, and must be fixed       |
| WARNING            | access-analyzer-policy-warning       | low      | deviates from best practice, no direct risk  |
| SUGGESTION         | access-analyzer-policy-suggestion    | info     | cosmetic (empty arrays, redundant elements)  |

Findings keep Access Analyzer's `issueCode`, `learnMoreLink` and locations (path and span) in the
evidence, so a reader can open the exact place and AWS's explanation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rolewatch.baseline import Profile
from rolewatch.model import Finding, Remediation, RoleSnapshot, Severity
from rolewatch.remediation import revise_policy_cli, trust_policy_without, update_trust_cli
from rolewatch.rule_metadata import catalogue_finding, rule_catalogue
from rolewatch.rules.registry import live_check_finding
from rolewatch.shell import command, quote

TRUST_POLICY_LABEL = "AssumeRolePolicyDocument"

# The check that emits every finding of this module, as registered with the rule registry.
ACCESS_ANALYZER_CHECK = "access-analyzer"


def _emitted(finding_id: str) -> str:
    return live_check_finding(finding_id, check=ACCESS_ANALYZER_CHECK)


VALIDATE_POLICY_RULES: dict[str, str] = {
    "ERROR": _emitted("access-analyzer-policy-error"),
    "SECURITY_WARNING": _emitted("access-analyzer-security-warning"),
    "WARNING": _emitted("access-analyzer-policy-warning"),
    "SUGGESTION": _emitted("access-analyzer-policy-suggestion"),
}
SENSITIVE_ACCESS_RULE = _emitted("access-analyzer-sensitive-access")
NEW_ACCESS_RULE = _emitted("access-analyzer-new-access")
PUBLIC_TRUST_RULE = _emitted("access-analyzer-public-trust")
EXTERNAL_ACCESS_RULE = _emitted("access-analyzer-external-access")
UNUSED_ROLE_RULE = _emitted("access-analyzer-unused-role")
UNUSED_PERMISSION_RULE = _emitted("access-analyzer-unused-permission")
SKIPPED_RULE = _emitted("access-analyzer-skipped")


def make_finding(
    rule_id: str,
    role: RoleSnapshot,
    profile: Profile | None,
    detail: str,
    *,
    title: str | None = None,
    actions: Iterable[str] = (),
    evidence: Iterable[str] = (),
    summary: str | None = None,
    cli: Iterable[str] = (),
    policy: dict[str, Any] | None = None,
    severity: Severity | None = None,
) -> Finding:
    """A finding with the catalogue's metadata; the profile's `severities` override wins over `severity`."""
    return catalogue_finding(
        rule_id,
        role.arn,
        detail,
        actions=actions,
        evidence=evidence,
        cli=cli,
        policy=policy,
        severity=(profile.severity_for(rule_id) if profile else None) or severity,
        title=title,
        remediation=summary,
    )


# -- ValidatePolicy ----------------------------------------------------------------------------------


def render_path(path: Sequence[Mapping[str, Any]]) -> str:
    """Access Analyzer's PathElement list -> "Statement[0].Action[1]"."""
    out = ""
    for element in path:
        if "index" in element:
            out += f"[{element['index']}]"
        elif "key" in element:
            out += f".{element['key']}" if out else str(element["key"])
        elif "value" in element:
            out += f".{element['value']}" if out else str(element["value"])
        elif "substring" in element:
            sub = element["substring"]
            out += f"[chars {sub['start']}..{sub['start'] + sub['length']}]"
    return out or "(document)"


def render_location(location: Mapping[str, Any]) -> str:
    where = render_path(location.get("path", []))
    start = location.get("span", {}).get("start")
    if start:
        where += f" (line {start['line']}, column {start['column']}, offset {start['offset']})"
    return where


def fix_commands(role: RoleSnapshot, label: str) -> list[str]:
    """How to put a revised document back: the trust policy, an inline policy or a managed one."""
    if label == TRUST_POLICY_LABEL:
        return [update_trust_cli(role)]
    return revise_policy_cli(role, label)


def validate_policy_findings(
    role: RoleSnapshot, profile: Profile | None, label: str, results: Iterable[Mapping[str, Any]]
) -> list[Finding]:
    """One finding per ValidatePolicy finding of the policy `label` (a policy name, ARN or the trust policy)."""
    out = []
    for result in results:
        rule_id = VALIDATE_POLICY_RULES.get(str(result.get("findingType")))
        if rule_id is None:  # a findingType newer than this code: report it as a warning, never drop it
            rule_id = VALIDATE_POLICY_RULES["WARNING"]
        code = str(result.get("issueCode", "UNKNOWN"))
        link = str(result.get("learnMoreLink", ""))
        locations = [render_location(loc) for loc in result.get("locations", [])]
        evidence = [f"issueCode={code}", f"policy={label}", *(f"location={loc}" for loc in locations)]
        if link:
            evidence.append(f"learnMoreLink={link}")
        meta = rule_catalogue()[rule_id]
        where = f" at {locations[0]}" if locations else ""
        out.append(
            make_finding(
                rule_id,
                role,
                profile,
                f"{_policy_name(label)} of {role.name}{where}: {result.get('findingDetails', '').strip()}",
                title=f"{meta.title}: {code}",
                evidence=evidence,
                summary=f"{meta.remediation} AWS explains {code} at {link}." if link else meta.remediation,
                cli=fix_commands(role, label),
            )
        )
    return out


def _policy_name(label: str) -> str:
    if label == TRUST_POLICY_LABEL:
        return "The trust policy"
    return f"Policy {label}"


# -- custom policy checks ----------------------------------------------------------------------------


def _reasons(response: Mapping[str, Any]) -> list[str]:
    out = []
    for reason in response.get("reasons", []):
        where = reason.get("statementId") or (
            f"Statement[{reason['statementIndex']}]" if "statementIndex" in reason else "the policy"
        )
        out.append(f"{where}: {reason.get('description', '').strip()}")
    return out


def access_not_granted_finding(
    role: RoleSnapshot,
    profile: Profile | None,
    label: str,
    response: Mapping[str, Any],
    *,
    checked: Sequence[str],
    granted: Sequence[str],
) -> Finding | None:
    """CheckAccessNotGranted: FAIL means the policy can grant one of the profile's sensitive actions.

    `granted` are the checked actions rolewatch's own engine finds the policy allows (it names them;
    Access Analyzer only says that one of them is); when the engine finds none, the checked list stands.
    """
    if response.get("result") != "FAIL":
        return None
    reasons = _reasons(response)
    named = list(granted) or list(checked)
    return make_finding(
        SENSITIVE_ACCESS_RULE,
        role,
        profile,
        f"{_policy_name(label)} of {role.name} can grant actions the baseline profile "
        f"{profile.name if profile else '(none)'} marks as sensitive: {response.get('message', '').strip()}",
        actions=named,
        evidence=[f"policy={label}", *reasons],
        cli=fix_commands(role, label),
    )


def no_new_access_finding(
    role: RoleSnapshot, profile: Profile | None, label: str, response: Mapping[str, Any]
) -> Finding | None:
    """CheckNoNewAccess against the profile's reference policy: FAIL means access beyond the reference."""
    if response.get("result") != "FAIL":
        return None
    return make_finding(
        NEW_ACCESS_RULE,
        role,
        profile,
        f"{_policy_name(label)} of {role.name} grants access beyond the reference policy of the baseline "
        f"profile {profile.name if profile else '(none)'}: {response.get('message', '').strip()}",
        evidence=[f"policy={label}", *_reasons(response)],
        cli=fix_commands(role, label),
    )


def public_trust_finding(role: RoleSnapshot, profile: Profile | None, response: Mapping[str, Any]) -> Finding | None:
    """CheckNoPublicAccess on the trust policy: FAIL means anyone (any AWS account) may assume the role."""
    if response.get("result") != "FAIL":
        return None
    corrected = trust_policy_without(role.trust_policy, lambda _kind, value: value == "*")
    return make_finding(
        PUBLIC_TRUST_RULE,
        role,
        profile,
        f"The trust policy of {role.name} lets anyone assume the role: {response.get('message', '').strip()}",
        evidence=[f"policy={TRUST_POLICY_LABEL}", *_reasons(response)],
        cli=[update_trust_cli(role)],
        policy=corrected,
    )


# -- analyzer findings (ListFindingsV2 / GetFindingV2) -------------------------------------------------


def _principal_values(principal: Mapping[str, str]) -> list[str]:
    return [f"{kind}:{value}" for kind, value in sorted(principal.items())]


_ACCOUNT_ROOT = re.compile(r"^arn:[^:]+:iam::(\d{12}):root$")


def _principal_key(value: str) -> str:
    """An account named by its id ("999988887777", as findings do) or its root ARN (as trust policies do)."""
    match = _ACCOUNT_ROOT.match(value)
    return match.group(1) if match else value


def _names_external(principal: Mapping[str, str]) -> Callable[[str, str], bool]:
    external = {_principal_key(v) for v in principal.values()}
    return lambda _kind, value: value == "*" or _principal_key(value) in external


def _archive_cli(analyzer_arn: str, finding_id: str) -> str:
    return command(
        "aws", "accessanalyzer", "update-findings", "--analyzer-arn", analyzer_arn,
        "--ids", finding_id, "--status", "ARCHIVED",
    )  # fmt: skip


def external_access_finding(
    role: RoleSnapshot,
    profile: Profile | None,
    analyzer_arn: str,
    finding: Mapping[str, Any],
    details: Mapping[str, Any],
) -> Finding:
    """An ExternalAccess finding on a role: a principal outside the zone of trust can assume it."""
    principal = details.get("principal", {}) or {}
    actions = sorted(details.get("action", []) or [])
    conditions = details.get("condition", {}) or {}
    public = bool(details.get("isPublic"))
    corrected = trust_policy_without(role.trust_policy, _names_external(principal))
    who = ", ".join(_principal_values(principal)) or "a principal outside the zone of trust"
    condition_text = f" under conditions {json.dumps(conditions, sort_keys=True)}" if conditions else ""
    return make_finding(
        EXTERNAL_ACCESS_RULE,
        role,
        profile,
        f"Access Analyzer finding {finding.get('id')} (analyzer {analyzer_arn.rsplit('/', 1)[-1]}): "
        f"{who} can {', '.join(actions) or 'assume'} {role.name}{condition_text}"
        + (". The role is public: anyone can assume it." if public else "."),
        actions=actions,
        evidence=[
            *(f"principal={p}" for p in _principal_values(principal)),
            *(f"condition={k}={v}" for k, v in sorted(conditions.items())),
            f"public={str(public).lower()}",
        ],
        summary=(
            "Remove the external principal from the trust policy (the corrected document is attached), or, "
            "if this access is intended, archive the finding in Access Analyzer."
        ),
        cli=[update_trust_cli(role), _archive_cli(analyzer_arn, str(finding.get("id", "")))],
        policy=corrected,
        severity=Severity.CRITICAL if public else None,
    )


def unused_role_finding(
    role: RoleSnapshot,
    profile: Profile | None,
    analyzer_arn: str,
    finding: Mapping[str, Any],
    details: Mapping[str, Any],
) -> Finding:
    last = _when(details.get("lastAccessed"))
    quoted = quote(role.name)
    return make_finding(
        UNUSED_ROLE_RULE,
        role,
        profile,
        f"Access Analyzer finding {finding.get('id')} (analyzer {analyzer_arn.rsplit('/', 1)[-1]}): {role.name} "
        + (f"was last used {last}" if last else "has not been used within the analyzer's tracking period")
        + "; its credentials remain usable by anyone who can assume it.",
        evidence=[f"lastAccessed={last or 'never'}"],
        cli=[
            f"aws iam list-instance-profiles-for-role --role-name {quoted}",
            f"aws iam list-attached-role-policies --role-name {quoted}",
            f"aws iam list-role-policies --role-name {quoted}",
            f"aws iam delete-role --role-name {quoted}",
        ],
    )


def unused_permission_finding(
    role: RoleSnapshot,
    profile: Profile | None,
    analyzer_arn: str,
    finding: Mapping[str, Any],
    details: Mapping[str, Any],
    *,
    unused_actions: Sequence[str],
    remediation: Remediation,
) -> Finding:
    namespace = str(details.get("serviceNamespace", ""))
    last = _when(details.get("lastAccessed"))
    scope = f"{len(unused_actions)} action(s) of {namespace}" if details.get("actions") else f"every {namespace} action"
    return make_finding(
        UNUSED_PERMISSION_RULE,
        role,
        profile,
        f"Access Analyzer finding {finding.get('id')} (analyzer {analyzer_arn.rsplit('/', 1)[-1]}): {role.name} "
        f"holds {scope} it has not used"
        + (f" (service last used {last})" if last else " within the analyzer's tracking period")
        + ".",
        actions=unused_actions,
        evidence=[f"serviceNamespace={namespace}", f"lastAccessed={last or 'never'}"],
        summary=remediation.summary,
        cli=remediation.cli,
        policy=remediation.policy,
    )


def _when(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


# -- skipped checks ------------------------------------------------------------------------------------


def skipped_finding(role: RoleSnapshot, reasons: Iterable[str]) -> Finding | None:
    """The single `info` finding that says which Access Analyzer checks were skipped for a role, and why.

    The service layer calls it with LiveCheckResult.skipped; None when nothing was skipped.
    """
    unique = list(dict.fromkeys(r for r in reasons if r))
    if not unique:
        return None
    return make_finding(
        SKIPPED_RULE,
        role,
        None,
        f"{len(unique)} IAM Access Analyzer check(s) did not run for {role.name}; the rest of the audit is "
        "complete: " + "; ".join(unique),
        evidence=unique,
    )


def role_skipped_findings(roles: Iterable[RoleSnapshot], skipped: Mapping[str, Sequence[str]]) -> list[Finding]:
    """The event path's way: one `skipped_finding` per role whose checks did not all run, in role order."""
    found = (skipped_finding(role, skipped[role.arn]) for role in roles if skipped.get(role.arn))
    return [f for f in found if f is not None]


def account_skipped_finding(account_id: str, reasons: Iterable[str]) -> Finding | None:
    """The account path's way: ONE `info` finding on the account for every check that did not run, its
    reasons merged per cause (see `merged_reasons`), so a weekly report does not list it once per role."""
    stand_in = RoleSnapshot(arn=f"arn:aws:iam::{account_id or '000000000000'}:root", name=f"account {account_id}")
    return skipped_finding(stand_in, merged_reasons(reasons))


def merged_reasons(reasons: Iterable[str]) -> list[str]:
    """Per-role reasons ("ValidatePolicy, CheckNoPublicAccess: <why>") merged per cause, in a stable order.

    The account-level finding's evidence is these lines, so its fingerprint must not change from week to
    week just because a new role skipped one more check for the same cause.
    """
    checks_by_cause: dict[str, set[str]] = {}
    for reason in reasons:
        checks, sep, cause = reason.partition(": ")
        if not sep:
            checks, cause = "", reason
        checks_by_cause.setdefault(cause, set()).update(c for c in checks.split(", ") if c)
    return [
        f"{', '.join(sorted(checks))}: {cause}" if checks else cause
        for cause, checks in sorted(checks_by_cause.items())
    ]


# -- finding summaries of the account-wide read (analyzer/account_findings.py) ---------------------------


@dataclass(frozen=True)
class AnalyzerFinding:
    """One ListFindingsV2 summary about a role, as Access Analyzer returned it (still raw)."""

    analyzer_arn: str
    analyzer_type: str
    id: str
    finding_type: str  # ExternalAccess, UnusedIAMRole, UnusedPermission, ...
    resource: str  # the role ARN
    status: str
    created_at: str | None = None
    updated_at: str | None = None
    error: str | None = None


SUMMARY_RULES = {
    "ExternalAccess": EXTERNAL_ACCESS_RULE,
    "UnusedIAMRole": UNUSED_ROLE_RULE,
    "UnusedPermission": UNUSED_PERMISSION_RULE,
}


def summary_finding(role: RoleSnapshot, profile: Profile, summary: AnalyzerFinding) -> Finding | None:
    """A ListFindingsV2 summary as a rolewatch finding; None for a finding type that is not about a role.

    Summaries carry no details (principal, unused actions); the CLI commands fetch them and Access
    Analyzer's recommendation. Evidence is the analyzer and finding id: stable while the finding is active.
    """
    rule_id = SUMMARY_RULES.get(summary.finding_type)
    if rule_id is None:
        return None
    analyzer = summary.analyzer_arn
    where = f"Access Analyzer finding {summary.id} (analyzer {analyzer.rsplit('/', 1)[-1]})"
    cli = [command("aws", "accessanalyzer", "get-finding-v2", "--analyzer-arn", analyzer, "--id", summary.id)]
    if summary.finding_type == "ExternalAccess":
        text = f"{where}: a principal outside the zone of trust can assume {role.name}."
        cli.append(update_trust_cli(role))
    elif summary.finding_type == "UnusedIAMRole":
        text = f"{where}: {role.name} has not been used within the analyzer's tracking period."
    else:
        text = f"{where}: {role.name} holds permissions it has not used; the finding names them."
        cli += [
            command("aws", "accessanalyzer", verb, "--analyzer-arn", analyzer, "--id", summary.id)
            for verb in ("generate-finding-recommendation", "get-finding-recommendation")
        ]
    return make_finding(
        rule_id,
        role,
        profile,
        text,
        evidence=(f"analyzer={analyzer}", f"finding={summary.id}"),
        cli=cli,
    )
