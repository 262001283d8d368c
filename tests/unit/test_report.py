"""The report layer: AuditResult in, JSON / text / Markdown / SARIF out. Pure: no AWS."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from helpers import NOW

from rolewatch.model import AuditError, AuditResult, Finding, Remediation, Severity
from rolewatch.report import FORMATS, build_report, render, write_report
from rolewatch.report.document import group_by_role, parse_suppression
from rolewatch.report.render_sarif import FINGERPRINT_KEY
from rolewatch.rule_metadata import rule_catalogue

ACCOUNT = "arn:aws:iam::111122223333:role/"
ADMIN_ROLE = ACCOUNT + "break-glass"
WEB_ROLE = ACCOUNT + "web-app"
CI_ROLE = ACCOUNT + "ci-deploy"
QUIET_ROLE = ACCOUNT + "legacy-batch"
WHEN = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")

SMALL_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}],
}
LARGE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": [f"s3:GetThing{i}" for i in range(30)], "Resource": f"arn:aws:s3:::b{i}/*"}
        for i in range(3)
    ],
}


def finding(rule_id: str, resource: str, **overrides: object) -> Finding:
    """A finding as the registry would make it, from the real catalogue entry of `rule_id`."""
    meta = rule_catalogue()[rule_id]
    fields: dict[str, object] = {
        "rule": rule_id,
        "category": meta.category,
        "severity": meta.severity,
        "resource": resource,
        "title": meta.title,
        "detail": f"{meta.title} ({resource.rsplit('/', 1)[-1]}).",
        "rationale": meta.rationale,
        "remediation": Remediation(summary=meta.remediation),
    }
    fields.update(overrides)
    return Finding(**fields)  # type: ignore[arg-type]


def audit_result(*findings: Finding, **kwargs: object) -> AuditResult:
    """Findings sorted as the engine sorts them: worst first, then role, then rule."""
    ordered = sorted(findings, key=lambda f: (-f.severity.rank, f.resource, f.rule, f.actions))
    return AuditResult(findings=tuple(ordered), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def mixed_result() -> AuditResult:
    """Four roles: one critical, one with high+medium+suppressed, one with three lows, one all suppressed."""
    return audit_result(
        finding(
            "admin-access",
            ADMIN_ROLE,
            actions=("*",),
            remediation=Remediation(
                summary="Detach AdministratorAccess.",
                cli=(
                    "aws iam detach-role-policy --role-name break-glass "
                    "--policy-arn arn:aws:iam::aws:policy/AdministratorAccess",
                ),
                policy=SMALL_POLICY,
            ),
        ),
        finding(
            "privilege-escalation",
            WEB_ROLE,
            actions=tuple(f"iam:Action{i:02d}" for i in range(13)),
            evidence=("iam:PassRole + ec2:RunInstances on *",),
            remediation=Remediation(summary="Scope iam:PassRole.", policy=LARGE_POLICY),
        ),
        finding("service-wildcard", WEB_ROLE, actions=("s3:*",)),
        finding("data-exfiltration", WEB_ROLE, suppressed_by="reviewed by security (until 2099-12-31)"),
        finding("baseline-missing-tags", CI_ROLE),
        finding("baseline-session-duration", CI_ROLE),
        finding("infrastructure-modification", CI_ROLE),
        finding("trust-wildcard-principal", QUIET_ROLE, suppressed_by="public demo bucket role (until 2099-01-01)"),
        errors=(AuditError(ACCOUNT + "broken", "RoleDetailList[4].RolePolicyList[0].PolicyDocument", "not JSON"),),
        roles_audited=5,
        roles_skipped={"service-linked": 7},
        notes=("2 attached managed policies not in the file's Policies list",),
    )


EMPTY = AuditResult(findings=(), roles_audited=3)


# ---------------------------------------------------------------- report model


def test_roles_are_grouped_worst_first_then_by_count(mixed_result: AuditResult) -> None:
    sections = group_by_role(mixed_result.findings)

    # CI_ROLE has three findings but only lows; WEB_ROLE's high puts it above; a role with only
    # suppressed findings comes last.
    assert [s.resource for s in sections] == [ADMIN_ROLE, WEB_ROLE, CI_ROLE, QUIET_ROLE]
    assert [f.rule for f in sections[1].findings] == ["privilege-escalation", "service-wildcard"]
    assert [f.rule for f in sections[1].suppressed] == ["data-exfiltration"]
    assert sections[3].findings == ()


def test_equal_worst_severity_ranks_the_role_with_more_findings_first() -> None:
    result = audit_result(
        finding("service-wildcard", ACCOUNT + "a-one"),
        finding("service-wildcard", ACCOUNT + "b-two"),
        finding("data-exfiltration", ACCOUNT + "b-two"),
    )

    assert [s.resource for s in group_by_role(result.findings)] == [ACCOUNT + "b-two", ACCOUNT + "a-one"]


def test_suppression_text_is_split_into_justification_and_expiry() -> None:
    assert parse_suppression("migrating in Q3 (until 2025-09-30)").until == "2025-09-30"
    assert parse_suppression("migrating in Q3 (until 2025-09-30)").justification == "migrating in Q3"
    # Text in another shape is kept whole rather than guessed at.
    assert parse_suppression("accepted").until is None
    assert parse_suppression("accepted").justification == "accepted"


def test_json_report_follows_the_design_contract(mixed_result: AuditResult) -> None:
    report = build_report(mixed_result, sources=["authz.json"], generated_at=WHEN)

    assert report["schema"] == "rolewatch.report/v1"
    assert report["generated_at"] == "2025-03-01T12:00:00Z"
    assert report["sources"] == ["authz.json"]
    first = report["findings"][0]
    assert {"rule", "category", "severity", "resource", "title", "actions", "remediation"} <= set(first)
    assert {"summary", "cli", "policy"} <= set(first["remediation"])
    assert first["rule"] == "admin-access"
    assert report["errors"] == [
        {
            "resource": ACCOUNT + "broken",
            "location": "RoleDetailList[4].RolePolicyList[0].PolicyDocument",
            "message": "not JSON",
        }
    ]


def test_summary_counts_open_findings_only_and_lists_every_severity(mixed_result: AuditResult) -> None:
    summary = build_report(mixed_result, generated_at=WHEN)["summary"]

    assert summary["roles"] == 5
    assert summary["findings"] == 6
    assert summary["suppressed"] == 2
    assert summary["by_severity"] == {"critical": 1, "high": 1, "medium": 1, "low": 3, "info": 0}
    assert summary["by_category"] == {
        "admin-access": 1,
        "baseline": 2,
        "infrastructure-modification": 1,
        "privilege-escalation": 1,
        "service-wildcard": 1,
    }
    assert summary["skipped"] == {"service-linked": 7}
    assert summary["notes"] == ["2 attached managed policies not in the file's Policies list"]


def test_suppressed_findings_stay_in_the_json_with_their_justification(mixed_result: AuditResult) -> None:
    findings = build_report(mixed_result, generated_at=WHEN)["findings"]

    suppressed = [f for f in findings if "suppressed_by" in f]
    assert len(findings) == 8
    assert {f["rule"] for f in suppressed} == {"data-exfiltration", "trust-wildcard-principal"}


def test_findings_in_the_json_are_worst_first(mixed_result: AuditResult) -> None:
    findings = build_report(mixed_result, generated_at=WHEN)["findings"]
    ranks = [Severity(f["severity"]).rank for f in findings]

    assert ranks == sorted(ranks, reverse=True)


def test_empty_result_has_zero_counts() -> None:
    report = build_report(EMPTY, generated_at=WHEN)

    assert report["findings"] == []
    assert report["errors"] == []
    assert report["summary"]["findings"] == 0
    assert report["summary"]["by_severity"] == {s.value: 0 for s in Severity}
    assert report["summary"]["skipped"] == {"service-linked": 0}


def test_naive_timestamp_is_taken_as_utc() -> None:
    report = build_report(EMPTY, generated_at=datetime(2025, 1, 2, 3, 4, 5))

    assert report["generated_at"] == "2025-01-02T03:04:05Z"


# ---------------------------------------------------------------- render(): formats


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_the_empty_result(fmt: str) -> None:
    output = render(EMPTY, fmt)

    assert output.endswith("\n")
    if fmt in {"json", "sarif", "ocsf"}:
        json.loads(output)
    else:
        assert "No findings." in output


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown report format 'html'"):
        render(EMPTY, "html")


def test_json_format_is_the_report_object(mixed_result: AuditResult) -> None:
    parsed = json.loads(render(mixed_result, "json", sources=["authz.json"], generated_at=WHEN))

    assert parsed == build_report(mixed_result, sources=["authz.json"], generated_at=WHEN)


@pytest.mark.parametrize("fmt", ["json", "text", "markdown", "sarif", "ocsf"])
def test_write_report_streams_the_rendered_text(mixed_result: AuditResult, fmt: str) -> None:
    stream = io.StringIO()
    write_report(mixed_result, fmt, stream, sources=["authz.json"], generated_at=WHEN)
    assert stream.getvalue() == render(mixed_result, fmt, sources=["authz.json"], generated_at=WHEN)


def test_json_puts_each_finding_on_its_own_line(mixed_result: AuditResult) -> None:
    # One line per finding keeps diffs of two runs small and lets the C encoder write the report.
    lines = render(mixed_result, "json", generated_at=WHEN).splitlines()
    finding_lines = [line for line in lines if line.startswith('    {"rule": ')]
    assert len(finding_lines) == len(mixed_result.findings)
    assert all(json.loads(line.rstrip(","))["rule"] for line in finding_lines)


def test_json_of_an_empty_result_has_empty_lists() -> None:
    text = render(EMPTY, "json", generated_at=WHEN)
    assert '"findings": [],' in text and '"errors": [],' in text
    assert json.loads(text) == build_report(EMPTY, generated_at=WHEN)


# ---------------------------------------------------------------- text


def test_text_header_counts_everything(mixed_result: AuditResult) -> None:
    header = " ".join(render(mixed_result, "text").split("\n\n", 1)[0].split())

    assert "5 roles audited" in header
    assert "6 findings (1 critical, 1 high, 1 medium, 3 low)" in header
    assert "2 suppressed" in header
    assert "7 service-linked roles skipped" in header
    assert "1 error" in header


def test_text_lists_each_role_once_worst_first(mixed_result: AuditResult) -> None:
    text = render(mixed_result, "text")
    headings = [line for line in text.splitlines() if line.startswith("== ")]

    assert [h.split()[1] for h in headings] == [ADMIN_ROLE, WEB_ROLE, CI_ROLE, QUIET_ROLE]


def test_text_findings_of_a_role_are_worst_first(mixed_result: AuditResult) -> None:
    text = render(mixed_result, "text")
    web_block = text.split(f"== {WEB_ROLE}")[1].split("\n== ")[0]

    assert web_block.index("[HIGH]") < web_block.index("[MEDIUM]")


def test_text_finding_shows_detail_fix_cli_and_small_policy(mixed_result: AuditResult) -> None:
    text = render(mixed_result, "text")
    admin_block = text.split(f"== {ADMIN_ROLE}")[1].split("\n== ")[0]

    assert "[CRITICAL] Role has administrator access  (admin-access)" in admin_block
    assert "Fix: Detach AdministratorAccess." in admin_block
    # The command is copy-pasteable: one line, never wrapped.
    assert "      $ aws iam detach-role-policy --role-name break-glass --policy-arn " in admin_block
    assert '"Resource":"arn:aws:s3:::reports/*"' in admin_block


def test_text_caps_long_action_lists(mixed_result: AuditResult) -> None:
    text = render(mixed_result, "text")

    assert "iam:Action07 (+5 more)" in text
    assert "iam:Action08" not in text


def test_text_points_to_json_for_a_large_policy(mixed_result: AuditResult) -> None:
    web_block = render(mixed_result, "text").split(f"== {WEB_ROLE}")[1]

    assert "see --format json" in web_block
    assert "s3:GetThing29" not in web_block


def test_text_shows_suppressed_findings_with_expiry_and_justification(mixed_result: AuditResult) -> None:
    text = render(mixed_result, "text")

    assert "[MEDIUM] data-exfiltration: suppressed until 2099-12-31: reviewed by security" in text
    quiet_block = text.split(f"== {QUIET_ROLE}")[1]
    assert "Suppressed (1):" in quiet_block
    assert "[CRITICAL] Role" not in quiet_block  # listed as suppressed, not as an open finding


def test_text_ends_with_the_errors(mixed_result: AuditResult) -> None:
    text = render(mixed_result, "text")
    errors = text.split("Errors (1):")[1]

    assert "could not read: RoleDetailList[4].RolePolicyList[0].PolicyDocument: not JSON" in errors
    assert text.index("Errors (1):") > text.index(f"== {QUIET_ROLE}")


def test_text_keeps_lines_short_except_commands(mixed_result: AuditResult) -> None:
    long_detail = finding("service-wildcard", WEB_ROLE, detail="word " * 80)
    text = render(audit_result(long_detail, *mixed_result.findings), "text")

    too_long = [line for line in text.splitlines() if len(line) > 100 and "$ aws" not in line]
    assert too_long == []


def test_text_has_no_colour_unless_asked(mixed_result: AuditResult) -> None:
    plain = render(mixed_result, "text")
    coloured = render(mixed_result, "text", color=True)

    assert "\x1b[" not in plain
    assert "\x1b[1;31m[CRITICAL]" in coloured
    assert ANSI_ESCAPE.sub("", coloured) == plain


def test_text_for_an_empty_result_says_no_findings() -> None:
    text = render(EMPTY, "text")

    assert text.startswith("rolewatch: 3 roles audited, no findings")
    assert "No findings." in text
    assert "Errors" not in text


# ---------------------------------------------------------------- Markdown


def test_markdown_has_a_severity_table(mixed_result: AuditResult) -> None:
    markdown = render(mixed_result, "markdown", generated_at=WHEN)

    assert "| Severity | Findings |" in markdown
    assert "| critical | 1 |" in markdown
    assert "| low | 3 |" in markdown
    assert "| **total** | **6** |" in markdown
    assert "Generated 2025-03-01T12:00:00Z" in markdown


def test_markdown_has_a_heading_per_role_worst_first(mixed_result: AuditResult) -> None:
    markdown = render(mixed_result, "markdown")
    headings = re.findall(r"^## `([^`]+)`$", markdown, flags=re.MULTILINE)

    assert headings == [ADMIN_ROLE, WEB_ROLE, CI_ROLE, QUIET_ROLE]


def test_markdown_fences_commands_and_policies(mixed_result: AuditResult) -> None:
    markdown = render(mixed_result, "markdown")

    assert "```sh\naws iam detach-role-policy --role-name break-glass" in markdown
    assert '```json\n{\n  "Version": "2012-10-17"' in markdown
    assert markdown.count("```") % 2 == 0  # every fence is closed


def test_markdown_escapes_free_text_but_not_code() -> None:
    wildcard = finding("service-wildcard", WEB_ROLE, detail="Grants s3:* and <all> of kms_*.", actions=("s3:*",))
    markdown = render(audit_result(wildcard), "markdown")

    assert r"Grants s3:\* and \<all\> of kms\_\*." in markdown
    assert "**Actions:** `s3:*`" in markdown


def test_markdown_lists_suppressed_findings_and_errors(mixed_result: AuditResult) -> None:
    markdown = render(mixed_result, "markdown")

    assert "#### Suppressed (1)" in markdown
    assert "suppressed until 2099-12-31: reviewed by security" in markdown
    assert "## Errors (1)" in markdown


# ---------------------------------------------------------------- SARIF

# The parts of the SARIF 2.1.0 schema this renderer relies on (the full schema is not available
# offline): required properties and the enumerations a consumer such as GitHub rejects when wrong.
SARIF_STRUCTURE = {
    "type": "object",
    "required": ["$schema", "version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name", "rules"],
                                "properties": {"rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}}},
                            }
                        },
                    },
                    "results": {"type": "array", "items": {"$ref": "#/$defs/result"}},
                },
            },
        },
    },
    "$defs": {
        "message": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
        "rule": {
            "type": "object",
            "required": ["id", "shortDescription", "fullDescription", "help", "properties"],
            "properties": {
                "shortDescription": {"$ref": "#/$defs/message"},
                "fullDescription": {"$ref": "#/$defs/message"},
                "help": {"$ref": "#/$defs/message"},
                "properties": {
                    "type": "object",
                    "required": ["category", "severity", "security-severity"],
                    "properties": {"security-severity": {"type": "string", "pattern": r"^\d+\.\d$"}},
                },
            },
        },
        "result": {
            "type": "object",
            "required": ["ruleId", "level", "message", "locations", "partialFingerprints"],
            "properties": {
                "level": {"enum": ["none", "note", "warning", "error"]},
                "message": {"$ref": "#/$defs/message"},
                "locations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "logicalLocations": {
                                "type": "array",
                                "items": {"type": "object", "required": ["fullyQualifiedName", "kind"]},
                            },
                            "physicalLocation": {
                                "type": "object",
                                "required": ["artifactLocation"],
                                "properties": {
                                    "artifactLocation": {"type": "object", "required": ["uri"]},
                                    "region": {
                                        "type": "object",
                                        "properties": {"startLine": {"type": "integer", "minimum": 1}},
                                    },
                                },
                            },
                        },
                    },
                },
                "suppressions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kind"],
                        "properties": {"kind": {"enum": ["inSource", "external"]}},
                    },
                },
            },
        },
    },
}


def sarif_of(result: AuditResult, sources: list[str] | None = None) -> dict:
    sarif = json.loads(render(result, "sarif", sources=sources or []))
    jsonschema.validate(sarif, SARIF_STRUCTURE)
    return sarif


def test_sarif_has_the_required_structure(mixed_result: AuditResult) -> None:
    sarif = sarif_of(mixed_result, ["authz.json"])

    assert sarif["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert sarif["version"] == "2.1.0"
    assert len(sarif["runs"]) == 1
    assert sarif["runs"][0]["tool"]["driver"]["name"] == "rolewatch"


def test_sarif_rules_come_from_the_catalogue(mixed_result: AuditResult) -> None:
    rules = {r["id"]: r for r in sarif_of(mixed_result)["runs"][0]["tool"]["driver"]["rules"]}
    meta = rule_catalogue()["admin-access"]

    assert set(rules) == set(rule_catalogue())
    assert rules["admin-access"]["shortDescription"]["text"] == meta.title
    assert rules["admin-access"]["fullDescription"]["text"] == meta.rationale
    assert rules["admin-access"]["help"]["text"] == meta.remediation
    assert rules["admin-access"]["properties"]["security-severity"] == "9.5"
    assert rules["admin-access"]["properties"]["category"] == "admin-access"
    assert rules["infrastructure-modification"]["properties"]["security-severity"] == "3.0"


def test_sarif_results_map_severity_location_and_fingerprint(mixed_result: AuditResult) -> None:
    run = sarif_of(mixed_result, ["authz.json"])["runs"][0]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    admin = by_rule["admin-access"]

    assert len(run["results"]) == len(mixed_result.findings)
    assert admin["level"] == "error"
    assert by_rule["service-wildcard"]["level"] == "warning"
    assert by_rule["baseline-missing-tags"]["level"] == "note"
    assert admin["message"]["text"].startswith("Role has administrator access: ")
    assert admin["locations"][0]["logicalLocations"][0] == {
        "name": "break-glass",
        "fullyQualifiedName": ADMIN_ROLE,
        "kind": "resource",
    }
    assert admin["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "authz.json"
    assert admin["partialFingerprints"] == {FINGERPRINT_KEY: mixed_result.findings[0].fingerprint}
    assert run["tool"]["driver"]["rules"][admin["ruleIndex"]]["id"] == "admin-access"


def test_sarif_marks_suppressed_findings(mixed_result: AuditResult) -> None:
    results = sarif_of(mixed_result)["runs"][0]["results"]
    suppressed = {r["ruleId"]: r["suppressions"] for r in results if "suppressions" in r}

    assert suppressed == {
        "data-exfiltration": [{"kind": "external", "justification": "reviewed by security (until 2099-12-31)"}],
        "trust-wildcard-principal": [
            {"kind": "external", "justification": "public demo bucket role (until 2099-01-01)"}
        ],
    }


def test_sarif_names_no_file_when_the_source_is_ambiguous(mixed_result: AuditResult) -> None:
    run = sarif_of(mixed_result, ["a.json", "b.json"])["runs"][0]

    assert all("physicalLocation" not in loc for r in run["results"] for loc in r["locations"])
    assert [a["location"]["uri"] for a in run["artifacts"]] == ["a.json", "b.json"]


def test_sarif_writes_an_absolute_source_as_a_file_uri(mixed_result: AuditResult, tmp_path: Path) -> None:
    source = tmp_path / "my account.json"
    run = sarif_of(mixed_result, [str(source)])["runs"][0]

    uri = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == source.as_uri()
    assert uri.startswith("file:///") and "my%20account.json" in uri


def test_sarif_reports_input_errors_as_notifications(mixed_result: AuditResult) -> None:
    invocation = sarif_of(mixed_result)["runs"][0]["invocations"][0]

    assert invocation["executionSuccessful"] is False
    [notification] = invocation["toolExecutionNotifications"]
    assert notification["level"] == "error"
    assert notification["message"]["text"] == "RoleDetailList[4].RolePolicyList[0].PolicyDocument: not JSON"


def test_sarif_describes_a_rule_missing_from_the_catalogue() -> None:
    outside = Finding(
        rule="external-scanner-finding",  # no such id in any metadata file
        category="access-analyzer",
        severity=Severity.HIGH,
        resource=WEB_ROLE,
        title="Role can be assumed from outside the zone of trust",
        detail="Access Analyzer reports account 444455556666 can assume the role.",
        remediation=Remediation(summary="Remove the external principal."),
    )
    run = sarif_of(audit_result(outside))["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}

    assert rules["external-scanner-finding"]["help"]["text"] == "Remove the external principal."
    assert run["results"][0]["ruleIndex"] == list(rules).index("external-scanner-finding")


def test_sarif_for_an_empty_result_is_successful_and_has_no_results() -> None:
    run = sarif_of(EMPTY)["runs"][0]

    assert run["results"] == []
    assert run["invocations"][0]["executionSuccessful"] is True
    assert len(run["tool"]["driver"]["rules"]) == len(rule_catalogue())


# ---------------------------------------------------------------- real data, whole pipeline

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.mark.corpus
def test_every_format_agrees_on_a_real_account_file() -> None:
    from rolewatch.audit import audit_roles
    from rolewatch.baseline import Baseline, Profile
    from rolewatch.inventory.authz_file import read_account_json

    source = SHARED_DATA / "cloudsplaining" / "example-authz-details.json"
    if not source.exists():
        pytest.skip(f"shared test data not found at {source}")
    # A bare catch-all profile: this test is about the report agreeing with itself, not about baselines.
    baseline = Baseline(profiles=(Profile(name="any-role"),))
    account = read_account_json(json.loads(source.read_text()), source.name)
    result = audit_roles(account.roles, baseline, now=NOW)

    report = json.loads(render(result, "json", sources=[source.name]))
    sarif = sarif_of(result, [source.name])
    text = render(result, "text")

    assert report["summary"]["roles"] == len(account.roles) - report["summary"]["skipped"]["service-linked"]
    assert len(sarif["runs"][0]["results"]) == len(report["findings"])
    assert f"{report['summary']['roles']} roles audited" in text
    roles_with_findings = {f["resource"] for f in report["findings"]}
    assert len([line for line in text.splitlines() if line.startswith("== ")]) == len(roles_with_findings)
