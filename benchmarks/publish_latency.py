"""Publish latency and work per publish on a preloaded site, on the local stack.

    .venv/bin/python -m benchmarks.publish_latency --posts 2500 --publishes 15 [--json OUT]
        [--aws process|thread]

The local stack is the one ``tsuzuri dev`` runs: moto's server over HTTP (with the dev
stack's moto fixes, ``devstack.moto_patches.speed_up_moto``), resources from
``template.yaml``, the real render handler invoked with the SQS event the render queue
delivers, then the real related handler with the table-stream records (the dev stack's
``EventPump`` and ``StreamPump``). moto's server runs in a child process of its own
(``AwsProcess``, as ``tsuzuri dev`` runs it) by default, or with ``--aws thread`` in
this interpreter beside the handlers (``start_in_this_process``, as before). Process
CPU counts both processes.

Preloading N posts through the render path takes hours on moto, so the site is loaded
the way ``benchmarks/related_bench.py`` loads it, but from the real corpus
(``benchmarks/corpus.py``, seeded): every post is parsed with ``parse_post``, and its
SRC, POST, BODY and membership items (``tsuzuri.aws.lists.member_item``) and one LISTS
item per list (its name) are written in batches; then ``tsuzuri.publishing.migrate``
derives what a publish reads instead of whole lists from the memberships (the LISTS
counters with their month counts, TERMS, MONTHS, YEARS), the related index is built
(``RelatedIndex.rebuild``) and the whole site is rendered once with
``Publisher.refresh_posts(every URL, lists=True)``. That render is timed: it is a
theme-change rebuild (every page re-rendered from the table, no Markdown parsed). The
stream is switched on after the preload, so it holds only the publishes' records.

Then, per new post (dated after every preloaded post, as when an editor publishes
today): ``put_object`` into the source bucket -> receive the queue's message -> render
handler -> poll the stream until it is quiet, delivering to the related handler. The
latency ends when the last stream batch was handled: the post's page, its tag and
category pages, the home page and every related list it changed are then in the site
bucket, which is checked (untimed) after each publish. Batching windows
(``MaximumBatchingWindowInSeconds``) are not waited for.

Work per publish and per handler is counted with botocore event hooks on the
handlers' own clients (``benchmarks/meter.py``): API calls, and the DynamoDB items each
read call returned, with the largest single call.

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


class Aws:
    """moto's server for the benchmark: in a child process (``AwsProcess``, as ``tsuzuri
    dev`` runs it) or in this interpreter (``start_in_this_process``)."""

    def __init__(self, mode: str):
        from tsuzuri_local.devstack.aws_process import AwsProcess, start_in_this_process

        self.mode = mode
        self.pid: int | None = None
        if mode == "process":
            self._child: Any = AwsProcess().start()
            self.endpoint = self._child.endpoint
            self.pid = _child_pid("tsuzuri_local.devstack.aws_process")
            if self.pid is None:
                self._child.stop()
                raise SystemExit("publish_latency: moto's child process not found in /proc")
        else:
            self._server, self.endpoint = start_in_this_process()

    def stop(self) -> None:
        if self.mode == "process":
            self._child.stop()
        else:
            self._server.stop()

    def cpu_s(self) -> float:
        """CPU seconds of moto's child process (0 in thread mode: it is in ours)."""
        if self.pid is None:
            return 0.0
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self, field: str = "VmRSS:") -> float:
        if self.pid is None:
            return 0.0
        try:
            lines = Path(f"/proc/{self.pid}/status").read_text().splitlines()
        except OSError:
            return 0.0
        return next((int(x.split()[1]) / 1024 for x in lines if x.startswith(field)), 0.0)


