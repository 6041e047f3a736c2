"""Scheduled posts: a post dated in the future goes live at its date, as in Jekyll.

The indexer hides such a post (``future: false``) and records it as a ``SCHEDULED``
item keyed by its UTC date (:meth:`~tsuzuri.aws.store.PostStore.schedule_post`). A tick
(EventBridge Scheduler every minute in AWS, a thread of ``tsuzuri dev``) finds the due
ones with one bounded Query and puts one message per key on the render queue, in the
shape of the S3 notification an upload of that key makes.

Why the queue, and not a publish inside the tick: the key is then published by the one
publish path there is (the render function's batch, reconciled with the object as it
is now), with that path's partial batch failures, retries, dead-letter queue and alarm,
its batching with other uploads into one CloudFront invalidation and its concurrency
cap. The tick itself writes nothing but deletes: it cannot race a render, and a tick
that dies half-way is repeated by the next one (an item is deleted only once its
message is on the queue, and a message sent twice renders once more and changes
nothing).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from tsuzuri.aws.store import PostStore, ScheduledPost, SourceRecord
from tsuzuri.domain.keys import classify_key
from tsuzuri.errors import ConfigError, KeyRejected, TransientError

# What the template's schedule sends (its Input); an operator may send it by hand too.
TICK = "scheduled-posts"
# Due items read per tick: a tick more than fills a render batch (50) and stays one
# small Query. More due at once (a backlog) go out 100 a minute.
DUE_PER_TICK = 100


@dataclass(frozen=True, slots=True)
class TickResult:
    due: int  # items read
    queued: tuple[str, ...] = ()  # keys put on the render queue
    # Keys published or deleted since they were scheduled: their items just go.
    dropped: tuple[str, ...] = ()
    full: bool = False  # the read was full: more may be due, the next tick reads on


def is_tick(event: dict[str, Any]) -> bool:
    return event.get("tsuzuri") == TICK


def publish_due(
    store: PostStore,
    sqs: Any,
    queue_url: str | None,
    *,
    bucket: str,
    now: datetime,
    limit: int = DUE_PER_TICK,
) -> TickResult:
    """Queue every scheduled post due at ``now`` for publishing and forget its item.

    A key whose record says it is no longer hidden (published with another date, or
    deleted) is not queued: its item is stale. Any other key is, and its re-index
    decides: published, still in the future (a later date wrote a new item), or gone.
    """
    if not queue_url:
        raise ConfigError("RENDER_QUEUE_URL is not set: scheduled posts cannot be queued")
    due = store.due_posts(now, limit=limit)
    if not due:
        return TickResult(0)
    by_key: dict[str, list[ScheduledPost]] = {}
    for entry in due:
        by_key.setdefault(entry.key, []).append(entry)  # re-dated: one message for both
    records = store.get_sources(sorted({r for k in by_key if (r := _record_key(k))}))
    wanted: list[tuple[str, SourceRecord | None]] = []
    dropped: list[str] = []
    for key in by_key:
        record_key = _record_key(key)
        record = records.get(record_key) if record_key else None
        if record_key is None or (record is not None and record.state != "hidden"):
            dropped.append(key)
        else:
            wanted.append((key, record))
    sent, failed, errors = _send(sqs, queue_url, bucket, wanted, now)
    for key in [*dropped, *sent]:
        for entry in by_key[key]:
            store.unschedule_post(entry)  # False: written again meanwhile, and kept
    if failed:
        # The sent ones are forgotten; these wait for the next tick, and the invocation
        # fails so that the function's error alarm says so.
        raise TransientError(
            f"could not queue scheduled posts {failed} ({'; '.join(errors[:3])}); "
            "the next tick tries again"
        )
    return TickResult(len(due), tuple(sent), tuple(dropped), full=len(due) >= limit)


def _record_key(key: str) -> str | None:
    """The key's source record (``_posts/`` is recorded as ``posts/``)."""
    try:
        return classify_key(key).key
    except KeyRejected:
        return None  # not a key the indexer would have scheduled


def notification(bucket: str, key: str, record: SourceRecord | None, now: datetime) -> str:
    """The SQS body of an S3 ``ObjectCreated`` notification for ``key``. The recorded
    sequencer goes with it: a newer upload recorded meanwhile makes it stale, and the
    source record never moves back."""
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/")}
    if record is not None and record.sequencer:
        obj["sequencer"] = record.sequencer
    s3_record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "tsuzuri:" + TICK},
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket}, "object": obj},
    }
    return json.dumps({"Records": [s3_record]}, ensure_ascii=False)


def _send(
    sqs: Any,
    queue_url: str,
    bucket: str,
    wanted: Sequence[tuple[str, SourceRecord | None]],
    now: datetime,
) -> tuple[list[str], list[str], list[str]]:
    """One message per key, 10 a call: (sent, failed, why). A key that failed is kept for
    the next tick, whatever happened to the others."""
    sent: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    for start in range(0, len(wanted), 10):
        chunk = wanted[start : start + 10]
        entries = [
            {"Id": str(i), "MessageBody": notification(bucket, key, record, now)}
            for i, (key, record) in enumerate(chunk)
        ]
        try:
            response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except Exception as exc:  # botocore's errors, a connection: this chunk waits
            failed += [key for key, _ in chunk]
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        refused = {f["Id"] for f in response.get("Failed", [])}
        errors += [f"{f.get('Code')}: {f.get('Message')}" for f in response.get("Failed", [])]
        for i, (key, _record) in enumerate(chunk):
            (failed if str(i) in refused else sent).append(key)
    return sent, failed, errors
