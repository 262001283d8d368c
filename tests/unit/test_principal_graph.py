"""The principal graph: escalation judged by what a path gains, chains to any depth, cycles, unknown targets,
permissions-boundary escape, and one privilege-escalation finding per role."""

from __future__ import annotations

from helpers import ACCOUNT, NEUTRAL, NOW, allow, make_role, policy

from rolewatch.audit import audit_roles, related_role_arns
from rolewatch.model import Severity
from rolewatch.policy.graph import ASSUME, PASS_ROLE, TargetGroup
from rolewatch.rules.escalation import methods as privesc

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
LAUNCH = ["lambda:CreateFunction", "lambda:InvokeFunction"]
LOGS_ONLY = policy(allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]))
ADMIN = policy(allow("*"))


def arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def trusting(*principals: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": "sts:AssumeRole"}],
    }


def audit(roles, rules=("privilege-escalation", "role-chain-escalation"), **kw):
    result = audit_roles(roles, NEUTRAL, now=NOW, rules=rules, **kw)
    assert not result.errors, result.errors
    return result


def of(result, name, rule="privilege-escalation"):
    return [f for f in result.findings if f.resource == arn(name) and f.rule == rule]


def passer(*resources: str, name: str = "deployer"):
    return make_role(name, policy(allow(LAUNCH), allow("iam:PassRole", list(resources))))


class TestPassRole:
    def test_passing_a_logs_only_role_to_lambda_is_clean(self):
        roles = [passer(arn("log-shipper")), make_role("log-shipper", LOGS_ONLY, trust=LAMBDA_TRUST)]
        assert of(audit(roles), "deployer") == []

    def test_passing_an_admin_role_to_lambda_is_detected_with_the_path(self):
        roles = [passer(arn("ops-admin")), make_role("ops-admin", ADMIN, trust=LAMBDA_TRUST)]
        [finding] = of(audit(roles), "deployer")
        assert finding.severity is Severity.CRITICAL
        assert "deployer -> ops-admin: administrator access" in finding.detail
        assert any("path: deployer -> ops-admin: administrator access" in e for e in finding.evidence)

    def test_an_admin_role_that_does_not_trust_lambda_cannot_be_passed_to_it(self):
        roles = [passer(arn("ops-admin")), make_role("ops-admin", ADMIN)]  # trusts EC2 only
        assert of(audit(roles), "deployer") == []

    def test_wildcard_pass_in_a_whole_account_judges_every_role_trusting_the_service(self):
        logs = make_role("log-shipper", LOGS_ONLY, trust=LAMBDA_TRUST)
        assert of(audit([passer("*"), logs], complete=True), "deployer") == []
        admin = make_role("ops-admin", ADMIN, trust=LAMBDA_TRUST)
        [finding] = of(audit([passer("*"), logs, admin], complete=True), "deployer")
        assert "deployer -> ops-admin: administrator access" in finding.detail

    def test_wildcard_pass_without_the_whole_account_stays_reported_and_says_why(self):
        logs = make_role("log-shipper", LOGS_ONLY, trust=LAMBDA_TRUST)
        [finding] = of(audit([passer("*"), logs]), "deployer")
        assert any("passable roles unknown" in e and "does not hold every role" in e for e in finding.evidence)

    def test_a_named_role_outside_the_audit_stays_reported_and_says_why(self):
        [finding] = of(audit([passer(arn("elsewhere"))]), "deployer")
        assert any(f"names {arn('elsewhere')}, which this audit could not read" in e for e in finding.evidence)

    def test_sensitive_data_the_source_lacks_is_a_gain(self):
        reader = make_role("reader", policy(allow("secretsmanager:GetSecretValue")), trust=LAMBDA_TRUST)
        [finding] = of(audit([passer(arn("reader")), reader]), "deployer")
        assert "secretsmanager:GetSecretValue on every resource" in finding.detail
        assert finding.severity is Severity.HIGH

    def test_passed_to_service_must_admit_the_launching_service(self):
        doc = policy(
            allow(LAUNCH),
            allow(
                "iam:PassRole",
                arn("ops-admin"),
                Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            ),
        )
        roles = [make_role("deployer", doc), make_role("ops-admin", ADMIN, trust=LAMBDA_TRUST)]
        assert of(audit(roles), "deployer") == []

    def test_pass_role_to_a_prefix_finds_the_roles_behind_it(self):
        roles = [
            passer(arn("team-*")),
            make_role("team-logs", LOGS_ONLY, trust=LAMBDA_TRUST),
            make_role("team-admin", ADMIN, trust=LAMBDA_TRUST),
            make_role("other-admin", ADMIN, trust=LAMBDA_TRUST),
        ]
        [finding] = of(audit(roles, complete=True), "deployer")
        assert "deployer -> team-admin: administrator access" in finding.detail


