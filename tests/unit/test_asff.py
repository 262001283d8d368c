"""Findings as ASFF: ids, provider rules, resources, limits, and the shape botocore's model accepts."""

from __future__ import annotations

import json
from dataclasses import replace

import botocore.session
import pytest
from botocore.validate import ParamValidator
from helpers import ACCOUNT, NOW, allow, make_role, policy

from rolewatch.model import AttachedPolicy, Finding, InstanceProfileRef, Remediation, Severity
from rolewatch.report.render_asff import (
    DESCRIPTION_LIMIT,
    FINDING_BYTES_LIMIT,
    RECOMMENDATION_TEXT_LIMIT,
    TITLE_LIMIT,
    clip,
    finding_id,
    fit_to_limit,
    product_arn,
    render_asff,
    size_in_bytes,
    to_asff,
)

REGION = "eu-west-1"
SECURITY_HUB = botocore.session.get_session().get_service_model("securityhub")


def finding(**changes) -> Finding:
    fields = {
        "rule": "admin-access",
        "category": "admin-access",
        "severity": Severity.CRITICAL,
        "resource": f"arn:aws:iam::{ACCOUNT}:role/app/ops-admin",
        "title": "Role has administrator access",
        "detail": "Action * on Resource *.",
        "remediation": Remediation(
            "Detach AdministratorAccess.", ("aws iam detach-role-policy --role-name ops-admin",)
        ),
        "actions": ("*",),
        "evidence": ("AttachedPolicy=AdministratorAccess",),
    }
    return Finding(**{**fields, **changes})


def assert_valid_import(findings: list[dict]) -> None:
    """What BatchImportFindings accepts, as botocore's model of the service says (names, types, required)."""
    shape = SECURITY_HUB.operation_model("BatchImportFindings").input_shape
    report = ParamValidator().validate({"Findings": findings}, shape)
    assert not report.has_errors(), report.generate_report()


def test_a_finding_maps_to_asff_that_botocores_model_accepts():
    role = make_role("ops-admin", policy(allow("*")), path="/app/", create_date="2026-01-02T03:04:05Z")
    asff = to_asff(finding(resource=role.arn), region=REGION, now=NOW, role=role)
    assert_valid_import([asff])
    assert asff["Id"] == f"rolewatch/admin-access/{finding(resource=role.arn).fingerprint}"
    assert asff["ProductArn"] == f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
    assert (asff["GeneratorId"], asff["AwsAccountId"]) == ("admin-access", ACCOUNT)
    assert asff["Severity"] == {"Label": "CRITICAL", "Original": "critical"}
    assert asff["FindingProviderFields"]["Severity"]["Label"] == "CRITICAL"
    assert "TTPs/Privilege Escalation" in asff["Types"]
    assert all(t.split("/")[0] in {"Software and Configuration Checks", "TTPs", "Effects"} for t in asff["Types"])
    assert asff["Compliance"] == {"Status": "FAILED"} and asff["RecordState"] == "ACTIVE"
    assert asff["Remediation"]["Recommendation"]["Url"].startswith("https://docs.aws.amazon.com/IAM/")
    [resource] = asff["Resources"]
    assert (resource["Type"], resource["Id"]) == ("AwsIamRole", role.arn)
    details = resource["Details"]["AwsIamRole"]
    assert details["RoleName"] == "ops-admin" and details["Path"] == "/app/"
    assert json.loads(details["AssumeRolePolicyDocument"])["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"
    }
    assert asff["ProductFields"]["rolewatch/RoleName"] == "ops-admin"


def test_the_id_is_stable_and_changes_with_the_evidence():
    assert finding_id(finding()) == finding_id(finding(detail="other words, same evidence"))
    assert finding_id(finding()) != finding_id(finding(evidence=("AttachedPolicy=PowerUserAccess",)))
    assert finding_id(finding()) != finding_id(finding(resource=f"arn:aws:iam::{ACCOUNT}:role/other"))


def test_an_update_leaves_the_customers_fields_alone():
    """BatchImportFindings: Workflow, Note, UserDefinedFields, VerificationState are never sent; on an
    update the top-level Severity and Types are not either (FindingProviderFields carry ours)."""
    created = "2026-10-01T00:00:00Z"
    update = to_asff(finding(), region=REGION, now=NOW, created_at=created, first_observed_at=created, new=False)
    assert_valid_import([update])
    assert not {"Severity", "Types"} & set(update)
    assert update["FindingProviderFields"]["Types"] and update["FindingProviderFields"]["Severity"]
    assert (update["CreatedAt"], update["FirstObservedAt"]) == (created, created)
    assert update["UpdatedAt"] == "2026-11-22T12:00:00Z"
    customer_fields = {"Workflow", "WorkflowState", "Note", "UserDefinedFields", "VerificationState"}
    assert not customer_fields & set(to_asff(finding(), region=REGION, now=NOW))
    assert not customer_fields & set(update)


