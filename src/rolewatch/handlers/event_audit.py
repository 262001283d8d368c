"""EventAuditFunction: CloudTrail IAM/EC2 events from EventBridge, and direct `{"roles": [...], "instance_ids": [...]}`.

Thin on purpose: configuration, observability and deduplication are wired here; the audit itself is
rolewatch.event_service. The service is built once per container (cold start) and reused while the
configuration stays the same: clients, the baseline and the AWS-managed policy cache stay warm.

Failure modes: a missing or invalid setting raises ConfigurationError (BaselineError for a bad
BASELINE_PATH) on the first invocation; a malformed event raises EventError and a failed delivery
DeliveryError. Each fails the invocation, so Lambda retries it and then sends it to the dead-letter
queue, where nothing is lost.

The EventBridge envelope is read with Powertools' EventBridgeEvent data class (source, detail-type and id
for the log; ~65 ms of cold start, as its package imports every data class; the parser's pydantic models
would cost more). The CloudTrail / Access Analyzer detail is parsed and validated by rolewatch.event.triggers,
whose errors name the field that is wrong.

Idempotency: Powertools' idempotency utility on the DynamoDB table IDEMPOTENCY_TABLE (partition key
`id`, TTL attribute `expiration`), keyed on the CloudTrail `detail.eventID` (else the EventBridge `id`;
for a direct invocation, its optional "id"). A record lives 24 hours, longer than EventBridge's and
Lambda's retry windows, so a redelivered event publishes nothing new. A direct invocation without
"id" is not deduplicated: asking twice for an on-demand audit means wanting two audits.

A delivery that arrives while the same event is still being audited (IdempotencyAlreadyInProgressError)
is an expected duplicate: logged and counted as `DuplicateEvents`, and the invocation succeeds, since
the audit in progress owns the event (if it fails, Lambda retries it, and its record is released).
FailedAudits counts real failures only, so its alarm means something.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from rolewatch.analyzer.check import AccessAnalyzerCheck
from rolewatch.aws_permissions import EVENT_AUDIT, IDEMPOTENCY_TABLE, declare_lambda_service, requires
from rolewatch.event_service import Deduplicator, EventAuditService
from rolewatch.handlers import traced_handler
from rolewatch.inventory.clients import AwsClients, make_clients
from rolewatch.org.credentials import member_accounts
from rolewatch.settings import EVENT_FUNCTION_REQUIRES, Settings, load_settings

logger = Logger()
metrics = Metrics()

declare_lambda_service(EVENT_AUDIT)
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
IDEMPOTENCY_CONFIG = IdempotencyConfig(expires_after_seconds=IDEMPOTENCY_TTL_SECONDS)


@requires(
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    by=EVENT_AUDIT,
    on=IDEMPOTENCY_TABLE,
)
def idempotency_store(table: str, clients: AwsClients) -> DynamoDBPersistenceLayer:
    """Powertools' DynamoDB persistence layer on the function's table, through the counted client."""
    return DynamoDBPersistenceLayer(table_name=table, boto3_client=clients.dynamodb)


def deduplicator(store: DynamoDBPersistenceLayer) -> Deduplicator:
    def once(key: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        def audit_event(event_key: dict[str, str]) -> dict[str, Any]:
            return run()

        guarded = idempotent_function(
            audit_event, data_keyword_argument="event_key", persistence_store=store, config=IDEMPOTENCY_CONFIG
        )
        return guarded(event_key={"event_id": key})

    return once


@cache
def runtime(settings: Settings) -> tuple[EventAuditService, Deduplicator]:
    """The service and its deduplicator, made once per container and configuration."""
    clients = make_clients()
    # Organization mode: the event's account is read through its reader role, credentials kept while warm.
    members = member_accounts(clients, settings)
    # One Access Analyzer check per audit: it remembers per invocation which checks are unavailable.
    service = EventAuditService.from_settings(
        settings,
        clients,
        live_checks=lambda: [AccessAnalyzerCheck(clients, mode=settings.access_analyzer)],
        readers=members.clients_for if members else None,
    )
    return service, deduplicator(idempotency_store(str(settings.idempotency_table), clients))


@traced_handler
@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and "detail-type" in event:
        envelope = EventBridgeEvent(event)
        try:
            logger.append_keys(event_source=envelope.source, detail_type=envelope.detail_type, event_id=envelope.get_id)
        except KeyError:  # a malformed envelope: rolewatch.event.triggers raises EventError naming the field
            logger.append_keys(event_source=event.get("source"), detail_type=event.get("detail-type"))
    if context is not None:
        IDEMPOTENCY_CONFIG.register_lambda_context(context)
    try:
        service, once = runtime(load_settings(required=EVENT_FUNCTION_REQUIRES))
        outcome = service.handle_event(event, once)
    except IdempotencyAlreadyInProgressError:
        metrics.add_metric(name="DuplicateEvents", unit=MetricUnit.Count, value=1)
        logger.info("duplicate delivery while the same event is being audited: that audit owns it")
        return {"status": "duplicate-in-progress", "duplicate": True}
    except Exception:
        metrics.add_metric(name="FailedAudits", unit=MetricUnit.Count, value=1)
        logger.exception("event audit failed: the invocation fails and the event goes to retry, then the DLQ")
        raise
    for name, value in outcome.metrics().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info("event audit done", extra={"outcome": outcome.to_dict()})
    return outcome.to_dict()
