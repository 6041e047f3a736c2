"""Lambda's event source mappings, played by threads of the local stack: the render
function on the SQS queue (:class:`EventPump`) and the related function on the table's
stream (:class:`StreamPump`), with the batching, filtering, retries and failure
destinations ``template.yaml`` configures. They call the production handlers."""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tsuzuri_local.devstack.runtime import LambdaContext

# How long an idle pump (and the folder mirror) waits before looking again.
POLL_SECONDS = 0.5


@dataclass
class EventPump:
    """Lambda's SQS event source mapping, as far as tsuzuri relies on it.

    Receives up to ``batch_size`` messages, waiting up to ``window_s`` to fill a batch,
    invokes the handler with an ``aws:sqs`` event, deletes the messages it did not
    report in ``batchItemFailures``, and leaves the rest to come back after the
    visibility timeout; the queue's redrive policy moves them to the dead-letter
    queue after ``maxReceiveCount`` receives, as in AWS.
    """

    sqs: Any
    queue_url: str
    queue_arn: str
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    batch_size: int = 10
    window_s: float = 2.0
    on_batch: Callable[[list[dict[str, Any]], set[str], float], None] = lambda *_: None
    stop_event: threading.Event = field(default_factory=threading.Event)
    # A received batch stays invisible while the handler runs (as with the template's
    # 360 s); messages it reports failed come back after ``retry_visibility_s``, which
    # is short locally so that retries stay watchable.
    processing_visibility_s: int = 360
    retry_visibility_s: int = 3

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                messages = self._receive()
                if messages:
                    self.invoke(messages)
            except Exception as exc:
                if not self.stop_event.is_set():
                    print(f"event pump: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                    time.sleep(1)

    def _receive(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.window_s
        limit = self.batch_size
        while len(messages) < limit and not self.stop_event.is_set():
            wait = 1 if not messages else max(0, int(min(1, deadline - time.monotonic())))
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, limit - len(messages)),
                WaitTimeSeconds=wait,
                VisibilityTimeout=self.processing_visibility_s,
                AttributeNames=["All"],
            )
            batch = response.get("Messages", [])
            messages += batch
            if not messages or not batch or time.monotonic() >= deadline:
                break
        return messages

    def invoke(self, messages: list[dict[str, Any]]) -> set[str]:
        event = {"Records": [self._record(m) for m in messages]}
        started = time.perf_counter()
        try:
            response = self.handler(event, LambdaContext("tsuzuri-render"))
            failed = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
        except Exception as exc:
            print(
                f"render function raised {type(exc).__name__}: {exc}", file=sys.stderr, flush=True
            )
            failed = {m["MessageId"] for m in messages}
        elapsed_ms = (time.perf_counter() - started) * 1000
        done = [m for m in messages if m["MessageId"] not in failed]
        retry = [m for m in messages if m["MessageId"] in failed]
        for start in range(0, len(retry), 10):
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {
                        "Id": str(i),
                        "ReceiptHandle": m["ReceiptHandle"],
                        "VisibilityTimeout": self.retry_visibility_s,
                    }
                    for i, m in enumerate(retry[start : start + 10])
                ],
            )
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        self.on_batch(event["Records"], failed, elapsed_ms)
        return failed

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = message.get("Attributes", {})
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {
                "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                "SentTimestamp": attributes.get("SentTimestamp", "0"),
                "SenderId": attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
                "ApproximateFirstReceiveTimestamp": attributes.get(
                    "ApproximateFirstReceiveTimestamp", "0"
                ),
            },
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": "ap-northeast-1",
        }


def related_mapping(template: dict[str, Any]) -> dict[str, Any]:
    """The related function's stream event source mapping, as template.yaml declares it."""
    function = template["Resources"]["RelatedFunction"]["Properties"]
    (event,) = (e["Properties"] for e in function["Events"].values() if e["Type"] == "DynamoDB")
    filters = event.get("FilterCriteria", {}).get("Filters", [])
    return {
        "filters": [json.loads(f["Pattern"]) for f in filters],
        "batch_size": int(event.get("BatchSize", 100)),
        "max_retries": int(event.get("MaximumRetryAttempts", -1)),
        "bisect": bool(event.get("BisectBatchOnFunctionError", False)),
        "starting_position": str(event.get("StartingPosition", "LATEST")),
        "window_s": float(event.get("MaximumBatchingWindowInSeconds", 0)),
        "report_failures": "ReportBatchItemFailures" in event.get("FunctionResponseTypes", []),
    }


def matches_filter(pattern: dict[str, Any], value: Any) -> bool:
    """Lambda event filtering for the pattern forms tsuzuri uses: nested objects whose
    leaves are lists of accepted values."""
    if not isinstance(value, dict):
        return False
    for key, expected in pattern.items():
        if key not in value:
            return False
        if isinstance(expected, dict):
            if not matches_filter(expected, value[key]):
                return False
        elif value[key] not in expected:
            return False
    return True


