"""The render function's bulk path, batch by batch: a generated folder published
through ``Publisher.process`` in batches of the template's SQS batch size, on moto's
server in a child process (as ``tsuzuri dev`` runs it).

    .venv/bin/python -m benchmarks.bulk_load --posts 300 --batch 50 --json out.json

Per batch: wall time, this process's CPU, moto's CPU, objects written, API calls per
operation and DynamoDB items read. Then the same for moto's reads of list counters
(``TransactGetItems`` of 25 ``LISTS`` items, as ``ListIndex.counters`` makes them) with
moto's own response serializer and with the local stack's direct encoding.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.corpus import generate
from benchmarks.meter import Meter
from benchmarks.publish_latency import Aws


def load(posts: int, batch: int, seed: int) -> dict[str, Any]:
    import botocore.session
    from tsuzuri.aws.clients import make_clients
    from tsuzuri.domain.site_config import SiteConfig
    from tsuzuri.publishing.publisher import Change
    from tsuzuri.publishing.wiring import build_publisher
    from tsuzuri_local.provision import provision

    aws = Aws("process")
    try:
        with tempfile.TemporaryDirectory(prefix="tsuzuri-bulk-") as tmp:
            folder = Path(tmp)
            generate(folder, posts, seed, 40)
            clients = make_clients(endpoint_url=aws.endpoint, region="ap-northeast-1")
            sqs = botocore.session.get_session().create_client(
                "sqs", region_name="ap-northeast-1", endpoint_url=aws.endpoint
            )
            settings = provision(clients, prefix="bulk", sqs=sqs, stream=False).settings
            site = SiteConfig.from_bytes((folder / "_config.yml").read_bytes())
            files = sorted((folder / "_posts").iterdir())
            for path in files:
                clients.s3.put_object(
                    Bucket=settings.source_bucket, Key=f"posts/{path.name}", Body=path.read_bytes()
                )
            publisher = build_publisher(settings, clients, site=site)
            meter = Meter()
            for client in (clients.s3, clients.dynamodb, clients.cloudfront):
                meter.attach(client)
            rows = []
            began = time.perf_counter()
            for start in range(0, len(files), batch):
                changes = [
                    Change(key=f"posts/{p.name}", removed=False, sequencer=f"{start + i:016X}")
                    for i, p in enumerate(files[start : start + batch])
                ]
                meter.reset()
                cpu, moto_cpu, wall = time.process_time(), aws.cpu_s(), time.perf_counter()
                result = publisher.process(changes)
                row = {
                    "posts": len(changes),
                    "wall_s": time.perf_counter() - wall,
                    "cpu_s": time.process_time() - cpu,
                    "moto_cpu_s": aws.cpu_s() - moto_cpu,
                    "written": len(result.written),
                    "calls": dict(meter.calls),
                    "api_calls": sum(meter.calls.values()),
                    "items_read": meter.items_read,
                }
                rows.append(row)
                print(
                    f"  [{start + len(changes)}/{len(files)}] {row['wall_s']:.1f} s, "
                    f"{row['api_calls']} calls, CPU {row['cpu_s']:.1f} s + moto "
                    f"{row['moto_cpu_s']:.1f} s",
                    file=sys.stderr, flush=True,
                )  # fmt: skip
            total = time.perf_counter() - began
    finally:
        aws.stop()
    return {"posts": posts, "batch": batch, "wall_s": total, "batches": rows}


def counter_reads(calls: int) -> dict[str, float]:
    """ms per ``TransactGetItems`` of 25 counter items, moto in this process, with moto's
    serializer and with the direct encoding (``moto_patches.encode_dynamodb_reads``)."""
    from tsuzuri.aws.clients import make_clients
    from tsuzuri_local.devstack import moto_patches
    from tsuzuri_local.devstack.aws_process import start_in_this_process

    server, endpoint = start_in_this_process()
    try:
        dynamodb = make_clients(endpoint_url=endpoint, region="ap-northeast-1").dynamodb
        key_schema = [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ]
        dynamodb.create_table(
            TableName="counters", KeySchema=key_schema, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
        )  # fmt: skip
        for i in range(25):
            item: dict[str, Any] = {
                "pk": {"S": "LISTS"}, "sk": {"S": f"tag/t{i}"}, "count": {"N": "100"},
                "version": {"N": "5"}, "name": {"S": f"タグ{i}"},
            }  # fmt: skip
            # Ten years of month counters, as a list of a long-running blog has.
            for month in range(120):
                item[f"r:{2016 + month // 12}-{month % 12 + 1:02}"] = {"N": str(month)}
            dynamodb.put_item(TableName="counters", Item=item)
        keys = [{"pk": {"S": "LISTS"}, "sk": {"S": f"tag/t{i}"}} for i in range(25)]
        gets = [{"Get": {"TableName": "counters", "Key": key}} for key in keys]
        fast = moto_patches.FAST_DYNAMODB_OPERATIONS
        found = {}
        for name, operations in (
            ("moto_serializer_ms", fast - {"TransactGetItems"}),
            ("direct_encoding_ms", fast),
        ):
            moto_patches.FAST_DYNAMODB_OPERATIONS = frozenset(operations)
            began = time.perf_counter()
            for _ in range(calls):
                dynamodb.transact_get_items(TransactItems=gets)
            found[name] = (time.perf_counter() - began) / calls * 1000
        moto_patches.FAST_DYNAMODB_OPERATIONS = fast
        return found
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--batch", type=int, default=50, help="the render queue's BatchSize")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--counter-calls", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    load_average = os.getloadavg()
    result = load(args.posts, args.batch, args.seed)
    result["counter_reads"] = counter_reads(args.counter_calls)
    result["load_average"] = [round(x, 1) for x in (*load_average, *os.getloadavg())]
    calls = sum(r["api_calls"] for r in result["batches"])
    print(
        f"{args.posts} posts in batches of {args.batch}: {result['wall_s']:.1f} s, "
        f"{calls / args.posts:.1f} calls a post; TransactGetItems of 25 counters "
        f"{result['counter_reads']['moto_serializer_ms']:.0f} ms with moto's serializer, "
        f"{result['counter_reads']['direct_encoding_ms']:.0f} ms encoded directly"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
