"""``tsuzuri dev``: the whole product on an embedded AWS (moto's server), served locally.

Real protocols all the way: files go into the source bucket over HTTP, moto sends the
bucket's notifications to the render queue exactly as configured in ``template.yaml``,
and :class:`EventPump` plays Lambda's SQS event source mapping, calling the same
handler as production with the same event shape, batch size, batching window,
partial batch failures, retries and dead-letter queue.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

from tsuzuri.buckets import report_key
from tsuzuri.config import RuntimeSettings
from tsuzuri.keys import PAGE_EXTENSIONS, POST_EXTENSIONS

REPO = Path(__file__).resolve().parents[3]
RENDER_HANDLER = REPO / "functions" / "render" / "app.py"
POLL_SECONDS = 0.5
LOADING_BATCH_SIZE = 250


_query_partition = threading.local()


def index_moto_queries() -> None:
    """Make moto answer a base-table Query from the key's partition, as DynamoDB does.

    moto 5 collects and sorts *every* item of the table for each Query, so a query costs
    time proportional to the table: about a second on the 60,000 items of a 2,500-post
    site, which made loading such a site take over an hour. Same results (base-table
    queries on a table with a sort key only; index queries and scans are untouched),
    and safe across moto's request threads: the partition is passed thread-locally.
    """
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "_tsuzuri_partitioned", False):
        return
    every_item = Table.all_items
    query = Table.query

    def all_items(self: Any) -> Any:
        wanted = getattr(_query_partition, "key", None)
        if wanted is not None and wanted[0] is self:
            return sorted(self.items.get(wanted[1], {}).values(), key=lambda i: i.range_key)
        return every_item(self)

    def partitioned_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name is not None or hash_key is None or not self.range_key_attr:
            return query(self, hash_key, *args, **kwargs)
        _query_partition.key = (self, hash_key)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _query_partition.key = None

    partitioned_query._tsuzuri_partitioned = True  # type: ignore[attr-defined]
    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = partitioned_query  # type: ignore[method-assign]


def content_files(content: Path) -> Iterator[tuple[Path, str]]:
    """(file, source key) pairs for a Jekyll site folder: _posts/ and posts/ go to posts/;
    theme/*.j2 to theme/; pages/ and _pages/ to pages/, and so do Jekyll's root-level
    Markdown pages (a ``.md`` file next to ``_config.yml`` that starts with front matter,
    e.g. about.md)."""
    for name in ("_config.yml", "_config.yaml", "_config.json"):
        if (content / name).is_file():
            yield content / name, name
    # Theme overrides: Jinja2 templates directly under theme/ (Jekyll's _layouts/ are
    # Liquid, which tsuzuri does not run, so they are not mirrored).
    theme = content / "theme"
    if theme.is_dir():
        for path in sorted(theme.glob("*.j2")):
            if path.is_file() and not path.name.startswith("."):
                yield path, f"theme/{path.name}"
    for folder in ("pages", "_pages"):
        root = content / folder
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if (
                    path.is_file()
                    and path.suffix in PAGE_EXTENSIONS
                    and not path.name.startswith(".")
                ):
                    yield path, "pages/" + path.relative_to(root).as_posix()
    for path in sorted(content.glob("*.md")):
        if path.is_file() and not path.name.startswith((".", "_")) and _has_front_matter(path):
            yield path, f"pages/{path.name}"
    for folder in ("posts", "_posts"):
        root = content / folder
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if (
                    path.is_file()
                    and path.suffix in POST_EXTENSIONS
                    and not path.name.startswith(".")
                ):
                    yield path, f"posts/{path.name}"
    assets = content / "assets"
    if assets.is_dir():
        for path in sorted(assets.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                yield path, "assets/" + path.relative_to(assets).as_posix()


def _has_front_matter(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4).lstrip(b"\xef\xbb\xbf").startswith(b"---")
    except OSError:
        return False


def load_handler(path: Path = RENDER_HANDLER) -> ModuleType:
    """Import a Lambda handler module from its file, as the runtime does."""
    spec = importlib.util.spec_from_file_location(f"tsuzuri_handler_{path.parent.name}", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise FileNotFoundError(f"handler not found: {path} (run tsuzuri dev from a checkout)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while executing it
    spec.loader.exec_module(module)
    return module


class LambdaContext:
    """The attributes Powertools reads from Lambda's context object."""

    def __init__(self, name: str, timeout_s: int = 60):
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:ap-northeast-1:123456789012:function:{name}"
        self.memory_limit_in_mb = 1024
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


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
    # While ``loading()`` says the initial load of a content folder is still running,
    # batches take up to ``loading_batch_size`` messages: the render function renders
    # each touched list page once per batch, so a 2,500-post backlog in batches of 50
    # would render most list pages 50 times. Must stay well within what one invocation
    # can finish inside ``processing_visibility_s``.
    loading: Callable[[], bool] = lambda: False
    loading_batch_size: int = 0
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
        if self.loading_batch_size > self.batch_size and self.loading():
            limit = self.loading_batch_size
            deadline = float("inf")  # the backlog is already queued: take it until empty
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


RELATED_HANDLER = REPO / "functions" / "related" / "app.py"


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
    on_failure: Callable[[dict[str, Any]], None] = lambda _message: None
    # Called with the records delivered so far whenever a poll finds the stream quiet.
    on_quiet: Callable[[int], None] = lambda _delivered: None
    region: str = "ap-northeast-1"
    stop_event: threading.Event = field(default_factory=threading.Event)
    invocations: int = 0
    records_read: int = 0
    records_delivered: int = 0
    failures_sent: int = 0
    _iterators: dict[str, str | None] = field(default_factory=dict)

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                if not self.poll(until=self.stop_event):
                    self.on_quiet(self.records_delivered)
                    self.stop_event.wait(POLL_SECONDS)
            except Exception as exc:
                if not self.stop_event.is_set():
                    print(f"stream pump: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                    time.sleep(1)

    def start_from_latest(self) -> None:
        """Skip what the stream holds now: the next poll reads only newer records."""
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            self._iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]

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

    def poll(self, until: threading.Event | None = None) -> int:
        """Read what is new on every shard and deliver it. Returns records read. With
        ``until``, stop between pages once it is set (the background loop's stop; an
        explicit poll or drain after a stop still reads everything)."""
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
                response = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                records = response.get("Records", [])
                iterator = response.get("NextShardIterator")
                self._iterators[shard_id] = iterator
                read += len(records)
                self.records_read += len(records)
                events = [lambda_stream_record(r, self.stream_arn, self.region) for r in records]
                wanted = [e for e in events if self._wanted(e)]
                self.records_delivered += len(wanted)
                self._deliver(shard_id, wanted)
                if len(records) < 1000:
                    break  # caught up for now; the next poll goes on from here
        return read

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


FAST_DYNAMODB_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})


def _wire_json(value: Any) -> Any:
    """DynamoDB's JSON wire form of what ``json`` cannot encode: blobs are base64."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode_dynamodb_reads() -> None:
    """Make moto's server encode DynamoDB read responses with ``json`` directly.

    moto 5.2 serializes every response through a generic, shape-driven serializer that
    resolves each attribute's name by alias lookups: a Query returning the 2,500 members
    of a list took seconds, and was most of the local stack's time. The items are
    already in DynamoDB's JSON wire form, so for reads (which return only items, counts
    and keys) plain ``json.dumps`` gives the same document; a test compares the two.
    """
    from moto.dynamodb.responses import DynamoResult

    if getattr(DynamoResult.execute_result, "_tsuzuri_fast", False):
        return
    execute_result = DynamoResult.execute_result

    def fast_execute_result(self: Any, context: Any) -> Any:
        if context.operation_model.name in FAST_DYNAMODB_OPERATIONS and isinstance(
            self.result, dict
        ):
            body = json.dumps(self.result, default=_wire_json)
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, body
        return execute_result(self, context)

    fast_execute_result.__wrapped__ = execute_result  # type: ignore[attr-defined]
    fast_execute_result._tsuzuri_fast = True  # type: ignore[attr-defined]
    DynamoResult.execute_result = fast_execute_result  # type: ignore[method-assign]


def _stream_json(value: Any) -> Any:
    """Stream records in the wire form: ``ApproximateCreationDateTime`` as epoch seconds."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=value.tzinfo or UTC).timestamp()
    return _wire_json(value)


def encode_stream_reads() -> None:
    """The same for the table stream's GetRecords. After a bulk rebuild of the related
    lists the stream holds tens of thousands of the function's own records (RX#, RBY#,
    RELATED...), which the pump reads and the filter then drops; through moto's generic
    serializer, reading past them took longer than the rebuild itself. A test compares
    the two encodings."""
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    if getattr(DynamoDBStreamsHandler.get_records, "_tsuzuri_fast", False):
        return
    get_records = DynamoDBStreamsHandler.get_records

    def fast_get_records(self: Any) -> str:
        limit = self._get_param("Limit")
        result = self.backend.get_records(self._get_param("ShardIterator"), limit or 1000)
        return json.dumps(result, default=_stream_json)

    fast_get_records.__wrapped__ = get_records  # type: ignore[attr-defined]
    fast_get_records._tsuzuri_fast = True  # type: ignore[attr-defined]
    DynamoDBStreamsHandler.get_records = fast_get_records  # type: ignore[method-assign,assignment]


def speed_up_moto() -> None:
    """The local stack's fixes to moto's server: same answers, without the costs that
    grow with the size of the site (see each function), and the delete-marker event."""
    index_moto_queries()
    encode_dynamodb_reads()
    encode_stream_reads()
    notify_delete_markers()
    cache_moto_service_names()
    read_sqs_retention_directly()


def read_sqs_retention_directly() -> None:
    """moto checks each received message against the queue's retention period by
    building every queue attribute, approximate message counts included, and those
    counts walk all messages: a receive of 250 from a queue of 2,500 walked the queue
    three times per message, half the local stack's time during a load."""
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    if getattr(SQSBackend.is_message_valid_based_on_retention_period, "_tsuzuri_fast", False):
        return

    def within_retention(self: Any, queue_name: str, message: Any) -> bool:
        retention_s = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention_s + message.sent_timestamp / 1000 > unix_time())

    within_retention._tsuzuri_fast = True  # type: ignore[attr-defined]
    SQSBackend.is_message_valid_based_on_retention_period = within_retention  # type: ignore[method-assign]


def cache_moto_service_names() -> None:
    """moto's server decides which service a request is for by listing its own package
    directory on disk and calling ``isdir`` on every entry, for every request: a fifth
    of the server's time per S3 HEAD. The directory does not change while it runs."""
    from moto import backends

    if getattr(backends.list_of_moto_modules, "_tsuzuri_cached", False):
        return
    names = tuple(backends.list_of_moto_modules())

    def cached_names() -> tuple[str, ...]:
        return names

    cached_names._tsuzuri_cached = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = cached_names


def notify_delete_markers() -> None:
    """Fill a gap in moto: a delete in a versioned bucket creates a delete marker but
    sends no ``ObjectRemoved:DeleteMarkerCreated`` notification. AWS sends one; with
    this, moto's server sends the same event shape to every queue whose notification
    configuration matches, at the moment the marker is created (no polling: listing
    every version of a 2,500-post bucket twice a second was a third of the server's
    time during a load)."""
    from moto.s3 import notifications
    from moto.s3.models import S3Backend

    if getattr(S3Backend._set_delete_marker, "_tsuzuri_notifies", False):
        return
    set_delete_marker = S3Backend._set_delete_marker
    event_name = "s3:ObjectRemoved:DeleteMarkerCreated"

    def set_and_notify(self: Any, bucket_name: str, key_name: str) -> Any:
        marker = set_delete_marker(self, bucket_name, key_name)
        configuration = self.get_bucket(bucket_name).notification_configuration
        for queue in configuration.queue if configuration is not None else []:
            if queue.matches(event_name, key_name):
                _, _, _, region, _, queue_name = queue.arn.split(":")
                notifications._send_sqs_message(
                    self.account_id, s3_event(bucket_name, key_name, region), queue_name, region
                )
        return marker

    set_and_notify._tsuzuri_notifies = True  # type: ignore[attr-defined]
    S3Backend._set_delete_marker = set_and_notify  # type: ignore[method-assign]


def s3_event(bucket: str, key: str, region: str = "ap-northeast-1") -> dict[str, Any]:
    """The notification AWS sends for a delete marker (keys URL-encoded like S3's)."""
    now = time.time()
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now)),
                "eventName": "ObjectRemoved:DeleteMarkerCreated",
                "userIdentity": {"principalId": "AWS:LOCAL"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper()},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "tsuzuri-local",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote(key, safe="/").replace("%20", "+")},
                },
            }
        ]
    }


class FolderMirror:
    """Keeps the source bucket equal to a content folder.

    Polls file stat snapshots instead of using inotify: editors' atomic saves
    (write temp, rename) and network or container mounts all look the same to a
    snapshot diff, and 2,500 files stat in a few milliseconds.
    """

    def __init__(self, content: Path, s3: Any, bucket: str):
        self._content, self._s3, self._bucket = content, s3, bucket
        self._snapshot: dict[str, tuple[Path, int, int]] = {}

    def scan(self) -> dict[str, tuple[Path, int, int]]:
        result = {}
        for path, key in content_files(self._content):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            result[key] = (path, stat.st_mtime_ns, stat.st_size)
        return result

    def sync(self) -> tuple[list[str], list[str]]:
        """Upload what changed and delete what went; returns (uploaded, deleted) keys."""
        current = self.scan()
        uploaded = [
            k for k, v in current.items() if self._snapshot.get(k, (None, -1, -1))[1:] != v[1:]
        ]
        deleted = [k for k in self._snapshot if k not in current]
        for key in uploaded:
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=current[key][0].read_bytes())
        for key in deleted:
            self._s3.delete_object(Bucket=self._bucket, Key=key)
        self._snapshot = current
        return uploaded, deleted


class Console:
    """One line per processed file: key -> URL and ms, or the editor's report."""

    def __init__(self, s3: Any, source_bucket: str, site_url: str):
        self._s3, self._bucket, self._site = s3, source_bucket, site_url.rstrip("/")
        self.pending: set[str] = set()
        self.total = 0
        self.started = time.perf_counter()
        self.ready = threading.Event()
        self._lock = threading.Lock()
        self._last_progress = 0.0
        self._related_ready = False

    def expect(self, keys: list[str]) -> None:
        with self._lock:
            self.pending |= set(keys)
            self.total += len(keys)

    def batch(self, records: list[dict[str, Any]], failed: set[str], ms: float) -> None:
        from urllib.parse import unquote_plus

        for record in records:
            body = json.loads(record["body"])
            for s3_record in body.get("Records", []):
                key = unquote_plus(s3_record["s3"]["object"]["key"])
                if record["messageId"] in failed:
                    print(f"{key}: failed, will retry ({ms:.0f} ms)", flush=True)
                    continue
                print(self._line(key, ms), flush=True)
                with self._lock:
                    self.pending.discard(key)
        self._progress()

    def _line(self, key: str, ms: float) -> str:
        if key.startswith("assets/"):
            return f"{key} -> {self._site}/{key} ({ms:.0f} ms)"
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=report_key(key))["Body"].read()
            report = json.loads(body)
        except Exception:
            return f"{key}: processed ({ms:.0f} ms)"
        status = report.get("status")
        if status == "rejected":
            line = f":{report['line']}" if report.get("line") else ""
            hint = f" ({report['hint']})" if report.get("hint") else ""
            return f"{key}{line}: {report.get('problem')}{hint}"
        url = report.get("url") or ""
        detail = f" [{status}]" if status != "published" else ""
        note = f" {report['problem']}" if report.get("problem") else ""
        return f"{key} -> {self._site}{quote(url)}{detail}{note} ({ms:.0f} ms)"

    def related_quiet(self, delivered: int) -> None:
        """The related function caught up with the table stream: said once, after the
        initial load, because only then are the sample site's lists complete."""
        if self.ready.is_set() and not self._related_ready:
            self._related_ready = True
            elapsed = time.perf_counter() - self.started
            print(
                f"related lists ready: {delivered} stream records in {elapsed:.1f} s",
                file=sys.stderr, flush=True,
            )  # fmt: skip

    def _progress(self) -> None:
        with self._lock:
            remaining, total = len(self.pending), self.total
        if self.ready.is_set():
            return
        now = time.perf_counter()
        if remaining == 0:
            print(f"ready: {total} files published in {now - self.started:.1f} s", flush=True)
            self.ready.set()
        elif now - self._last_progress > 5:
            self._last_progress = now
            done = total - remaining
            print(f"[{done}/{total}] {now - self.started:.0f} s", file=sys.stderr, flush=True)


def handler_environment(
    settings: RuntimeSettings,
    endpoint: str,
    *,
    log_level: str = "ERROR",
    index_workers: int = 1,
    **extra: str,
) -> dict[str, str]:
    """The environment ``template.yaml`` gives both functions, pointed at a local
    endpoint: what the local stack, the integration tests and the benchmarks run the
    handlers with. Powertools logs only errors (the console prints one line per file),
    and emits no metrics or traces."""
    return {
        "SOURCE_BUCKET": settings.source_bucket,
        "SITE_BUCKET": settings.site_bucket,
        "TABLE_NAME": settings.table_name,
        "DISTRIBUTION_ID": settings.distribution_id or "",
        "TSUZURI_AWS_ENDPOINT_URL": endpoint,
        "POWERTOOLS_LOG_LEVEL": log_level,
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "TSUZURI_INDEX_WORKERS": str(index_workers),
        **extra,
    }


def run_dev(*, content: Path, port: int, aws_port: int) -> int:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "tsuzuri-local",
        "AWS_SECRET_ACCESS_KEY": "tsuzuri-local",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "AWS_REGION": "ap-northeast-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }.items():
        os.environ.setdefault(name, value)
    import botocore.session
    from moto.server import ThreadedMotoServer

    from tsuzuri.preview import PreviewServer
    from tsuzuri.provision import provision
    from tsuzuri.runtime import make_clients

    if not content.is_dir():
        print(f"tsuzuri dev: content folder {content} does not exist", file=sys.stderr)
        return 2
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # our own line per event instead
    speed_up_moto()
    aws = ThreadedMotoServer(ip_address="127.0.0.1", port=aws_port, verbose=False)
    aws.start()
    stop = threading.Event()
    threads: list[threading.Thread] = []
    preview = None
    try:
        endpoint = f"http://127.0.0.1:{aws.get_host_and_port()[1]}"
        clients = make_clients(endpoint_url=endpoint, region="ap-northeast-1")
        sqs = botocore.session.get_session().create_client(
            "sqs", region_name="ap-northeast-1", endpoint_url=endpoint
        )
        stack = provision(clients, prefix="tsuzuri-dev", sqs=sqs)
        settings = stack.settings
        if stack.queue_url is None or stack.queue_arn is None:
            raise RuntimeError("the render queue was not created")
        preview = PreviewServer(clients.s3, settings.site_bucket, port=port)
        print(f"aws endpoint: {endpoint}", flush=True)
        print(f"source bucket: {settings.source_bucket}", flush=True)
        print(f"site: {preview.url}", flush=True)

        os.environ.update(
            handler_environment(
                settings, endpoint,
                RENDER_QUEUE_URL=stack.queue_url, TSUZURI_SITE_URL=preview.url.rstrip("/"),
            )
        )  # fmt: skip
        handler = load_handler()
        console = Console(clients.s3, settings.source_bucket, preview.url)
        pump = EventPump(
            sqs=sqs, queue_url=stack.queue_url, queue_arn=stack.queue_arn,
            handler=handler.lambda_handler, batch_size=stack.plan.batch_size,
            window_s=min(stack.plan.batching_window_s, 0.5), on_batch=console.batch,
            stop_event=stop, loading=lambda: not console.ready.is_set(),
            loading_batch_size=LOADING_BATCH_SIZE,
        )  # fmt: skip
        mirror = FolderMirror(content, clients.s3, settings.source_bucket)
        initial = mirror.scan()
        console.expect([k for k in initial if not k.startswith("_config")])
        if not initial:
            console.ready.set()
            print("ready: the content folder is empty", flush=True)
        mirror.sync()  # the config is uploaded before the first cold start reads it
        # One invocation at a time: moto's DynamoDB backend is not safe for concurrent
        # transactions (AWS runs up to MaximumConcurrency; the core is built for that).
        thread = threading.Thread(target=pump.run, name="render-pump", daemon=True)
        thread.start()
        threads.append(thread)
        # The related-posts function on the table's stream, with the template's mapping.
        from tsuzuri.provision import load_template

        related = StreamPump(
            streams=botocore.session.get_session().create_client(
                "dynamodbstreams", region_name="ap-northeast-1", endpoint_url=endpoint
            ),
            stream_arn=stack.stream_arn or "", handler=load_handler(RELATED_HANDLER).lambda_handler,
            on_failure=_queue_sender(sqs, "tsuzuri-dev-related-failures"), stop_event=stop,
            on_quiet=console.related_quiet,
            **{k: v for k, v in related_mapping(load_template()).items() if k != "report_failures"},
        )  # fmt: skip
        threads.append(
            threading.Thread(
                target=related_after_load, name="related-pump",
                args=(related, console.ready, stop), daemon=True,
            )
        )  # fmt: skip
        threads[-1].start()
        preview.start()
        _install_sigterm(stop)
        pause = POLL_SECONDS
        while not stop.wait(pause):
            scan_started = time.perf_counter()
            mirror.sync()
            # Stat-polling 2,500 files costs ~60 ms: keep it under a tenth of the time,
            # but still notice an edit within the promised 2 s.
            pause = min(max(POLL_SECONDS, 10 * (time.perf_counter() - scan_started)), 1.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
        if preview is not None:
            preview.stop()
        aws.stop()
        print("stopped", file=sys.stderr, flush=True)
    return 0


def related_after_load(pump: StreamPump, loaded: threading.Event, stop: threading.Event) -> None:
    """The related function for ``tsuzuri dev``: after the initial load, one bulk
    ``rebuild`` (the handler's own action, as after a migration in AWS), then the stream.

    Replaying the load's stream records would sync one post at a time: on moto that is
    about 0.2 posts/s at 2,500 posts, hours for a big folder. The stream position is
    taken before the rebuild reads the posts, so an edit made meanwhile is synced too
    (a sync of a post the rebuild already saw changes nothing)."""
    while not loaded.wait(POLL_SECONDS):
        if stop.is_set():
            return
    pump.start_from_latest()
    started = time.perf_counter()
    result = pump.handler({"action": "rebuild"}, LambdaContext("tsuzuri-related", 900))
    print(
        f"related lists computed for {result['posts']} posts, {result['rendered']} pages "
        f"rendered in {time.perf_counter() - started:.1f} s",
        file=sys.stderr, flush=True,
    )  # fmt: skip
    total = result["rendered"] + result["pending"]
    while result["pending"] and not stop.is_set():
        print(f"[{total - result['pending']}/{total}] related pages", file=sys.stderr, flush=True)
        result = pump.handler({"action": "render"}, LambdaContext("tsuzuri-related", 120))
    pump.run()


def _queue_sender(sqs: Any, name: str) -> Callable[[dict[str, Any]], None]:
    """An on-failure destination: each message goes to a (created) SQS queue."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]

    def send(message: dict[str, Any]) -> None:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(message))
        print(f"related function: records sent to {name}", file=sys.stderr, flush=True)

    return send


def default_sigint() -> None:
    """For ``preexec_fn`` of a ``tsuzuri dev`` child that will be stopped with SIGINT:
    children of a background shell job inherit an ignored SIGINT; a terminal's don't."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _install_sigterm(stop: threading.Event) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
