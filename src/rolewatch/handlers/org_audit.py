"""OrgAuditFunction: the steps of the weekly organization state machine (organization mode only).

Thin on purpose: configuration and observability are wired here; the steps are rolewatch.org_audit.
The payload's "step" names the step (list-accounts, audit-account, organization-report); clients,
the baseline and the member-account credentials are made once per container and configuration, so a
warm container auditing several Map items reuses them.

Failure modes: a payload that is not a step raises OrgStepError; an organization that cannot be listed
raises AccountListError; S3 or SNS failures raise ReportStoreError / DeliveryError. Each fails the step,
which the state machine retries (Lambda service errors and throttling) and then records. An account
that cannot be audited is not a failure: it is that item's outcome, counted as UnauditableAccounts.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from rolewatch.aws_permissions import ORG_AUDIT, declare_lambda_service
from rolewatch.baseline import Baseline, load_baseline
from rolewatch.handlers import traced_handler
from rolewatch.inventory.clients import AwsClients, make_clients
from rolewatch.org.credentials import MemberAccounts, member_accounts
from rolewatch.org_audit import audit_member_step, list_step, parse_step, report_step
from rolewatch.settings import ACCOUNT_FUNCTION_REQUIRES, Settings, load_settings

logger = Logger()
metrics = Metrics()
declare_lambda_service(ORG_AUDIT)


@cache
def runtime(settings: Settings) -> tuple[AwsClients, Baseline, MemberAccounts]:
    """Clients, baseline and member credentials, made once per container and configuration."""
    clients = make_clients()
    members = member_accounts(clients, settings)
    if members is None:
        raise ValueError("OrgAuditFunction runs in organization mode only (DEPLOYMENT_MODE=organization)")
    return clients, load_baseline(settings.baseline_path), members


@traced_handler
@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    step = parse_step(event)
    logger.append_keys(step=step, run_id=event.get("run_id"), account=event.get("account_id"))
    settings = load_settings(required=ACCOUNT_FUNCTION_REQUIRES)
    clients, baseline, members = runtime(settings)
    try:
        if step == "list-accounts":
            result = list_step(clients, settings, event)
            metrics.add_metric(name="AccountsListed", unit=MetricUnit.Count, value=result["count"])
        elif step == "audit-account":
            result = audit_member_step(clients, settings, members, event, baseline=baseline)
            unauditable = result["status"] != "audited"
            metrics.add_metric(name="UnauditableAccounts", unit=MetricUnit.Count, value=int(unauditable))
            metrics.add_metric(name="AccountsAudited", unit=MetricUnit.Count, value=int(not unauditable))
            for name, value in sorted(result.get("integrations", {}).get("metrics", {}).items()):
                metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)  # Security Hub in the account, ...
        else:
            result = report_step(clients, settings, event)
            metrics.add_metric(name="OrganizationReports", unit=MetricUnit.Count, value=1)
    except Exception:
        logger.exception("organization audit step failed: the state machine retries it, then records it")
        raise
    logger.info("organization audit step done", extra={"step": step})
    return result
