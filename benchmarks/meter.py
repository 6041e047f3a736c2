"""Counting what a function does against AWS, with botocore event hooks.

moto does not return ``ConsumedCapacity``, so DynamoDB read and write units are
*estimated* from the bytes each call moved, the way DynamoDB bills on-demand requests:
1 WRU per started KB of an item written (1 per delete and per UpdateItem, whose size
the client does not see), 1 RRU per started 4 KB of a consistent read (per item for
GetItem and BatchGetItem, per call for Query, which bills the sum of the items read).
Also counted: calls per operation and their client-side wall time, objects written per
bucket, and CloudFront invalidation paths.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable
from typing import Any


def item_bytes(item: dict[str, Any]) -> int:
    """The size DynamoDB bills for an item in DynamoDB JSON (names plus values)."""

    def size(value: Any) -> int:
        ((kind, inner),) = value.items()
        if kind in ("S", "N"):
            return len(str(inner).encode())
        if kind == "B":
            return len(inner)
        if kind == "M":
            return sum(len(k) + size(v) for k, v in inner.items()) + 3
        if kind == "L":
            return sum(size(v) + 1 for v in inner) + 3
        if kind in ("SS", "NS"):
            return sum(len(str(v).encode()) for v in inner)
        return 1

    return sum(len(k) + size(v) for k, v in item.items())


class Meter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self.call_ms: collections.Counter[str] = collections.Counter()
        self.puts: collections.Counter[str] = collections.Counter()  # bucket -> PutObject
        self.rru = 0.0
        self.wru = 0.0
        self.items_read = 0
        self.items_written = 0
        self.invalidation_paths = 0
        self.invalidations = 0

    def attach(self, client: Any) -> Any:
        events = client.meta.events
        events.register("provide-client-params.*.*", self._params)
        events.register("before-call.*.*", self._before)
        events.register("after-call.*.*", self._after)
        return client

    def _params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["meter_params"] = params

    def _before(self, context: dict[str, Any], **_: Any) -> None:
        context["meter_started"] = time.perf_counter()

    def _after(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        params = context.get("meter_params", {})
        elapsed = (time.perf_counter() - context.get("meter_started", time.perf_counter())) * 1000
        name = model.name
        with self._lock:
            self.calls[name] += 1
            self.call_ms[name] += elapsed
            self._count(name, params, parsed)

    def _count(self, name: str, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        if name == "PutObject":
            self.puts[params.get("Bucket", "?")] += 1
        elif name == "CreateInvalidation":
            self.invalidations += 1
            batch = params.get("InvalidationBatch", {})
            self.invalidation_paths += int(batch.get("Paths", {}).get("Quantity", 0))
        elif name == "PutItem":
            self.wru += max(1, math.ceil(item_bytes(params["Item"]) / 1024))
            self.items_written += 1
        elif name in ("UpdateItem", "DeleteItem"):
            self.wru += 1
            self.items_written += 1
        elif name == "BatchWriteItem":
            for requests in params.get("RequestItems", {}).values():
                for request in requests:
                    self.items_written += 1
                    if "PutRequest" in request:
                        item = request["PutRequest"]["Item"]
                        self.wru += max(1, math.ceil(item_bytes(item) / 1024))
                    else:
                        self.wru += 1
        elif name == "GetItem":
            self.rru += max(1, math.ceil(item_bytes(parsed.get("Item", {})) / 4096))
            self.items_read += 1 if parsed.get("Item") else 0
        elif name == "Query":
            items = parsed.get("Items", [])
            self.rru += max(1, math.ceil(sum(item_bytes(i) for i in items) / 4096))
            self.items_read += len(items)
        elif name == "BatchGetItem":
            for items in parsed.get("Responses", {}).values():
                self.rru += sum(max(1, math.ceil(item_bytes(i) / 4096)) for i in items)
                self.items_read += len(items)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "api_calls": sum(self.calls.values()),
                "api_ms": round(sum(self.call_ms.values()), 1),
                "calls": dict(self.calls),
                "call_ms": {k: round(v, 1) for k, v in self.call_ms.items()},
                "puts": dict(self.puts),
                "rru": self.rru,
                "wru": self.wru,
                "items_read": self.items_read,
                "items_written": self.items_written,
                "invalidations": self.invalidations,
                "invalidation_paths": self.invalidation_paths,
            }


def metered(make_clients: Callable[..., Any], meter: Meter) -> Callable[..., Any]:
    """A ``tsuzuri.aws.clients.make_clients`` whose clients report to ``meter``."""

    def make(*args: Any, **kwargs: Any) -> Any:
        clients = make_clients(*args, **kwargs)
        for client in (clients.s3, clients.dynamodb, clients.cloudfront):
            meter.attach(client)
        return clients

    return make
