"""Generate a realistic `aws iam get-account-authorization-details` JSON file with N roles.

    python benchmarks/generate_account.py --roles 1000 --out benchmarks/generated/account-1000.json --seed 1

The same seed always gives the same file (one `random.Random`, no clock). The account looks like a real
one of that size, because a benchmark on toy input measures the wrong thing:

- a few hundred customer-managed policies (some with several versions, the default not always the
  newest) shared unevenly by the roles, as teams reuse a handful of "standard" policies;
- AWS managed policies with their real documents (from ../shared/data/aws-managed-policies.json when
  present, else a small embedded set of real ones), common ones often and a long tail rarely;
- 0-3 inline policies per role: scoped S3, logs, DynamoDB, SQS, secrets, some service wildcards, some
  NotAction, conditions and Deny statements, and a few risky grants (iam:PassRole, iam:*);
- trust policies of every common kind: EC2 (with an instance profile), Lambda, ECS tasks, other
  services, cross-account with and without ExternalId, GitHub OIDC, IAM Identity Center (SAML), and
  a few service-linked roles under /aws-service-role/;
- tags, last-used data, permissions boundaries on some roles, minimal users and groups.

Documents are JSON objects (as the CLI prints them) or, for a share of them, URL-encoded compact JSON
strings (as the IAM API returns them), so a reader must handle both.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import string
import sys
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ACCOUNT_ID = "111122223333"
PARTNER_ACCOUNTS = ("444455556666", "777788889999", "210987654321", "123456789012")
REGIONS = ("us-east-1", "eu-west-1", "eu-central-1", "us-west-2")
APPS = (
    "orders",
    "billing",
    "search",
    "auth",
    "payments",
    "catalog",
    "inventory",
    "reports",
    "etl",
    "ml",
    "notifications",
    "analytics",
    "checkout",
    "profile",
    "media",
    "gateway",
)
ENVIRONMENTS = ("dev", "staging", "prod", "sandbox")
TEAMS = ("platform", "data", "web", "mobile", "security", "finance", "growth")
GITHUB_ORG = "example-corp"
POLICY_VERSION = "2012-10-17"
DEFAULT_MANAGED_POLICIES_FILE = Path(__file__).resolve().parents[1] / "../shared/data/aws-managed-policies.json"
DEFAULT_ENCODED_SHARE = 0.3

Document = dict[str, Any]
Statement = dict[str, Any]

# Real AWS managed policy documents (AWS's own text, default versions), used when the shared data file
# is absent (a fresh clone), so the generator still runs anywhere.
FALLBACK_AWS_MANAGED: dict[str, dict[str, Any]] = {
    "AdministratorAccess": {
        "arn": "arn:aws:iam::aws:policy/AdministratorAccess",
        "document": {"Version": POLICY_VERSION, "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    },
    "AWSLambdaBasicExecutionRole": {
        "arn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "document": {
            "Version": POLICY_VERSION,
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": "*",
                }
            ],
        },
    },
    "AmazonS3ReadOnlyAccess": {
        "arn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        "document": {
            "Version": POLICY_VERSION,
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "s3:Get*",
                        "s3:List*",
                        "s3:Describe*",
                        "s3-object-lambda:Get*",
                        "s3-object-lambda:List*",
                    ],
                    "Resource": "*",
                }
            ],
        },
    },
    "AmazonEC2ContainerRegistryReadOnly": {
        "arn": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        "document": {
            "Version": POLICY_VERSION,
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "ecr:GetAuthorizationToken",
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:GetRepositoryPolicy",
                        "ecr:DescribeRepositories",
                        "ecr:ListImages",
                        "ecr:DescribeImages",
                        "ecr:BatchGetImage",
                        "ecr:GetLifecyclePolicy",
                        "ecr:GetLifecyclePolicyPreview",
                        "ecr:ListTagsForResource",
                        "ecr:DescribeImageScanFindings",
                    ],
                    "Resource": "*",
                }
            ],
        },
    },
    "CloudWatchAgentServerPolicy": {
        "arn": "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
        "document": {
            "Version": POLICY_VERSION,
            "Statement": [
                {
                    "Sid": "CWACloudWatchServerPermissions",
                    "Effect": "Allow",
                    "Action": [
                        "cloudwatch:PutMetricData",
                        "ec2:DescribeVolumes",
                        "ec2:DescribeTags",
                        "logs:PutLogEvents",
                        "logs:PutRetentionPolicy",
                        "logs:DescribeLogStreams",
                        "logs:DescribeLogGroups",
                        "logs:CreateLogStream",
                        "logs:CreateLogGroup",
                        "xray:PutTraceSegments",
                        "xray:PutTelemetryRecords",
                        "xray:GetSamplingRules",
                        "xray:GetSamplingTargets",
                        "xray:GetSamplingStatisticSummaries",
                    ],
                    "Resource": "*",
                },
                {
                    "Sid": "CWASSMServerPermissions",
                    "Effect": "Allow",
                    "Action": ["ssm:GetParameter"],
                    "Resource": "arn:aws:ssm:*:*:parameter/AmazonCloudWatch-*",
                },
            ],
        },
    },
    "AmazonSSMManagedInstanceCore": {
        "arn": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        "document": {
            "Version": POLICY_VERSION,
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "ssm:DescribeAssociation",
                        "ssm:GetDeployablePatchSnapshotForInstance",
                        "ssm:GetDocument",
                        "ssm:DescribeDocument",
                        "ssm:GetManifest",
                        "ssm:GetParameter",
                        "ssm:GetParameters",
                        "ssm:ListAssociations",
                        "ssm:ListInstanceAssociations",
                        "ssm:PutInventory",
                        "ssm:PutComplianceItems",
                        "ssm:PutConfigurePackageResult",
                        "ssm:UpdateAssociationStatus",
                        "ssm:UpdateInstanceAssociationStatus",
                        "ssm:UpdateInstanceInformation",
                    ],
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Action": [
                        "ssmmessages:CreateControlChannel",
                        "ssmmessages:CreateDataChannel",
                        "ssmmessages:OpenControlChannel",
                        "ssmmessages:OpenDataChannel",
                    ],
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Action": [
                        "ec2messages:AcknowledgeMessage",
                        "ec2messages:DeleteMessage",
                        "ec2messages:FailMessage",
                        "ec2messages:GetEndpoint",
                        "ec2messages:GetMessages",
                        "ec2messages:SendReply",
                    ],
                    "Resource": "*",
                },
            ],
        },
    },
    "AmazonECSTaskExecutionRolePolicy": {
        "arn": "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
        "document": {
            "Version": POLICY_VERSION,
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "ecr:GetAuthorizationToken",
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:BatchGetImage",
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                    ],
                    "Resource": "*",
                }
            ],
        },
    },
    "AWSXRayDaemonWriteAccess": {
        "arn": "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
        "document": {
            "Version": POLICY_VERSION,
            "Statement": [
                {
                    "Sid": "AWSXRayDaemonWriteAccess",
                    "Effect": "Allow",
                    "Action": [
                        "xray:PutTraceSegments",
                        "xray:PutTelemetryRecords",
                        "xray:GetSamplingRules",
                        "xray:GetSamplingTargets",
                        "xray:GetSamplingStatisticSummaries",
                    ],
                    "Resource": ["*"],
                }
            ],
        },
    },
}

# Which AWS managed policies each kind of workload attaches, with the probability of each.
# Names missing from the policy source are skipped, so the fallback set works too.
WORKLOAD_MANAGED_POLICIES: dict[str, tuple[tuple[str, float], ...]] = {
    "ec2": (
        ("AmazonSSMManagedInstanceCore", 0.8),
        ("CloudWatchAgentServerPolicy", 0.5),
        ("AmazonEC2ContainerRegistryReadOnly", 0.2),
        ("AmazonS3ReadOnlyAccess", 0.15),
    ),
    "lambda": (
        ("AWSLambdaBasicExecutionRole", 0.85),
        ("AWSLambdaVPCAccessExecutionRole", 0.2),
        ("AWSXRayDaemonWriteAccess", 0.3),
        ("AWSLambdaSQSQueueExecutionRole", 0.1),
    ),
    "ecs-task": (("AmazonECSTaskExecutionRolePolicy", 0.6), ("AWSXRayDaemonWriteAccess", 0.15)),
    "service": (("AWSGlueServiceRole", 0.15), ("CloudWatchLogsFullAccess", 0.1), ("AmazonS3ReadOnlyAccess", 0.2)),
    "cross-account": (
        ("ReadOnlyAccess", 0.3),
        ("SecurityAudit", 0.2),
        ("ViewOnlyAccess", 0.15),
        ("AdministratorAccess", 0.05),
    ),
    "github-oidc": (("PowerUserAccess", 0.1), ("AdministratorAccess", 0.05), ("AmazonS3ReadOnlyAccess", 0.1)),
    "sso": (),  # one permission-set policy, chosen in _sso_role
}
WORKLOAD_WEIGHTS: dict[str, float] = {
    "lambda": 0.32,
    "ec2": 0.18,
    "ecs-task": 0.15,
    "service": 0.1,
    "cross-account": 0.1,
    "github-oidc": 0.08,
    "sso": 0.07,
}
OTHER_SERVICES = (
    "glue.amazonaws.com",
    "states.amazonaws.com",
    "codebuild.amazonaws.com",
    "events.amazonaws.com",
    "sagemaker.amazonaws.com",
    "firehose.amazonaws.com",
    "apigateway.amazonaws.com",
    "scheduler.amazonaws.com",
)
# (service principal, role name, AWS managed policy): one role of each, as in a real account.
SERVICE_LINKED_ROLES = (
    ("autoscaling.amazonaws.com", "AWSServiceRoleForAutoScaling", "AutoScalingServiceRolePolicy"),
    ("ecs.amazonaws.com", "AWSServiceRoleForECS", "AmazonECSServiceRolePolicy"),
    (
        "elasticloadbalancing.amazonaws.com",
        "AWSServiceRoleForElasticLoadBalancing",
        "AWSElasticLoadBalancingServiceRolePolicy",
    ),
    ("rds.amazonaws.com", "AWSServiceRoleForRDS", "AmazonRDSServiceRolePolicy"),
    ("organizations.amazonaws.com", "AWSServiceRoleForOrganizations", "AWSOrganizationsServiceTrustPolicy"),
    ("support.amazonaws.com", "AWSServiceRoleForSupport", "AWSSupportServiceRolePolicy"),
    ("trustedadvisor.amazonaws.com", "AWSServiceRoleForTrustedAdvisor", "AWSTrustedAdvisorServiceRolePolicy"),
    ("securityhub.amazonaws.com", "AWSServiceRoleForSecurityHub", "AWSSecurityHubServiceRolePolicy"),
    ("guardduty.amazonaws.com", "AWSServiceRoleForAmazonGuardDuty", "AmazonGuardDutyServiceRolePolicy"),
    ("config.amazonaws.com", "AWSServiceRoleForConfig", "AWSConfigServiceRolePolicy"),
    ("sso.amazonaws.com", "AWSServiceRoleForSSO", "AWSSSOServiceRolePolicy"),
    ("cloudtrail.amazonaws.com", "AWSServiceRoleForCloudTrail", "CloudTrailServiceRolePolicy"),
)
SSO_PERMISSION_SETS = (
    ("AdministratorAccess", "AdministratorAccess"),
    ("ReadOnly", "ReadOnlyAccess"),
    ("ViewOnly", "ViewOnlyAccess"),
    ("PowerUser", "PowerUserAccess"),
    ("Billing", "job-function/Billing"),
)
BOUNDARY_POLICY_COUNT = 2  # customer-managed permissions boundaries, set on some roles
LONG_TAIL_SIZE = 60  # distinct "other" AWS managed policies an account of this size uses


def load_aws_managed_policies(path: Path | None = DEFAULT_MANAGED_POLICIES_FILE) -> dict[str, dict[str, Any]]:
    """`{name: {arn, document}}` from the shared data file, or the embedded fallback when it is absent."""
    if path is None or not path.is_file():
        return dict(FALLBACK_AWS_MANAGED)
    raw = json.loads(path.read_text(encoding="utf-8"))
    # A few entries of the data set lack an ARN; they cannot be attached, so they are left out.
    return {
        name: entry
        for name, entry in sorted(raw.items())
        if isinstance(entry.get("arn"), str) and isinstance(entry.get("document"), dict)
    }


def url_encode_document(document: Document) -> str:
    """The form the IAM API returns: URL-encoded compact JSON."""
    return urllib.parse.quote(json.dumps(document, separators=(",", ":")))


def customer_policy_count(roles: int) -> int:
    """A few hundred at realistic sizes, fewer for tiny test accounts."""
    return min(400, 10 + roles // 5)


class AccountGenerator:
    """Builds one account; every random choice comes from one seeded generator, in a fixed order."""

    def __init__(
        self,
        roles: int,
        seed: int,
        aws_managed: dict[str, dict[str, Any]],
        encoded_share: float = DEFAULT_ENCODED_SHARE,
    ) -> None:
        if roles < 1:
            raise ValueError("an account needs at least one role")
        self.role_count = roles
        self.rng = random.Random(seed)
        self.aws_managed = aws_managed
        self.encoded_share = encoded_share
        self.used_ids: set[str] = set()
        self.attachments: dict[str, int] = {}
        self.boundary_uses: dict[str, int] = {}
        self.long_tail = self._long_tail_pool()
        self.customer_policies = [self._customer_policy(i) for i in range(customer_policy_count(roles))]
        # Shared unevenly (Zipf-like): the first few are team "standards" that many roles reuse.
        self.customer_cum_weights = list(
            itertools.accumulate(1 / (i + 1) ** 0.8 for i in range(len(self.customer_policies)))
        )
        self.boundaries = [self._boundary_policy(i) for i in range(BOUNDARY_POLICY_COUNT)]

    # ---- the account ---------------------------------------------------------------------------

    def build(self) -> dict[str, Any]:
        roles = [self._workload_role(i) for i in range(self.role_count - self._service_linked_count())]
        for service, name, policy in SERVICE_LINKED_ROLES[: self._service_linked_count()]:
            roles.insert(self.rng.randrange(len(roles) + 1), self._service_linked_role(service, name, policy))
        groups = self._groups()
        users = self._users()
        return {
            "UserDetailList": users,
            "GroupDetailList": groups,
            "RoleDetailList": roles,
            "Policies": self._policies_list(),
        }

    def _service_linked_count(self) -> int:
        # A handful in any account, never more than a tenth of a tiny one.
        return min(len(SERVICE_LINKED_ROLES), self.role_count // 10, max(1, self.role_count // 80))

    # ---- identifiers, dates, encoding ----------------------------------------------------------

    def _unique_id(self, prefix: str) -> str:
        alphabet = string.ascii_uppercase + string.digits
        while True:
            candidate = prefix + "".join(self.rng.choices(alphabet, k=17))
            if candidate not in self.used_ids:
                self.used_ids.add(candidate)
                return candidate

    def _date(self, first_year: int = 2018, last_year: int = 2025) -> str:
        year = self.rng.randint(first_year, last_year)
        month, day = self.rng.randint(1, 12), self.rng.randint(1, 28)
        hour, minute, second = self.rng.randint(0, 23), self.rng.randint(0, 59), self.rng.randint(0, 59)
        return f"{year}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}+00:00"

    def _document(self, document: Document) -> Document | str:
        return url_encode_document(document) if self.rng.random() < self.encoded_share else document

    def _pick_app(self) -> tuple[str, str, str]:
        return self.rng.choice(APPS), self.rng.choice(ENVIRONMENTS), self.rng.choice(REGIONS)

    # ---- statements ----------------------------------------------------------------------------

    def _statement_makers(self) -> list[tuple[Callable[[str, str, str], list[Statement]], float]]:
        return [
            (self._s3_scoped, 0.2),
            (self._logs_scoped, 0.1),
            (self._dynamodb_table, 0.14),
            (self._sqs_sns, 0.08),
            (self._secrets_with_kms, 0.08),
            (self._ec2_tag_conditioned, 0.05),
            (self._lambda_invoke, 0.05),
            (self._ecr_push, 0.03),
            (self._assume_partner_role, 0.03),
            (self._describe_wildcards, 0.06),
            (self._service_wildcard, 0.06),
            (self._deny_insecure_transport, 0.04),
            (self._deny_outside_regions, 0.03),
            (self._not_action_allow, 0.02),
            (self._pass_role, 0.025),
            (self._iam_risky, 0.01),
        ]

    def _statements(self, app: str, env: str, region: str, count: int) -> list[Statement]:
        makers = self._statement_makers()
        chosen = self.rng.choices([m for m, _ in makers], weights=[w for _, w in makers], k=count)
        statements: list[Statement] = []
        for make in chosen:
            statements.extend(make(app, env, region))
        if self.rng.random() < 0.4:
            for i, statement in enumerate(statements):
                statement["Sid"] = f"Stmt{i}{self.rng.randint(100, 999)}"
        return statements

    def _bucket(self, app: str, env: str) -> str:
        return f"{GITHUB_ORG}-{app}-{env}-{self.rng.choice(('data', 'assets', 'exports', 'uploads', 'logs'))}"

    def _s3_scoped(self, app: str, env: str, region: str) -> list[Statement]:
        bucket = self._bucket(app, env)
        prefix = self.rng.choice(("incoming", "processed", "reports", app, "shared"))
        actions = ["s3:GetObject", "s3:PutObject"]
        if self.rng.random() < 0.3:
            actions.append("s3:DeleteObject")
        statements: list[Statement] = [
            {"Effect": "Allow", "Action": actions, "Resource": f"arn:aws:s3:::{bucket}/{prefix}/*"}
        ]
        if self.rng.random() < 0.6:
            statements.append(
                {
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": f"arn:aws:s3:::{bucket}",
                    "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*"]}},
                }
            )
        if self.rng.random() < 0.15:
            statements[0]["Condition"] = {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.0/24"]}}
        return statements

    def _logs_scoped(self, app: str, env: str, region: str) -> list[Statement]:
        group = f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:/aws/{self.rng.choice(('lambda', 'ecs'))}/{app}-{env}"
        return [
            {"Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": f"{group}*"},
            {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"{group}*:*"},
        ]

    def _dynamodb_table(self, app: str, env: str, region: str) -> list[Statement]:
        table = (
            f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{app}-{env}-{self.rng.choice(('items', 'events', 'state'))}"
        )
        actions = self.rng.sample(
            [
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
                "dynamodb:Scan",
                "dynamodb:BatchGetItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:ConditionCheckItem",
            ],
            k=self.rng.randint(2, 6),
        )
        statement: Statement = {"Effect": "Allow", "Action": sorted(actions), "Resource": [table, f"{table}/index/*"]}
        if self.rng.random() < 0.1:
            statement["Condition"] = {
                "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:PrincipalTag/tenant}"]}
            }
        return [statement]

    def _sqs_sns(self, app: str, env: str, region: str) -> list[Statement]:
        queue = f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{app}-{env}-queue"
        topic = f"arn:aws:sns:{region}:{ACCOUNT_ID}:{app}-{env}-events"
        return [
            {
                "Effect": "Allow",
                "Action": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                "Resource": queue,
            },
            {"Effect": "Allow", "Action": "sns:Publish", "Resource": topic},
        ]

    def _secrets_with_kms(self, app: str, env: str, region: str) -> list[Statement]:
        return [
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                "Resource": f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{app}/{env}/*",
            },
            {
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{self._uuid()}",
                "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
            },
        ]

    def _ec2_tag_conditioned(self, app: str, env: str, region: str) -> list[Statement]:
        return [
            {
                "Effect": "Allow",
                "Action": ["ec2:StartInstances", "ec2:StopInstances", "ec2:RebootInstances"],
                "Resource": f"arn:aws:ec2:{region}:{ACCOUNT_ID}:instance/*",
                "Condition": {"StringEquals": {"aws:ResourceTag/Application": app}},
            }
        ]

    def _lambda_invoke(self, app: str, env: str, region: str) -> list[Statement]:
        return [
            {
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": [
                    f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{app}-{env}-*",
                    f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{app}-{env}-*:*",
                ],
            }
        ]

    def _ecr_push(self, app: str, env: str, region: str) -> list[Statement]:
        return [
            {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:InitiateLayerUpload",
                    "ecr:UploadLayerPart",
                    "ecr:CompleteLayerUpload",
                    "ecr:PutImage",
                ],
                "Resource": f"arn:aws:ecr:{region}:{ACCOUNT_ID}:repository/{app}",
            },
        ]

    def _assume_partner_role(self, app: str, env: str, region: str) -> list[Statement]:
        partner = self.rng.choice(PARTNER_ACCOUNTS)
        return [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{partner}:role/{app}-reader"}
        ]

    def _describe_wildcards(self, app: str, env: str, region: str) -> list[Statement]:
        actions = self.rng.sample(
            [
                "ec2:Describe*",
                "cloudwatch:Get*",
                "cloudwatch:List*",
                "autoscaling:Describe*",
                "elasticloadbalancing:Describe*",
            ],
            k=self.rng.randint(1, 3),
        )
        return [{"Effect": "Allow", "Action": sorted(actions), "Resource": "*"}]

    def _service_wildcard(self, app: str, env: str, region: str) -> list[Statement]:
        service = self.rng.choice(("s3", "dynamodb", "sqs", "sns", "lambda", "cloudwatch", "ec2", "kinesis"))
        resource: str = "*" if self.rng.random() < 0.7 else f"arn:aws:{service}:{region}:{ACCOUNT_ID}:*"
        return [{"Effect": "Allow", "Action": f"{service}:*", "Resource": resource}]

    def _deny_insecure_transport(self, app: str, env: str, region: str) -> list[Statement]:
        bucket = self._bucket(app, env)
        return [
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]

    def _deny_outside_regions(self, app: str, env: str, region: str) -> list[Statement]:
        return [
            {
                "Effect": "Deny",
                "NotAction": ["iam:*", "sts:*", "cloudfront:*", "route53:*", "support:*", "organizations:*"],
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:RequestedRegion": sorted({region, "us-east-1"})}},
            }
        ]

    def _not_action_allow(self, app: str, env: str, region: str) -> list[Statement]:
        return [
            {
                "Effect": "Allow",
                "NotAction": ["iam:*", "organizations:*", "account:*"],
                "Resource": "*",
            }
        ]

    def _pass_role(self, app: str, env: str, region: str) -> list[Statement]:
        scoped = self.rng.random() < 0.6
        target = f"arn:aws:iam::{ACCOUNT_ID}:role/{app}-{env}-*" if scoped else "*"
        statement: Statement = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": target}
        if scoped and self.rng.random() < 0.5:
            statement["Condition"] = {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
        return [statement, {"Effect": "Allow", "Action": ["ec2:RunInstances", "ec2:CreateTags"], "Resource": "*"}]

    def _iam_risky(self, app: str, env: str, region: str) -> list[Statement]:
        risky = self.rng.choice(
            (
                ["iam:*"],
                ["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion"],
                ["iam:AttachRolePolicy", "iam:PutRolePolicy"],
                ["iam:CreateAccessKey"],
                ["lambda:CreateFunction", "lambda:InvokeFunction", "iam:PassRole"],
            )
        )
        return [{"Effect": "Allow", "Action": risky, "Resource": "*"}]

    def _uuid(self) -> str:
        hexdigits = "".join(self.rng.choices("0123456789abcdef", k=32))
        return f"{hexdigits[:8]}-{hexdigits[8:12]}-{hexdigits[12:16]}-{hexdigits[16:20]}-{hexdigits[20:]}"

    # ---- managed policies ----------------------------------------------------------------------

    def _long_tail_pool(self) -> list[str]:
        candidates = [name for name, entry in self.aws_managed.items() if "/aws-service-role/" not in entry["arn"]]
        return self.rng.sample(candidates, k=min(LONG_TAIL_SIZE, len(candidates)))

    def _customer_policy(self, index: int) -> dict[str, Any]:
        app, env, region = self._pick_app()
        purpose = self.rng.choice(("access", "runtime", "deploy", "read", "write", "ops", "shared"))
        name = f"{app}-{env}-{purpose}-{index:03d}"
        path = self.rng.choice(("/", "/", "/", f"/{app}/", "/teams/"))
        versions = [
            {"Version": POLICY_VERSION, "Statement": self._statements(app, env, region, self.rng.randint(1, 5))}
            for _ in range(self.rng.choices((1, 2, 3), weights=(0.6, 0.3, 0.1))[0])
        ]
        return self._policy_entry(name, f"arn:aws:iam::{ACCOUNT_ID}:policy{path}{name}", path, versions)

    def _boundary_policy(self, index: int) -> dict[str, Any]:
        name = f"workload-permissions-boundary-{index}"
        document = {
            "Version": POLICY_VERSION,
            "Statement": [
                {
                    "Sid": "AllowWorkloads",
                    "Effect": "Allow",
                    "NotAction": ["iam:*", "organizations:*"],
                    "Resource": "*",
                },
                {
                    "Sid": "AllowOwnRoleReads",
                    "Effect": "Allow",
                    "Action": ["iam:GetRole", "iam:ListRoleTags", "iam:PassRole"],
                    "Resource": f"arn:aws:iam::{ACCOUNT_ID}:role/*",
                },
                {
                    "Sid": "DenyBoundaryRemoval",
                    "Effect": "Deny",
                    "Action": ["iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary"],
                    "Resource": "*",
                },
            ],
        }
        path = "/boundaries/"
        return self._policy_entry(name, f"arn:aws:iam::{ACCOUNT_ID}:policy{path}{name}", path, [document])

    def _policy_entry(self, name: str, arn: str, path: str, versions: list[Document]) -> dict[str, Any]:
        """A `Policies` entry as the API returns it; the default version is usually, not always, the newest."""
        default_index = len(versions) - 1 if self.rng.random() < 0.85 else self.rng.randrange(len(versions))
        created = self._date(2018, 2022)
        version_list = [
            {
                "Document": self._document(document),
                "VersionId": f"v{number}",
                "IsDefaultVersion": number - 1 == default_index,
                "CreateDate": self._date(2022, 2025) if number > 1 else created,
            }
            for number, document in reversed(list(enumerate(versions, start=1)))
        ]
        return {
            "PolicyName": name,
            "PolicyId": self._unique_id("ANPA"),
            "Arn": arn,
            "Path": path,
            "DefaultVersionId": f"v{default_index + 1}",
            "AttachmentCount": 0,
            "PermissionsBoundaryUsageCount": 0,
            "IsAttachable": True,
            "CreateDate": created,
            "UpdateDate": version_list[0]["CreateDate"],
            "PolicyVersionList": version_list,
        }

    def _aws_policy_entry(self, name: str) -> dict[str, Any]:
        entry = self.aws_managed[name]
        arn = entry["arn"]
        path = arn.split(":policy", 1)[1].rsplit("/", 1)[0] + "/"
        version = f"v{self.rng.randint(1, 20)}"
        created = self._date(2015, 2019)
        return {
            "PolicyName": name,
            "PolicyId": self._unique_id("ANPA"),
            "Arn": arn,
            "Path": path,
            "DefaultVersionId": version,
            "AttachmentCount": 0,
            "PermissionsBoundaryUsageCount": 0,
            "IsAttachable": True,
            "CreateDate": created,
            "UpdateDate": self._date(2020, 2025),
            # Only the default version: the data set holds no older AWS versions.
            "PolicyVersionList": [
                {
                    "Document": self._document(entry["document"]),
                    "VersionId": version,
                    "IsDefaultVersion": True,
                    "CreateDate": created,
                }
            ],
        }

    def _policies_list(self) -> list[dict[str, Any]]:
        local = [*self.customer_policies, *self.boundaries]
        aws_names = sorted(
            name for name, entry in self.aws_managed.items() if self.attachments.get(entry["arn"], 0) > 0
        )
        policies = local + [self._aws_policy_entry(name) for name in aws_names]
        for policy in policies:
            policy["AttachmentCount"] = self.attachments.get(policy["Arn"], 0)
            policy["PermissionsBoundaryUsageCount"] = self.boundary_uses.get(policy["Arn"], 0)
        return policies

    def _attach(self, arn: str, name: str) -> dict[str, str]:
        self.attachments[arn] = self.attachments.get(arn, 0) + 1
        return {"PolicyName": name, "PolicyArn": arn}

    def _aws_attachment(self, name: str) -> dict[str, str] | None:
        entry = self.aws_managed.get(name)
        return self._attach(entry["arn"], name) if entry else None

    def _managed_attachments(self, workload: str) -> list[dict[str, str]]:
        attached: list[dict[str, str]] = []
        for name, probability in WORKLOAD_MANAGED_POLICIES[workload]:
            if self.rng.random() < probability and (attachment := self._aws_attachment(name)):
                attached.append(attachment)
        if self.long_tail and self.rng.random() < 0.12:
            name = self.rng.choice(self.long_tail)
            if all(a["PolicyName"] != name for a in attached) and (attachment := self._aws_attachment(name)):
                attached.append(attachment)
        count = self.rng.choices((0, 1, 2, 3), weights=(0.3, 0.35, 0.25, 0.1))[0]
        picks = self.rng.choices(range(len(self.customer_policies)), cum_weights=self.customer_cum_weights, k=count)
        for index in sorted(set(picks)):
            policy = self.customer_policies[index]
            attached.append(self._attach(policy["Arn"], policy["PolicyName"]))
        return attached

    # ---- trust policies ------------------------------------------------------------------------

    @staticmethod
    def _trust(*statements: Statement) -> Document:
        return {"Version": POLICY_VERSION, "Statement": list(statements)}

    def _service_trust(self, service: str) -> Document:
        statement: Statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        if self.rng.random() < 0.2:
            statement["Condition"] = {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
        return self._trust(statement)

    def _cross_account_trust(self) -> Document:
        partner = self.rng.choice(PARTNER_ACCOUNTS)
        principal = (
            f"arn:aws:iam::{partner}:root" if self.rng.random() < 0.6 else f"arn:aws:iam::{partner}:role/deployer"
        )
        statement: Statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
        roll = self.rng.random()
        if roll < 0.5:
            statement["Condition"] = {"StringEquals": {"sts:ExternalId": self._uuid()}}
        elif roll < 0.65:
            statement["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
        elif roll < 0.68:
            # A rare too-open trust: any principal of the organisation, or (rarer still) anyone.
            statement["Principal"] = {"AWS": "*"}
            if self.rng.random() < 0.7:
                statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
        return self._trust(statement)

    def _github_trust(self, app: str) -> Document:
        provider = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/token.actions.githubusercontent.com"
        condition: dict[str, dict[str, Any]] = {
            "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
        }
        roll = self.rng.random()
        if roll < 0.6:
            condition["StringEquals"]["token.actions.githubusercontent.com:sub"] = (
                f"repo:{GITHUB_ORG}/{app}:ref:refs/heads/main"
            )
        elif roll < 0.9:
            condition["StringLike"] = {"token.actions.githubusercontent.com:sub": f"repo:{GITHUB_ORG}/{app}:*"}
        elif roll < 0.97:
            condition["StringLike"] = {"token.actions.githubusercontent.com:sub": f"repo:{GITHUB_ORG}/*"}
        # else: no subject condition at all, so any GitHub repository can assume the role.
        return self._trust(
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": condition,
            }
        )

    def _saml_trust(self) -> Document:
        provider = f"arn:aws:iam::{ACCOUNT_ID}:saml-provider/AWSSSO_{self._uuid()[:16]}_DO_NOT_DELETE"
        return self._trust(
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
                "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
            }
        )

    # ---- roles ---------------------------------------------------------------------------------

    def _workload_role(self, index: int) -> dict[str, Any]:
        workload = self.rng.choices(list(WORKLOAD_WEIGHTS), weights=list(WORKLOAD_WEIGHTS.values()))[0]
        if workload == "sso":
            return self._sso_role(index)
        app, env, region = self._pick_app()
        name = self._role_name(app, env, workload, index)
        trust = {
            "ec2": lambda: self._service_trust("ec2.amazonaws.com"),
            "lambda": lambda: self._service_trust("lambda.amazonaws.com"),
            "ecs-task": lambda: self._service_trust("ecs-tasks.amazonaws.com"),
            "service": lambda: self._service_trust(self.rng.choice(OTHER_SERVICES)),
            "cross-account": self._cross_account_trust,
            "github-oidc": lambda: self._github_trust(app),
        }[workload]()
        path = self.rng.choice(("/", "/", "/", "/service-role/", f"/{app}/"))
        inline_count = self.rng.choices((0, 1, 2, 3), weights=(0.3, 0.4, 0.2, 0.1))[0]
        inline = [
            {
                "PolicyName": f"{app}-{env}-inline-{n}",
                "PolicyDocument": self._document(
                    {"Version": POLICY_VERSION, "Statement": self._statements(app, env, region, self.rng.randint(1, 4))}
                ),
            }
            for n in range(inline_count)
        ]
        role = self._role_entry(
            name,
            path,
            trust,
            inline=inline,
            attached=self._managed_attachments(workload),
            app=app,
            env=env,
            region=region,
        )
        if workload == "ec2":
            role["InstanceProfileList"] = [self._instance_profile(role)]
        if self.rng.random() < 0.08:
            boundary = self.rng.choice(self.boundaries)
            self.boundary_uses[boundary["Arn"]] = self.boundary_uses.get(boundary["Arn"], 0) + 1
            role["PermissionsBoundary"] = {
                "PermissionsBoundaryType": "Policy",
                "PermissionsBoundaryArn": boundary["Arn"],
            }
        return role

    def _role_name(self, app: str, env: str, workload: str, index: int) -> str:
        if self.rng.random() < 0.25:
            # CloudFormation's naming: stack, logical id, random suffix.
            suffix = "".join(self.rng.choices(string.ascii_uppercase + string.digits, k=12))
            return f"{app}-{env}-{workload.title().replace('-', '')}Role{index}-{suffix}"[:64]
        return f"{app}-{env}-{workload}-{index:05d}"

    def _sso_role(self, index: int) -> dict[str, Any]:
        permission_set, policy_name = self.rng.choice(SSO_PERMISSION_SETS)
        name = f"AWSReservedSSO_{permission_set}_{self._uuid().replace('-', '')[:16]}"
        path = f"/aws-reserved/sso.amazonaws.com/{self.rng.choice(REGIONS)}/"
        attached = []
        base_name = policy_name.rsplit("/", 1)[-1]
        if attachment := self._aws_attachment(base_name):
            attached.append(attachment)
        app, env, region = self._pick_app()
        return self._role_entry(
            name, path, self._saml_trust(), inline=[], attached=attached, app=app, env=env, region=region
        )

    def _service_linked_role(self, service: str, name: str, policy_name: str) -> dict[str, Any]:
        attached = [a for a in [self._aws_attachment(policy_name)] if a]
        path = f"/aws-service-role/{service}/"
        trust = self._trust({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})
        role = self._role_entry(name, path, trust, inline=[], attached=attached)
        role["Description"] = f"Service-linked role for {service}"
        return role

    def _role_entry(
        self,
        name: str,
        path: str,
        trust: Document,
        *,
        inline: list[dict[str, Any]],
        attached: list[dict[str, str]],
        app: str = "",
        env: str = "",
        region: str = "",
    ) -> dict[str, Any]:
        last_used: dict[str, str] = {}
        if self.rng.random() < 0.7:
            last_used = {"LastUsedDate": self._date(2024, 2025), "Region": region or self.rng.choice(REGIONS)}
        return {
            "Path": path,
            "RoleName": name,
            "RoleId": self._unique_id("AROA"),
            "Arn": f"arn:aws:iam::{ACCOUNT_ID}:role{path}{name}",
            "CreateDate": self._date(),
            "AssumeRolePolicyDocument": self._document(trust),
            "InstanceProfileList": [],
            "RolePolicyList": inline,
            "AttachedManagedPolicies": attached,
            "Tags": self._tags(app, env),
            "RoleLastUsed": last_used,
            "MaxSessionDuration": self.rng.choice((3600, 3600, 3600, 7200, 43200)),
        }

    def _tags(self, app: str, env: str) -> list[dict[str, str]]:
        if not app:
            return []
        candidates = [
            {"Key": "Application", "Value": app},
            {"Key": "Environment", "Value": env},
            {"Key": "Team", "Value": self.rng.choice(TEAMS)},
            {"Key": "CostCenter", "Value": f"CC-{self.rng.randint(1000, 9999)}"},
            {"Key": "ManagedBy", "Value": self.rng.choice(("terraform", "cloudformation", "cdk", "console"))},
        ]
        return self.rng.sample(candidates, k=self.rng.randint(0, len(candidates)))

    def _instance_profile(self, role: dict[str, Any]) -> dict[str, Any]:
        name = role["RoleName"]
        return {
            "Path": "/",
            "InstanceProfileName": name,
            "InstanceProfileId": self._unique_id("AIPA"),
            "Arn": f"arn:aws:iam::{ACCOUNT_ID}:instance-profile/{name}",
            "CreateDate": role["CreateDate"],
            "Roles": [
                {
                    key: role[key]
                    for key in ("Path", "RoleName", "RoleId", "Arn", "CreateDate", "AssumeRolePolicyDocument")
                }
            ],
        }

    # ---- users and groups (minimal: rolewatch audits roles) -----------------------------------

    def _groups(self) -> list[dict[str, Any]]:
        attached = [a for a in [self._aws_attachment("AdministratorAccess")] if a]
        return [
            {
                "Path": "/",
                "GroupName": "Administrators",
                "GroupId": self._unique_id("AGPA"),
                "Arn": f"arn:aws:iam::{ACCOUNT_ID}:group/Administrators",
                "CreateDate": self._date(2018, 2019),
                "GroupPolicyList": [],
                "AttachedManagedPolicies": attached,
            }
        ]

    def _users(self) -> list[dict[str, Any]]:
        return [
            {
                "Path": "/",
                "UserName": name,
                "UserId": self._unique_id("AIDA"),
                "Arn": f"arn:aws:iam::{ACCOUNT_ID}:user/{name}",
                "CreateDate": self._date(2018, 2020),
                "UserPolicyList": [],
                "GroupList": groups,
                "AttachedManagedPolicies": [],
                "Tags": [],
            }
            for name, groups in (("break-glass", ["Administrators"]), ("legacy-ci", []))
        ]


def generate_account(
    roles: int,
    seed: int = 1,
    *,
    aws_managed: dict[str, dict[str, Any]] | None = None,
    encoded_share: float = DEFAULT_ENCODED_SHARE,
) -> dict[str, Any]:
    """The parsed JSON of a GetAccountAuthorizationDetails response with `roles` roles."""
    policies = aws_managed if aws_managed is not None else load_aws_managed_policies()
    return AccountGenerator(roles, seed, policies, encoded_share).build()


def write_account(account: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    # Four-space indentation, as `aws iam get-account-authorization-details` prints it.
    out.write_text(json.dumps(account, indent=4) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", type=int, required=True, help="number of roles")
    parser.add_argument("--out", type=Path, required=True, help="output JSON file")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--encoded-share",
        type=float,
        default=DEFAULT_ENCODED_SHARE,
        help=f"share of documents written URL-encoded, as the IAM API returns them (default {DEFAULT_ENCODED_SHARE})",
    )
    parser.add_argument(
        "--managed-policies",
        type=Path,
        default=DEFAULT_MANAGED_POLICIES_FILE,
        help="AWS managed policies `{name: {arn, document}}` (default: ../shared/data; embedded set if absent)",
    )
    args = parser.parse_args(argv)
    aws_managed = load_aws_managed_policies(args.managed_policies)
    account = generate_account(args.roles, args.seed, aws_managed=aws_managed, encoded_share=args.encoded_share)
    write_account(account, args.out)
    source = args.managed_policies if args.managed_policies.is_file() else "the embedded fallback set"
    print(
        f"wrote {args.out}: {len(account['RoleDetailList'])} roles, {len(account['Policies'])} managed policies "
        f"(AWS managed documents from {source})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
