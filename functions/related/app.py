"""Related-posts function: DynamoDB stream records of posts in, exact related lists out.

Thin by design: the event source mapping's filter lets in posts (``sk = POST``; the
function's own writes never match it), the site config item (a change of ``related:``
recomputes every list) and the function's own continuation item (pages still pending
after a batch's chunk); the core handles each record in order and renders the pages
whose lists changed, and the first record that failed is reported so that Lambda
retries from there (ReportBatchItemFailures with bisection).
"""

from __future__ import annotations

import os
import time
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from tsuzuri.aws.clients import make_clients
from tsuzuri.domain.site_config import RuntimeSettings
from tsuzuri.related.service import RelatedService
from tsuzuri.related.wiring import build_related

logger = Logger(service="tsuzuri-related")
metrics = Metrics(namespace="tsuzuri", service="tsuzuri-related")


@cache
def service() -> RelatedService:
    """Built once per execution environment: config is validated at cold start."""
    settings = RuntimeSettings.from_env()
    endpoint = os.environ.get("TSUZURI_AWS_ENDPOINT_URL") or None
    return build_related(settings, make_clients(endpoint_url=endpoint))


def _log_failure(record: dict[str, Any], exc: Exception) -> None:
    change = record.get("dynamodb", {})
    logger.warning(
        f"{type(exc).__name__}: {exc}",
        extra={
            "sequence_number": change.get("SequenceNumber"),
            "event": record.get("eventName"),
            "keys": change.get("Keys"),
        },
    )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" not in event and event.get("action") == "sync":
        # Invoked by hand: index the posts of a site that existed before this function
        # (or after its settings changed), a page at a time. Call again with "after"
        # set to the returned "next" until it is null.
        synced, following = service().sync_published(
            str(event.get("after", "")), int(event.get("limit", 100))
        )
        metrics.add_metric("RelatedPostsSynced", MetricUnit.Count, synced)
        logger.info("posts synced", extra={"synced": synced, "next": following})
        return {"synced": synced, "next": following}
    if "Records" not in event and event.get("action") in ("rebuild", "render"):
        return _rebuild(event["action"], context)
    records = event.get("Records", [])
    metrics.add_metric("RelatedRecords", MetricUnit.Count, len(records))
    started = time.perf_counter()
    if not service().publisher.settings_are_current():
        service.cache_clear()  # another instance accepted a newer _config.yml or theme
    related = service()
    related.on_error = _log_failure
    outcome = related.process(records)
    elapsed_ms = (time.perf_counter() - started) * 1000
    stats = outcome.stats
    logger.info(
        "related lists synced",
        extra={
            "records": outcome.records,
            "synced": outcome.synced,
            "skipped": outcome.skipped,
            "rebuilt": outcome.rebuilt,
            "continued": outcome.continued,
            "failed_at": outcome.failed,
            "recomputed": stats.recomputed,
            "merged": stats.merged,
            "lists_written": stats.lists_written,
            "pages": len(outcome.rendered),
            "invalidated": len(outcome.invalidated),
            "ms": round(elapsed_ms, 1),
        },
    )
    metrics.add_metric("RelatedSkipped", MetricUnit.Count, outcome.skipped)
    metrics.add_metric("RelatedListsWritten", MetricUnit.Count, stats.lists_written)
    metrics.add_metric("RelatedPagesRendered", MetricUnit.Count, len(outcome.rendered))
    metrics.add_metric("RelatedMs", MetricUnit.Milliseconds, elapsed_ms)
    if outcome.failed is not None:
        metrics.add_metric("RelatedFailed", MetricUnit.Count, 1)
        return {"batchItemFailures": [{"itemIdentifier": outcome.failed}]}
    return {"batchItemFailures": []}


# Pages rendered per step of a rebuild, and the time kept back for the last step.
REBUILD_PAGES_PER_STEP = 100
REBUILD_RESERVE_MS = 30_000


def _rebuild(action: str, context: LambdaContext) -> dict[str, Any]:
    """For operators (a change of ``related:`` is picked up from the stream on its own).
    ``rebuild``: recompute every list with the settings in ``_config.yml`` now, then
    render pages while time remains. ``render``: only render what is still pending.
    Call ``render`` again until ``pending`` is 0."""
    service.cache_clear()  # read _config.yml again: the settings may have just changed
    related = service()
    posts = related.rebuild_all() if action == "rebuild" else 0
    rendered = 0
    while context.get_remaining_time_in_millis() > REBUILD_RESERVE_MS:
        done = related.render_pending(limit=REBUILD_PAGES_PER_STEP)
        if not done:
            break
        rendered += len(done)
    pending = len(related.store.pending())
    logger.info(
        "related lists rebuilt", extra={"posts": posts, "rendered": rendered, "pending": pending}
    )
    metrics.add_metric("RelatedPagesRendered", MetricUnit.Count, rendered)
    return {"posts": posts, "rendered": rendered, "pending": pending}


# Tracer patches botocore for X-Ray and costs cold start: only when tracing is on.
if os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").lower() == "false":  # pragma: no cover
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service="tsuzuri-related")
    lambda_handler = tracer.capture_lambda_handler(lambda_handler)
