"""Work and latency of one publish on a preloaded site, on the local stack (moto over HTTP).

    .venv/bin/python -m benchmarks.publish_cost --posts 2500 --publishes 20 [--aws thread]

moto's server runs with the local stack's fixes, in a child process of its own as
``tsuzuri dev`` runs it (``AwsProcess``), or with ``--aws thread`` in this interpreter
(``start_in_this_process``). Preloads a generated site (benchmarks/corpus.py) through
the publisher in batches of 50 (the real render path, so the table is as the render
function leaves it), then publishes new single posts one at a time through
``Publisher.process`` (the render function's work; the related function does not run)
and reports, per publish: wall ms, API calls, the DynamoDB read calls, the items they
returned and the largest single read, site objects written, CloudFront paths, and
DynamoDB read and write units estimated from the bytes each call moved (moto does not
report consumed capacity; see ``benchmarks/meter.py``). After each publish (untimed)
the post's page, the home page and its first tag's page are checked to list it.
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
from typing import Any

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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2500)
    parser.add_argument("--publishes", type=int, default=20)
    parser.add_argument(
        "--aws",
        choices=("process", "thread"),
        default="process",
        help="moto's server in a child process (as tsuzuri dev runs it) or in this one",
    )
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    load_start = os.getloadavg()
    from tsuzuri.aws.clients import make_clients
    from tsuzuri.domain.model import page_key
    from tsuzuri.domain.site_config import SiteConfig
    from tsuzuri.publishing.publisher import Change
    from tsuzuri.publishing.wiring import build_publisher
    from tsuzuri_local.devstack.aws_process import AwsProcess, start_in_this_process
    from tsuzuri_local.provision import provision

    from benchmarks.corpus import generate
    from benchmarks.meter import Meter

    if args.aws == "process":
        child = AwsProcess().start()
        endpoint, stop = child.endpoint, child.stop
    else:
        server, endpoint = start_in_this_process()
        stop = server.stop
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
        outcome = result.outcomes[0]
        if outcome.status != "published" or not outcome.url:
            raise SystemExit(f"{key}: {outcome}")
        work = meter.snapshot()
        live = _live(clients, settings.site_bucket, publisher, outcome.url, page_key)
        if not all(live.values()):
            raise SystemExit(f"{key}: not live after the publish: {live}")
        rows.append(
            {
                "wall_ms": wall_ms,
                "calls": work["api_calls"],
                "read_calls": work["read_calls"],
                "items_read": work["items_read"],
                "largest_read": work["largest_read"],
                "s3_put": meter.calls["PutObject"],
                "s3_head": meter.calls["HeadObject"],
                "written": len(result.written),
                "paths": len(result.invalidated),
                "rru": meter.rru,
                "wru": meter.wru,
            }
        )
        print(
            f"  publish {len(rows)}/{len(fresh)}: {wall_ms:.0f} ms, {work['api_calls']} calls, "
            f"{work['items_read']} items read (largest {work['largest_read']} "
            f"{work['largest_read_call']}), live",
            flush=True,
        )
    stop()
    print(
        f"\nsite: {args.posts} posts preloaded in {preload_s:.0f} s "
        f"({args.posts / preload_s:.1f} posts/s); moto in "
        f"{'a child process' if args.aws == 'process' else 'this process'}"
    )
    print(f"one publish, {len(rows)} publishes (each checked live):  median   p95")
    for field in rows[0]:
        values = sorted(r[field] for r in rows)
        p95 = values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)]
        print(f"  {field:12s} {statistics.median(values):10.1f} {p95:8.1f}")
    print(
        f"1-minute load average: {load_start[0]:.2f} at the start, "
        f"{os.getloadavg()[0]:.2f} at the end"
    )


def _live(clients: Any, bucket: str, publisher: Any, url: str, page_key: Any) -> dict[str, bool]:
    """The post's page exists, and the home page and its first tag's page list it."""
    from urllib.parse import quote

    def page(path: str) -> str:
        try:
            obj = clients.s3.get_object(Bucket=bucket, Key=page_key(path))
        except Exception:
            return ""
        return str(obj["Body"].read().decode("utf-8"))

    stored = publisher.store.get_post(url)
    tag = stored.post.tags[0].slug if stored and stored.post.tags else None
    home, tag_page = page("/"), page(f"/tags/{tag}/") if tag else ""

    def lists(html: str) -> bool:
        return url in html or quote(url) in html

    return {
        "post_page": bool(page(url)),
        "home_lists_it": lists(home),
        "tag_page_lists_it": tag is None or lists(tag_page),
    }


if __name__ == "__main__":
    main()
