"""The one DynamoDB table, as every store calls it.

The posts' items (:mod:`tsuzuri.aws.store`) and the related function's
(:mod:`tsuzuri.related.store`) share a table. Both must see throttling as a retry, read
their own writes and follow every page of a query; kept here once, the two stores cannot
drift apart on any of it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from tsuzuri.aws import calls
from tsuzuri.aws.dynamo_types import deserialize, serialize

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
        self, condition: str, values: dict[str, Any], *, forward: bool, limit: int | None = None
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
