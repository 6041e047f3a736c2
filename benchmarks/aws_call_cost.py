"""The cost of one emulated AWS call on the local stack, with moto's server in the
handlers' interpreter and in a process of its own, while a handler renders Markdown.

Per call: a ``GetItem`` and a ``Query`` with ``Limit=1`` on a partition of N items
(what a neighbour lookup is), both consistent, timed from the client. The busy thread
renders an example post in a loop, as the render function does during a batch.

    python -m benchmarks.aws_call_cost --items 2500 --calls 200
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "posts" / "2024-03-12-lambda-cold-start.md"


@contextmanager
def in_process() -> Iterator[str]:
    from tsuzuri_local.devstack.aws_process import start_in_this_process

    server, endpoint = start_in_this_process()
    try:
        yield endpoint
    finally:
        server.stop()


@contextmanager
def child_process() -> Iterator[str]:
    from tsuzuri_local.devstack.aws_process import AwsProcess

    with AwsProcess() as aws:
        yield aws.endpoint


@contextmanager
def rendering(busy: bool) -> Iterator[None]:
    from tsuzuri.markdown.render import render_markdown

    text = SAMPLE.read_text(encoding="utf-8").split("---", 2)[2]
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            render_markdown(text)

    thread = threading.Thread(target=work, daemon=True)
    if busy:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if busy:
            thread.join()


def measure(endpoint: str, items: int, calls: int, busy: bool) -> dict[str, float]:
    from tsuzuri.aws.clients import make_clients

    db = make_clients(endpoint_url=endpoint, region="ap-northeast-1").dynamodb
    table = f"cost{items}-{uuid.uuid4().hex[:8]}"
    db.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    for start in range(0, items, 25):
        db.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": {"pk": {"S": "L#all"}, "sk": {"S": f"{i:08d}"},
                                     "card": {"S": "x" * 400}}}}
            for i in range(start, min(items, start + 25))
        ]})  # fmt: skip
    timings: dict[str, list[float]] = {"get_item": [], "query_limit_1": []}
    with rendering(busy):
        for i in range(calls):
            started = time.perf_counter()
            db.get_item(
                TableName=table,
                Key={"pk": {"S": "L#all"}, "sk": {"S": f"{i % items:08d}"}},
                ConsistentRead=True,
            )
            timings["get_item"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            db.query(
                TableName=table, KeyConditionExpression="pk = :pk AND sk < :sk",
                ExpressionAttributeValues={":pk": {"S": "L#all"}, ":sk": {"S": f"{i:08d}"}},
                ScanIndexForward=False, Limit=1, ConsistentRead=True,
            )  # fmt: skip
            timings["query_limit_1"].append((time.perf_counter() - started) * 1000)
    return {name: round(statistics.median(values), 2) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=2500)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    results: list[dict[str, Any]] = []
    for name, server in (("in process", in_process), ("own process", child_process)):
        for busy in (False, True):
            with server() as endpoint:
                ms = measure(endpoint, args.items, args.calls, busy)
            results.append({"moto": name, "handler rendering": busy, **ms})
            print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
