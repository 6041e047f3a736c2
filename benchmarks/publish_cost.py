"""Work and latency of one publish on a preloaded site, on the local stack (moto over HTTP).

    .venv/bin/python benchmarks/publish_cost.py --posts 2500 --publishes 20

Preloads a generated site (benchmarks/corpus.py) through the publisher in batches of
50, then publishes new single posts one at a time and reports, per publish: wall ms,
API calls by operation, site objects written, CloudFront paths, and DynamoDB read and
write units estimated from the bytes each call moved (moto does not report consumed
capacity): 1 WRU per started KB written, 1 RRU per started 4 KB read consistently.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }
)


def _redate(path: Path, number: int) -> Path:
    when = f"2026-11-{1 + number % 28:02d} {number % 24:02d}:00:00 +0900"
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition("\ndate: ")
    text = head + "\ndate: " + when + rest[rest.index("\n") :]
    target = path.with_name(f"2026-11-{1 + number % 28:02d}-{path.name[11:]}")
    target.write_text(text, encoding="utf-8")
    path.unlink()
    return target


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=2500)
    parser.add_argument("--publishes", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer
    from tsuzuri.aws.clients import make_clients
    from tsuzuri.domain.site_config import SiteConfig
    from tsuzuri.publishing.publisher import Change
    from tsuzuri.publishing.wiring import build_publisher
    from tsuzuri_local.provision import provision

    from benchmarks.corpus import generate
    from benchmarks.meter import Meter

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    clients = make_clients(endpoint_url=endpoint, region="ap-northeast-1")
    settings = provision(clients, prefix="bench").settings
    folder = Path(tempfile.mkdtemp(prefix="tsuzuri-bench-"))
    files = generate(folder, args.posts + args.publishes)
    site = SiteConfig.from_bytes((folder / "_config.yml").read_bytes())
    publisher = build_publisher(dataclasses.replace(settings, index_workers=1), clients, site=site)
    preload = files[: args.posts]
    # New posts are the newest, as when an editor publishes today.
    fresh = [_redate(path, day) for day, path in enumerate(files[args.posts :], start=1)]

    started = time.perf_counter()
    for start in range(0, len(preload), 50):
        batch = preload[start : start + 50]
        for path in batch:
            clients.s3.put_object(
                Bucket=settings.source_bucket, Key=f"posts/{path.name}", Body=path.read_bytes()
            )
        publisher.process([Change(f"posts/{p.name}", False, token=p.name) for p in batch])
        done = start + len(batch)
        print(
            f"[{done}/{len(preload)}] preloaded in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    preload_s = time.perf_counter() - started

    meter = Meter()
    for client in (clients.s3, clients.dynamodb, clients.cloudfront):
        meter.attach(client)
    rows = []
    for path in fresh:
        meter.reset()
        key = f"posts/{path.name}"
        began = time.perf_counter()
        clients.s3.put_object(Bucket=settings.source_bucket, Key=key, Body=path.read_bytes())
        result = publisher.process([Change(key, False, token=key)])
        wall_ms = (time.perf_counter() - began) * 1000
        if result.outcomes[0].status != "published":
            raise SystemExit(f"{key}: {result.outcomes[0]}")
        rows.append(
            {
                "wall_ms": wall_ms,
                "calls": sum(meter.calls.values()),
                "s3_put": meter.calls["PutObject"],
                "s3_head": meter.calls["HeadObject"],
                "written": len(result.written),
                "paths": len(result.invalidated),
                "rru": meter.rru,
                "wru": meter.wru,
            }
        )
    server.stop()
    print(
        f"\nsite: {args.posts} posts preloaded in {preload_s:.0f} s "
        f"({args.posts / preload_s:.1f} posts/s)"
    )
    print(f"one publish, {len(rows)} publishes:  median   p95")
    for field in rows[0]:
        values = sorted(r[field] for r in rows)
        p95 = values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)]
        print(f"  {field:10s} {statistics.median(values):10.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
