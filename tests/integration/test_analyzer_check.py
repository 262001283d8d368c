"""The Access Analyzer live check against botocore's Stubber (moto has no Access Analyzer).

Stubber checks every request against the service model (and the expected parameters given here) and
every canned response against the response shape, so these responses are ones the real API can send.
A call without a queued response would surface as an unexpected skipped reason, and every call is
counted (AwsClients' counter): the tests assert both, so they also prove which calls are *not* made
(cache hits, the circuit breaker, switched-off checks).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from botocore.stub import Stubber

from rolewatch.analyzer.account_findings import read_account_analyzer_findings, summary_check
from rolewatch.analyzer.calls import MAX_ACTIONS_PER_ACCESS_CHECK, REQUIRED_ACTIONS, iam_action
from rolewatch.analyzer.check import OFF_REASON, AccessAnalyzerCheck, PolicyCheckCache, document_text
from rolewatch.analyzer.translate import skipped_finding
from rolewatch.baseline import AccessAnalyzerSettings, Profile
from rolewatch.inventory.clients import AwsClients, make_clients
from rolewatch.model import AttachedPolicy, LiveCheckResult, RoleSnapshot, Severity
from rolewatch.policy.catalogue import catalogue

REGION = "us-east-1"
ACCOUNT = "123456789012"
NOW = datetime(2026, 3, 2, 9, 12, 5, tzinfo=UTC)
EXTERNAL_ANALYZER = f"arn:aws:access-analyzer:{REGION}:{ACCOUNT}:analyzer/rolewatch-external"
UNUSED_ANALYZER = f"arn:aws:access-analyzer:{REGION}:{ACCOUNT}:analyzer/rolewatch-unused"
CUSTOMER_ARN = f"arn:aws:iam::{ACCOUNT}:policy/orders-data"
S3_READ_ONLY_ARN = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
CHECKS_LINK = "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html"

EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
VENDOR_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}
    ],
}
# Inline as IAM returns it (URL-encoded JSON text): the check sends the author's text, decoded.
INLINE_TEXT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
            {"Sid": "Orders", "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::orders/*"},
        ],
    }
)
CUSTOMER_DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:ReceiveMessage"], "Resource": "*"}],
}
S3_READ_ONLY_DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "s3:List*", "s3-object-lambda:Get*"], "Resource": "*"}],
}
REFERENCE = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sqs:*"], "Resource": "*"}]}
)
PROFILE = Profile(
    name="orders",
    sensitive_actions=("iam:PassRole",),
    access_analyzer=AccessAnalyzerSettings(reference_policy=REFERENCE),
)


def role(name: str = "orders-app", trust: Any = EC2_TRUST, inline: bool = True) -> RoleSnapshot:
    return RoleSnapshot(
        arn=f"arn:aws:iam::{ACCOUNT}:role/{name}",
        name=name,
        trust_policy=trust,
        inline_policies=(AttachedPolicy(name="orders-inline", document=quote(INLINE_TEXT)),) if inline else (),
        managed_policies=(
            AttachedPolicy(name="orders-data", document=CUSTOMER_DOC, arn=CUSTOMER_ARN),
            AttachedPolicy(name="AmazonS3ReadOnlyAccess", document=S3_READ_ONLY_DOC, arn=S3_READ_ONLY_ARN),
        ),
    )


def only(**switches: bool) -> Profile:
    """A profile with every check off except the named ones."""
    off = dict.fromkeys(
        (
            "validate_policy",
            "check_access_not_granted",
            "check_no_new_access",
            "check_no_public_access",
            "findings",
            "recommendations",
        ),
        False,
    )
    return Profile(
        name="only",
        sensitive_actions=PROFILE.sensitive_actions,
        access_analyzer=AccessAnalyzerSettings(**{**off, **switches}, reference_policy=REFERENCE),
    )


@pytest.fixture
def aa() -> Iterator[tuple[AwsClients, Stubber]]:
    clients = make_clients(region=REGION)

    # Stubber answers at "before-call", ahead of AwsClients' own counter: count each call (each page) at
    # parameter build instead, into the same counter.
    def count(model: Any, **_: Any) -> None:
        clients.counter.calls[f"access-analyzer:{model.name}"] += 1

    clients.accessanalyzer.meta.events.register("before-parameter-build.accessanalyzer", count)
    stubber = Stubber(clients.accessanalyzer)
    with stubber:
        yield clients, stubber
        stubber.assert_no_pending_responses()


# -- canned answers ------------------------------------------------------------------------------------

PASS_ROLE_FINDING = {
    "findingDetails": "Using the iam:PassRole action with wildcards (*) in the resource can be overly permissive "
    "because it allows iam:PassRole permissions on multiple resources. We recommend that you specify resource "
    "ARNs or add the iam:PassedToService condition key to your statement.",
    "findingType": "SECURITY_WARNING",
    "issueCode": "PASS_ROLE_WITH_STAR_IN_RESOURCE",
    "learnMoreLink": f"{CHECKS_LINK}#access-analyzer-reference-policy-checks-security-warning-"
    "pass-role-with-star-in-resource",
    "locations": [
        {
            "path": [{"value": "Statement"}, {"index": 0}, {"value": "Resource"}],
            "span": {
                "start": {"line": 1, "column": 105, "offset": 105},
                "end": {"line": 1, "column": 108, "offset": 108},
            },
        }
    ],
}
REDUNDANT_FINDING = {
    "findingDetails": "The action s3-object-lambda:GetObject is redundant.",
    "findingType": "SUGGESTION",
    "issueCode": "REDUNDANT_ACTION",
    "learnMoreLink": f"{CHECKS_LINK}#access-analyzer-reference-policy-checks-suggestion-redundant-action",
    "locations": [
        {
            "path": [{"value": "Statement"}, {"index": 1}, {"value": "Action"}],
            "span": {
                "start": {"line": 1, "column": 160, "offset": 160},
                "end": {"line": 1, "column": 164, "offset": 164},
            },
        }
    ],
}
GRANTED = {
    "result": "FAIL",
    "message": "The policy document grants access to perform one or more of the listed actions or resources.",
    "reasons": [
        {
            "description": "One or more of the listed actions or resources in the statement with sid: Pass.",
            "statementIndex": 0,
            "statementId": "Pass",
        }
    ],
}
NOT_GRANTED = {"result": "PASS", "message": "The policy document does not grant access to perform the listed actions."}
NEW_ACCESS = {
    "result": "FAIL",
    "message": "The modified permissions grant new access compared to your existing policy.",
    "reasons": [{"description": "New access in the statement with index: 0.", "statementIndex": 0}],
}
NO_NEW_ACCESS = {"result": "PASS", "message": "The policy document does not grant any new access."}
NOT_PUBLIC = {
    "result": "PASS",
    "message": "The resource policy does not grant public access for the given resource type.",
}


def analyzer(arn: str, kind: str, status: str = "ACTIVE") -> dict[str, Any]:
    out: dict[str, Any] = {"arn": arn, "name": arn.rsplit("/", 1)[-1], "type": kind, "createdAt": NOW, "status": status}
    if kind.endswith("UNUSED_ACCESS"):
        out["configuration"] = {"unusedAccess": {"unusedAccessAge": 90}}
    return out


def summary(finding_id: str, kind: str, resource: str, **extra: Any) -> dict[str, Any]:
    return {
        "analyzedAt": NOW,
        "createdAt": NOW,
        "id": finding_id,
        "resource": resource,
        "resourceType": "AWS::IAM::Role",
        "resourceOwnerAccount": ACCOUNT,
        "status": "ACTIVE",
        "updatedAt": NOW,
        "findingType": kind,
        **extra,
    }


def expect_policy_checks(stubber: Stubber, snapshot: RoleSnapshot, *, inline_pages: bool = False) -> None:
    """The policy checks of `role()` under PROFILE, in the order the check makes them."""
    trust = document_text(snapshot.trust_policy)
    stubber.add_response(
        "validate_policy",
        {"findings": []},
        {
            "policyDocument": trust,
            "policyType": "RESOURCE_POLICY",
            "validatePolicyResourceType": "AWS::IAM::AssumeRolePolicyDocument",
        },
    )
    stubber.add_response(
        "check_no_public_access",
        NOT_PUBLIC,
        {"policyDocument": trust, "resourceType": "AWS::IAM::AssumeRolePolicyDocument"},
    )
    # Inline: ValidatePolicy in two pages, PassRole is sensitive, within the reference otherwise.
    if inline_pages:
        stubber.add_response(
            "validate_policy",
            {"findings": [PASS_ROLE_FINDING], "nextToken": "page-2"},
            {"policyDocument": INLINE_TEXT, "policyType": "IDENTITY_POLICY"},
        )
        stubber.add_response(
            "validate_policy",
            {"findings": [REDUNDANT_FINDING]},
            {"policyDocument": INLINE_TEXT, "policyType": "IDENTITY_POLICY", "nextToken": "page-2"},
        )
    else:
        stubber.add_response(
            "validate_policy",
            {"findings": [PASS_ROLE_FINDING]},
            {"policyDocument": INLINE_TEXT, "policyType": "IDENTITY_POLICY"},
        )
    access = [{"actions": ["iam:PassRole"]}]
    stubber.add_response(
        "check_access_not_granted",
        GRANTED,
        {"policyDocument": INLINE_TEXT, "access": access, "policyType": "IDENTITY_POLICY"},
    )
    stubber.add_response(
        "check_no_new_access",
        NEW_ACCESS,
        {"newPolicyDocument": INLINE_TEXT, "existingPolicyDocument": REFERENCE, "policyType": "IDENTITY_POLICY"},
    )
    # Customer-managed: validated, nothing sensitive, within the reference.
    customer = document_text(CUSTOMER_DOC)
    stubber.add_response(
        "validate_policy", {"findings": []}, {"policyDocument": customer, "policyType": "IDENTITY_POLICY"}
    )
    stubber.add_response(
        "check_access_not_granted",
        NOT_GRANTED,
        {"policyDocument": customer, "access": access, "policyType": "IDENTITY_POLICY"},
    )
    stubber.add_response(
        "check_no_new_access",
        NO_NEW_ACCESS,
        {"newPolicyDocument": customer, "existingPolicyDocument": REFERENCE, "policyType": "IDENTITY_POLICY"},
    )
    # AWS-managed: not validated (AWS's own), but checked: it grants s3-object-lambda, beyond the reference.
    aws_managed = document_text(S3_READ_ONLY_DOC)
    stubber.add_response(
        "check_access_not_granted",
        NOT_GRANTED,
        {"policyDocument": aws_managed, "access": access, "policyType": "IDENTITY_POLICY"},
    )
    stubber.add_response(
        "check_no_new_access",
        NEW_ACCESS,
        {"newPolicyDocument": aws_managed, "existingPolicyDocument": REFERENCE, "policyType": "IDENTITY_POLICY"},
    )


# -- policy checks -------------------------------------------------------------------------------------


def test_policy_checks_of_a_role_without_an_analyzer(aa) -> None:
    clients, stubber = aa
    snapshot = role()
    expect_policy_checks(stubber, snapshot, inline_pages=True)
    stubber.add_response("list_analyzers", {"analyzers": []}, {})

    result = AccessAnalyzerCheck(clients)(snapshot, PROFILE)

    by_rule = sorted((f.rule, f.severity, f.evidence[1] if len(f.evidence) > 1 else "") for f in result.findings)
    assert by_rule == [
        ("access-analyzer-new-access", Severity.MEDIUM, "Statement[0]: New access in the statement with index: 0."),
        ("access-analyzer-new-access", Severity.MEDIUM, "Statement[0]: New access in the statement with index: 0."),
        ("access-analyzer-policy-suggestion", Severity.INFO, "policy=orders-inline"),
        ("access-analyzer-security-warning", Severity.HIGH, "policy=orders-inline"),
        (
            "access-analyzer-sensitive-access",
            Severity.HIGH,
            "Pass: One or more of the listed actions or resources in the statement with sid: Pass.",
        ),
    ]
    sensitive = next(f for f in result.findings if f.rule == "access-analyzer-sensitive-access")
    assert sensitive.actions == ("iam:PassRole",)  # named by rolewatch's engine
    warning = next(f for f in result.findings if f.rule == "access-analyzer-security-warning")
    assert "location=Statement[0].Resource (line 1, column 105, offset 105)" in warning.evidence
    assert any(e.startswith("learnMoreLink=https://docs.aws.amazon.com/") for e in warning.evidence)
    assert {f.evidence[0] for f in result.findings if f.rule == "access-analyzer-new-access"} == {
        "policy=orders-inline",
        f"policy={S3_READ_ONLY_ARN}",
    }
    assert result.skipped == (
        "analyzer findings: no ACTIVE external-access or unused-access analyzer in us-east-1 (create one: aws "
        "accessanalyzer create-analyzer --analyzer-name rolewatch --type ACCOUNT_UNUSED_ACCESS)",
    )
    # Calls per role audit without an analyzer: 3 policies + trust policy, ValidatePolicy paginated.
    assert dict(clients.counter.calls) == {
        "access-analyzer:ValidatePolicy": 4,  # trust, inline (2 pages), customer-managed; AWS-managed skipped
        "access-analyzer:CheckNoPublicAccess": 1,
        "access-analyzer:CheckAccessNotGranted": 3,
        "access-analyzer:CheckNoNewAccess": 3,
        "access-analyzer:ListAnalyzers": 1,
    }


def test_sensitive_actions_are_checked_in_batches_of_at_most_100(aa) -> None:
    clients, stubber = aa
    names = catalogue().names_in(catalogue().service_mask("iam"), limit=150)
    profile = Profile(
        name="many",
        sensitive_actions=tuple(names),
        access_analyzer=AccessAnalyzerSettings(
            validate_policy=False, check_no_new_access=False, check_no_public_access=False, findings=False
        ),
    )
    snapshot = role(inline=False)
    for document in (CUSTOMER_DOC, S3_READ_ONLY_DOC):
        for batch in (names[:100], names[100:]):
            stubber.add_response(
                "check_access_not_granted",
                NOT_GRANTED,
                {
                    "policyDocument": document_text(document),
                    "access": [{"actions": batch}],
                    "policyType": "IDENTITY_POLICY",
                },
            )
    result = AccessAnalyzerCheck(clients)(snapshot, profile)
    assert result.findings == () and result.skipped == ()
    assert clients.counter.calls["access-analyzer:CheckAccessNotGranted"] == 4


def test_the_batch_size_is_the_service_models_limit(aa) -> None:
    clients, _ = aa
    shape = clients.accessanalyzer.meta.service_model.operation_model("CheckAccessNotGranted").input_shape
    access = shape.members["access"]
    assert access.metadata["max"] == 1  # one access entry per call
    assert access.member.members["actions"].metadata["max"] == MAX_ACTIONS_PER_ACCESS_CHECK == 100


def test_answers_are_cached_per_policy_within_an_invocation(aa) -> None:
    clients, stubber = aa
    first, second = role("orders-app"), role("orders-worker", inline=False)
    expect_policy_checks(stubber, first)
    stubber.add_response("list_analyzers", {"analyzers": []}, {})
    check = AccessAnalyzerCheck(clients)
    check(first, PROFILE)
    calls_for_first = clients.counter.total()
    # The second role shares the trust and both managed policies: no call at all (ListAnalyzers is cached too).
    result = check(second, PROFILE)
    assert clients.counter.total() == calls_for_first == 11
    assert check.cache.hits == 7 and check.cache.misses == 10
    assert [f.rule for f in result.findings] == ["access-analyzer-new-access"]
    assert result.findings[0].resource.endswith("role/orders-worker")


def test_a_cache_passed_in_serves_several_check_objects(aa) -> None:
    clients, stubber = aa
    profile = only(check_no_public_access=True)
    stubber.add_response("check_no_public_access", NOT_PUBLIC)
    cache = PolicyCheckCache()
    AccessAnalyzerCheck(clients, cache=cache)(role(), profile)
    AccessAnalyzerCheck(clients, cache=cache)(role("other"), profile)
    assert (cache.misses, cache.hits) == (1, 1)


def test_analyzer_findings_can_be_left_to_the_caller(aa) -> None:
    clients, stubber = aa
    stubber.add_response("check_no_public_access", NOT_PUBLIC)
    check = AccessAnalyzerCheck(clients, analyzer_findings=False)
    result = check(role(inline=False), only(check_no_public_access=True, findings=True))
    assert result == LiveCheckResult()
    assert dict(clients.counter.calls) == {"access-analyzer:CheckNoPublicAccess": 1}


def test_a_public_trust_policy_is_critical(aa) -> None:
    clients, stubber = aa
    public = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    stubber.add_response(
        "check_no_public_access",
        {
            "result": "FAIL",
            "message": "The resource policy grants public access for the given resource type.",
            "reasons": [
                {"description": "Public access granted in the following statement with index: 0.", "statementIndex": 0}
            ],
        },
    )
    result = AccessAnalyzerCheck(clients)(role(trust=public, inline=False), only(check_no_public_access=True))
    [finding] = result.findings
    assert (finding.rule, finding.severity) == ("access-analyzer-public-trust", Severity.CRITICAL)


# -- analyzer findings ---------------------------------------------------------------------------------


def expect_analyzers(stubber: Stubber) -> None:
    """Two pages; a disabled analyzer and an internal-access analyzer are left out."""
    stubber.add_response(
        "list_analyzers",
        {
            "analyzers": [
                analyzer(EXTERNAL_ANALYZER, "ACCOUNT"),
                analyzer(f"{EXTERNAL_ANALYZER}-old", "ACCOUNT", "DISABLED"),
            ],
            "nextToken": "page-2",
        },
        {},
    )
    stubber.add_response(
        "list_analyzers",
        {
            "analyzers": [
                analyzer(UNUSED_ANALYZER, "ACCOUNT_UNUSED_ACCESS"),
                analyzer(f"{UNUSED_ANALYZER}-internal", "ACCOUNT_INTERNAL_ACCESS"),
            ]
        },
        {"nextToken": "page-2"},
    )


def role_filter(snapshot: RoleSnapshot) -> dict[str, Any]:
    return {"resource": {"eq": [snapshot.arn]}, "status": {"eq": ["ACTIVE"]}}


UNUSED_DETAILS_PAGE_1 = {
    "unusedPermissionDetails": {
        "serviceNamespace": "s3",
        "lastAccessed": NOW,
        "actions": [{"action": "PutObject"}, {"action": "DeleteObject", "lastAccessed": NOW}],
    }
}
UNUSED_DETAILS_PAGE_2 = {"unusedPermissionDetails": {"serviceNamespace": "sqs"}}


def expect_findings_of_every_type(stubber: Stubber, snapshot: RoleSnapshot) -> None:
    expect_analyzers(stubber)
    # External access analyzer: ListFindingsV2 in two pages, one finding.
    stubber.add_response(
        "list_findings_v2",
        {"findings": [], "nextToken": "p2"},
        {"analyzerArn": EXTERNAL_ANALYZER, "filter": role_filter(snapshot)},
    )
    stubber.add_response(
        "list_findings_v2",
        {"findings": [summary("ext-1", "ExternalAccess", snapshot.arn)]},
        {"analyzerArn": EXTERNAL_ANALYZER, "filter": role_filter(snapshot), "nextToken": "p2"},
    )
    stubber.add_response(
        "get_finding_v2",
        {
            **summary("ext-1", "ExternalAccess", snapshot.arn),
            "findingDetails": [
                {
                    "externalAccessDetails": {
                        "action": ["sts:AssumeRole"],
                        "condition": {},
                        "isPublic": False,
                        "principal": {"AWS": "999988887777"},
                        "sources": [{"type": "POLICY"}],
                    }
                }
            ],
        },
        {"analyzerArn": EXTERNAL_ANALYZER, "id": "ext-1"},
    )
    # Unused access analyzer: an unused role and an unused permission (details in two pages).
    stubber.add_response(
        "list_findings_v2",
        {
            "findings": [
                summary("unused-role-1", "UnusedIAMRole", snapshot.arn),
                summary("unused-perm-1", "UnusedPermission", snapshot.arn),
            ]
        },
        {"analyzerArn": UNUSED_ANALYZER, "filter": role_filter(snapshot)},
    )
    stubber.add_response(
        "get_finding_v2",
        {
            **summary("unused-role-1", "UnusedIAMRole", snapshot.arn),
            "findingDetails": [{"unusedIamRoleDetails": {"lastAccessed": datetime(2025, 10, 1, tzinfo=UTC)}}],
        },
        {"analyzerArn": UNUSED_ANALYZER, "id": "unused-role-1"},
    )
    stubber.add_response(
        "get_finding_v2",
        {
            **summary("unused-perm-1", "UnusedPermission", snapshot.arn),
            "findingDetails": [UNUSED_DETAILS_PAGE_1],
            "nextToken": "d2",
        },
        {"analyzerArn": UNUSED_ANALYZER, "id": "unused-perm-1"},
    )
    stubber.add_response(
        "get_finding_v2",
        {**summary("unused-perm-1", "UnusedPermission", snapshot.arn), "findingDetails": [UNUSED_DETAILS_PAGE_2]},
        {"analyzerArn": UNUSED_ANALYZER, "id": "unused-perm-1", "nextToken": "d2"},
    )


RECOMMENDED = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "arn:aws:s3:::orders/*"}
    ],
}


def recommendation(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "startedAt": NOW,
        "resourceArn": f"arn:aws:iam::{ACCOUNT}:role/orders-app",
        "recommendationType": "UnusedPermissionRecommendation",
        "status": status,
        **extra,
    }


def test_findings_of_every_type_with_pagination_and_recommendations(aa) -> None:
    clients, stubber = aa
    snapshot = role(trust=VENDOR_TRUST)
    expect_findings_of_every_type(stubber, snapshot)
    steps = [
        {
            "unusedPermissionsRecommendedStep": {
                "recommendedAction": "CREATE_POLICY",
                "existingPolicyId": "orders-inline",
                "recommendedPolicy": json.dumps(RECOMMENDED),
                "policyUpdatedAt": NOW,
            }
        }
    ]
    stubber.add_response(
        "get_finding_recommendation",
        recommendation("SUCCEEDED", completedAt=NOW, recommendedSteps=steps),
        {"analyzerArn": UNUSED_ANALYZER, "id": "unused-perm-1"},
    )

    result = AccessAnalyzerCheck(clients)(snapshot, only(findings=True, recommendations=True))

    assert result.skipped == ()
    rules = sorted(f.rule for f in result.findings)
    assert rules == [
        "access-analyzer-external-access",
        "access-analyzer-unused-permission",
        "access-analyzer-unused-permission",
        "access-analyzer-unused-role",
    ]
    external = next(f for f in result.findings if f.rule == "access-analyzer-external-access")
    assert external.severity is Severity.HIGH and external.remediation.policy is None  # no statement left
    assert "principal=AWS:999988887777" in external.evidence
    unused_role = next(f for f in result.findings if f.rule == "access-analyzer-unused-role")
    assert "2025-10-01" in unused_role.detail and unused_role.category == "unused-access"
    s3, sqs = sorted(
        (f for f in result.findings if f.rule == "access-analyzer-unused-permission"), key=lambda f: f.actions
    )
    assert s3.actions == ("s3:PutObject", "s3:DeleteObject") and sqs.actions == ("sqs:*",)
    # Access Analyzer's recommendation, read once per finding and used for both of its details entries.
    assert s3.remediation.policy == RECOMMENDED == sqs.remediation.policy
    assert s3.remediation.summary == "IAM Access Analyzer's recommendation: replace orders-inline."
    assert clients.counter.calls["access-analyzer:GetFindingRecommendation"] == 1
    assert clients.counter.calls["access-analyzer:GetFindingV2"] == 4  # 1 + 1 + 2 pages
    assert clients.counter.calls["access-analyzer:ListFindingsV2"] == 3  # 2 pages + 1


def unused_permission_only(stubber: Stubber, snapshot: RoleSnapshot) -> None:
    stubber.add_response("list_analyzers", {"analyzers": [analyzer(UNUSED_ANALYZER, "ACCOUNT_UNUSED_ACCESS")]}, {})
    stubber.add_response(
        "list_findings_v2",
        {"findings": [summary("unused-perm-1", "UnusedPermission", snapshot.arn)]},
        {"analyzerArn": UNUSED_ANALYZER, "filter": role_filter(snapshot)},
    )
    stubber.add_response(
        "get_finding_v2",
        {**summary("unused-perm-1", "UnusedPermission", snapshot.arn), "findingDetails": [UNUSED_DETAILS_PAGE_1]},
        {"analyzerArn": UNUSED_ANALYZER, "id": "unused-perm-1"},
    )


RECOMMENDATION_KEY = {"analyzerArn": UNUSED_ANALYZER, "id": "unused-perm-1"}


def _never_generated(stubber: Stubber) -> None:
    stubber.add_client_error(
        "get_finding_recommendation",
        "ResourceNotFoundException",
        "Recommendation not found.",
        404,
        expected_params=RECOMMENDATION_KEY,
    )
    stubber.add_response("generate_finding_recommendation", {}, RECOMMENDATION_KEY)


def _in_progress(stubber: Stubber) -> None:
    _never_generated(stubber)
    stubber.add_response("get_finding_recommendation", recommendation("IN_PROGRESS"), RECOMMENDATION_KEY)


def _failed(stubber: Stubber) -> None:
    failed = recommendation("FAILED", completedAt=NOW, error={"code": "SERVICE_ERROR", "message": "Internal error."})
    stubber.add_response("get_finding_recommendation", failed, RECOMMENDATION_KEY)


def _not_supported(stubber: Stubber) -> None:
    stubber.add_client_error("get_finding_recommendation", "ResourceNotFoundException", "Not found.", 404)
    message = "Recommendations are not supported for this finding."
    stubber.add_client_error("generate_finding_recommendation", "ValidationException", message, 400)


NO_RECOMMENDATION = {
    "generated-now-in-progress": (
        _in_progress,
        True,
        " Access Analyzer's recommendation is still being generated; the next audit uses it.",
    ),
    "failed": (_failed, True, " Access Analyzer's recommendation failed (SERVICE_ERROR: Internal error.)."),
    "not-supported": (
        _not_supported,
        True,
        " Access Analyzer's recommendation is not available (GenerateFindingRecommendation refused the input "
        "(ValidationException: Recommendations are not supported for this finding.)).",
    ),
    "switched-off": (lambda stubber: None, False, ""),
}


@pytest.mark.parametrize(("answer", "recommendations", "why"), NO_RECOMMENDATION.values(), ids=NO_RECOMMENDATION.keys())
def test_without_a_usable_recommendation_the_engine_computes_the_policy(aa, answer, recommendations, why) -> None:
    clients, stubber = aa
    snapshot = role()
    unused_permission_only(stubber, snapshot)
    answer(stubber)
    result = AccessAnalyzerCheck(clients)(snapshot, only(findings=True, recommendations=recommendations))
    [finding] = result.findings
    assert finding.remediation.summary == f"Computed by rolewatch from the role's policies: revise orders-inline.{why}"
    statements = finding.remediation.policy["Statement"]  # type: ignore[index]
    orders = next(s for s in statements if s["Sid"] == "Orders")
    assert "s3:PutObject" not in orders["Action"] and "s3:GetObject" in orders["Action"]
    assert orders["Resource"] == "arn:aws:s3:::orders/*"
    assert any("put-role-policy" in c for c in finding.remediation.cli)
    assert result.skipped == ()


def test_a_denied_recommendation_is_computed_locally_and_reported_as_skipped(aa) -> None:
    clients, stubber = aa
    snapshot = role()
    unused_permission_only(stubber, snapshot)
    stubber.add_client_error("get_finding_recommendation", "AccessDeniedException", "User is not authorized.", 403)
    result = AccessAnalyzerCheck(clients)(snapshot, only(findings=True, recommendations=True))
    assert [f.rule for f in result.findings] == ["access-analyzer-unused-permission"]
    assert result.skipped == (
        "unused-permission recommendations: GetFindingRecommendation access denied "
        "(access-analyzer:GetFindingRecommendation is not granted to the auditor)",
    )


def test_a_whole_account_audit_lists_findings_once_per_analyzer(aa) -> None:
    """The account path: one paginated ListFindingsV2 per analyzer, then every role answered from that read."""
    clients, stubber = aa
    first, second = role("orders-app", trust=VENDOR_TRUST), role("orders-worker")
    every_role = {"status": {"eq": ["ACTIVE"]}, "resourceType": {"eq": ["AWS::IAM::Role"]}}
    stubber.add_response("list_analyzers", {"analyzers": [analyzer(EXTERNAL_ANALYZER, "ACCOUNT")]}, {})
    stubber.add_response(
        "list_findings_v2",
        {"findings": [summary("ext-1", "ExternalAccess", first.arn)], "nextToken": "p2"},
        {"analyzerArn": EXTERNAL_ANALYZER, "filter": every_role, "maxResults": 100},
    )
    stubber.add_response(
        "list_findings_v2",
        {"findings": [summary("ext-9", "ExternalAccess", f"arn:aws:iam::{ACCOUNT}:role/gone")]},
        {"analyzerArn": EXTERNAL_ANALYZER, "filter": every_role, "nextToken": "p2", "maxResults": 100},
    )
    found = read_account_analyzer_findings(clients, ACCOUNT)
    assert found.skipped == [] and found.analyzers == [EXTERNAL_ANALYZER]
    check = summary_check(found)
    profile = only(findings=True)
    assert [f.rule for f in check(first, profile).findings] == ["access-analyzer-external-access"]
    assert check(second, profile).findings == ()
    assert clients.counter.calls["access-analyzer:ListFindingsV2"] == 2  # both pages, for both roles
    stubber.assert_no_pending_responses()


# -- failures: the audit completes, the reasons are in `skipped` ---------------------------------------


def test_switched_off_makes_no_call(aa) -> None:
    clients, _ = aa
    result = AccessAnalyzerCheck(clients, mode="off")(role(), PROFILE)
    assert result == LiveCheckResult(skipped=(OFF_REASON,))
    assert clients.counter.total() == 0
    with pytest.raises(ValueError, match="'auto' or 'off'"):
        AccessAnalyzerCheck(clients, mode="on")


def test_service_linked_roles_are_not_checked(aa) -> None:
    clients, _ = aa
    support = RoleSnapshot(
        arn=f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport",
        name="AWSServiceRoleForSupport",
        path="/aws-service-role/support.amazonaws.com/",
        trust_policy=EC2_TRUST,
    )
    assert AccessAnalyzerCheck(clients)(support, PROFILE) == LiveCheckResult()
    assert clients.counter.total() == 0


def test_an_endpoint_without_access_analyzer_stops_every_further_call(aa) -> None:
    clients, stubber = aa
    # What moto answers for every Access Analyzer operation: a bare HTTP 404.
    stubber.add_client_error("validate_policy", "404", "Not yet implemented", 404)
    check = AccessAnalyzerCheck(clients)
    first = check(role(), PROFILE)
    second = check(role("orders-worker"), PROFILE)  # no call at all: Stubber would fail on any
    assert first.findings == second.findings == ()
    [reason] = first.skipped
    assert reason.startswith(
        "ValidatePolicy, CheckNoPublicAccess, CheckAccessNotGranted, CheckNoNewAccess, analyzer findings: "
    )
    assert reason.endswith("does not implement IAM Access Analyzer (HTTP 404 Not yet implemented)")
    assert second.skipped == first.skipped
    assert clients.counter.total() == 1
    info = skipped_finding(role(), first.skipped)
    assert info is not None and info.severity is Severity.INFO and info.rule == "access-analyzer-skipped"


def test_access_denied_skips_only_the_denied_check(aa) -> None:
    clients, stubber = aa
    stubber.add_response("check_no_public_access", NOT_PUBLIC)
    stubber.add_client_error(
        "list_analyzers",
        "AccessDeniedException",
        "User: arn:aws:sts::123456789012:assumed-role/rolewatch-EventAuditFunctionRole/rolewatch is not authorized "
        "to perform: access-analyzer:ListAnalyzers",
        403,
    )
    result = AccessAnalyzerCheck(clients)(role(inline=False), only(check_no_public_access=True, findings=True))
    assert result.skipped == (
        "analyzer findings: ListAnalyzers access denied (access-analyzer:ListAnalyzers is not granted to the auditor)",
    )
    assert clients.counter.calls["access-analyzer:CheckNoPublicAccess"] == 1


def test_throttling_after_retries_skips_that_check_and_the_rest_still_run(aa) -> None:
    clients, stubber = aa
    stubber.add_client_error("check_no_public_access", "ThrottlingException", "Rate exceeded", 429)
    stubber.add_response("check_access_not_granted", GRANTED)
    stubber.add_response("check_access_not_granted", NOT_GRANTED)
    result = AccessAnalyzerCheck(clients)(
        role(inline=False), only(check_no_public_access=True, check_access_not_granted=True)
    )
    assert result.skipped == (
        "CheckNoPublicAccess: throttled by Access Analyzer (ThrottlingException) after botocore's retries",
    )
    assert [f.rule for f in result.findings] == ["access-analyzer-sensitive-access"]


def test_a_refused_document_is_reported_and_not_sent_again(aa) -> None:
    clients, stubber = aa
    stubber.add_client_error(
        "check_no_new_access", "UnprocessableEntityException", "The policy document could not be processed.", 422
    )
    stubber.add_response("check_no_new_access", NO_NEW_ACCESS)
    check = AccessAnalyzerCheck(clients)
    profile = only(check_no_new_access=True)
    one = check(role(inline=False), profile)
    two = check(role("orders-worker", inline=False), profile)
    expected = (
        "CheckNoNewAccess: refused the input (UnprocessableEntityException: "
        "The policy document could not be processed.)",
    )
    assert one.skipped == two.skipped == expected
    assert clients.counter.calls["access-analyzer:CheckNoNewAccess"] == 2  # one per document, never repeated


def test_error_findings_and_vanished_findings(aa) -> None:
    clients, stubber = aa
    snapshot = role()
    stubber.add_response("list_analyzers", {"analyzers": [analyzer(UNUSED_ANALYZER, "ACCOUNT_UNUSED_ACCESS")]}, {})
    stubber.add_response(
        "list_findings_v2",
        {
            "findings": [
                summary("err-1", "UnusedIAMRole", snapshot.arn, error="INTERNAL_ERROR"),
                summary("gone-1", "UnusedPermission", snapshot.arn),
            ]
        },
        {"analyzerArn": UNUSED_ANALYZER, "filter": role_filter(snapshot)},
    )
    stubber.add_client_error("get_finding_v2", "ResourceNotFoundException", "Finding not found.", 404)
    result = AccessAnalyzerCheck(clients)(snapshot, only(findings=True))
    assert result.findings == ()
    assert result.skipped == (
        "analyzer findings: analyzer rolewatch-unused could not analyze the role (INTERNAL_ERROR)",
    )


def test_an_unexpected_service_error_is_a_skipped_check(aa) -> None:
    clients, stubber = aa
    stubber.add_client_error("validate_policy", "InternalServerException", "Internal failure.", 500)
    stubber.add_response("validate_policy", {"findings": [PASS_ROLE_FINDING]})
    result = AccessAnalyzerCheck(clients)(role(inline=False), only(validate_policy=True))
    # The trust policy's validation failed; the customer-managed policy's still ran.
    assert result.skipped == ("ValidatePolicy: failed (InternalServerException: Internal failure.)",)
    assert [f.rule for f in result.findings] == ["access-analyzer-security-warning"]


# -- organization mode: the security account's analyzers, asked about a member's role ---------------------

MEMBER = "444455556666"
ORG_ANALYZER = f"arn:aws:access-analyzer:{REGION}:{ACCOUNT}:analyzer/organization-external"


def member_role(name: str = "payments-app") -> RoleSnapshot:
    return replace(role(name, trust=VENDOR_TRUST, inline=False), arn=f"arn:aws:iam::{MEMBER}:role/{name}")


def test_a_member_role_is_asked_only_of_the_organization_analyzer(aa) -> None:
    """The security account's account analyzer cannot know a member's role: no call goes to it."""
    clients, stubber = aa
    snapshot = member_role()
    stubber.add_response(
        "list_analyzers",
        {"analyzers": [analyzer(EXTERNAL_ANALYZER, "ACCOUNT"), analyzer(ORG_ANALYZER, "ORGANIZATION")]},
        {},
    )
    found = {**summary("org-1", "ExternalAccess", snapshot.arn), "resourceOwnerAccount": MEMBER}
    stubber.add_response(
        "list_findings_v2", {"findings": [found]}, {"analyzerArn": ORG_ANALYZER, "filter": role_filter(snapshot)}
    )
    details = {"principal": {"AWS": "999988887777"}, "action": ["sts:AssumeRole"], "isPublic": False}
    stubber.add_response(
        "get_finding_v2",
        {**found, "findingDetails": [{"externalAccessDetails": {**details, "condition": {}}}]},
        {"analyzerArn": ORG_ANALYZER, "id": "org-1"},
    )
    result = AccessAnalyzerCheck(clients)(snapshot, only(findings=True))
    assert result.skipped == ()
    [finding] = result.findings
    assert finding.rule == "access-analyzer-external-access" and finding.resource == snapshot.arn
    assert clients.counter.calls["access-analyzer:ListFindingsV2"] == 1


def test_a_member_role_without_an_organization_analyzer_is_a_skipped_check_naming_the_account(aa) -> None:
    clients, stubber = aa
    stubber.add_response(
        "list_analyzers",
        {"analyzers": [analyzer(EXTERNAL_ANALYZER, "ACCOUNT"), analyzer(UNUSED_ANALYZER, "ACCOUNT_UNUSED_ACCESS")]},
        {},
    )
    check = AccessAnalyzerCheck(clients)
    result = check(member_role(), only(findings=True))
    [reason] = result.skipped
    assert reason.startswith(f"analyzer findings: no ACTIVE organization analyzer in {REGION} covers account {MEMBER}")
    assert "rolewatch-external, rolewatch-unused" in reason
    assert result.findings == () and clients.counter.calls["access-analyzer:ListFindingsV2"] == 0
    # The security account's own role is still asked of its account analyzers (the list is read once).
    own = role(inline=False)
    for arn in (EXTERNAL_ANALYZER, UNUSED_ANALYZER):
        stubber.add_response("list_findings_v2", {"findings": []}, {"analyzerArn": arn, "filter": role_filter(own)})
    assert check(own, only(findings=True)) == LiveCheckResult()


def test_a_members_weekly_read_uses_only_analyzers_that_cover_it(aa) -> None:
    clients, stubber = aa
    listed = {"analyzers": [analyzer(EXTERNAL_ANALYZER, "ACCOUNT"), analyzer(ORG_ANALYZER, "ORGANIZATION")]}
    member_roles = {
        "status": {"eq": ["ACTIVE"]},
        "resourceType": {"eq": ["AWS::IAM::Role"]},
        "resourceOwnerAccount": {"eq": [MEMBER]},
    }
    stubber.add_response("list_analyzers", listed, {})
    stubber.add_response(
        "list_findings_v2",
        {"findings": [{**summary("org-1", "ExternalAccess", member_role().arn), "resourceOwnerAccount": MEMBER}]},
        {"analyzerArn": ORG_ANALYZER, "filter": member_roles, "maxResults": 100},
    )
    found = read_account_analyzer_findings(clients, MEMBER)
    assert found.skipped == [] and found.analyzers == [ORG_ANALYZER]
    assert [f.id for f in found.for_role(member_role().arn)] == ["org-1"]

    stubber.add_response("list_analyzers", {"analyzers": [analyzer(EXTERNAL_ANALYZER, "ACCOUNT")]}, {})
    uncovered = read_account_analyzer_findings(clients, MEMBER)
    assert uncovered.analyzers == [] and uncovered.by_role == {}
    [reason] = uncovered.skipped
    assert f"no ACTIVE organization analyzer in {REGION} covers account {MEMBER}" in reason


def test_required_actions_are_exactly_the_operations_called() -> None:
    operations = [
        "ListAnalyzers",
        "ListFindingsV2",
        "GetFindingV2",
        "GetFindingRecommendation",
        "GenerateFindingRecommendation",
        "ValidatePolicy",
        "CheckAccessNotGranted",
        "CheckNoNewAccess",
        "CheckNoPublicAccess",
    ]
    assert {iam_action(op) for op in operations} == REQUIRED_ACTIONS
    # Each is an action of the IAM catalogue (the V2 operations are authorised by the V1 actions).
    assert all(catalogue().canonical(action) == action for action in REQUIRED_ACTIONS)


def test_the_calls_of_a_full_audit_are_all_declared(aa) -> None:
    clients, stubber = aa
    snapshot = role(trust=VENDOR_TRUST)
    expect_findings_of_every_type(stubber, snapshot)
    _never_generated(stubber)
    stubber.add_response("get_finding_recommendation", recommendation("IN_PROGRESS"), RECOMMENDATION_KEY)
    AccessAnalyzerCheck(clients)(snapshot, only(findings=True, recommendations=True))
    called = {iam_action(op.split(":", 1)[1]) for op in clients.counter.operations()}
    assert called <= REQUIRED_ACTIONS
    assert {"access-analyzer:GenerateFindingRecommendation", "access-analyzer:GetFinding"} <= called
