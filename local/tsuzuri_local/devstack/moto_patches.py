"""moto's server, fixed where ``tsuzuri dev`` needs it: answers that AWS gives and moto
does not, and costs that grow with the size of the site (moto is built for tests of a
few items; a 2,500-post folder made some calls take seconds each).

Each fix replaces one moto function in place, for the whole process, and marks what it
installed so that applying it again (every test session, benchmark and ``tsuzuri dev``
calls ``speed_up_moto``) changes nothing. Tests compare the fast encodings with moto's.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote


def speed_up_moto() -> None:
    """The local stack's fixes to moto's server: same answers, without the costs that
    grow with the size of the site (see each function), and the delete-marker event."""
    index_moto_queries()
    encode_dynamodb_reads()
    encode_stream_reads()
    notify_delete_markers()
    cache_moto_service_names()
    read_sqs_retention_directly()
    transact_touched_items_only()


_query_partition = threading.local()
_transactions = threading.Lock()


def transact_touched_items_only() -> None:
    """``TransactWriteItems`` without copying the whole table.

    moto backs up every table a transaction names with ``copy.deepcopy`` before it
    starts, to restore it on a cancellation: on a site of 2,500 posts that is tens of
    thousands of items copied for each publish, and it fails outright ("dictionary
    changed size during iteration") when another request writes the table during the
    copy. Here every condition is checked first, against the items as they are, and
    nothing is written unless all hold: AWS's answer, cancellation reasons included.
    Only then are the writes applied, under one lock so that two transactions never
    interleave; the few items touched are copied first, to undo an apply that fails.
    """
    import copy

    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "__wrapped__", None) is not None:
        return

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        with _transactions:
            steps: list[tuple[str, dict[str, Any], dict[str, Any], Any]] = []
            errors: list[tuple[Any, Any, Any]] = []
            seen: set[tuple[str, str]] = set()
            for entry in transact_items:
                if len(entry) > 1:
                    raise TransactWriteSingleOpException
                op_type, op = next(iter(entry.items()))
                if op_type == "Put":
                    table = self.get_table(op["TableName"])
                    attrs = op["Item"]
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                ident = (op["TableName"], json.dumps(key, sort_keys=True))
                if ident in seen:
                    raise MultipleTransactionsException()
                seen.add(ident)
                current = self.get_item(op["TableName"], key)
                condition = op.get("ConditionExpression")
                failed = condition is not None and not get_filter_expression(
                    condition,
                    op.get("ExpressionAttributeNames"),
                    op.get("ExpressionAttributeValues"),
                ).expr(current)
                if failed:
                    old = None
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        old = current.to_json()["Attributes"]
                    errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
                else:
                    errors.append((None, None, None))
                steps.append((op_type, op, key, copy.deepcopy(current)))
            if any(code is not None for code, _, _ in errors):
                raise TransactionCanceledException(errors)
            applied: list[tuple[str, dict[str, Any], Any]] = []
            for index, (op_type, op, key, before) in enumerate(steps):
                names = op.get("ExpressionAttributeNames")
                values = op.get("ExpressionAttributeValues")
                try:
                    if op_type == "Put":
                        self.put_item(
                            op["TableName"], op["Item"],
                            expression_attribute_names=names,
                            expression_attribute_values=values,
                        )  # fmt: skip
                    elif op_type == "Delete":
                        self.delete_item(op["TableName"], key)
                    elif op_type == "Update":
                        self.update_item(
                            op["TableName"], key, update_expression=op["UpdateExpression"],
                            expression_attribute_names=names,
                            expression_attribute_values=values,
                        )  # fmt: skip
                except Exception as exc:
                    for table_name, done_key, snapshot in reversed(applied):
                        if snapshot is None:
                            self.delete_item(table_name, done_key)
                        else:
                            self.put_item(table_name, snapshot.to_json()["Attributes"])
                    if isinstance(exc, MockValidationException):
                        raise
                    reasons: list[tuple[Any, Any, Any]] = [(None, None, None)] * len(steps)
                    reasons[index] = (type(exc).__name__, str(exc), None)
                    raise TransactionCanceledException(reasons) from exc
                applied.append((op["TableName"], key, before))

    transact_write_items.__wrapped__ = original  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]

    from moto.dynamodb.responses import DynamoHandler

    read = DynamoHandler.transact_get_items

    def transact_get_items(self: Any) -> Any:
        # AWS never shows a TransactGetItems half of a write transaction; nor does this.
        with _transactions:
            return read(self)

    transact_get_items.__wrapped__ = read  # type: ignore[attr-defined]
    DynamoHandler.transact_get_items = transact_get_items  # type: ignore[method-assign]


def index_moto_queries() -> None:
    """Make moto answer a base-table Query from the key's partition, in key order, as
    DynamoDB does.

    moto 5 collects and sorts *every* item of the table for each Query (about a second
    on the 60,000 items of a 2,500-post site), and then compares every item of the
    partition with the key condition in Python: a ``Limit=1`` neighbour query on a
    2,500-item partition cost 33 ms of server CPU. Here a base-table query without an
    ``ExclusiveStartKey`` or a legacy filter takes the partition, sorts it by the raw
    key values (C comparisons), finds the key condition's range by bisection and reads
    at most ``Limit`` items from it; anything else goes to moto with only its partition.
    The answers (items, count, ``LastEvaluatedKey`` at the limit or at 1 MB) are moto's:
    ``tests/unit/test_moto_fixes.py`` compares them on random partitions and queries.
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
        fast = _sorted_partition_query(self, hash_key, *args, **kwargs)
        if fast is not None:
            return fast
        _query_partition.key = (self, hash_key)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _query_partition.key = None

    partitioned_query._tsuzuri_partitioned = True  # type: ignore[attr-defined]
    partitioned_query.__wrapped__ = query  # type: ignore[attr-defined]
    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = partitioned_query  # type: ignore[method-assign]


# The key conditions by the names moto passes them with: KeyConditionExpression's
# operators and the legacy KeyConditions' names.
_BISECTABLE = {
    **{name: name for name in ("EQ", "LT", "LE", "GT", "GE", "BETWEEN", "BEGINS_WITH")},
    "=": "EQ", "<": "LT", "<=": "LE", ">": "GT", ">=": "GE",
}  # fmt: skip


def _sorted_partition_query(
    table: Any,
    hash_key: Any,
    range_comparison: str | None = None,
    range_objs: Any = (),
    limit: int | None = None,
    exclusive_start_key: Any = None,
    scan_index_forward: bool = True,
    projection_expressions: Any = None,
    index_name: str | None = None,
    consistent_read: bool = False,
    filter_expression: Any = None,
    hash_key_conditions: Any = None,
    range_key_conditions: Any = None,
    **filter_kwargs: Any,
) -> tuple[list[Any], int, Any] | None:
    """The cases moto would answer the same way, or None for moto to answer."""
    import copy
    from bisect import bisect_left, bisect_right

    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT

    if exclusive_start_key or filter_kwargs or len(range_key_conditions or ()) > 1:
        return None
    if range_comparison is not None:
        if range_comparison.upper() not in _BISECTABLE:
            return None
        range_comparison = _BISECTABLE[range_comparison.upper()]
    items = sorted(table.items.get(hash_key, {}).values(), key=lambda i: i.range_key.cast_value)
    keys = [item.range_key.cast_value for item in items]
    values = [obj.cast_value for obj in range_objs]
    if values and keys and type(values[0]) is not type(keys[0]):
        return None  # a comparison across types: moto's own error or answer
    low, high = 0, len(items)
    if range_comparison == "EQ":
        low, high = bisect_left(keys, values[0]), bisect_right(keys, values[0])
    elif range_comparison == "LT":
        high = bisect_left(keys, values[0])
    elif range_comparison == "LE":
        high = bisect_right(keys, values[0])
    elif range_comparison == "GT":
        low = bisect_right(keys, values[0])
    elif range_comparison == "GE":
        low = bisect_left(keys, values[0])
    elif range_comparison == "BETWEEN":
        low, high = bisect_left(keys, values[0]), bisect_right(keys, values[1])
    elif range_comparison == "BEGINS_WITH":
        low = high = bisect_left(keys, values[0])
        while high < len(keys) and keys[high].startswith(values[0]):
            high += 1
    order = list(range(low, high)) if scan_index_forward else list(range(high - 1, low - 1, -1))
    after = range(high, len(items)) if scan_index_forward else range(low - 1, -1, -1)
    results: list[Any] = []
    size = 0
    last_key = None
    for position in order:
        item = items[position]
        if len(results) == limit or size + item.size() > RESULT_SIZE_LIMIT:
            last_key = table._get_last_evaluated_key(results[-1], None)
            break
        results.append(item)
        size += item.size()
    else:
        # moto goes on through the rest of the partition and stops at the first item
        # that would be past the limit, even one outside the key condition.
        for position in after:
            if len(results) == limit or size + items[position].size() > RESULT_SIZE_LIMIT:
                last_key = table._get_last_evaluated_key(results[-1], None) if results else None
                break
    count = len(results)
    results = copy.deepcopy(results)
    if filter_expression is not None:
        results = [item for item in results if filter_expression.expr(item)]
    if projection_expressions:
        results = [item.project(projection_expressions) for item in results]
    return results, count, last_key


FAST_DYNAMODB_OPERATIONS = frozenset(
    {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
)


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
    """Make moto's server encode the table stream's GetRecords with ``json`` directly,
    as :func:`encode_dynamodb_reads` does for table reads.

    After a bulk rebuild of the related lists the stream holds tens of thousands of the
    function's own records (RX#, RBY#, RELATED...), which the pump reads and the filter
    then drops; through moto's generic serializer, reading past them took longer than
    the rebuild itself. A test compares the two encodings."""
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


def read_sqs_retention_directly() -> None:
    """Make moto check a received message's age against the queue's retention period
    alone: same answer, without building the queue's attributes per message.

    moto checks each received message against the queue's retention period by
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
    """Make moto's server list its own service modules once instead of per request:
    same routing, without a directory listing per request.

    moto's server decides which service a request is for by listing its own package
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
