"""Publish latency and work per publish on a preloaded site, on the local stack.

    .venv/bin/python -m benchmarks.publish_latency --posts 2500 --publishes 15 [--json OUT]

The local stack is the one ``tsuzuri dev`` runs: moto's server over HTTP (with the dev
stack's moto fixes, ``devstack.moto_patches.speed_up_moto``), resources from ``template.yaml``, the
real render handler
invoked with the SQS event the render queue delivers, then the real related handler
with the table-stream records (the dev stack's ``EventPump`` and ``StreamPump``).

Preloading N posts through the render path takes hours on moto, so the site is loaded
the way ``benchmarks/related_bench.py`` loads it, but from the real corpus
(``benchmarks/corpus.py``, seeded): every post is parsed with ``parse_post``, and its
SRC, POST, BODY and membership items and the LISTS items are written in batches; then
the related index is built (``RelatedIndex.rebuild``) and the whole site is rendered
once with ``Publisher.refresh_posts(every URL, lists=True)``. That render is timed: it
is a theme-change rebuild (every page re-rendered from the table, no Markdown parsed).
The stream is switched on after the preload, so it holds only the publishes' records.

Then, per new post (dated after every preloaded post, as when an editor publishes
today): ``put_object`` into the source bucket -> receive the queue's message -> render
handler -> poll the stream until it is quiet, delivering to the related handler. The
latency ends when the last stream batch was handled: the post's page, its tag and
category pages, the home page and every related list it changed are then in the site
bucket, which is checked (untimed) after each publish. Batching windows
(``MaximumBatchingWindowInSeconds``) are not waited for.

The first publish runs on cold handlers (imports, clients, theme) and is reported apart.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import re
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "AWS_REGION": "ap-northeast-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }
)

from benchmarks.meter import Meter, metered

CHUNK = 250
DATE_LINE = re.compile(r"^date: .*$", re.MULTILINE)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_guard(limit_mb: float, stage: list[str]) -> None:
    """Stop the whole process (moto's server lives in it) before it thrashes the machine."""

    def watch() -> None:
        while True:
            current = rss_mb()
            if current > limit_mb:
                print(
                    f"publish_latency: RSS {current:.0f} MB over the {limit_mb:.0f} MB limit "
                    f"during {stage[0]}; stopping",
                    file=sys.stderr,
                    flush=True,
                )
                os._exit(3)
            time.sleep(1)

    threading.Thread(target=watch, name="memory-guard", daemon=True).start()


class ListProbe:
    """Time spent in ``PostStore.list_members`` by list kind: the whole-list reads that
    make a publish cost grow with the site."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.stats: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0])

    def install(self) -> None:
        from tsuzuri.aws.store import PostStore

        original = PostStore.list_members
        probe = self

        def list_members(store: Any, list_id: str) -> Any:
            started = time.perf_counter()
            members = original(store, list_id)
            elapsed = (time.perf_counter() - started) * 1000
            kind = "all" if list_id == "all" else list_id.split("/", 1)[0]
            with probe.lock:
                entry = probe.stats[kind]
                entry[0] += 1
                entry[1] += elapsed
                entry[2] += len(members)
            return members

        PostStore.list_members = list_members  # type: ignore[method-assign]

    def snapshot(self) -> dict[str, dict[str, float]]:
        with self.lock:
            return {
                kind: {"calls": int(c), "ms": round(ms, 1), "items": int(n)}
                for kind, (c, ms, n) in self.stats.items()
            }


def redate(path: Path, when: Any) -> Path:
    """Move a corpus post to ``when`` (wall time in +0900): file name and front matter."""
    text = path.read_text(encoding="utf-8")
    text = DATE_LINE.sub(f"date: {when:%Y-%m-%d %H:%M:%S} +0900", text, count=1)
    target = path.with_name(f"{when:%Y-%m-%d}-{path.name[11:]}")
    target.write_text(text, encoding="utf-8")
    if target != path:
        path.unlink()
    return target


def spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 1),
        "min": round(ordered[0], 1),
        "max": round(ordered[-1], 1),
        "n": len(ordered),
    }


def preload(
    files: list[Path], site: Any, clients: Any, settings: Any, stage: list[str]
) -> tuple[list[Any], list[str], dict[str, float]]:
    """Parse every post and write its items in batches. Returns (related views, URLs,
    timings)."""
    from tsuzuri.aws.store import _member_item, _post_fields
    from tsuzuri.aws.table import dump_item, load_item
    from tsuzuri.domain.keys import classify_key
    from tsuzuri.domain.post import parse_post
    from tsuzuri.related.store import RelatedStore, view_of_post_item

    store = RelatedStore(clients.dynamodb, settings.table_name)
    views, urls = [], []
    counts: collections.Counter[str] = collections.Counter()
    names: dict[str, str] = {"all": site.title}
    parse_cpu = write_s = 0.0
    for start in range(0, len(files), CHUNK):
        stage[0] = f"preload {start}/{len(files)}"
        chunk = files[start : start + CHUNK]
        cpu0 = time.process_time()
        posts = [parse_post(classify_key(f"posts/{p.name}"), p.read_bytes(), site) for p in chunk]
        parse_cpu += time.process_time() - cpu0
        import zlib

        requests = []
        for post in posts:
            fields = _post_fields(post)
            item = {"pk": f"POST#{post.url}", "sk": "POST", **fields, "revision": 1}
            requests.append(dump_item(item))
            body = zlib.compress(post.body_html.encode(), 6)
            requests.append(dump_item({"pk": f"POST#{post.url}", "sk": "BODY", "html": body}))
            requests.append(
                dump_item(
                    {
                        "pk": f"SRC#{post.source_key}", "sk": "SRC", "url": post.url,
                        "state": "published",
                    }
                )
            )  # fmt: skip
            for term in post.terms:
                names[term.list_id] = term.name
            for list_id in ["all", *(t.list_id for t in post.terms)]:
                requests.append(_member_item(list_id, post.summary()))
                counts[list_id] += 1
            post_item = dump_item({"pk": f"POST#{post.url}", "sk": "POST", **fields})
            view = view_of_post_item(load_item(post_item))
            if view is not None:
                views.append(view)
            urls.append(post.url)
        began = time.perf_counter()
        store._batch_write({"PutRequest": {"Item": r}} for r in requests)
        write_s += time.perf_counter() - began
        print(
            f"  preload [{start + len(chunk)}/{len(files)}] RSS {rss_mb():.0f} MB",
            file=sys.stderr,
            flush=True,
        )
    lists = [
        dump_item({"pk": "LISTS", "sk": i, "name": names[i], "count": n, "version": 1})
        for i, n in counts.items()
    ]
    store._batch_write({"PutRequest": {"Item": r}} for r in lists)
    return views, urls, {"parse_cpu_s": parse_cpu, "write_s": write_s, "lists": len(counts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2500)
    parser.add_argument("--publishes", type=int, default=15)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-rss-mb", type=float, default=8192)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run(args.posts, args.publishes, args.seed, args.max_rss_mb)
    text = json.dumps(result, ensure_ascii=False, indent=2)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    summary = result["summary"]
    print(
        f"{args.posts} posts: publish median {summary['total_ms']['median']:.0f} ms "
        f"({summary['total_ms']['min']:.0f}-{summary['total_ms']['max']:.0f}), "
        f"theme-change rebuild {result['rebuild']['wall_s']:.1f} s"
    )


def run(posts: int, publishes: int, seed: int, max_rss_mb: float) -> dict[str, Any]:
    stage = ["start"]
    memory_guard(max_rss_mb, stage)
    load_start = os.getloadavg()
    from tsuzuri.aws.clients import make_clients
    from tsuzuri.domain.model import page_key
    from tsuzuri.domain.site_config import SiteConfig
    from tsuzuri.publishing.wiring import build_publisher
    from tsuzuri.related.store import RelatedStore
    from tsuzuri.related.sync import RelatedIndex
    from tsuzuri_local.checkout import RELATED_HANDLER
    from tsuzuri_local.devstack import pumps, runtime
    from tsuzuri_local.devstack.aws_process import start_in_this_process
    from tsuzuri_local.provision import load_template, provision

    from benchmarks.corpus import generate

    server, endpoint = start_in_this_process()  # with the local stack's moto fixes
    folder = Path(tempfile.mkdtemp(prefix="tsuzuri-publish-bench-"))
    try:
        clients = make_clients(endpoint_url=endpoint, region="ap-northeast-1")
        import botocore.session

        session = botocore.session.get_session()
        sqs = session.create_client("sqs", region_name="ap-northeast-1", endpoint_url=endpoint)
        streams = session.create_client(
            "dynamodbstreams", region_name="ap-northeast-1", endpoint_url=endpoint
        )
        # No stream during the preload (moto keeps every record); it is turned on below.
        stack = provision(clients, prefix="bench", sqs=sqs, stream=False)
        settings = stack.settings
        assert stack.queue_url
        assert stack.queue_arn

        stage[0] = "corpus"
        files = sorted(
            generate(folder, posts + publishes, seed), key=lambda p: int(p.stem.rsplit("-", 1)[1])
        )
        config = (folder / "_config.yml").read_bytes()
        site = SiteConfig.from_bytes(config)
        clients.s3.put_object(Bucket=settings.source_bucket, Key="_config.yml", Body=config)
        sizes = sorted(p.stat().st_size for p in files[:posts])

        began = time.perf_counter()
        views, urls, load = preload(files[:posts], site, clients, settings, stage)
        load["wall_s"] = time.perf_counter() - began

        stage[0] = "related index"
        began = time.perf_counter()
        related_store = RelatedStore(clients.dynamodb, settings.table_name)
        RelatedIndex(related_store).rebuild(views)
        related_s = time.perf_counter() - began
        newest = max(v.features.timestamp for v in views)
        del views

        stage[0] = "theme-change rebuild"
        publisher = build_publisher(
            dataclasses.replace(settings, index_workers=1), clients, site=site
        )
        rebuild_meter = Meter()
        for client in (clients.s3, clients.dynamodb, clients.cloudfront):
            rebuild_meter.attach(client)
        cpu0, began = time.process_time(), time.perf_counter()
        rebuilt = publisher.refresh_posts(urls, lists=True)
        rebuild = {
            "wall_s": time.perf_counter() - began,
            "process_cpu_s": time.process_time() - cpu0,
            "objects_written": len(rebuilt.written),
            "invalidation_paths": len(rebuilt.invalidated),
            "work": rebuild_meter.snapshot(),
            "rss_mb_after": rss_mb(),
        }
        rebuild["posts_per_s"] = posts / rebuild["wall_s"]
        rebuild["posts_per_cpu_s"] = posts / rebuild["process_cpu_s"]
        related_store.clear_pending(related_store.pending())
        print(
            f"  theme-change rebuild: {rebuild['wall_s']:.1f} s wall, "
            f"{rebuild['process_cpu_s']:.1f} s CPU, {len(rebuilt.written)} objects",
            file=sys.stderr,
            flush=True,
        )
        rebuild_meter.reset()

        # The stream, from now on; the related function's mapping as the template says.
        clients.dynamodb.update_table(
            TableName=settings.table_name,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        stream_arn = clients.dynamodb.describe_table(TableName=settings.table_name)["Table"][
            "LatestStreamArn"
        ]
        os.environ.update(runtime.handler_environment(settings, endpoint))
        render_meter, related_meter, probe = Meter(), Meter(), ListProbe()
        probe.install()
        render_handler = runtime.load_handler()
        render_handler.make_clients = metered(render_handler.make_clients, render_meter)
        related_handler = runtime.load_handler(RELATED_HANDLER)
        related_handler.make_clients = metered(related_handler.make_clients, related_meter)
        pump = pumps.EventPump(
            sqs=sqs, queue_url=stack.queue_url, queue_arn=stack.queue_arn,
            handler=render_handler.lambda_handler,
        )  # fmt: skip
        mapping = pumps.related_mapping(load_template())
        mapping.pop("report_failures")
        mapping["starting_position"] = "TRIM_HORIZON"
        stream_pump = pumps.StreamPump(
            streams=streams, stream_arn=stream_arn, handler=related_handler.lambda_handler,
            **mapping,
        )  # fmt: skip
        stream_pump.poll()
        # The config upload's message: not a publish.
        _receive(sqs, stack.queue_url, wait_s=1, delete=True)

        from zoneinfo import ZoneInfo

        zone = ZoneInfo("Asia/Tokyo")
        from datetime import datetime

        start_wall = datetime.fromtimestamp(newest, zone) + timedelta(hours=1)
        fresh = [
            redate(path, start_wall + timedelta(hours=i)) for i, path in enumerate(files[posts:])
        ]
        rows = []
        for number, path in enumerate(fresh):
            stage[0] = f"publish {number + 1}/{len(fresh)}"
            key = f"posts/{path.name}"
            body = path.read_bytes()
            render_meter.reset()
            related_meter.reset()
            probe.reset()
            cpu0, thread0 = time.process_time(), time.thread_time()
            t0 = time.perf_counter()
            clients.s3.put_object(Bucket=settings.source_bucket, Key=key, Body=body)
            t1 = time.perf_counter()
            messages = _receive(sqs, stack.queue_url, wait_s=10, delete=False)
            t2 = time.perf_counter()
            failed = pump.invoke(messages)
            t3 = time.perf_counter()
            render_lists = probe.snapshot()
            probe.reset()
            t_end = t3
            records = 0
            while True:
                before = stream_pump.records_delivered
                stream_pump.poll()
                if stream_pump.records_delivered == before:
                    break
                records += stream_pump.records_delivered - before
                t_end = time.perf_counter()
            related_lists = probe.snapshot()
            cpu_ms = (time.process_time() - cpu0) * 1000
            thread_ms = (time.thread_time() - thread0) * 1000
            live = _check_live(clients, settings, publisher, key, page_key)
            row = {
                "key": key,
                "cold": number == 0,
                "total_ms": (t_end - t0) * 1000,
                "upload_ms": (t1 - t0) * 1000,
                "receive_ms": (t2 - t1) * 1000,
                "render_ms": (t3 - t2) * 1000,
                "related_ms": (t_end - t3) * 1000,
                # CPU of the whole process (handlers, pumps and moto's server threads), and
                # of the thread that runs the handlers (tsuzuri plus botocore's client side;
                # the site bucket's HEAD/PUT worker threads are not in it).
                "process_cpu_ms": cpu_ms,
                "handler_thread_cpu_ms": thread_ms,
                "messages": len(messages),
                "failed": len(failed),
                "stream_records": records,
                "render": render_meter.snapshot(),
                "related": related_meter.snapshot(),
                "list_members_render": render_lists,
                "list_members_related": related_lists,
                "live": live,
            }
            rows.append(row)
            print(
                f"  publish {number + 1}/{len(fresh)}: {row['total_ms']:.0f} ms "
                f"(render {row['render_ms']:.0f}, related {row['related_ms']:.0f}) "
                f"live={all(live.values())}",
                file=sys.stderr,
                flush=True,
            )
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    warm = [r for r in rows if not r["cold"]] or rows

    def field(name: str, part: str | None = None) -> dict[str, float]:
        return spread([float(r[part][name] if part else r[name]) for r in warm])

    def list_ms(part: str, kind: str) -> dict[str, float]:
        return spread([r[part].get(kind, {}).get("ms", 0.0) for r in warm])

    summary = {
        "total_ms": field("total_ms"),
        "render_ms": field("render_ms"),
        "related_ms": field("related_ms"),
        "upload_ms": field("upload_ms"),
        "process_cpu_ms": field("process_cpu_ms"),
        "handler_thread_cpu_ms": field("handler_thread_cpu_ms"),
        "ms_per_api_call": spread(
            [
                (r["render"]["api_ms"] + r["related"]["api_ms"])
                / max(1, r["render"]["api_calls"] + r["related"]["api_calls"])
                for r in warm
            ]
        ),
        "objects_written": spread(
            [
                r["render"]["puts"].get(settings.site_bucket, 0)
                + r["related"]["puts"].get(settings.site_bucket, 0)
                for r in warm
            ]
        ),
        "invalidation_paths": spread(
            [r["render"]["invalidation_paths"] + r["related"]["invalidation_paths"] for r in warm]
        ),
        "api_calls": spread([r["render"]["api_calls"] + r["related"]["api_calls"] for r in warm]),
        "rru": spread([r["render"]["rru"] + r["related"]["rru"] for r in warm]),
        "wru": spread([r["render"]["wru"] + r["related"]["wru"] for r in warm]),
        "render_api_calls": field("api_calls", "render"),
        "related_api_calls": field("api_calls", "related"),
        "render_rru": field("rru", "render"),
        "render_wru": field("wru", "render"),
        "related_rru": field("rru", "related"),
        "related_wru": field("wru", "related"),
        "list_all_ms_render": list_ms("list_members_render", "all"),
        "list_all_ms_related": list_ms("list_members_related", "all"),
        "list_tag_ms_render": list_ms("list_members_render", "tag"),
        "list_category_ms_render": list_ms("list_members_render", "category"),
        "list_all_items": spread(
            [r["list_members_render"].get("all", {}).get("items", 0) for r in warm]
        ),
        "list_tag_items": spread(
            [r["list_members_render"].get("tag", {}).get("items", 0) for r in warm]
        ),
        "live": all(all(r["live"].values()) for r in rows),
        "cold_total_ms": rows[0]["total_ms"] if rows else None,
    }
    summary["list_reads_share"] = round(
        (summary["list_all_ms_render"]["median"] + summary["list_all_ms_related"]["median"]
         + summary["list_tag_ms_render"]["median"] + summary["list_category_ms_render"]["median"])
        / summary["total_ms"]["median"], 3,
    )  # fmt: skip
    return {
        "part": "publish",
        "command": " ".join(["python", "-m", "benchmarks.publish_latency", *sys.argv[1:]]),
        "posts": posts,
        "publishes": publishes,
        "seed": seed,
        "median_kb": round(statistics.median(sizes) / 1024, 1),
        "largest_kb": round(sizes[-1] / 1024, 1),
        "load": {k: round(v, 1) for k, v in load.items()},
        "related_rebuild_s": round(related_s, 1),
        "rebuild": rebuild,
        "rows": rows,
        "summary": summary,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
    }


def _receive(sqs: Any, url: str, *, wait_s: float, delete: bool) -> list[dict[str, Any]]:
    deadline = time.monotonic() + wait_s
    messages: list[dict[str, Any]] = []
    while not messages and time.monotonic() < deadline:
        response = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]
        )
        messages = response.get("Messages", [])
        if not messages:
            time.sleep(0.005)
    if delete:
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return messages


def _check_live(
    clients: Any, settings: Any, publisher: Any, key: str, page_key: Any
) -> dict[str, bool]:
    """After the publish: the post page, the home page listing it, its first tag's page
    and its related list (stored, and shown on its page)."""
    record = publisher.store.get_source(key)
    url = record.url if record else None
    if not url:
        return {"indexed": False}
    stored = publisher.store.get_post(url)

    def page(path: str) -> str:
        try:
            obj = clients.s3.get_object(Bucket=settings.site_bucket, Key=page_key(path))
        except Exception:
            return ""
        return str(obj["Body"].read().decode("utf-8"))

    post_html = page(url)
    tag = stored.post.tags[0].slug if stored and stored.post.tags else None
    related = stored.related if stored else ()
    from urllib.parse import quote

    return {
        "post_page": bool(post_html),
        "home_lists_it": url in page("/") or quote(url) in page("/"),
        "tag_page_lists_it": tag is None or url in page(f"/tags/{tag}/"),
        "related_stored": bool(related),
        "related_on_page": bool(related) and related[0].url in post_html,
    }


if __name__ == "__main__":
    main()
