"""Cold init of the render and related functions: a fresh interpreter per run imports
the handler module, builds its clients and config, and handles its first event against
moto's server; peak RSS is read after that event.

    .venv/bin/python benchmarks/cold_init.py [--runs 7] [--functions render,related] [--json OUT]

Per run, a new post (a median-sized post of the seeded corpus, under a new name) is
uploaded to the source bucket. The render function's first event is the SQS message
the render queue would deliver for that upload; the related function's first event is
the table-stream records that render produced (read from moto's stream, filtered and
batched as the template's event source mapping does). Reported per function:

- ``import_ms``: importing the handler module (Lambda's Init phase),
- ``setup_ms``: building its clients and reading ``_config.yml`` (what the first
  event pays before any work: ``app.service()``, and the render service's ``publisher``),
- ``event_ms``: the rest of the first event (parsing, rendering, writing),
- ``cold_ms``: all three, and ``rss_mb``: the interpreter's peak RSS after the event;
- ``import_cpu_ms`` and ``cold_cpu_ms``: the CPU time of the same spans, which a busy
  machine inflates less than wall time (moto's server runs in the parent process).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, resource, sys, time
t0, c0 = time.perf_counter(), time.process_time()
sys.path.insert(0, "functions/" + sys.argv[1])
import app
t1, c1 = time.perf_counter(), time.process_time()
service = app.service()
if sys.argv[1] == "render":
    service.publisher  # built on first use: read _config.yml now
t2 = time.perf_counter()

class Context:
    function_name = "tsuzuri-" + sys.argv[1]
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:ap-northeast-1:123456789012:function:cold"
    memory_limit_in_mb = 1024
    aws_request_id = "cold-init"
    log_group_name = "/aws/lambda/cold"
    log_stream_name = "local"
    def get_remaining_time_in_millis(self):
        return 60000

with open(sys.argv[2], encoding="utf-8") as handle:
    event = json.load(handle)
response = app.lambda_handler(event, Context())
t3, c3 = time.perf_counter(), time.process_time()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "setup_ms": (t2 - t1) * 1000,
                  "event_ms": (t3 - t2) * 1000, "cold_ms": (t3 - t0) * 1000,
                  "import_cpu_ms": (c1 - c0) * 1000, "cold_cpu_ms": (c3 - c0) * 1000,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "failures": len(response.get("batchItemFailures", []))}))
"""
FIELDS = ("import_ms", "setup_ms", "event_ms", "cold_ms", "import_cpu_ms", "cold_cpu_ms", "rss_mb")


def sqs_event(bucket: str, key: str, queue_arn: str) -> dict[str, Any]:
    """The SQS event Lambda delivers for one S3 ObjectCreated:Put notification."""
    from urllib.parse import quote

    notification = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "ap-northeast-1",
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote(key, safe="/"), "sequencer": f"{time.time_ns():X}"},
                },
            }
        ]
    }
    return {
        "Records": [
            {
                "messageId": f"cold-{time.time_ns()}",
                "receiptHandle": "cold",
                "body": json.dumps(notification),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "ap-northeast-1",
            }
        ]
    }


def run(runs: int, functions: list[str], seed: int = 7) -> dict[str, Any]:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": "ap-northeast-1",
            "AWS_REGION": "ap-northeast-1",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        }
    )

    import botocore.session
    from tsuzuri.aws.clients import make_clients
    from tsuzuri_local.devstack import pumps, runtime
    from tsuzuri_local.devstack.aws_process import start_in_this_process
    from tsuzuri_local.provision import load_template, provision

    sys.path.insert(0, str(ROOT))
    from benchmarks.corpus import generate

    load_start = os.getloadavg()
    server, endpoint = start_in_this_process()  # with the local stack's moto fixes
    folder = Path(tempfile.mkdtemp(prefix="tsuzuri-cold-"))
    results: dict[str, list[dict[str, float]]] = {name: [] for name in functions}
    post_kb = 0.0
    try:
        clients = make_clients(endpoint_url=endpoint, region="ap-northeast-1")
        settings = provision(clients, prefix="coldinit").settings
        streams = botocore.session.get_session().create_client(
            "dynamodbstreams", region_name="ap-northeast-1", endpoint_url=endpoint
        )
        stream_arn = clients.dynamodb.describe_table(TableName=settings.table_name)["Table"][
            "LatestStreamArn"
        ]
        mapping = pumps.related_mapping(load_template())
        shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        files = generate(folder, 40, seed)
        median = sorted(files, key=lambda p: p.stat().st_size)[len(files) // 2]
        post_kb = round(median.stat().st_size / 1024, 1)
        clients.s3.put_object(
            Bucket=settings.source_bucket,
            Key="_config.yml",
            Body=(folder / "_config.yml").read_bytes(),
        )
        # The functions' default index workers (8), as deployed, not the local stack's 1.
        env = {**os.environ, **runtime.handler_environment(settings, endpoint, index_workers=8)}
        # Every run publishes a new post (a new key and URL) on the same small site.
        for number in range(runs):
            key = f"posts/2025-12-{1 + number % 28:02d}-cold-{number:03d}.md"
            text = median.read_text(encoding="utf-8").split("\n")
            text = [
                f"date: 2025-12-{1 + number % 28:02d} 10:00:00 +0900"
                if line.startswith("date: ")
                else line
                for line in text
            ]
            body = "\n".join(text).encode("utf-8")
            clients.s3.put_object(Bucket=settings.source_bucket, Key=key, Body=body)
            events = {
                "render": sqs_event(
                    settings.source_bucket, key, "arn:aws:sqs:ap-northeast-1:123456789012:render"
                )
            }
            if "render" in functions:
                results["render"].append(child("render", events["render"], env))
            else:  # the related function needs the render's stream records
                child("render", events["render"], env)
            response = streams.get_records(ShardIterator=iterator, Limit=1000)
            iterator = response["NextShardIterator"]
            records = [
                pumps.lambda_stream_record(r, stream_arn, "ap-northeast-1")
                for r in response.get("Records", [])
            ]
            wanted = [
                r for r in records if any(pumps.matches_filter(p, r) for p in mapping["filters"])
            ]
            if "related" in functions:
                results["related"].append(child("related", {"Records": wanted}, env))
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    summary = {
        name: {
            field: {
                "median": round(statistics.median(r[field] for r in rows), 1),
                "min": round(min(r[field] for r in rows), 1),
                "max": round(max(r[field] for r in rows), 1),
                "n": len(rows),
            }
            for field in FIELDS
        }
        for name, rows in results.items()
    }
    return {
        "part": "cold_init",
        "command": " ".join(["python", "benchmarks/cold_init.py", *sys.argv[1:]]),
        "runs": runs,
        "post_kb": post_kb,
        "results": results,
        "summary": summary,
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
    }


def child(function: str, event: dict[str, Any], env: dict[str, str]) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(event, handle)
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, function, handle.name],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        os.unlink(handle.name)
    if out.returncode != 0:
        raise SystemExit(f"{function} cold start failed:\n{out.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    if figures.pop("failures"):
        raise SystemExit(f"{function}: the first event reported failures:\n{out.stderr[-3000:]}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--functions", default="render,related")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    functions = [f.strip() for f in args.functions.split(",") if f.strip()]
    result = run(args.runs, functions)
    for name, fields in result["summary"].items():
        print(f"{name} function, {args.runs} fresh interpreters:")
        for field, value in fields.items():
            print(
                f"  {field:10s} median {value['median']:7.1f}"
                f"   min {value['min']:7.1f}   max {value['max']:7.1f}"
            )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
