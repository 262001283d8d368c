"""The IAM Access Analyzer live check: `(snapshot, profile) -> LiveCheckResult`.

Per role, as the profile's `access_analyzer` switches allow:
- policy checks (no analyzer needed): ValidatePolicy of each inline and customer-managed policy
  (IDENTITY_POLICY; AWS-managed policies are AWS's to validate and cannot be edited) and of the trust
  policy (RESOURCE_POLICY, AWS::IAM::AssumeRolePolicyDocument); CheckNoPublicAccess of the trust policy;
  CheckAccessNotGranted of each permission policy, AWS-managed included, with the profile's sensitive
  actions (batches of 100); CheckNoNewAccess of each permission policy against the profile's reference;
- analyzer findings: the region's ACTIVE external-access and unused-access analyzers (ListAnalyzers, once
  per check object), their ACTIVE findings on the role (ListFindingsV2), each finding's details
  (GetFindingV2), and for unused permissions the recommended policy (Get/GenerateFindingRecommendation),
  else one computed by the engine. A whole-account audit reads the findings once instead
  (`account_findings`) and passes `analyzer_findings=False`.

Costs: the custom policy checks are billed per call, so answers are cached per (check, document hash,
input) in a `PolicyCheckCache` for the life of the check object: create one check per invocation (or
pass one cache in). A managed policy shared by many roles is checked once per invocation.

Degrade, never crash: AWS failures become reasons in `skipped`. An endpoint without Access Analyzer
(the moto demo), or missing credentials, stop every further call of this check object, so an invocation
pays for that discovery once. Access denied, throttling (after botocore's standard retries) and other
errors skip only the check that met them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote

from rolewatch.analyzer import calls
from rolewatch.analyzer.calls import Analyzer, CallFailure
from rolewatch.analyzer.translate import (
    TRUST_POLICY_LABEL,
    access_not_granted_finding,
    external_access_finding,
    no_new_access_finding,
    public_trust_finding,
    unused_permission_finding,
    unused_role_finding,
    validate_policy_findings,
)
from rolewatch.analyzer.unused import UnusedPermissions, local_remediation, recommendation_remediation
from rolewatch.baseline import Profile
from rolewatch.inventory.clients import AwsClients
from rolewatch.model import AttachedPolicy, Finding, LiveCheckResult, PolicyError, RoleSnapshot
from rolewatch.policy.catalogue import catalogue
from rolewatch.policy.permissions import Permissions, compile_policy

OFF = "off"
AUTO = "auto"
OFF_REASON = "all IAM Access Analyzer checks: switched off (ACCESS_ANALYZER=off)"
FINDINGS_CHECK = "analyzer findings"
IGNORED_FINDING_TYPES = frozenset({"UnusedIAMUserAccessKey", "UnusedIAMUserPassword", "InternalAccess"})

T = TypeVar("T")


def document_text(raw: Any) -> str:
    """The document as JSON text, the author's own text where there is one (so spans point into it)."""
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8")
    if isinstance(raw, str):
        text = raw.strip()
        text = text if text.startswith("{") else unquote(text).strip()
        json.loads(text)  # raises ValueError for a document that is not JSON
        return text
    if raw is None:
        raise ValueError("no document")
    return json.dumps(raw, indent=2)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


@dataclass
class PolicyCheckCache:
    """Answers of the policy checks by (check, sha256 of document and inputs), for one invocation.

    Failures that depend on the input (a document the service refuses) are cached too; failures that
    may pass on a retry (throttling, access denied) are not.
    """

    entries: dict[tuple[str, str], Any] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0

    def answer(self, check: str, key: str, ask: Callable[[], T]) -> T:
        entry = (check, key)
        if entry in self.entries:
            self.hits += 1
            cached = self.entries[entry]
            if isinstance(cached, CallFailure):
                raise cached
            return cached  # type: ignore[no-any-return]
        self.misses += 1
        try:
            value = ask()
        except CallFailure as failure:
            if failure.rejected:
                self.entries[entry] = failure
            raise
        self.entries[entry] = value
        return value


