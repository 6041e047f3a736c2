"""Render function: S3 events (through SQS) in, published pages out.

Thin by design: parse the event, hand the changes to the core, log and count the
outcomes, and report the messages that should be retried.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from tsuzuri.config import RuntimeSettings
from tsuzuri.publisher import Change, Publisher
from tsuzuri.rebuild import RebuildRequest, config_requests, enqueue
from tsuzuri.runtime import build_publisher, make_clients

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
def publisher() -> Publisher:
    """Built once per execution environment: config is validated at cold start."""
    settings = RuntimeSettings.from_env()
    endpoint = os.environ.get("TSUZURI_AWS_ENDPOINT_URL") or None
    return build_publisher(settings, make_clients(endpoint_url=endpoint))


@cache
def sqs() -> Any:
    """For queueing rebuild requests after a site config change (the rebuild path)."""
    import botocore.session

    endpoint = os.environ.get("TSUZURI_AWS_ENDPOINT_URL") or None
    return botocore.session.get_session().create_client(
        "sqs", region_name=os.environ.get("AWS_REGION"), endpoint_url=endpoint
    )


def queue_rebuild(effect: str) -> int:
    """Queue the re-render (or re-index) a config change needs; returns the requests."""
    queue_url = os.environ.get("RENDER_QUEUE_URL")
    if not queue_url:
        logger.warning("RENDER_QUEUE_URL is not set: run `tsuzuri rebuild` by hand")
        return 0
    return enqueue(sqs(), queue_url, config_requests(publisher(), effect))


@dataclass
class ParsedEvent:
    changes: list[Change] = field(default_factory=list)
    rebuilds: list[tuple[str, RebuildRequest]] = field(default_factory=list)
    # Messages that are not an S3 notification or a rebuild request: reported as failed,
    # so that after the queue's maxReceiveCount they wait in the dead-letter queue.
    poison: list[str] = field(default_factory=list)


def parse_event(event: dict[str, Any]) -> ParsedEvent:
    """S3 notifications, delivered directly or wrapped in SQS messages, and the rebuild
    requests ``tsuzuri rebuild`` puts on the same queue."""
    parsed = ParsedEvent()
    for record in event.get("Records", []):
        if record.get("eventSource") == "aws:s3":
            parsed.changes.append(_change(record, token=""))
            continue
        if record.get("eventSource") != "aws:sqs":
            continue
        try:
            body = json.loads(record["body"])
            if body.get("tsuzuri") == "rebuild":
                parsed.rebuilds.append((record["messageId"], RebuildRequest.from_message(body)))
                continue
            for s3_record in body.get("Records", []):  # s3:TestEvent has none
                parsed.changes.append(_change(s3_record, token=record["messageId"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.error("not an S3 notification", extra={"message_id": record.get("messageId")})
            parsed.poison.append(record["messageId"])
    return parsed


def _change(record: dict[str, Any], *, token: str) -> Change:
    obj = record["s3"]["object"]
    return Change(
        key=unquote_plus(obj["key"]),
        removed=record["eventName"].startswith("ObjectRemoved"),
        sequencer=obj.get("sequencer"),
        token=token,
    )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parsed = parse_event(event)
    if not publisher().settings_are_current():
        publisher.cache_clear()  # another instance accepted a newer _config.yml or theme
    result = publisher().process(parsed.changes)
    result.failed_tokens.extend(parsed.poison)
    for message_id, request in parsed.rebuilds:
        try:
            if (request.config and request.config != publisher().site.fingerprint()) or (
                request.theme and request.theme != publisher().theme_fingerprint
            ):
                publisher.cache_clear()  # this instance holds an older _config.yml or theme
            if request.keys:
                reindexed = publisher().process(
                    [Change(key=k, removed=False) for k in request.keys]
                )
                failed = [o.key for o in reindexed.outcomes if o.status == "failed"]
                if failed:
                    raise RuntimeError(f"re-index failed for {failed}")
            rebuilt = publisher().refresh_posts(request.urls, lists=request.lists)
            logger.info(
                "rebuilt",
                extra={
                    "posts": len(request.urls),
                    "keys": len(request.keys),
                    "written": len(rebuilt.written),
                },
            )
        except Exception:
            logger.exception("rebuild failed", extra={"posts": len(request.urls)})
            result.failed_tokens.append(message_id)
    for outcome in result.outcomes:
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
        if outcome.status == "config" and outcome.rebuild:
            # Through the rebuild path: the queue's batching, retries and dead-letter.
            queued = queue_rebuild(outcome.rebuild)
            logger.info(
                "config change queued",
                extra={"key": outcome.key, "effect": outcome.rebuild, "requests": queued},
            )
    metrics.add_metric("InvalidationPaths", MetricUnit.Count, len(result.invalidated))
    return {"batchItemFailures": [{"itemIdentifier": token} for token in result.failed_tokens]}


# Instantiating Tracer patches botocore for X-Ray and costs ~300 ms of cold start,
# so it exists only when the stack turns tracing on. It needs aws-xray-sdk, which is
# kept out of the core layer because it would drag botocore in; see README (tracing).
if os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").lower() == "false":  # pragma: no cover
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service="tsuzuri-render")
    lambda_handler = tracer.capture_lambda_handler(lambda_handler)
