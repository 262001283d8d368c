"""AccountAuditFunction: the weekly schedule (EventBridge Scheduler) and direct `{"mode": "account"}` invocations.

Thin on purpose: configuration and observability are wired here; the audit is rolewatch.account_service.
Clients and the baseline are made once per container and configuration (warm invocations reuse them).

Failure modes: a missing or invalid setting raises ConfigurationError (BaselineError for a bad
BASELINE_PATH) on the first invocation; a payload that is not an account-audit request raises
AccountEventError; nothing readable from IAM raises AccountReadError; S3 or SNS failures raise
ReportStoreError / DeliveryError. Each fails the invocation, so Lambda retries it, then the
on-failure destination / dead-letter queue and the errors alarm see it. A partial read (a region or a
service) does not fail: the report and the SNS summary say what was not read.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from rolewatch.account_service import parse_account_event, run_weekly_audit
from rolewatch.aws_permissions import ACCOUNT_AUDIT, declare_lambda_service
from rolewatch.baseline import Baseline, load_baseline
from rolewatch.handlers import traced_handler
from rolewatch.inventory.clients import AwsClients, make_clients
from rolewatch.settings import ACCOUNT_FUNCTION_REQUIRES, Settings, load_settings

logger = Logger()
metrics = Metrics()
declare_lambda_service(ACCOUNT_AUDIT)


@cache
def runtime(settings: Settings) -> tuple[AwsClients, Baseline]:
    """Clients and baseline, made once per container and configuration."""
    return make_clients(), load_baseline(settings.baseline_path)


@traced_handler
@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = load_settings(required=ACCOUNT_FUNCTION_REQUIRES)
    clients, baseline = runtime(settings)
    trigger = parse_account_event(event)
    logger.append_keys(trigger=trigger)
    try:
        outcome = run_weekly_audit(clients, settings, baseline=baseline, trigger=trigger)
    except Exception:
        logger.exception("account audit failed: the invocation fails and is retried, then reaches the DLQ")
        raise
    for name, value in outcome.metrics().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info("account audit done", extra={"outcome": outcome.to_dict()})
    return outcome.to_dict()
