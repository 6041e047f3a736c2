"""The local stack's fixes to moto give the same answers as moto itself."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tsuzuri_local.devstack.moto_patches import _wire_json


def _moto_body(operation: str, result: dict[str, Any]) -> Any:
    from moto.core.responses import ActionContext
    from moto.core.serialize import get_serializer_class
    from moto.core.utils import get_service_model
    from moto.dynamodb.responses import DynamoHandler, DynamoResult

    model = get_service_model("dynamodb")
    context = ActionContext(
        model, model.operation_model(operation), get_serializer_class("dynamodb", "json"),
        DynamoHandler(),
    )  # fmt: skip
    # moto's own serializer, also when this session's server is already patched.
    execute = getattr(DynamoResult.execute_result, "__wrapped__", DynamoResult.execute_result)
    return json.loads(execute(DynamoResult(result), context)[2])


ITEM = {
    "pk": {"S": "POST#/2026/01/02/日本語/"},
    "sk": {"S": "BODY"},
    "html": {"B": "圧縮された本文".encode()},
    "count": {"N": "12.50"},
    "flags": {"M": {"public": {"BOOL": True}, "gone": {"NULL": True}}},
    "tags": {"L": [{"S": "AI"}, {"S": "エージェント"}, {"N": "3"}]},
    "names": {"SS": ["a", "b"]},
    "blobs": {"BS": [b"\x00\x01", b"\xff"]},
}


@pytest.mark.parametrize(
    ("operation", "result"),
    [
        ("GetItem", {"Item": ITEM}),
        ("GetItem", {}),
        ("Query", {"Items": [ITEM, ITEM], "Count": 2, "ScannedCount": 2,
                   "LastEvaluatedKey": {"pk": ITEM["pk"], "sk": ITEM["sk"]}}),
        ("Scan", {"Items": [], "Count": 0, "ScannedCount": 0}),
        ("BatchGetItem", {"Responses": {"t": [ITEM]}, "UnprocessedKeys": {}}),
        ("TransactGetItems", {"Responses": [{"Item": ITEM}, {}, {"Item": ITEM}]}),
    ],
)  # fmt: skip
def test_fast_read_encoding_equals_motos_serializer(operation: str, result: dict[str, Any]) -> None:
    assert json.loads(json.dumps(result, default=_wire_json)) == _moto_body(operation, result)


def test_reads_through_the_patched_server_round_trip(clients: Any, stack: Any) -> None:
    """Blobs, numbers, sets and Japanese text come back as written, over HTTP."""
    table = stack.table_name
    item = {k: v for k, v in ITEM.items()}
    clients.dynamodb.put_item(TableName=table, Item=item)
    got = clients.dynamodb.get_item(TableName=table, Key={"pk": ITEM["pk"], "sk": ITEM["sk"]})
    queried = clients.dynamodb.query(
        TableName=table, KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": ITEM["pk"]},
    )["Items"]  # fmt: skip
    for found in (got["Item"], queried[0]):
        assert found["html"]["B"] == ITEM["html"]["B"]
        assert found["count"] == {"N": "12.50"} or found["count"] == {"N": "12.5"}
        assert set(found["names"]["SS"]) == {"a", "b"}
        assert set(found["blobs"]["BS"]) == {b"\x00\x01", b"\xff"}
        assert found["tags"] == ITEM["tags"]
        assert found["pk"] == ITEM["pk"]


def test_cached_service_names_equal_motos_directory_listing() -> None:
    import os

    import moto
    from moto import backends
    from tsuzuri_local.devstack.moto_patches import speed_up_moto

    speed_up_moto()
    root = os.path.dirname(moto.__file__)
    on_disk = sorted(
        name
        for name in os.listdir(root)
        if os.path.isdir(os.path.join(root, name)) and not name.startswith("__")
    )
    assert list(backends.list_of_moto_modules()) == on_disk
    assert {"s3", "dynamodb", "sqs", "cloudfront"} <= set(on_disk)


def test_retention_check_answers_as_motos_own() -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends
    from tsuzuri_local.devstack.moto_patches import speed_up_moto

    speed_up_moto()
    backend = sqs_backends[DEFAULT_ACCOUNT_ID]["ap-northeast-1"]
    backend.create_queue("retention-check", MessageRetentionPeriod="60")
    fresh = backend.send_message("retention-check", "fresh")
    stale = backend.send_message("retention-check", "stale")
    stale.sent_timestamp -= 61_000
    for message, expected in ((fresh, True), (stale, False)):
        assert _motos_retention_check(backend, "retention-check", message) is expected
        assert (
            backend.is_message_valid_based_on_retention_period("retention-check", message)
            is expected
        )


def _motos_retention_check(self: Any, queue_name: str, message: Any) -> bool:
    # moto's own implementation (moto/sqs/models.py), kept to compare against.
    from moto.core.utils import unix_time

    retention_period = self.get_queue_attributes(queue_name, ["MessageRetentionPeriod"])[
        "MessageRetentionPeriod"
    ]
    return bool(retention_period + message.sent_timestamp / 1000 > unix_time())


def _moto_stream_body(result: dict[str, Any]) -> Any:
    from moto.core.responses import ActionContext, ActionResult
    from moto.core.serialize import get_serializer_class
    from moto.core.utils import get_service_model
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    model = get_service_model("dynamodbstreams")
    context = ActionContext(
        model, model.operation_model("GetRecords"),
        get_serializer_class("dynamodbstreams", "json"), DynamoDBStreamsHandler(),
    )  # fmt: skip
    return json.loads(ActionResult(result).execute_result(context)[2])


def test_fast_stream_encoding_equals_motos_serializer() -> None:
    from datetime import datetime

    from tsuzuri_local.devstack.moto_patches import _stream_json

    record = {
        "eventID": "0f1e2d3c", "eventName": "MODIFY", "eventSource": "aws:dynamodb",
        "eventVersion": "1.0", "awsRegion": "us-east-1",
        "dynamodb": {
            "StreamViewType": "NEW_AND_OLD_IMAGES",
            # moto stamps records with a naive UTC datetime
            "ApproximateCreationDateTime": datetime(2026, 11, 30, 5, 12, 34, 567000),
            "SequenceNumber": "42", "SizeBytes": 321,
            "Keys": {"pk": ITEM["pk"], "sk": ITEM["sk"]},
            "NewImage": ITEM, "OldImage": {**ITEM, "count": {"N": "3"}},
        },
    }  # fmt: skip
    result = {"Records": [record, record], "NextShardIterator": "arn:aws:dynamodb:x|1|abc"}
    fast = json.loads(json.dumps(result, default=_stream_json))
    assert fast == _moto_stream_body(result)
    assert json.loads(json.dumps({"Records": []}, default=_stream_json)) == _moto_stream_body(
        {"Records": []}
    )


def test_stream_reads_through_the_patched_server(
    clients: Any, stack: Any, moto_endpoint: str
) -> None:
    """Records come back over HTTP with their images, keys and creation time."""
    import botocore.session

    table = stack.table_name
    arn = clients.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = botocore.session.get_session().create_client(
        "dynamodbstreams", region_name="ap-northeast-1", endpoint_url=moto_endpoint,
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    clients.dynamodb.put_item(TableName=table, Item=ITEM)
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    [record] = streams.get_records(ShardIterator=iterator)["Records"]
    assert record["eventName"] == "INSERT"
    assert record["dynamodb"]["Keys"] == {"pk": ITEM["pk"], "sk": ITEM["sk"]}
    assert record["dynamodb"]["NewImage"]["html"]["B"] == ITEM["html"]["B"]
    assert record["dynamodb"]["ApproximateCreationDateTime"].year >= 2026


# Key conditions as moto passes them: by name (KeyConditions) and by operator (expressions).
COMPARISONS = (
    None,
    "EQ",
    "LT",
    "LE",
    "GT",
    "GE",
    "BETWEEN",
    "BEGINS_WITH",
    "=",
    "<",
    "<=",
    ">",
    ">=",
)


def test_sorted_partition_queries_answer_as_moto_does() -> None:
    """Random partitions and key conditions: items, counts and LastEvaluatedKey of the
    bisecting Query are those of moto's own scan of the whole table."""
    import random

    import boto3
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table
    from tsuzuri_local.devstack.moto_patches import _sorted_partition_query, index_moto_queries

    index_moto_queries()
    rng = random.Random(7)
    words = ["2026-01", "2026-02", "2025-12", "L#all", "L#tag/ai", "あ", "あい", "b", "ba", "c"]
    with mock_aws():
        db = boto3.client("dynamodb", region_name="ap-northeast-1")
        db.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
        )  # fmt: skip
        for pk in ("P", "Q"):
            for n in range(60):
                sk = f"{rng.choice(words)}#{n:03d}"
                big = "x" * rng.choice([10, 100, 90_000])  # some pages end at 1 MB
                db.put_item(TableName="t", Item={"pk": {"S": pk}, "sk": {"S": sk},
                                                 "v": {"S": big}})  # fmt: skip
        keys = [i.range_key.value for p in ("P", "Q") for i in
                dynamodb_backends[DEFAULT_ACCOUNT_ID]["ap-northeast-1"].get_table("t").items[
                    DynamoType({"S": p})].values()]  # fmt: skip
        table: Table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["ap-northeast-1"].get_table("t")
        moto_query = Table.query.__wrapped__  # type: ignore[attr-defined]

        def answer(result: Any) -> Any:
            items, count, last = result
            return [i.range_key.value for i in items], count, last

        continued = 0
        for _ in range(400):
            comparison = rng.choice(COMPARISONS)
            # Bounds between keys, and on them (equality is where LT and LE differ).
            one, two = sorted(rng.choice([rng.choice(words) + rng.choice(["", "#0", "#05"]),
                                          rng.choice(keys)]) for _ in "ab")  # fmt: skip
            values = {"BETWEEN": [one, two], None: []}.get(comparison, [one])
            args = (DynamoType({"S": rng.choice("PQR")}), comparison,
                    [DynamoType({"S": v}) for v in values], rng.choice([None, 1, 2, 7, 40]),
                    None, rng.choice([True, False]), None)  # fmt: skip
            fast = _sorted_partition_query(table, *args)
            assert fast is not None, args  # the bisecting path answered, not moto
            assert answer(fast) == answer(moto_query(table, *args)), args
            continued += fast[2] is not None
        assert 50 < continued < 350  # pages cut at the limit or at 1 MB, and whole ones