def _child_pid(module: str) -> int | None:
    """The pid of our child process running ``python -m module``."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me and module.encode() in cmdline:
            return int(entry.name)
    return None


def memory_guard(limit_mb: float, stage: list[str], aws: list[Aws]) -> None:
    """Stop the whole process (and with it moto's server, in it or its child) before it
    thrashes the machine."""

    def watch() -> None:
        while True:
            current = rss_mb() + sum(a.rss_mb() for a in aws)
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
    from tsuzuri.aws.lists import member_item
    from tsuzuri.aws.store import _post_fields
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
                requests.append(member_item(list_id, post.summary()))
                counts[list_id] += 1
            post_item = dump_item({"pk": f"POST#{post.url}", "sk": "POST", **fields})
            view = view_of_post_item(load_item(post_item))
            if view is not None:
                views.append(view)
            urls.append(post.url)
        began = time.perf_counter()
        store.table.batch_write({"PutRequest": {"Item": r}} for r in requests)
        write_s += time.perf_counter() - began
        print(
            f"  preload [{start + len(chunk)}/{len(files)}] RSS {rss_mb():.0f} MB",
            file=sys.stderr,
            flush=True,
        )
    # The lists' names; their counts, month counters, TERMS, MONTHS and YEARS are
    # derived from the memberships by ``migrate`` (see ``run``).
    lists = [dump_item({"pk": "LISTS", "sk": i, "name": names[i]}) for i in counts]
    store.table.batch_write({"PutRequest": {"Item": r}} for r in lists)
    return views, urls, {"parse_cpu_s": parse_cpu, "write_s": write_s, "lists": len(counts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2500)
    parser.add_argument("--publishes", type=int, default=15)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-rss-mb", type=float, default=8192)
    parser.add_argument(
        "--aws",
        choices=("process", "thread"),
        default="process",
        help="moto's server in a child process (as tsuzuri dev runs it) or in this one",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run(args.posts, args.publishes, args.seed, args.max_rss_mb, args.aws)
    text = json.dumps(result, ensure_ascii=False, indent=2)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    summary = result["summary"]
    print(
        f"{args.posts} posts: publish median {summary['total_ms']['median']:.0f} ms "
        f"({summary['total_ms']['min']:.0f}-{summary['total_ms']['max']:.0f}), "
        f"theme-change rebuild {result['rebuild']['wall_s']:.1f} s"
    )


def run(
    posts: int, publishes: int, seed: int, max_rss_mb: float, aws_mode: str = "process"
) -> dict[str, Any]:
    stage = ["start"]
    started_aws: list[Aws] = []
    memory_guard(max_rss_mb, stage, started_aws)
    load_start = os.getloadavg()
    from tsuzuri.aws.clients import make_clients
    from tsuzuri.aws.store import PostStore
    from tsuzuri.domain.model import page_key
    from tsuzuri.domain.site_config import SiteConfig
    from tsuzuri.publishing.migrate import migrate
    from tsuzuri.publishing.wiring import build_publisher
    from tsuzuri.related.store import RelatedStore
    from tsuzuri.related.sync import RelatedIndex
    from tsuzuri_local.checkout import RELATED_HANDLER
    from tsuzuri_local.devstack import pumps, runtime
    from tsuzuri_local.provision import load_template, provision

    from benchmarks.corpus import generate

    aws = Aws(aws_mode)  # with the local stack's moto fixes, either way
    started_aws.append(aws)
    endpoint = aws.endpoint
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

        stage[0] = "migrate"
        began = time.perf_counter()
        migrated = migrate(
            PostStore(clients.dynamodb, settings.table_name), clients.s3, settings.site_bucket
        )
        load["migrate_s"] = time.perf_counter() - began
        load["migrated_lists"] = migrated.lists
        load["migrated_months"] = migrated.months
        if migrated.posts != posts:
            raise SystemExit(f"publish_latency: migrate found {migrated.posts} of {posts} posts")

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
        cpu0, aws0, began = time.process_time(), aws.cpu_s(), time.perf_counter()
        rebuilt = publisher.refresh_posts(urls, lists=True)
        rebuild = {
            "wall_s": time.perf_counter() - began,
            # This process and moto's child (in thread mode, moto is in this process).
            "process_cpu_s": time.process_time() - cpu0 + aws.cpu_s() - aws0,
            "aws_process_cpu_s": aws.cpu_s() - aws0 if aws.pid else None,
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
        render_meter, related_meter = Meter(), Meter()
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
            cpu0, thread0, aws0 = time.process_time(), time.thread_time(), aws.cpu_s()
            t0 = time.perf_counter()
            clients.s3.put_object(Bucket=settings.source_bucket, Key=key, Body=body)
            t1 = time.perf_counter()
            messages = _receive(sqs, stack.queue_url, wait_s=10, delete=False)
            t2 = time.perf_counter()
            failed = pump.invoke(messages)
            t3 = time.perf_counter()
            t_end = t3
            records = 0
            while True:
                before = stream_pump.records_delivered
                stream_pump.poll()
                if stream_pump.records_delivered == before:
                    break
                records += stream_pump.records_delivered - before
                t_end = time.perf_counter()
            aws_ms = (aws.cpu_s() - aws0) * 1000
            cpu_ms = (time.process_time() - cpu0) * 1000 + aws_ms
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
                # CPU of the handlers, pumps and moto's server (this process, plus moto's
                # child process unless --aws thread), and of the thread that runs the
                # handlers (tsuzuri plus botocore's client side; the site bucket's
                # HEAD/PUT worker threads are not in it).
                "process_cpu_ms": cpu_ms,
                "aws_process_cpu_ms": aws_ms if aws.pid else None,
                "handler_thread_cpu_ms": thread_ms,
                "messages": len(messages),
                "failed": len(failed),
                "stream_records": records,
                "render": render_meter.snapshot(),
                "related": related_meter.snapshot(),
                "live": live,
            }
            largest = max(("render", "related"), key=lambda h: row[h]["largest_read"])
            row["largest_read"] = {
                "items": row[largest]["largest_read"],
                "call": row[largest]["largest_read_call"],
                "handler": largest,
            }
            rows.append(row)
            print(
                f"  publish {number + 1}/{len(fresh)}: {row['total_ms']:.0f} ms "
                f"(render {row['render_ms']:.0f}, related {row['related_ms']:.0f}; calls "
                f"{row['render']['api_calls']}+{row['related']['api_calls']}, items read "
                f"{row['render']['items_read']}/{row['related']['items_read']}, largest "
                f"{row['largest_read']['items']} {row['largest_read']['call']}) "
                f"live={all(live.values())}",
                file=sys.stderr,
                flush=True,
            )
        aws_peak_rss_mb = aws.rss_mb("VmHWM:")
    finally:
        aws.stop()
        shutil.rmtree(folder, ignore_errors=True)
    warm = [r for r in rows if not r["cold"]] or rows

    def field(name: str, part: str | None = None) -> dict[str, float]:
        return spread([float(r[part][name] if part else r[name]) for r in warm])

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
        "render_items_read": field("items_read", "render"),
        "related_items_read": field("items_read", "related"),
        "items_read": spread(
            [r["render"]["items_read"] + r["related"]["items_read"] for r in warm]
        ),
        "render_read_calls": field("read_calls", "render"),
        "related_read_calls": field("read_calls", "related"),
        "largest_read": spread([r["largest_read"]["items"] for r in warm]),
        "largest_read_calls": dict(
            collections.Counter(
                f"{r['largest_read']['handler']} {r['largest_read']['call']}" for r in warm
            )
        ),
        "live": all(all(r["live"].values()) for r in rows),
        "cold_total_ms": rows[0]["total_ms"] if rows else None,
    }
    return {
        "part": "publish",
        "command": " ".join(["python", "-m", "benchmarks.publish_latency", *sys.argv[1:]]),
        "posts": posts,
        "publishes": publishes,
        "seed": seed,
        "aws": aws_mode,
        "median_kb": round(statistics.median(sizes) / 1024, 1),
        "largest_kb": round(sizes[-1] / 1024, 1),
        "load": {k: round(v, 1) for k, v in load.items()},
        "related_rebuild_s": round(related_s, 1),
        "rebuild": rebuild,
        "rows": rows,
        "summary": summary,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "aws_peak_rss_mb": round(aws_peak_rss_mb, 1) if aws.pid else None,
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
