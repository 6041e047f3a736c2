"""The one DynamoDB table, as every store calls it.

The posts' items (:mod:`tsuzuri.aws.store`) and the related function's
(:mod:`tsuzuri.related.store`) share a table. Both must see throttling as a retry, read
their own writes and follow every page of a query; kept here once, the two stores cannot
drift apart on any of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from tsuzuri.aws import calls
from tsuzuri.aws.dynamo_types import deserialize, serialize
from tsuzuri.errors import TransientError

# Worth retrying the whole event for: the table is busy, not the request wrong.
_THROTTLING = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "TransactionInProgressException",
}


def dump_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB JSON of ``item``; None values are left out, so an optional field costs
    nothing and reads back absent."""
    return {k: serialize(v) for k, v in item.items() if v is not None}


def load_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: deserialize(v) for k, v in item.items()}


class Table:
    """A table by name, on a client. Reads are consistent: a render must see what the
    same batch has just written."""

    def __init__(self, client: Any, name: str):
        self.client = client
        self.name = name

    def call(self, operation: str, **kwargs: Any) -> Any:
        return calls.call("DynamoDB", getattr(self.client, operation), _THROTTLING, **kwargs)

    def get(self, pk: str, sk: str, projection: str | None = None) -> dict[str, Any] | None:
        kwargs: dict[str, Any] = {}
        if projection:
            kwargs["ProjectionExpression"] = projection
        response = self.call(
            "get_item",
            TableName=self.name,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            ConsistentRead=True,
            **kwargs,
        )
        item = response.get("Item")
        return None if item is None else load_item(item)

    def query(self, pk: str, *, forward: bool) -> Iterator[dict[str, Any]]:
        return self.query_raw("pk = :pk", {":pk": {"S": pk}}, forward=forward)

    def query_raw(
        self,
        condition: str,
        values: dict[str, Any],
        *,
        forward: bool,
        limit: int | None = None,
        projection: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every page of the query, or at most ``limit`` items: a caller that wants a
        few neighbours must not pay for reading the whole partition."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
            "ScanIndexForward": forward,
        }
        if projection:
            kwargs["ProjectionExpression"] = projection
        left = limit
        while left is None or left > 0:
            if left is not None:
                kwargs["Limit"] = left
            response = self.call("query", **kwargs)
            items = response.get("Items", [])
            for item in items:
                yield load_item(item)
            if left is not None:
                left -= len(items)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def batch_get(
        self, keys: Sequence[tuple[str, str]], *, projection: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """The items at these (pk, sk) keys that exist, 100 keys a call, consistent."""
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 100):
            chunk = unique[start : start + 100]
            spec: dict[str, Any] = {
                "Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in chunk],
                "ConsistentRead": True,
            }
            if projection:
                spec["ProjectionExpression"] = projection
            request: dict[str, Any] = {self.name: spec}
            for _attempt in range(10):
                response = self.call("batch_get_item", RequestItems=request)
                for raw in response["Responses"].get(self.name, []):
                    yield load_item(raw)
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise TransientError("DynamoDB kept keys unprocessed")

    def batch_write(self, requests: Iterable[dict[str, Any]]) -> None:
        """Put and delete requests, 25 a call, until none is left unprocessed."""
        pending = list(requests)
        for start in range(0, len(pending), 25):
            request: dict[str, Any] = {self.name: pending[start : start + 25]}
            for _attempt in range(10):
                response = self.call("batch_write_item", RequestItems=request)
                request = response.get("UnprocessedItems") or {}
                if not request:
                    break
            else:
                raise TransientError("DynamoDB kept writes unprocessed")

    def snapshot(self, keys: Sequence[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        """The items at these keys, each read in isolation from write transactions.

        Unlike a batch read, ``TransactGetItems`` never shows an item as a write
        transaction in flight left it: a counter read this way before and after a
        render has moved if a publish touched the list at any point between, even one
        whose membership the render's query saw before its counter changed. 25 keys
        a call (moto's limit; AWS takes 100).
        """
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 25):
            chunk = unique[start : start + 25]
            request = [
                {"Get": {"TableName": self.name, "Key": {"pk": {"S": pk}, "sk": {"S": sk}}}}
                for pk, sk in chunk
            ]
            for attempt in range(_SNAPSHOT_ATTEMPTS):
                try:
                    response = self.call("transact_get_items", TransactItems=request)
                    break
                except ClientError as exc:
                    if calls.error_code(exc) != "TransactionCanceledException":
                        raise
                    calls.back_off(attempt)
            else:
                raise TransientError("the list counters stayed busy; will retry")
            for entry in response.get("Responses", []):
                if entry.get("Item"):
                    yield load_item(entry["Item"])


_SNAPSHOT_ATTEMPTS = 8  # a conflicting write transaction lasts milliseconds
