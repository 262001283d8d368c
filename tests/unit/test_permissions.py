"""Effective permissions: compile_policy + Permissions (Allow/Deny across policies, NotAction, NotResource,
resource types, AWS-managed ARNs, boundaries, conditions, names outside the catalogue, PassRole targets)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from helpers import NOW, allow, deny, policy

from rolewatch.model import PolicyError
from rolewatch.policy.catalogue import ACCESS_LIST, ACCESS_READ, catalogue
from rolewatch.policy.permissions import CompiledPolicy, Permissions, compile_policy, empty_permissions

SOURCE_IP = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
UNKNOWN_KEY = {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}
WITH_BOUNDARY = {"StringEquals": {"iam:PermissionsBoundary": "arn:aws:iam::111122223333:policy/boundary"}}
EXPIRED = {"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}
NOT_YET = {"DateGreaterThan": {"aws:CurrentTime": "2099-01-01T00:00:00Z"}}
OUTSIDE_CATALOGUE = "codestar:CreateProjectFromTemplate"


def permissions(*documents: dict[str, Any], boundary: dict[str, Any] | None = None) -> Permissions:
    policies = [(f"policy-{i}", compile_policy(d)) for i, d in enumerate(documents)]
    return Permissions(policies, compile_policy(boundary) if boundary is not None else None, NOW)


def allowed_names(perm: Permissions) -> set[str]:
    return set(perm.catalogue.names_in(perm.allowed))


def bit(action: str) -> int:
    return catalogue().expand(action)


def test_outside_catalogue_example_is_really_outside() -> None:
    assert catalogue().canonical(OUTSIDE_CATALOGUE) is None
    assert catalogue().is_known_service("codestar")


# -- Allow and Deny ------------------------------------------------------------------------------
def test_no_policies_allow_nothing() -> None:
    perm = empty_permissions()
    assert (perm.allowed, perm.unrestricted, perm.definite, perm.escalation) == (0, 0, 0, 0)
    assert not perm.allows("s3:GetObject")
    assert not perm.allows(OUTSIDE_CATALOGUE)


def test_allow_grants_exactly_the_named_actions() -> None:
    perm = permissions(policy(allow(["s3:GetObject", "iam:Put*"])))
    assert perm.allowed == bit("s3:GetObject") | bit("iam:Put*")
    assert perm.allows("s3:GetObject") and perm.allows("IAM:PUTROLEPOLICY")
    assert not perm.allows("s3:PutObject")


def test_explicit_deny_in_another_policy_removes_the_grant() -> None:
    perm = permissions(policy(allow(["iam:*", "s3:GetObject"])), policy(deny("iam:*")))
    assert not perm.allowed & bit("iam:*")
    assert perm.allows("s3:GetObject")
    assert not perm.allows("iam:PassRole")


def test_deny_of_everything_leaves_nothing() -> None:
    perm = permissions(policy(allow("*"), deny("*")))
    assert perm.allowed == 0
    assert perm.grants == []


@pytest.mark.parametrize(
    ("allow_resources", "deny_resources", "still_allowed"),
    [
        pytest.param("arn:aws:s3:::b/*", "arn:aws:s3:::b/*", False, id="same-resource"),
        pytest.param("arn:aws:s3:::b/secret/*", "arn:aws:s3:::b/*", False, id="deny-covers-narrower-allow"),
        pytest.param("arn:aws:s3:::b/key.txt", "arn:aws:s3:::b/*", False, id="deny-covers-literal"),
        pytest.param("*", "arn:aws:s3:::b/*", True, id="allow-everywhere-deny-one-bucket"),
        pytest.param("arn:aws:s3:::b/*", "arn:aws:s3:::b/secret/*", True, id="deny-narrower-than-allow"),
        pytest.param(["arn:aws:s3:::b/*", "arn:aws:s3:::c/*"], "arn:aws:s3:::b/*", True, id="one-of-two-buckets"),
        pytest.param(
            ["arn:aws:s3:::b/*", "arn:aws:s3:::c/*"],
            ["arn:aws:s3:::b/*", "arn:aws:s3:::c/*"],
            False,
            id="both-buckets-denied",
        ),
        pytest.param("arn:aws:s3:::b/*", "*", False, id="deny-everywhere"),
    ],
)
def test_deny_with_resources_removes_only_grants_it_covers(
    allow_resources: Any, deny_resources: Any, still_allowed: bool
) -> None:
    perm = permissions(policy(allow("s3:GetObject", allow_resources), deny("s3:GetObject", deny_resources)))
    assert perm.allows("s3:GetObject") is still_allowed


@pytest.mark.parametrize(
    "condition",
    [
        pytest.param(SOURCE_IP, id="restricting"),
        pytest.param(UNKNOWN_KEY, id="unknown-key"),
        pytest.param(WITH_BOUNDARY, id="delegation"),
        pytest.param({"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}, id="pass-to"),
    ],
)
def test_conditional_deny_is_not_relied_on(condition: dict[str, Any]) -> None:
    compiled = compile_policy(policy(allow("iam:*"), deny("iam:*", Condition=condition)))
    assert compiled.denies == ()
    assert len(compiled.conditional_denies) == 1
    assert Permissions([("p", compiled)]).allows("iam:PassRole")


def test_deny_with_a_current_time_window_holds() -> None:
    # DateLessThan in the future: the deny applies now, so it is relied on.
    window = {"DateLessThan": {"aws:CurrentTime": "2099-01-01T00:00:00Z"}}
    compiled = compile_policy(policy(allow("iam:*"), deny("iam:*", Condition=window)))
    assert len(compiled.denies) == 1
    assert not Permissions([("p", compiled)], now=NOW).allows("iam:PassRole")


def test_deny_that_starts_in_the_future_does_not_hold_now() -> None:
    compiled = compile_policy(policy(allow("iam:*"), deny("iam:*", Condition=NOT_YET)))
    assert Permissions([("p", compiled)], now=NOW).allows("iam:PassRole")


@pytest.mark.parametrize("effect", ["Allow", "Deny"])
def test_expired_statement_grants_and_denies_nothing(effect: str) -> None:
    statement = {"Effect": effect, "Action": "iam:*", "Resource": "*", "Condition": EXPIRED}
    others = [allow("iam:PassRole")] if effect == "Deny" else []
    perm = Permissions([("p", compile_policy(policy(statement, *others)))], now=NOW)
    assert perm.allows("iam:PassRole") is (effect == "Deny")


def test_expired_deny_does_not_remove_access() -> None:
    perm = permissions(policy(allow("iam:*"), deny("iam:*", Condition=EXPIRED)))
    assert perm.allows("iam:PassRole")


def test_time_is_decided_when_permissions_are_computed_not_when_the_text_is_compiled() -> None:
    # A warm Lambda keeps compiled policies for hours: a Deny whose date has passed must stop holding.
    until = {"DateLessThan": {"aws:CurrentTime": "2026-06-01T00:00:00Z"}}
    compiled = compile_policy(policy(allow("iam:*"), deny("iam:*", Condition=until)))
    before = Permissions([("p", compiled)], now=datetime(2026, 5, 31, tzinfo=UTC))
    after = Permissions(
        [("p", compile_policy(policy(allow("iam:*"), deny("iam:*", Condition=until))))],
        now=datetime(2026, 6, 2, tzinfo=UTC),
    )
    assert not before.allows("iam:PassRole")
    assert after.allows("iam:PassRole")
    # And an Allow window that has closed grants nothing at that later time.
    grant_until = compile_policy(policy(allow("iam:PassRole", Condition=until)))
    assert Permissions([("p", grant_until)], now=datetime(2026, 5, 31, tzinfo=UTC)).allows("iam:PassRole")
    assert not Permissions([("p", grant_until)], now=datetime(2026, 6, 2, tzinfo=UTC)).allows("iam:PassRole")


def test_without_a_time_windows_are_undecided_allows_count_and_denies_are_not_relied_on() -> None:
    until = {"DateLessThan": {"aws:CurrentTime": "2000-01-01T00:00:00Z"}}
    assert Permissions([("p", compile_policy(policy(allow("iam:PassRole", Condition=until))))]).allows("iam:PassRole")
    denied = compile_policy(
        policy(allow("iam:*"), deny("iam:*", Condition={"DateLessThan": {"aws:CurrentTime": "2099-01-01"}}))
    )
    assert Permissions([("p", denied)]).allows("iam:PassRole")


# -- NotAction and NotResource ---------------------------------------------------------------------
def test_notaction_allow_is_everything_except() -> None:
    perm = permissions(policy({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"}))
    assert perm.allowed == catalogue().all & ~bit("iam:*") & ~bit("organizations:*")
    assert perm.allows("s3:GetObject")
    assert not perm.allows("iam:PassRole")


def test_notaction_deny_removes_everything_except() -> None:
    perm = permissions(policy(allow("*"), {"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"}))
    assert perm.allowed == bit("s3:GetObject")


def test_notresource_allow_is_treated_as_unrestricted() -> None:
    perm = permissions(policy({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secret/*"}))
    assert perm.unrestricted == bit("s3:GetObject")
    [labeled] = perm.grants
    assert labeled.grant.unrestricted and labeled.grant.not_resource


def test_notresource_deny_is_not_relied_on() -> None:
    deny_elsewhere = {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::public/*"}
    perm = permissions(policy(allow("s3:GetObject"), deny_elsewhere))
    assert perm.allows("s3:GetObject")


# -- resource types ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("action", "resource", "granted"),
    [
        pytest.param("s3:ListAllMyBuckets", "arn:aws:s3:::bucket", False, id="account-level-action-on-bucket"),
        pytest.param("s3:ListAllMyBuckets", "*", True, id="account-level-action-on-star"),
        pytest.param("s3:GetObject", "arn:aws:s3:::bucket", False, id="object-action-on-bucket"),
        pytest.param("s3:GetObject", "arn:aws:s3:::bucket/*", True, id="object-action-on-objects"),
        pytest.param("s3:ListBucket", "arn:aws:s3:::bucket", True, id="bucket-action-on-bucket"),
        pytest.param("iam:PassRole", "arn:aws:iam::111122223333:role/app-*", True, id="passrole-on-roles"),
        pytest.param("iam:PassRole", "arn:aws:s3:::bucket/*", False, id="passrole-on-objects"),
        pytest.param("sts:AssumeRole", "arn:aws:iam::111122223333:role/x", True, id="sts-acts-on-iam-arn"),
    ],
)
def test_actions_are_granted_only_on_resources_of_their_type(action: str, resource: str, granted: bool) -> None:
    assert permissions(policy(allow(action, resource))).allows(action) is granted


def test_bucket_action_on_object_arns_grants_nothing() -> None:
    compiled = compile_policy(policy(allow("s3:ListBucket", "arn:aws:s3:::bucket/*")))
    assert not Permissions([("p", compiled)]).allows("s3:ListBucket")
    assert compiled.void_resources == (("Statement[0].Resource[0]", "arn:aws:s3:::bucket/*"),)


def test_void_resources_are_recorded() -> None:
    compiled = compile_policy(
        policy(
            allow("s3:ListAllMyBuckets", "arn:aws:s3:::bucket"),
            allow(["s3:GetObject", "s3:ListBucket"], "arn:aws:s3:::bucket"),
        )
    )
    assert compiled.void_resources == (("Statement[0].Resource[0]", "arn:aws:s3:::bucket"),)
    assert allowed_names(Permissions([("p", compiled)])) == {"s3:ListBucket"}


def test_unknown_actions_are_recorded_with_their_location() -> None:
    compiled = compile_policy(
        policy(allow(["s3:GetObject", "s3:NoSuchAction"]), {"Effect": "Deny", "NotAction": "nosuch:*", "Resource": "*"})
    )
    assert compiled.unknown_actions == (
        ("Statement[0].Action[1]", "s3:NoSuchAction"),
        ("Statement[1].NotAction[0]", "nosuch:*"),
    )


def test_scoped_grant_is_allowed_but_not_unrestricted() -> None:
    perm = permissions(policy(allow("s3:GetObject", "arn:aws:s3:::bucket/*")))
    assert perm.allows("s3:GetObject")
    assert perm.unrestricted == 0
    [labeled] = perm.grants
    assert labeled.unrestricted_mask == 0 and labeled.mask == bit("s3:GetObject")


# -- AWS-managed policy ARNs ------------------------------------------------------------------
@pytest.mark.parametrize(
    "resource", ["arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::aws:policy/*"], ids=["one", "all"]
)
def test_aws_managed_policy_arns_allow_only_list_and_read(resource: str) -> None:
    perm = permissions(policy(allow("iam:*", resource)))
    cat = catalogue()
    assert perm.allows("iam:GetPolicyVersion")
    assert not perm.allows("iam:CreatePolicyVersion")
    assert not perm.allows("iam:DeletePolicy")
    assert perm.allowed & ~(cat.level_mask(ACCESS_LIST) | cat.level_mask(ACCESS_READ)) == 0


def test_customer_managed_policy_arns_allow_writes() -> None:
    perm = permissions(policy(allow("iam:*", "arn:aws:iam::111122223333:policy/*")))
    assert perm.allows("iam:CreatePolicyVersion")


# -- permissions boundary -------------------------------------------------------------------------
def test_boundary_caps_the_identity_policies() -> None:
    perm = permissions(policy(allow("*")), boundary=policy(allow("s3:*")))
    assert perm.allowed == bit("s3:*")
    assert not perm.allows("iam:CreateRole")
    assert perm.allows("s3:GetObject")


def test_boundary_deny_removes_actions() -> None:
    perm = permissions(policy(allow("*")), boundary=policy(allow("*"), deny("iam:*")))
    assert not perm.allowed & bit("iam:*")
    assert perm.allows("s3:GetObject")


def test_boundary_grants_nothing_by_itself() -> None:
    perm = permissions(policy(allow("s3:GetObject")), boundary=policy(allow("*")))
    assert perm.allowed == bit("s3:GetObject")


def test_boundary_scoped_to_resources_removes_unrestricted_access() -> None:
    perm = permissions(policy(allow("s3:GetObject")), boundary=policy(allow("s3:*", "arn:aws:s3:::bucket/*")))
    assert perm.allows("s3:GetObject")
    assert perm.unrestricted == 0


def test_empty_boundary_allows_nothing() -> None:
    perm = permissions(policy(allow("*")), boundary=policy(deny("iam:*")))
    assert perm.allowed == 0


# -- definite, conditional, delegation ---------------------------------------------------------
@pytest.mark.parametrize(
    ("condition", "definite", "escalation"),
    [
        pytest.param(None, True, True, id="unconditional"),
        pytest.param(SOURCE_IP, False, True, id="restricting-is-conditional"),
        pytest.param(UNKNOWN_KEY, True, True, id="unknown-counts-in-full"),
        pytest.param(WITH_BOUNDARY, False, False, id="delegation-is-no-escalation"),
        pytest.param({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, True, True, id="open-window"),
    ],
)
def test_definite_conditional_and_delegation_masks(
    condition: dict[str, Any] | None, definite: bool, escalation: bool
) -> None:
    extra = {"Condition": condition} if condition else {}
    perm = permissions(policy(allow("iam:CreateRole", **extra)))
    role_bit = bit("iam:CreateRole")
    assert perm.allowed == role_bit
    assert perm.unrestricted == role_bit
    assert bool(perm.definite & role_bit) is definite
    assert bool(perm.escalation & role_bit) is escalation


def test_conditional_grant_keeps_its_restricting_conditions() -> None:
    [labeled] = permissions(policy(allow("iam:CreateRole", Condition=SOURCE_IP))).grants
    assert labeled.grant.conditional
    assert [c.key for c in labeled.grant.restricting] == ["aws:SourceIp"]


def test_grants_for_finds_the_statements_behind_a_mask() -> None:
    perm = permissions(policy(allow("s3:GetObject")), policy(allow("iam:PassRole"), allow("iam:Get*")))
    [labeled] = perm.grants_for(bit("iam:PassRole"))
    assert labeled.policy == "policy-1"
    assert labeled.grant.location == "Statement[0]"
    assert len(perm.grants_for(catalogue().all)) == 3
    assert perm.grants_for(0) == []


# -- names outside the catalogue -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        pytest.param([policy(allow("*"))], True, id="star"),
        pytest.param([policy(allow("codestar:*"))], True, id="service-star"),
        pytest.param([policy(allow("CODESTAR:Create*"))], True, id="prefix-any-case"),
        pytest.param([policy(allow(["*:CreateProjectFromTemplate", "s3:GetObject"]))], True, id="service-wildcard"),
        pytest.param([policy(allow([OUTSIDE_CATALOGUE, "s3:GetObject"]))], True, id="named-beside-a-known-action"),
        pytest.param([policy(allow("s3:*"))], False, id="other-service"),
        pytest.param([policy(allow("codestar:*", "arn:aws:codestar:*:*:project/*"))], False, id="scoped-resource"),
        pytest.param([policy(allow("*"), deny("codestar:*"))], False, id="denied-by-unrestricted-deny"),
        pytest.param([policy(allow("*")), policy(deny("*"))], False, id="deny-star-in-another-policy"),
        pytest.param(
            [policy(allow("*"), deny("codestar:*", "arn:aws:codestar:*:*:project/x"))],
            True,
            id="scoped-deny-not-relied-on",
        ),
        pytest.param(
            [policy({"Effect": "Allow", "NotAction": "codestar:*", "Resource": "*"})], False, id="notaction-excludes"
        ),
        pytest.param(
            [policy({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"})], True, id="notaction-includes"
        ),
        pytest.param(
            [policy(allow("*"), {"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"})], False, id="notaction-deny"
        ),
    ],
)
def test_allows_names_outside_the_catalogue(documents: list[dict[str, Any]], expected: bool) -> None:
    assert permissions(*documents).allows(OUTSIDE_CATALOGUE) is expected


@pytest.mark.parametrize(
    "action", [OUTSIDE_CATALOGUE, "*:CreateProjectFromTemplate"], ids=["named", "service-wildcard"]
)
def test_statement_naming_only_actions_outside_the_catalogue_allows_them(action: str) -> None:
    assert permissions(policy(allow(action))).allows(OUTSIDE_CATALOGUE)


def test_boundary_caps_names_outside_the_catalogue() -> None:
    perm = permissions(policy(allow("*")), boundary=policy(allow("s3:*")))
    assert not perm.allows(OUTSIDE_CATALOGUE)


def test_question_mark_inside_the_service_names_outside_actions() -> None:
    assert permissions(policy(allow("code?tar:*"))).allows(OUTSIDE_CATALOGUE)


# -- PassRole targets ---------------------------------------------------------------------------------
def test_pass_role_targets() -> None:
    perm = permissions(
        policy(
            allow("iam:PassRole", Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
            allow(
                "iam:PassRole",
                "arn:aws:iam::111122223333:role/lambda-*",
                Condition={"StringLike": {"iam:PassedToService": ["Lambda.amazonaws.com"]}},
            ),
            allow("iam:PassRole", Condition=WITH_BOUNDARY),
            allow("s3:GetObject"),
        ),
        policy(allow("iam:*", "arn:aws:iam::111122223333:role/*")),
    )
    assert perm.pass_role_targets() == [
        frozenset({"ec2.amazonaws.com"}),
        frozenset({"lambda.amazonaws.com"}),
        None,
    ]


def test_denied_passrole_has_no_targets() -> None:
    assert permissions(policy(allow("iam:PassRole"), deny("iam:PassRole"))).pass_role_targets() == []


# -- compile_policy: cache and errors ---------------------------------------------------------------
def test_compiling_the_same_document_twice_returns_the_same_object() -> None:
    document = policy(allow("s3:GetObject"), deny("iam:*"))
    first = compile_policy(document)
    assert isinstance(first, CompiledPolicy)
    assert compile_policy(document) is first
    assert compile_policy(json.loads(json.dumps(document))) is first  # an equal copy shares the analysis


def test_equal_documents_in_different_forms_compile_alike() -> None:
    document = policy(allow("s3:GetObject"), deny("iam:*"))
    from_text = compile_policy(json.dumps(document))
    assert from_text.allows == compile_policy(document).allows
    assert from_text.denies == compile_policy(document).denies


def test_bytes_compile_like_text() -> None:
    document = policy(allow("s3:GetObject"))
    assert compile_policy(json.dumps(document).encode()).allows == compile_policy(document).allows


@pytest.mark.parametrize(
    ("document", "location"),
    [
        pytest.param(
            policy(allow("s3:GetObject"), {"Effect": "Permit", "Action": "s3:*", "Resource": "*"}),
            "RolePolicyList[0].PolicyDocument.Statement[1].Effect",
            id="bad-effect",
        ),
        pytest.param(
            policy({"Effect": "Allow", "Action": "s3:*"}),
            "RolePolicyList[0].PolicyDocument.Statement[0]",
            id="identity-without-resource",
        ),
        pytest.param("not json", "RolePolicyList[0].PolicyDocument", id="not-json"),
    ],
)
def test_policy_error_carries_the_callers_location(document: Any, location: str) -> None:
    with pytest.raises(PolicyError) as caught:
        compile_policy(document, "RolePolicyList[0].PolicyDocument")
    assert caught.value.location == location
    # Errors are not cached: the same document under another prefix is located there.
    with pytest.raises(PolicyError) as again:
        compile_policy(document, "AttachedManagedPolicies[1]")
    assert again.value.location == location.replace("RolePolicyList[0].PolicyDocument", "AttachedManagedPolicies[1]")


def test_policy_error_without_a_prefix_is_located_in_the_document() -> None:
    with pytest.raises(PolicyError) as caught:
        compile_policy(policy({"Effect": "Allow", "Action": "s3", "Resource": "*"}))
    assert caught.value.location == "Statement[0].Action[0]"


def test_trust_kind_compiles_a_trust_policy() -> None:
    trust = policy({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
    compiled = compile_policy(trust, kind="trust")
    assert [g.mask for g in compiled.allows] == [bit("sts:AssumeRole")]
    with pytest.raises(PolicyError, match="neither Resource nor NotResource"):
        compile_policy(trust)  # the default kind is identity


def test_compiled_policy_has_a_printable_repr() -> None:
    compiled = compile_policy(policy(allow("*")))
    assert "Statement[0]" in repr(compiled)


# -- printing, interning, bytes, time windows ------------------------------------------------------
def test_grant_reprs_show_counts_not_bitsets() -> None:
    perm = permissions(policy(allow("*"), allow("s3:GetObject", "arn:aws:s3:::b/*")))
    everything, scoped = perm.grants
    assert f"{len(catalogue())} actions, every resource" in repr(everything.grant)
    assert "1 actions, 1 resource pattern(s)" in repr(scoped.grant)
    assert repr(scoped).startswith("LabeledGrant(policy-0, Grant(Statement[1]")
    assert len(repr(compile_policy(policy(allow("*"))))) < 1000


def test_equal_masks_of_different_statements_are_one_object() -> None:
    # Thousands of roles grant the same actions on their own bucket: one mask in memory.
    first = compile_policy(policy(allow("s3:GetObject", "arn:aws:s3:::bucket-one/*")))
    second = compile_policy(policy(allow("s3:GetObject", "arn:aws:s3:::bucket-two/*")))
    assert first.allows[0].mask is second.allows[0].mask


def test_undecodable_bytes_are_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="not UTF-8") as caught:
        compile_policy(b"\xff\xfe{}", "RolePolicyList[0].PolicyDocument")
    assert caught.value.location == "RolePolicyList[0].PolicyDocument"


@pytest.mark.parametrize(
    ("condition", "relied_on"),
    [
        pytest.param({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, True, id="opened-in-the-past"),
        pytest.param(NOT_YET, False, id="opens-in-the-future"),
        pytest.param({"DateEquals": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, False, id="one-moment"),
        pytest.param({"NumericGreaterThan": {"aws:EpochTime": "4000000000"}}, False, id="epoch-in-the-future"),
    ],
)
def test_a_deny_counts_only_when_its_time_window_holds_now(condition: dict[str, Any], relied_on: bool) -> None:
    compiled = compile_policy(policy(allow("iam:*"), deny("iam:*", Condition=condition)))
    assert Permissions([("p", compiled)], now=NOW).allows("iam:PassRole") is not relied_on


def test_an_allow_whose_window_opens_later_still_counts() -> None:
    assert permissions(policy(allow("iam:PassRole", Condition=NOT_YET))).allows("iam:PassRole")


@pytest.mark.parametrize(
    ("boundary", "expected"),
    [
        pytest.param(policy(allow("codestar:*")), True, id="boundary-names-the-service"),
        pytest.param(policy(allow("*"), deny("codestar:*")), False, id="boundary-denies-it"),
        pytest.param(policy(allow("*:Create*")), True, id="boundary-service-wildcard"),
    ],
)
def test_boundary_and_names_outside_the_catalogue(boundary: dict[str, Any], expected: bool) -> None:
    assert permissions(policy(allow("*")), boundary=boundary).allows(OUTSIDE_CATALOGUE) is expected


def test_bucket_actions_are_void_on_object_arns_but_kept_on_buckets() -> None:
    compiled = compile_policy(policy(allow(["s3:ListBucket", "s3:GetObject"], ["arn:aws:s3:::b", "arn:aws:s3:::b/*"])))
    assert allowed_names(Permissions([("p", compiled)])) == {"s3:ListBucket", "s3:GetObject"}
    assert compiled.void_resources == ()
