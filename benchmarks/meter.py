"""Counting what a function does against AWS, with botocore event hooks.

moto does not return ``ConsumedCapacity``, so DynamoDB read and write units are
*estimated* from the bytes each call moved, the way DynamoDB bills on-demand requests:
1 WRU per started KB of an item written (1 per delete and per UpdateItem, whose size
the client does not see), 1 RRU per started 4 KB of a consistent read (per item for
GetItem and BatchGetItem, per call for Query and Scan, which bill the sum of the items
read); an item of a transaction (TransactWriteItems, TransactGetItems) costs twice that.
Also counted: calls per operation and their client-side wall time, the DynamoDB items
each read call returned (Query and Scan: ``Items``; BatchGetItem: the items in
``Responses``; TransactGetItems: the non-empty ``Responses``; GetItem: 1 if ``Item``),
the largest of those calls, objects written per bucket, and CloudFront invalidation
paths.
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
        self.put_keys: list[str] = []  # what a publish wrote, to see which pages it touched
        self.queried: collections.Counter[str] = collections.Counter()  # partition kind -> Query
        self.rru = 0.0
        self.wru = 0.0
        self.items_read = 0
        self.items_written = 0
        self.read_calls = 0  # DynamoDB calls that return items
        self.read_items: collections.Counter[str] = collections.Counter()  # operation -> items
        self.largest_read = 0  # items returned by the largest single read call
        self.largest_read_call = ""
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
            self.put_keys.append(params.get("Key", "?"))
        elif name == "CreateInvalidation":
            self.invalidations += 1
            batch = params.get("InvalidationBatch", {})
            self.invalidation_paths += int(batch.get("Paths", {}).get("Quantity", 0))
        elif name == "PutItem":
            self.wru += _write_units(params["Item"])
            self.items_written += 1
        elif name in ("UpdateItem", "DeleteItem"):
            self.wru += 1
            self.items_written += 1
        elif name == "BatchWriteItem":
            for requests in params.get("RequestItems", {}).values():
                for request in requests:
                    self.items_written += 1
                    if "PutRequest" in request:
                        self.wru += _write_units(request["PutRequest"]["Item"])
                    else:
                        self.wru += 1
        elif name == "TransactWriteItems":
            for action in params.get("TransactItems", []):
                if "ConditionCheck" in action:
                    self.wru += 2
                    continue
                self.items_written += 1
                put = action.get("Put")
                self.wru += 2 * (_write_units(put["Item"]) if put else 1)
        elif name == "GetItem":
            item = parsed.get("Item")
            self.rru += _read_units(item or {})
            self._read(name, 1 if item else 0)
        elif name in ("Query", "Scan"):
            items = parsed.get("Items", [])
            self.queried[_partition_kind(params)] += 1
            self.rru += max(1, math.ceil(sum(item_bytes(i) for i in items) / 4096))
            self._read(name, len(items))
        elif name == "BatchGetItem":
            count = 0
            for items in parsed.get("Responses", {}).values():
                self.rru += sum(_read_units(i) for i in items)
                count += len(items)
            self._read(name, count)
        elif name == "TransactGetItems":
            found = [e["Item"] for e in parsed.get("Responses", []) if e.get("Item")]
            missing = len(params.get("TransactItems", [])) - len(found)
            self.rru += 2 * (max(0, missing) + sum(_read_units(i) for i in found))
            self._read(name, len(found))

    def _read(self, name: str, items: int) -> None:
        self.read_calls += 1
        self.items_read += items
        self.read_items[name] += items
        if items > self.largest_read:
            self.largest_read = items
            self.largest_read_call = name

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "api_calls": sum(self.calls.values()),
                "api_ms": round(sum(self.call_ms.values()), 1),
                "calls": dict(self.calls),
                "call_ms": {k: round(v, 1) for k, v in self.call_ms.items()},
                "puts": dict(self.puts),
                "put_keys": sorted(self.put_keys),
                "queried": dict(self.queried),
                "rru": self.rru,
                "wru": self.wru,
                "items_read": self.items_read,
                "items_written": self.items_written,
                "read_calls": self.read_calls,
                "read_items": dict(self.read_items),
                "largest_read": self.largest_read,
                "largest_read_call": self.largest_read_call,
                "invalidations": self.invalidations,
                "invalidation_paths": self.invalidation_paths,
            }


def _partition_kind(params: dict[str, Any]) -> str:
    """The queried partition without its variable part: ``RX#tag/*``, ``MEMBERS#all``."""
    values = params.get("ExpressionAttributeValues", {})
    pk = next((v.get("S", "") for k, v in sorted(values.items()) if "pk" in k.lower()), "")
    if not pk:
        pk = next((v.get("S", "") for v in values.values() if "S" in v), "?")
    head, _, rest = pk.partition("#")
    if rest.startswith(("tag/", "category/")):
        rest = rest.split("/", 1)[0] + "/*"
    elif rest and head not in ("MEMBERS", "LIST"):
        rest = "*"
    return f"{head}#{rest}" if rest else head


def _write_units(item: dict[str, Any]) -> int:
    return max(1, math.ceil(item_bytes(item) / 1024))


def _read_units(item: dict[str, Any]) -> int:
    return max(1, math.ceil(item_bytes(item) / 4096))


def metered(make_clients: Callable[..., Any], meter: Meter) -> Callable[..., Any]:
    """A ``tsuzuri.aws.clients.make_clients`` whose clients report to ``meter``."""

    def make(*args: Any, **kwargs: Any) -> Any:
        clients = make_clients(*args, **kwargs)
        for client in (clients.s3, clients.dynamodb, clients.cloudfront):
            meter.attach(client)
        return clients

    return make