def test_an_info_finding_is_informational_and_a_warning():
    asff = to_asff(
        finding(severity=Severity.INFO, rule="access-analyzer-skipped", category="access-analyzer"),
        region=REGION,
        now=NOW,
    )
    assert asff["Severity"]["Label"] == "INFORMATIONAL" and asff["Compliance"]["Status"] == "WARNING"


def test_instance_profile_findings_name_the_instances():
    profile = InstanceProfileRef(
        name="web", arn=f"arn:aws:iam::{ACCOUNT}:instance-profile/web", instance_ids=("i-0abc", "i-0def")
    )
    role = make_role("web-role", policy(allow("s3:GetObject")), instance_profiles=(profile,))
    found = finding(
        rule="instance-profile-trust",
        category="instance-profile",
        resource=role.arn,
        evidence=(f"InstanceProfile={profile.arn}", "Instance=i-0abc", "Instance=i-0def"),
    )
    asff = to_asff(found, region=REGION, now=NOW, role=role)
    assert_valid_import([asff])
    instances = [r for r in asff["Resources"] if r["Type"] == "AwsEc2Instance"]
    assert [r["Id"] for r in instances] == [
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0abc",
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0def",
    ]
    assert instances[0]["Details"]["AwsEc2Instance"]["IamInstanceProfileArn"] == profile.arn
    assert asff["Resources"][0]["Details"]["AwsIamRole"]["InstanceProfileList"][0]["InstanceProfileName"] == "web"


def test_text_limits_hold_in_bytes_and_never_split_a_character():
    long = finding(title="é" * 400, detail="漢" * 2000, remediation=Remediation("🙂" * 500))
    asff = to_asff(long, region=REGION, now=NOW)
    assert len(asff["Title"].encode()) <= TITLE_LIMIT
    assert len(asff["Description"].encode()) <= DESCRIPTION_LIMIT
    assert len(asff["Remediation"]["Recommendation"]["Text"].encode()) <= RECOMMENDATION_TEXT_LIMIT
    assert asff["Title"].endswith("…") and asff["Title"].rstrip("…") == "é" * len(asff["Title"].rstrip("…"))
    assert clip("short", 10) == "short"


def test_untrusted_text_stays_text():
    hostile = "evil\n<script>alert(1)</script>\u202e\ud800"
    asff = to_asff(finding(detail=hostile), region=REGION, now=NOW)
    assert asff["Description"] == hostile  # JSON escapes it; nothing is interpreted or lost
    assert json.loads(json.dumps(asff))["Description"] == hostile


def test_a_finding_over_240_kb_drops_role_details_first():
    tags = tuple((f"k{i}", "v" * 200) for i in range(50))
    role = make_role("big", policy(allow("*")), tags=tags)
    inline = tuple(AttachedPolicy(name=f"{i:05d}" + "p" * 123, document={}) for i in range(2000))
    role = replace(role, inline_policies=inline)
    asff = to_asff(finding(resource=role.arn), region=REGION, now=NOW, role=role)
    assert size_in_bytes(asff) <= FINDING_BYTES_LIMIT
    details = asff["Resources"][0]["Details"]["AwsIamRole"]
    assert "RolePolicyList" not in details and details["RoleName"] == "big"
    assert "AssumeRolePolicyDocument" in details  # dropped only when the smaller cuts were not enough
    assert_valid_import([asff])


def test_fit_to_limit_says_when_nothing_more_can_go():
    asff = to_asff(finding(), region=REGION, now=NOW)
    with pytest.raises(ValueError, match="exceeds 100 bytes"):
        fit_to_limit(asff, limit=100)


def test_the_account_stand_in_is_an_aws_account_resource():
    stand_in = finding(
        rule="access-analyzer-skipped",
        category="access-analyzer",
        severity=Severity.INFO,
        resource=f"arn:aws:iam::{ACCOUNT}:root",
    )
    asff = to_asff(stand_in, region=REGION, now=NOW)
    assert asff["Resources"][0] == {
        "Partition": "aws",
        "Region": REGION,
        "Type": "AwsAccount",
        "Id": f"AWS::::Account:{ACCOUNT}",
    }
    assert "rolewatch/RoleName" not in asff["ProductFields"]
    assert_valid_import([asff])


def test_render_asff_is_the_batch_import_body_without_suppressed_findings():
    suppressed = finding(
        rule="service-wildcard", category="service-wildcard", suppressed_by="accepted (until 2027-01-01)"
    )
    body = json.loads(render_asff([finding(), suppressed], region=REGION, now=NOW))
    assert [f["GeneratorId"] for f in body["Findings"]] == ["admin-access"]
    assert_valid_import(body["Findings"])


def test_the_batch_size_is_botocores():
    from rolewatch.integrations.security_hub import BATCH_SIZE

    assert (
        SECURITY_HUB.operation_model("BatchImportFindings").input_shape.members["Findings"].metadata["max"]
        == BATCH_SIZE
    )


def test_product_arn_of_another_partition():
    assert product_arn("111122223333", "cn-north-1", "aws-cn") == (
        "arn:aws-cn:securityhub:cn-north-1:111122223333:product/111122223333/default"
    )
