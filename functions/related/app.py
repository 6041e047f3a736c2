"""Related-posts function: DynamoDB stream records of posts in, exact related lists out.

Thin by design: decode the event, one call into the core, logs and metrics. The
event source mapping's filter lets in posts (``sk = POST``; the
function's own writes never match it), the site config item (a change of ``related:``
recomputes every list) and the function's own continuation item (pages still pending
after a batch's chunk); the core handles each record in order and renders the pages
whose lists changed, and the first record that failed is reported so that Lambda
retries from there (ReportBatchItemFailures with bisection).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from tsuzuri.aws.clients import make_clients
from tsuzuri.related.invocation import (
    RecomputeDone,
    RecomputeRequest,
    RelatedFunction,
    Request,
    StreamBatch,
    SyncDone,
    SyncRequest,
)
from tsuzuri.related.service import BatchOutcome
from tsuzuri.related.wiring import build_related_function
from tsuzuri.settings import Settings

logger = Logger(service="tsuzuri-related")
metrics = Metrics(namespace="tsuzuri", service="tsuzuri-related")


@cache
def service() -> RelatedFunction:
    """Built once per execution environment: settings are validated at cold start."""
    settings = Settings.from_env()
    clients = make_clients(endpoint_url=settings.aws_endpoint_url, region=settings.region)
    return build_related_function(settings, clients)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = time.perf_counter()
    done = service().handle(parse_event(event), context.get_remaining_time_in_millis, _log_failure)
    return report(done, (time.perf_counter() - started) * 1000)


def parse_event(event: dict[str, Any]) -> Request:
    """Stream records from the event source mapping, or an operator's invocation:
    ``{"action": "sync", "after": ..., "limit": ...}``, ``{"action": "rebuild"}`` or
    ``{"action": "render"}``."""
    if "Records" in event:
        return StreamBatch(event["Records"])
    action = event.get("action")
    if action == "sync":
        return SyncRequest(str(event.get("after", "")), int(event.get("limit", 100)))
    if action in ("rebuild", "render"):
        return RecomputeRequest(action)
    return StreamBatch([])


def _log_failure(record: Mapping[str, Any], exc: Exception) -> None:
    change = record.get("dynamodb", {})
    logger.warning(
        f"{type(exc).__name__}: {exc}",
        extra={
            "sequence_number": change.get("SequenceNumber"),
            "event": record.get("eventName"),
            "keys": change.get("Keys"),
        },
    )


def report(done: BatchOutcome | SyncDone | RecomputeDone, elapsed_ms: float) -> dict[str, Any]:
    """Logs and metrics of an invocation, and what it returns to Lambda or the operator."""
    if isinstance(done, SyncDone):
        metrics.add_metric("RelatedPostsSynced", MetricUnit.Count, done.synced)
        logger.info("posts synced", extra={"synced": done.synced, "next": done.next})
        return {"synced": done.synced, "next": done.next}
    if isinstance(done, RecomputeDone):
        logger.info(
            "related lists rebuilt",
            extra={"posts": done.posts, "rendered": done.rendered, "pending": done.pending},
        )
        metrics.add_metric("RelatedPagesRendered", MetricUnit.Count, done.rendered)
        return {"posts": done.posts, "rendered": done.rendered, "pending": done.pending}
    stats = done.stats
    metrics.add_metric("RelatedRecords", MetricUnit.Count, done.records)
    logger.info(
        "related lists synced",
        extra={
            "records": done.records,
            "synced": done.synced,
            "skipped": done.skipped,
            "rebuilt": done.rebuilt,
            "continued": done.continued,
            "failed_at": done.failed,
            "recomputed": stats.recomputed,
            "merged": stats.merged,
            "lists_written": stats.lists_written,
            "pages": len(done.rendered),
            "invalidated": len(done.invalidated),
            "ms": round(elapsed_ms, 1),
        },
    )
    metrics.add_metric("RelatedSkipped", MetricUnit.Count, done.skipped)
    metrics.add_metric("RelatedListsWritten", MetricUnit.Count, stats.lists_written)
    metrics.add_metric("RelatedPagesRendered", MetricUnit.Count, len(done.rendered))
    metrics.add_metric("RelatedMs", MetricUnit.Milliseconds, elapsed_ms)
    if done.failed is not None:
        metrics.add_metric("RelatedFailed", MetricUnit.Count, 1)
        return {"batchItemFailures": [{"itemIdentifier": done.failed}]}
    return {"batchItemFailures": []}


# Tracer patches botocore for X-Ray and costs cold start: only when tracing is on.
if os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").lower() == "false":  # pragma: no cover
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service="tsuzuri-related")
    lambda_handler = tracer.capture_lambda_handler(lambda_handler)