class _Collector:
    """Findings and skipped checks of one role's audit."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.skipped: dict[str, list[str]] = {}  # reason -> checks it stopped

    def skip(self, check: str, reason: str) -> None:
        checks = self.skipped.setdefault(reason, [])
        if check not in checks:
            checks.append(check)

    def result(self) -> LiveCheckResult:
        unique: dict[str, Finding] = {}
        for finding in self.findings:  # the same finding from an account and an organization analyzer
            unique.setdefault(finding.fingerprint, finding)
        skipped = tuple(f"{', '.join(checks)}: {reason}" for reason, checks in self.skipped.items())
        return LiveCheckResult(findings=tuple(unique.values()), skipped=skipped)


class AccessAnalyzerCheck:
    """The live check the event and account audits run for every role (see the module docstring)."""

    def __init__(
        self,
        clients: AwsClients,
        *,
        mode: str = AUTO,
        cache: PolicyCheckCache | None = None,
        analyzer_findings: bool = True,
    ) -> None:
        """`analyzer_findings=False` leaves the analyzers' findings to a caller that reads them otherwise
        (the weekly audit's account-wide read); the policy checks still run as the profile says."""
        if mode not in (AUTO, OFF):
            raise ValueError(f"Access Analyzer mode must be {AUTO!r} or {OFF!r}, not {mode!r}")
        self.clients = clients
        self.mode = mode
        self.cache = cache if cache is not None else PolicyCheckCache()
        self.analyzer_findings = analyzer_findings
        self.unavailable: str | None = None  # why Access Analyzer cannot be asked at all (this invocation)
        self._analyzers: list[Analyzer] | None = None
        self._analyzer_failure: CallFailure | None = None
        self._recommendations: dict[tuple[str, str], calls.Recommendation | CallFailure] = {}

    # -- the live-check contract ---------------------------------------------------------------------
    def __call__(self, snapshot: RoleSnapshot, profile: Profile) -> LiveCheckResult:
        if self.mode == OFF:
            return LiveCheckResult(skipped=(OFF_REASON,))
        if snapshot.is_service_linked:
            # AWS defines these roles and their policies; nobody can change them, so checks would only cost.
            return LiveCheckResult()
        out = _Collector()
        settings = profile.access_analyzer
        if settings.validate_policy or settings.check_no_public_access:
            self._trust_checks(snapshot, profile, out)
        for attached in snapshot.permission_policies:
            self._policy_checks(snapshot, profile, attached, out)
        if settings.findings and self.analyzer_findings:
            self._analyzer_findings(snapshot, profile, out)
        return out.result()

    # -- calls, with the circuit breaker -----------------------------------------------------------------
    def _ask(self, check: str, out: _Collector, call: Callable[[], T]) -> T | None:
        if self.unavailable is not None:
            out.skip(check, self.unavailable)
            return None
        try:
            return call()
        except CallFailure as failure:
            if failure.service_unavailable:
                self.unavailable = failure.reason
            out.skip(check, _reason(check, failure))
            return None

    def _cached(self, check: str, key: str, out: _Collector, call: Callable[[], T]) -> T | None:
        return self._ask(check, out, lambda: self.cache.answer(check, key, call))

    # -- policy checks -----------------------------------------------------------------------------------
    def _trust_checks(self, role: RoleSnapshot, profile: Profile, out: _Collector) -> None:
        settings = profile.access_analyzer
        try:
            text = document_text(role.trust_policy)
        except ValueError:
            out.skip("trust policy checks", "the trust policy is missing or not JSON (reported by the audit)")
            return
        key = _digest(text)
        if settings.validate_policy:
            results = self._cached(
                "ValidatePolicy",
                _digest("RESOURCE_POLICY", key),
                out,
                lambda: calls.validate_policy(self.clients, text, "RESOURCE_POLICY", calls.TRUST_POLICY_RESOURCE_TYPE),
            )
            if results:
                out.findings.extend(validate_policy_findings(role, profile, TRUST_POLICY_LABEL, results))
        if settings.check_no_public_access:
            response = self._cached(
                "CheckNoPublicAccess", key, out, lambda: calls.check_no_public_trust(self.clients, text)
            )
            finding = public_trust_finding(role, profile, response) if response else None
            if finding:
                out.findings.append(finding)

    def _policy_checks(self, role: RoleSnapshot, profile: Profile, attached: AttachedPolicy, out: _Collector) -> None:
        settings = profile.access_analyzer
        label = attached.arn or attached.name
        sensitive = profile.access_analyzer_sensitive_actions if settings.check_access_not_granted else ()
        reference = settings.reference_policy if settings.check_no_new_access else None
        validate = settings.validate_policy and not attached.is_aws_managed
        if not (validate or sensitive or reference):
            return
        try:
            text = document_text(attached.document)
        except ValueError:
            out.skip(f"checks of {label}", "the document is missing or not JSON (reported by the audit)")
            return
        key = _digest(text)
        if validate:
            results = self._cached(
                "ValidatePolicy",
                _digest("IDENTITY_POLICY", key),
                out,
                lambda: calls.validate_policy(self.clients, text, "IDENTITY_POLICY"),
            )
            if results:
                out.findings.extend(validate_policy_findings(role, profile, label, results))
        if sensitive:
            self._sensitive_access(role, profile, attached, text=text, sensitive=sensitive, out=out)
        if reference:
            response = self._cached(
                "CheckNoNewAccess",
                _digest(key, reference),
                out,
                lambda: calls.check_no_new_access(self.clients, text, reference),
            )
            finding = no_new_access_finding(role, profile, label, response) if response else None
            if finding:
                out.findings.append(finding)

    def _sensitive_access(
        self,
        role: RoleSnapshot,
        profile: Profile,
        attached: AttachedPolicy,
        *,
        text: str,
        sensitive: tuple[str, ...],
        out: _Collector,
    ) -> None:
        label = attached.arn or attached.name
        failed: list[dict[str, Any]] = []
        for batch in calls.action_batches(sensitive):
            response = self._cached(
                "CheckAccessNotGranted",
                _digest(_digest(text), *batch),
                out,
                lambda batch=batch: calls.check_access_not_granted(self.clients, text, batch),  # type: ignore[misc]
            )
            if response and response.get("result") == "FAIL":
                failed.append(response)
        if not failed:
            return
        merged = {
            "result": "FAIL",
            "message": failed[0].get("message", ""),
            "reasons": [r for response in failed for r in response.get("reasons", [])],
        }
        granted = _granted(attached, sensitive)
        finding = access_not_granted_finding(role, profile, label, merged, checked=sensitive, granted=granted)
        if finding:
            out.findings.append(finding)

    # -- analyzer findings -------------------------------------------------------------------------------
    def analyzers(self) -> list[Analyzer]:
        """The region's role analyzers, listed once per check object; raises CallFailure."""
        if self._analyzer_failure is not None:
            raise self._analyzer_failure
        if self._analyzers is None:
            try:
                self._analyzers = calls.list_role_analyzers(self.clients)
            except CallFailure as failure:
                self._analyzer_failure = failure
                raise
        return self._analyzers

    def _role_summaries(self, analyzer: Analyzer, role_arn: str, out: _Collector) -> list[dict[str, Any]]:
        return (
            self._ask(
                FINDINGS_CHECK, out, lambda: calls.list_active_role_findings(self.clients, analyzer.arn, role_arn)
            )
            or []
        )

    def _analyzer_findings(self, role: RoleSnapshot, profile: Profile, out: _Collector) -> None:
        analyzers = self._ask(FINDINGS_CHECK, out, self.analyzers)
        if analyzers is None:
            return
        if not analyzers:
            region = self.clients.region or "this region"
            out.skip(
                FINDINGS_CHECK,
                f"no ACTIVE external-access or unused-access analyzer in {region} "
                "(create one: aws accessanalyzer create-analyzer --analyzer-name rolewatch "
                "--type ACCOUNT_UNUSED_ACCESS)",
            )
            return
        covering = [a for a in analyzers if a.covers(role.account_id)]
        if not covering:
            region = self.clients.region or "this region"
            out.skip(FINDINGS_CHECK, calls.no_covering_analyzer(region, role.account_id, [a.name for a in analyzers]))
            return
        for analyzer in covering:
            for summary in self._role_summaries(analyzer, role.arn, out):
                self._one_finding(role, profile, analyzer, summary, out)

    def _one_finding(
        self, role: RoleSnapshot, profile: Profile, analyzer: Analyzer, summary: dict[str, Any], out: _Collector
    ) -> None:
        kind = summary.get("findingType")
        if kind in IGNORED_FINDING_TYPES or summary.get("resource") != role.arn:
            return  # IAM-user findings and internal access do not concern a role
        if summary.get("error"):
            out.skip(FINDINGS_CHECK, f"analyzer {analyzer.name} could not analyze the role ({summary['error']})")
            return
        try:
            finding = self._ask_raw(lambda: calls.get_finding_details(self.clients, analyzer.arn, str(summary["id"])))
        except CallFailure as failure:
            if not failure.not_found:  # archived or resolved since it was listed: nothing to report
                out.skip(FINDINGS_CHECK, _reason(FINDINGS_CHECK, failure))
            return
        if finding is None:
            out.skip(FINDINGS_CHECK, self.unavailable or "Access Analyzer unavailable")
            return
        for details in finding.get("findingDetails", []):
            if "externalAccessDetails" in details:
                out.findings.append(
                    external_access_finding(role, profile, analyzer.arn, finding, details["externalAccessDetails"])
                )
            elif "unusedIamRoleDetails" in details:
                out.findings.append(
                    unused_role_finding(role, profile, analyzer.arn, finding, details["unusedIamRoleDetails"])
                )
            elif "unusedPermissionDetails" in details:
                self._unused_permission(
                    role, profile, analyzer, finding=finding, details=details["unusedPermissionDetails"], out=out
                )

    def _ask_raw(self, call: Callable[[], T]) -> T | None:
        """A call whose failures the caller sorts out itself (not found is not a skipped check)."""
        if self.unavailable is not None:
            return None
        try:
            return call()
        except CallFailure as failure:
            if failure.service_unavailable:
                self.unavailable = failure.reason
            raise

    def _unused_permission(
        self,
        role: RoleSnapshot,
        profile: Profile,
        analyzer: Analyzer,
        *,
        finding: dict[str, Any],
        details: dict[str, Any],
        out: _Collector,
    ) -> None:
        unused = UnusedPermissions.from_details(details)
        remediation = None
        why = ""
        if profile.access_analyzer.recommendations:
            recommendation = self._recommendation(analyzer, str(finding["id"]))
            if isinstance(recommendation, calls.Recommendation) and recommendation.status == "SUCCEEDED":
                remediation = recommendation_remediation(role, recommendation.steps)
                why = "" if remediation else "Access Analyzer's recommendation had no usable step."
            elif isinstance(recommendation, calls.Recommendation) and recommendation.status == "IN_PROGRESS":
                why = "Access Analyzer's recommendation is still being generated; the next audit uses it."
            elif isinstance(recommendation, calls.Recommendation):
                why = f"Access Analyzer's recommendation failed ({recommendation.error or recommendation.status})."
            elif recommendation is not None:
                why = (
                    f"Access Analyzer's recommendation is not available ({recommendation.operation} {recommendation})."
                )
                if not (recommendation.rejected or recommendation.not_found):
                    out.skip("unused-permission recommendations", _reason("", recommendation))
        if remediation is None:
            remediation = local_remediation(role, [unused], why)
        out.findings.append(
            unused_permission_finding(
                role,
                profile,
                analyzer.arn,
                finding,
                details,
                unused_actions=unused.names(catalogue()),
                remediation=remediation,
            )
        )

    def _recommendation(self, analyzer: Analyzer, finding_id: str) -> calls.Recommendation | CallFailure | None:
        key = (analyzer.arn, finding_id)
        if key not in self._recommendations:
            try:
                answer = self._ask_raw(lambda: calls.finding_recommendation(self.clients, analyzer.arn, finding_id))
            except CallFailure as failure:
                answer = failure
            if answer is None:
                return None
            self._recommendations[key] = answer
        return self._recommendations[key]


def _reason(check: str, failure: CallFailure) -> str:
    """The failure as a skipped-check reason, naming the operation where the check's name does not."""
    if failure.service_unavailable or failure.operation == check:
        return failure.reason
    return f"{failure.operation} {failure.reason}"


def _granted(attached: AttachedPolicy, checked: tuple[str, ...]) -> list[str]:
    """The checked actions rolewatch's engine finds the policy allows (to name them in the finding)."""
    try:
        compiled = compile_policy(attached.document, attached.location)
    except PolicyError:
        return []
    permissions = Permissions([(attached.arn or attached.name, compiled)])
    cat = permissions.catalogue
    return sorted(cat.names_in(permissions.allowed & cat.mask_of(checked)))