def lambda_stream_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A ``get_records`` record in the shape Lambda delivers it (JSON: binary as base64,
    the creation time in epoch seconds, ``eventSourceARN`` added)."""

    def jsonable(value: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            return base64.b64encode(bytes(value)).decode("ascii")
        if isinstance(value, dict):
            return {k: jsonable(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set):
            return [jsonable(v) for v in value]
        return value

    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": jsonable(change),
        "eventSourceARN": stream_arn,
    }


@dataclass
class StreamPump:
    """Lambda's DynamoDB stream event source mapping, as far as tsuzuri relies on it.

    Reads every shard of the table's stream in order, drops records that match none of
    the filter patterns (as Lambda does, before invoking), invokes the handler with
    batches of up to ``batch_size`` records, and on a failure (a reported
    ``batchItemFailures`` sequence number, or an exception) retries from the failed
    record, halving the batch when ``bisect`` is on. After ``max_retries`` retries the
    remaining records of the batch go to ``on_failure`` (the on-failure destination)
    and the shard moves on, so a poison record never blocks it.
    """

    streams: Any
    stream_arn: str
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    filters: list[dict[str, Any]] = field(default_factory=list)
    batch_size: int = 100
    max_retries: int = 3
    bisect: bool = True
    starting_position: str = "TRIM_HORIZON"
    # MaximumBatchingWindowInSeconds: the background loop gathers records this long (or
    # up to batch_size) before it invokes, as Lambda's poller does; drain() does not wait.
    window_s: float = 0.0
    on_failure: Callable[[dict[str, Any]], None] = lambda _message: None
    # Called whenever a poll finds the stream quiet, with the records delivered so far
    # and when (time.perf_counter) that poll began: only what was written before then is
    # known to be delivered.
    on_quiet: Callable[[int, float], None] = lambda _delivered, _polled_at: None
    region: str = "ap-northeast-1"
    stop_event: threading.Event = field(default_factory=threading.Event)
    invocations: int = 0
    records_read: int = 0
    records_delivered: int = 0
    failures_sent: int = 0
    _iterators: dict[str, str | None] = field(default_factory=dict)
    # Per shard, the iterator before the oldest record not yet delivered: where a
    # restarted stack goes on from (tsuzuri_local.devstack.state).
    _unconsumed: dict[str, str | None] = field(default_factory=dict)
    _resumed: set[str] = field(default_factory=set)
    _held: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _held_since: dict[str, float] = field(default_factory=dict)

    def resume_from(self, positions: dict[str, str]) -> None:
        """Go on from the positions a stopped stack kept (see :meth:`positions`)."""
        self._iterators.update(positions)
        self._resumed.update(positions)

    def positions(self) -> dict[str, str]:
        """Per shard, an iterator from which nothing undelivered is skipped: records
        gathered for the batching window but not yet given to the handler are read
        again after a restart (at least once, as Lambda's checkpoints are)."""
        kept = {**self._iterators, **self._unconsumed}
        return {shard: iterator for shard, iterator in kept.items() if iterator}

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                polled_at = time.perf_counter()
                if not self.poll(until=self.stop_event, gather=True):
                    self.on_quiet(self.records_delivered, polled_at)
                    self.stop_event.wait(POLL_SECONDS)
            except Exception as exc:
                if not self.stop_event.is_set():
                    print(f"stream pump: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                    time.sleep(1)

    def drain(self, max_polls: int = 100) -> int:
        """Poll until a poll delivers nothing to the handler; returns the records
        delivered. A handler whose writes pass the filter never gets there."""
        total = 0
        for _ in range(max_polls):
            before = self.records_delivered
            self.poll()
            delivered = self.records_delivered - before
            total += delivered
            if not delivered:
                return total
        raise RuntimeError("the stream did not go quiet: the handler may be re-triggering itself")

    def poll(self, until: threading.Event | None = None, *, gather: bool = False) -> int:
        """Read what is new on every shard and deliver it. Returns records read (and
        still gathered). With ``until``, stop between pages once it is set (the
        background loop's stop; an explicit poll or drain after a stop still reads
        everything). With ``gather``, records wait for the batching window."""
        read = 0
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id,
                    ShardIteratorType=self.starting_position,
                )["ShardIterator"]  # fmt: skip
            iterator = self._iterators[shard_id]
            # A page at a time, as Lambda's poller does: a long backlog (a bulk rebuild's
            # own records) is neither held in memory at once nor deaf to a stop.
            while iterator and not (until is not None and until.is_set()):
                if not self._held.get(shard_id):
                    self._unconsumed.pop(shard_id, None)
                self._unconsumed.setdefault(shard_id, iterator)
                response = self._records(shard_id, iterator)
                records = response.get("Records", [])
                iterator = response.get("NextShardIterator")
                self._iterators[shard_id] = iterator
                read += len(records)
                self.records_read += len(records)
                events = [lambda_stream_record(r, self.stream_arn, self.region) for r in records]
                wanted = [e for e in events if self._wanted(e)]
                held = self._held.setdefault(shard_id, [])
                if wanted and not held:
                    self._held_since[shard_id] = time.monotonic()
                held += wanted
                if not gather or len(held) >= self.batch_size:
                    self._release(shard_id)
                if not self._held.get(shard_id):
                    self._unconsumed.pop(shard_id, None)
                if len(records) < 1000:
                    break  # caught up for now; the next poll goes on from here
        for shard_id, held in self._held.items():
            waited = time.monotonic() - self._held_since.get(shard_id, 0.0)
            if held and (not gather or waited >= self.window_s):
                self._release(shard_id)
        return read + sum(len(held) for held in self._held.values())

    def _records(self, shard_id: str, iterator: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            response: dict[str, Any] = self.streams.get_records(ShardIterator=iterator, Limit=1000)
        except ClientError:
            if shard_id not in self._resumed:
                raise
            # A kept position the restored state does not know (the two were written by
            # a stop cut short): read the shard again from its start, at least once.
            self._resumed.discard(shard_id)
            iterator = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            self._unconsumed[shard_id] = iterator
            response = self.streams.get_records(ShardIterator=iterator, Limit=1000)
        self._resumed.discard(shard_id)
        return response

    def _release(self, shard_id: str) -> None:
        batch = self._held.get(shard_id, [])
        self.records_delivered += len(batch)
        self._deliver(shard_id, batch)
        # Emptied once delivered: a stop during the delivery keeps its position.
        self._held[shard_id] = []
        self._unconsumed.pop(shard_id, None)

    def _wanted(self, record: dict[str, Any]) -> bool:
        return not self.filters or any(matches_filter(p, record) for p in self.filters)

    def _deliver(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        batches = [
            records[i : i + self.batch_size] for i in range(0, len(records), self.batch_size)
        ]
        while batches:
            batch = batches.pop(0)
            retries = 0
            while batch:
                failed_at, error = self._invoke(batch)
                if failed_at is None:
                    break
                remaining = batch[failed_at:]
                retries += 1
                if self.max_retries >= 0 and retries > self.max_retries:
                    self._send_failure(shard_id, remaining, error, retries)
                    break
                if self.bisect and len(remaining) > 1:
                    half = len(remaining) // 2
                    batches.insert(0, remaining[half:])
                    remaining = remaining[:half]
                batch = remaining

    def _invoke(self, batch: list[dict[str, Any]]) -> tuple[int | None, str]:
        """Index of the first record to retry (None: all done) and the error seen."""
        self.invocations += 1
        try:
            response = self.handler({"Records": batch}, LambdaContext("tsuzuri-related"))
        except Exception as exc:
            print(f"related function raised {type(exc).__name__}: {exc}", file=sys.stderr)
            return 0, f"{type(exc).__name__}: {exc}"
        failures = [f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])]
        if not failures:
            return None, ""
        numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
        positions = [numbers.index(f) for f in failures if f in numbers]
        # An identifier that is not in the batch fails the whole batch, as in Lambda.
        return (min(positions) if len(positions) == len(failures) else 0), "batchItemFailures"

    def _send_failure(
        self, shard_id: str, records: list[dict[str, Any]], error: str, attempts: int
    ) -> None:
        """The on-failure destination's message for a stream batch (records stay in the
        stream for 24 hours; the message says where they are)."""
        self.failures_sent += 1
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        self.on_failure(
            {
                "requestContext": {
                    "requestId": str(uuid.uuid4()),
                    "functionArn": LambdaContext("tsuzuri-related").invoked_function_arn,
                    "condition": "RetryAttemptsExhausted",
                    "approximateInvokeCount": attempts,
                },
                "responseContext": {
                    "statusCode": 200,
                    "executedVersion": "$LATEST",
                    "functionError": error,
                },
                "version": "1.0",
                "timestamp": now,
                "DDBStreamBatchInfo": {
                    "shardId": shard_id,
                    "startSequenceNumber": first["SequenceNumber"],
                    "endSequenceNumber": last["SequenceNumber"],
                    "approximateArrivalOfFirstRecord": first.get("ApproximateCreationDateTime"),
                    "approximateArrivalOfLastRecord": last.get("ApproximateCreationDateTime"),
                    "batchSize": len(records),
                    "streamArn": self.stream_arn,
                },
            }
        )


def queue_sender(sqs: Any, name: str) -> Callable[[dict[str, Any]], None]:
    """An on-failure destination: each message goes to a (created) SQS queue."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]

    def send(message: dict[str, Any]) -> None:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(message))
        print(f"related function: records sent to {name}", file=sys.stderr, flush=True)

    return send
