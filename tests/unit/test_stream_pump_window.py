"""The local stream pump gathers records for the mapping's batching window, as Lambda's
poller does, so a load reaches the related function in batches, not a record at a time."""

from __future__ import annotations

import itertools
from typing import Any

from tsuzuri_local.devstack.pumps import StreamPump


class _Stream:
    """A stream client with one shard; ``pages`` are what successive reads return."""

    def __init__(self, pages: list[list[dict[str, Any]]]):
        self.pages = pages
        self.numbers = itertools.count(1)

    def describe_stream(self, **_: Any) -> dict[str, Any]:
        return {"StreamDescription": {"Shards": [{"ShardId": "s1"}]}}

    def get_shard_iterator(self, **_: Any) -> dict[str, Any]:
        return {"ShardIterator": "it"}

    def get_records(self, **_: Any) -> dict[str, Any]:
        return {"Records": self.pages.pop(0) if self.pages else [], "NextShardIterator": "it"}

    def record(self, url: str) -> dict[str, Any]:
        number = str(next(self.numbers))
        keys = {"pk": {"S": f"POST#{url}"}, "sk": {"S": "POST"}}
        return {"eventID": number, "eventName": "INSERT",
                "dynamodb": {"Keys": keys, "SequenceNumber": number}}  # fmt: skip


def _pump(stream: _Stream, batches: list[list[str]], window_s: float) -> StreamPump:
    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        batches.append([r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]])
        return {"batchItemFailures": []}

    return StreamPump(streams=stream, stream_arn="arn", handler=handler, window_s=window_s)


def test_records_wait_for_the_window_then_go_as_one_batch() -> None:
    stream = _Stream([])
    stream.pages = [[stream.record("/a/")], [stream.record("/b/")], []]
    batches: list[list[str]] = []
    pump = _pump(stream, batches, window_s=60)
    # Read plus held: a pump holding records is not quiet.
    assert pump.poll(gather=True) == 1 + 1
    assert pump.poll(gather=True) == 1 + 2
    assert batches == []
    pump.window_s = 0  # the window has passed
    assert pump.poll(gather=True) == 0
    assert batches == [["POST#/a/", "POST#/b/"]]


def test_a_full_batch_goes_at_once_and_drain_never_waits() -> None:
    stream = _Stream([])
    stream.pages = [[stream.record(f"/p{i}/") for i in range(3)], [stream.record("/q/")]]
    batches: list[list[str]] = []
    pump = _pump(stream, batches, window_s=60)
    pump.batch_size = 3
    pump.poll(gather=True)
    assert batches == [["POST#/p0/", "POST#/p1/", "POST#/p2/"]]
    pump.drain()
    assert batches[-1] == ["POST#/q/"]