class TestChains:
    def test_chain_a_b_c_to_an_admin_names_the_path(self):
        a = make_role("a", trust=trusting(arn("nobody")))
        b = make_role("b", LOGS_ONLY, trust=trusting(arn("a")))
        c = make_role("c", ADMIN, trust=trusting(arn("b")))
        [finding] = of(audit([a, b, c]), "a", "role-chain-escalation")
        assert "a -> b -> c: administrator access" in finding.detail
        assert finding.severity is Severity.CRITICAL

    def test_pass_then_assume_chain_is_named(self):
        function_role = make_role("fn", LOGS_ONLY, trust=LAMBDA_TRUST)
        admin = make_role("ops-admin", ADMIN, trust=trusting(arn("fn")))
        [finding] = of(audit([passer(arn("fn")), function_role, admin]), "deployer")
        assert "deployer -> fn -> ops-admin: administrator access" in finding.detail

    def test_cycle_terminates_and_reports_nothing_gained(self):
        a = make_role("a", LOGS_ONLY, trust=trusting(arn("b")))
        b = make_role("b", LOGS_ONLY, trust=trusting(arn("a")))
        assert audit([a, b]).findings == ()

    def test_cycle_with_an_exit_to_an_admin_is_followed(self):
        a = make_role("a", LOGS_ONLY, trust=trusting(arn("b")))
        b = make_role("b", LOGS_ONLY, trust=trusting(arn("a")))
        c = make_role("c", ADMIN, trust=trusting(arn("b")))
        [finding] = of(audit([a, b, c]), "a", "role-chain-escalation")
        assert "a -> b -> c: administrator access" in finding.detail

    def test_root_trust_needs_the_callers_own_grant(self):
        admin = make_role("admin", ADMIN, trust=trusting(f"arn:aws:iam::{ACCOUNT}:root"))
        without = make_role("caller", LOGS_ONLY)
        assert of(audit([admin, without]), "caller", "role-chain-escalation") == []
        granted = make_role("caller", policy(allow("sts:AssumeRole", arn("admin"))))
        assert of(audit([admin, granted]), "caller", "role-chain-escalation")

    def test_assuming_a_role_that_adds_nothing_is_clean(self):
        target = make_role("peer", LOGS_ONLY, trust=trusting(arn("caller")))
        caller = make_role("caller", policy(allow(["logs:*"])))
        assert audit([target, caller]).findings == ()

    def test_restricting_trust_condition_lowers_the_severity_and_is_named(self):
        trust = trusting(arn("a"))
        trust["Statement"][0]["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
        [finding] = of(audit([make_role("a"), make_role("admin", ADMIN, trust=trust)]), "a", "role-chain-escalation")
        assert finding.severity is Severity.HIGH
        assert any("aws:MultiFactorAuthPresent" in e for e in finding.evidence)


class TestGraph:
    def test_built_once_and_edges_carry_their_kind_and_group(self):
        roles = [
            passer("*"),
            make_role("fn", LOGS_ONLY, trust=LAMBDA_TRUST),
            make_role("a", trust=trusting(arn("deployer"))),
        ]
        seen = []

        def capture(ctx):
            seen.append(ctx.account.graph)
            return iter(())

        from rolewatch.rules import registry

        registry._REGISTRY["graph-probe"] = capture
        try:
            audit_roles(roles, NEUTRAL, now=NOW, rules=["graph-probe"], complete=True)
        finally:
            del registry._REGISTRY["graph-probe"]
        assert len(seen) == 3 and all(g is seen[0] for g in seen)
        edges = seen[0].edges_from(arn("deployer"))
        assert any(e.kind == ASSUME and e.target == arn("a") for e in edges)
        groups = {e.group for e in edges if e.kind == PASS_ROLE}
        assert TargetGroup("service", "lambda.amazonaws.com") in groups
        assert [m.role for m in seen[0].members(TargetGroup("service", "lambda.amazonaws.com"))] == [arn("fn")]

    def test_related_roles_are_the_literal_arns_a_role_names(self):
        role = make_role(
            "deployer", policy(allow("iam:PassRole", [arn("x"), arn("team-*")]), allow("sts:AssumeRole", arn("y")))
        )
        assert related_role_arns([role], NOW) == {arn("x"), arn("y")}

    def test_context_roles_are_judged_but_not_audited(self):
        admin = make_role("ops-admin", ADMIN, trust=LAMBDA_TRUST)
        result = audit([passer(arn("ops-admin"))], rules=None, context=[admin])
        assert {f.resource for f in result.findings} == {arn("deployer")}
        assert result.roles_audited == 1
        assert any("ops-admin: administrator access" in f.detail for f in result.findings)


class TestBoundaryEscape:
    BOUNDARY = policy(allow(["s3:GetObject", "iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary"]))

    def test_role_that_exceeds_its_boundary_and_can_delete_it_escapes(self):
        role = make_role(
            "bounded",
            policy(allow(["s3:*", "ec2:*"]), allow("iam:DeleteRolePermissionsBoundary", arn("bounded"))),
            boundary=self.BOUNDARY,
        )
        [finding] = of(audit([role]), "bounded")
        assert finding.severity is Severity.CRITICAL
        assert any("permissions-boundary escape" in e for e in finding.evidence)
        assert any("the boundary blocks" in e for e in finding.evidence)

    def test_boundary_with_no_way_to_remove_it_is_clean(self):
        role = make_role("bounded", policy(allow(["s3:*", "ec2:*"])), boundary=self.BOUNDARY)
        assert of(audit([role]), "bounded") == []

    def test_removal_scoped_to_another_role_is_clean(self):
        role = make_role(
            "bounded",
            policy(allow(["s3:*", "ec2:*"]), allow("iam:DeleteRolePermissionsBoundary", arn("someone-else"))),
            boundary=self.BOUNDARY,
        )
        assert of(audit([role]), "bounded") == []

    def test_policies_within_the_boundary_have_nothing_to_escape_to(self):
        role = make_role(
            "bounded",
            policy(allow(["s3:GetObject"]), allow("iam:DeleteRolePermissionsBoundary", arn("bounded"))),
            boundary=self.BOUNDARY,
        )
        assert of(audit([role]), "bounded") == []

    def test_rewriting_the_customer_managed_boundary_policy_escapes(self):
        boundary = policy(allow(["s3:GetObject", "iam:CreatePolicyVersion"]))
        role = make_role(
            "bounded",
            policy(allow(["s3:*"]), allow("iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/b")),
            boundary=boundary,
        )
        [finding] = of(audit([role]), "bounded")
        assert any("iam:CreatePolicyVersion allowed by" in e for e in finding.evidence)


class TestOneFindingPerRole:
    def test_iam_star_draws_exactly_one_privilege_escalation_finding(self):
        findings = of(audit([make_role("iam-admin", policy(allow("iam:*")))]), "iam-admin")
        assert len(findings) == 1
        [finding] = findings
        assert finding.severity is Severity.CRITICAL
        methods = [e for e in finding.evidence if e.startswith("method: ")]
        assert len(methods) > 5
        assert "more method(s)" in finding.title

    def test_fingerprint_does_not_depend_on_the_order_of_methods(self, monkeypatch):
        role = make_role(
            "r",
            policy(
                allow("iam:PutRolePolicy"),
                allow("iam:CreatePolicyVersion"),
                allow(["iam:PassRole", "ec2:RunInstances"]),
                allow("ssm:SendCommand"),
            ),
        )
        [one] = of(audit([role]), "r")
        loaded = privesc.methods()
        monkeypatch.setattr(privesc, "methods", lambda: tuple(reversed(loaded)))
        saved = (dict(privesc._CANDIDATES_CACHE), dict(privesc._MINIMAL_CACHE))
        privesc._method_index.cache_clear()
        privesc._CANDIDATES_CACHE.clear()
        privesc._MINIMAL_CACHE.clear()
        try:
            [two] = of(audit([role]), "r")
        finally:
            privesc._method_index.cache_clear()
            privesc._CANDIDATES_CACHE.clear()
            privesc._MINIMAL_CACHE.clear()
            privesc._CANDIDATES_CACHE.update(saved[0])
            privesc._MINIMAL_CACHE.update(saved[1])
        assert [e for e in one.evidence if e.startswith("method: ")] == [
            e for e in two.evidence if e.startswith("method: ")
        ]
        assert len([e for e in one.evidence if e.startswith("method: ")]) >= 3
        assert one.fingerprint == two.fingerprint
