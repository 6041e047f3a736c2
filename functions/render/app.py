"""Render function: S3 events (through SQS) in, published pages out; and the scheduled
posts' tick (EventBridge Scheduler, every minute), which queues the posts now due.

Thin by design: decode the event into a batch, hand it to the core, log and count
the outcomes, and report the messages that should be retried.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from tsuzuri.aws.clients import make_clients
from tsuzuri.errors import InvalidMessage
from tsuzuri.publishing.batch import RebuildDone, RenderBatch, RenderBatchResult, RenderService
from tsuzuri.publishing.publisher import Change
from tsuzuri.publishing.rebuild import RebuildRequest
from tsuzuri.publishing.schedule import is_tick
from tsuzuri.publishing.wiring import build_render_service
from tsuzuri.settings import Settings

logger = Logger(service="tsuzuri-render")
metrics = Metrics(namespace="tsuzuri", service="tsuzuri-render")

_METRIC_BY_STATUS = {
    "published": "Published",
    "unchanged": "Unchanged",
    "unpublished": "Unpublished",
    "hidden": "Hidden",
    "rejected": "Rejected",
    "failed": "Failed",
    "stale": "Stale",
}


@cache
def service() -> RenderService:
    """Built once per execution environment: settings are validated at cold start."""
    settings = Settings.from_env()
    clients = make_clients(endpoint_url=settings.aws_endpoint_url, region=settings.region)
    return build_render_service(settings, clients)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if is_tick(event):
        return tick(event)
    return report(service().handle(parse_event(event)))


def tick(event: dict[str, Any]) -> dict[str, Any]:
    """Queue the scheduled posts now due on the render queue, where they are published
    like any upload. An error (the queue refused some) fails the invocation: the items
    stay, the next tick sends them, and the error alarm has seen it."""
    done = service().publish_due()
    if done.due:
        logger.info(
            "scheduled posts due",
            extra={"scheduled_time": event.get("time"), "queued": list(done.queued),
                   "dropped": list(done.dropped), "more": done.full},
        )  # fmt: skip
    if done.queued:  # a custom metric is billed by the hours it is sent in: not every tick
        metrics.add_metric("ScheduledQueued", MetricUnit.Count, len(done.queued))
    return {"due": done.due, "queued": len(done.queued), "dropped": len(done.dropped)}


def parse_event(event: dict[str, Any]) -> RenderBatch:
    """S3 notifications, delivered directly or wrapped in SQS messages, and the rebuild
    requests ``tsuzuri rebuild`` puts on the same queue."""
    batch = RenderBatch()
    for record in event.get("Records", []):
        if record.get("eventSource") == "aws:s3":
            batch.changes.append(_change(record, token=""))
            continue
        if record.get("eventSource") != "aws:sqs":
            continue
        try:
            body = json.loads(record["body"])
            if body.get("tsuzuri") == "rebuild":
                batch.rebuilds.append((record["messageId"], RebuildRequest.from_message(body)))
                continue
            for s3_record in body.get("Records", []):  # s3:TestEvent has none
                batch.changes.append(_change(s3_record, token=record["messageId"]))
        except (InvalidMessage, ValueError, KeyError, TypeError, AttributeError):
            logger.error("not an S3 notification", extra={"message_id": record.get("messageId")})
            batch.poison.append(record["messageId"])
    return batch


def _change(record: dict[str, Any], *, token: str) -> Change:
    obj = record["s3"]["object"]
    return Change(
        key=unquote_plus(obj["key"]),
        removed=record["eventName"].startswith("ObjectRemoved"),
        sequencer=obj.get("sequencer"),
        token=token,
    )


def report(done: RenderBatchResult) -> dict[str, Any]:
    """Logs and metrics of a batch, and the messages Lambda must deliver again."""
    for rebuilt in done.rebuilt:
        if isinstance(rebuilt, RebuildDone):
            extra = {"posts": rebuilt.posts, "keys": rebuilt.keys, "written": rebuilt.written}
            logger.info("rebuilt", extra=extra)
        else:
            logger.error(
                "rebuild failed",
                extra={"posts": rebuilt.posts, "error": f"{type(rebuilt.error).__name__}: "
                       f"{rebuilt.error}"},
            )  # fmt: skip
    for outcome in done.result.outcomes:
        fields = {
            "key": outcome.key,
            "url": outcome.url,
            "outcome": outcome.status,
            "ms": round(outcome.ms, 1),
        }
        if outcome.status in {"rejected", "failed"}:
            logger.warning(
                outcome.message,
                extra={**fields, "code": outcome.code, "line": outcome.line, "hint": outcome.hint},
            )
        else:
            logger.info(outcome.status, extra=fields)
        if outcome.status in _METRIC_BY_STATUS:
            metrics.add_metric(_METRIC_BY_STATUS[outcome.status], MetricUnit.Count, 1)
        if outcome.status in {"published", "unpublished"}:
            metrics.add_metric("RenderMs", MetricUnit.Milliseconds, outcome.ms)
    for queued in done.queued:
        if not queued.requests:
            logger.warning("RENDER_QUEUE_URL is not set: run `tsuzuri rebuild` by hand")
        logger.info(
            "config change queued",
            extra={
                "key": queued.outcome.key,
                "effect": queued.outcome.rebuild,
                "requests": queued.requests,
            },
        )
    metrics.add_metric("InvalidationPaths", MetricUnit.Count, len(done.result.invalidated))
    return {"batchItemFailures": [{"itemIdentifier": token} for token in done.failed_tokens]}


# Instantiating Tracer patches botocore for X-Ray and costs ~300 ms of cold start,
# so it exists only when the stack turns tracing on. It needs aws-xray-sdk, which is
# kept out of the core layer because it would drag botocore in; see README (tracing).
if os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").lower() == "false":  # pragma: no cover
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service="tsuzuri-render")
    lambda_handler = tracer.capture_lambda_handler(lambda_handler)
