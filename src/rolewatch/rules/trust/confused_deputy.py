"""trust-service-confused-deputy: a cross-customer service trusted without a source pin."""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding
from rolewatch.principals import (
    PrincipalClass,
    TrustPrincipal,
)
from rolewatch.remediation import update_trust_cli
from rolewatch.rules.registry import RuleContext, rule
from rolewatch.rules.trust.pins import SOURCE_PINS, conditions_pinning
from rolewatch.rules.trust.statements import (
    ASSUME_ROLE,
    can_assume,
    statement_location,
    statement_principals,
    with_principals_pinned,
)

# Services that assume a customer's role while acting for many customers, and whose documentation
# shows aws:SourceAccount / aws:SourceArn in that role's trust policy: another account could point
# its own resource (topic, trail, rule, vault, ...) at this role unless the trust pins the source.
CONFUSED_DEPUTY_SERVICES = frozenset(
    {
        "sns",  # delivery-status logging, SMS
        "s3",  # replication
        "batchoperations.s3",
        "cloudtrail",  # CloudWatch Logs delivery
        "config",
        "events",  # EventBridge targets
        "scheduler",  # EventBridge Scheduler
        "pipes",  # EventBridge Pipes
        "logs",  # subscription filters, destinations
        "delivery.logs",  # vended logs (VPC flow logs, ...)
        "backup",
        "firehose",
        "states",  # Step Functions
        "transfer",  # Transfer Family logging and users
        "datasync",
        "ssm",  # hybrid activations, Automation
        "monitoring.rds",  # RDS Enhanced Monitoring
        "dms",
        "appsync",
        "iot",
        "kinesisanalytics",
        "bedrock",  # knowledge bases, model customisation
    }
)


# Execution-role services: the role is handed to a compute resource the account itself launches
# (instance, function, task, pod, job, notebook). AWS does not recommend source conditions there and
# several of them fail with one, so these are exempt: no noise for the commonest roles of all.
EXECUTION_ROLE_SERVICES = frozenset(
    {
        "ec2",
        "lambda",
        "edgelambda",
        "ecs-tasks",
        "ecs",
        "eks",
        "eks-fargate-pods",
        "pods.eks",  # EKS Pod Identity
        "batch",
        "spotfleet",
        "elasticbeanstalk",
        "elasticmapreduce",
        "emr-serverless",
        "emr-containers",
        "glue",
        "sagemaker",
        "build.apprunner",
        "tasks.apprunner",
        "airflow",
        "airflow-env",
        "codedeploy",
        "cloudformation",
        # Build and pipeline roles run the account's own build code; their documentation recommends
        # source conditions, but the roles behave like execution roles and flagging them all is noise.
        "codebuild",
        "codepipeline",
    }
)


@rule
def trust_service_confused_deputy(ctx: RuleContext) -> Iterator[Finding]:
    """A cross-customer service may assume the role with no aws:SourceAccount/SourceArn/SourceOrgID pin.

    Only services in CONFUSED_DEPUTY_SERVICES are checked; execution-role services (EC2, Lambda, ECS
    tasks, EKS, ...: EXECUTION_ROLE_SERVICES) are exempt, and unlisted services are not judged. A pin
    counts when it requires an exact account (or an ARN whose account is fixed) without IfExists.
    """
    if ctx.trust is None:
        return
    for statement in ctx.trust.statements:
        if statement.not_principal or not can_assume(statement, (ASSUME_ROLE,)):
            continue
        services = [
            p for p in statement_principals(statement) if p.cls is PrincipalClass.SERVICE and _confused_deputy_prone(p)
        ]
        if not services or conditions_pinning(statement.conditions, SOURCE_PINS):
            continue
        where = statement_location(statement)
        names = ", ".join(p.value for p in services)
        account = ctx.role.account_id or "REPLACE_WITH_ACCOUNT_ID"
        detail = (
            f"Role {ctx.role.name} trusts {names} ({where}) without an aws:SourceAccount, aws:SourceArn or "
            "aws:SourceOrgID condition, so the service could be made to use it for another account's resource."
        )
        values = [p.value for p in services]
        fixed = with_principals_pinned(
            ctx, statement, "Service", values, operator="StringEquals", key="aws:SourceAccount", value=account
        )
        yield ctx.finding(
            "trust-service-confused-deputy",
            detail,
            actions=[ASSUME_ROLE],
            evidence=[where, *(p.label for p in services)],
            cli=[update_trust_cli(ctx.role)],
            policy=fixed,
        )


def _confused_deputy_prone(principal: TrustPrincipal) -> bool:
    name = principal.name or ""
    return name in CONFUSED_DEPUTY_SERVICES and name not in EXECUTION_ROLE_SERVICES
