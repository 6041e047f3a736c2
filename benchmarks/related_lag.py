"""How long the related lists take to be right: after ``related lists ready``, and after
deleting posts from the folder.

    .venv/bin/python -m benchmarks.related_lag --posts 150 --delete 30

Generates a seeded corpus (benchmarks/corpus.py), starts ``tsuzuri dev --fresh`` on it,
and waits for ``related lists ready``. Then, and again after deleting ``--delete`` post
files at once, it reads every post page through the preview server and compares its
related-posts section with the lists a full recomputation over the table's posts gives
(``recompute_all``, the reference the related function must equal), polling every
second until they agree. It prints, per phase, how many pages were wrong at the first
look and when the last one became right; after the deletes also when the render function
had processed the last delete (its dev log line) and when no page linked a deleted post.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer
from tsuzuri.domain.relatedness import recompute_all
from tsuzuri.related.store import view_of_post_item
from tsuzuri_local.cli import LOCAL_CREDENTIALS
from tsuzuri_local.devstack.stack import default_sigint

from benchmarks.corpus import generate
from benchmarks.dev_load import REPO, free_port

TABLE = "tsuzuri-dev-table"
_SECTION = re.compile(r'<section class="related-posts">(.*?)</section>', re.DOTALL)
_HREF = re.compile(r'href="([^"]+)"')


def _scan(dynamodb: Any) -> list[dict[str, Any]]:
    deserialize = TypeDeserializer().deserialize
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=TABLE, ConsistentRead=True):
        items += [{k: deserialize(v) for k, v in raw.items()} for raw in page["Items"]]
    return items


def expected(dynamodb: Any) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Every published post's list by a full recomputation, and each post's source key."""
    views, keys = {}, {}
    for item in _scan(dynamodb):
        if item["sk"] == "POST":
            view = view_of_post_item(item)
            if view is not None:
                views[view.features.url] = view
                keys[view.features.url] = str(item.get("source_key", ""))
    lists = recompute_all([v.features for v in views.values()])
    return {url: [e.url for e in entries] for url, entries in lists.items()}, keys


def shown(site: str, url: str) -> list[str] | None:
    """The URLs the page's related section links, in order (None: no page or no section)."""
    try:
        with urllib.request.urlopen(site + urllib.parse.quote(url), timeout=30) as response:
            page = response.read().decode("utf-8")
    except urllib.error.HTTPError:
        return None
    match = _SECTION.search(page)
    if match is None:
        return None
    links = [urllib.parse.unquote(html.unescape(h)) for h in _HREF.findall(match.group(1))]
    return [urllib.parse.urlsplit(h).path for h in dict.fromkeys(links)]


def wrong_pages(
    site: str, lists: dict[str, list[str]], gone: set[str]
) -> tuple[int, int, set[str]]:
    """Pages whose section differs from the reference, pages that link a gone post, and
    the gone posts some page still links."""
    wrong = linking_gone = 0
    still_linked: set[str] = set()
    with ThreadPoolExecutor(8) as pool:
        pages = dict(zip(lists, pool.map(partial(shown, site), lists), strict=True))
    for url, reference in lists.items():
        links = pages[url] or []
        wrong += pages[url] != reference
        linked = gone.intersection(links)
        linking_gone += bool(linked)
        still_linked |= linked
    return wrong, linking_gone, still_linked


def settle(
    site: str, dynamodb: Any, started: float, gone: set[str], timeout_s: float
) -> dict[str, Any]:
    """Poll until every page shows its reference list; the times are from ``started``.
    ``unlinked_s``: per gone post, the start of the first look that found no page
    linking it."""
    first: tuple[int, int] | None = None
    clean_of_gone = None
    unlinked_s: dict[str, float] = {}
    deadline = time.perf_counter() + timeout_s
    while True:
        looked = time.perf_counter() - started
        lists, _ = expected(dynamodb)
        wrong, linking_gone, still_linked = wrong_pages(site, lists, gone)
        for url in gone - still_linked - set(lists):
            unlinked_s.setdefault(url, looked)
        now = time.perf_counter() - started
        if first is None:
            first = (wrong, linking_gone)
        if not linking_gone and clean_of_gone is None:
            clean_of_gone = now
        print(f"  {now:6.1f} s: {wrong} pages wrong, {linking_gone} link a deleted post",
              file=sys.stderr, flush=True)  # fmt: skip
        # Right means right against a table the deletes have reached.
        if (not wrong and not gone & set(lists)) or time.perf_counter() > deadline:
            return {
                "pages": len(lists),
                "wrong_at_first_look": first[0],
                "linking_deleted_at_first_look": first[1],
                "no_page_links_deleted_s": round(clean_of_gone or -1, 1),
                "every_page_right_s": round(now, 1) if not wrong else None,
                "still_wrong": wrong,
                "unlinked_s": unlinked_s,
            }
        time.sleep(0.2)


def run(posts: int, delete: int, seed: int, timeout_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tsuzuri-lag-") as tmp:
        content = Path(tmp) / "site"
        files = generate(content, posts, seed, 40)
        port, aws_port = free_port(), free_port()
        command = [
            sys.executable, "-m", "tsuzuri_local.cli", "dev", "--fresh", "--content",
            str(content), "--port", str(port), "--aws-port", str(aws_port),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "XDG_CACHE_HOME": str(Path(tmp) / "c")}
        child = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=env, preexec_fn=default_sigint,
        )  # fmt: skip
        lines: list[tuple[float, str]] = []
        related_ready = threading.Event()

        def read() -> None:
            assert child.stdout is not None
            for line in child.stdout:
                lines.append((time.perf_counter(), line.rstrip()))
                if line.startswith("related lists ready"):
                    related_ready.set()

        threading.Thread(target=read, daemon=True).start()
        try:
            if not related_ready.wait(timeout_s):
                raise SystemExit("related lists never ready:\n" + "\n".join(x for _, x in lines))
            site = f"http://127.0.0.1:{port}"
            dynamodb = boto3.client(
                "dynamodb", endpoint_url=f"http://127.0.0.1:{aws_port}",
                region_name="ap-northeast-1", **LOCAL_CREDENTIALS,
            )  # fmt: skip
            print("after related lists ready:", file=sys.stderr)
            at_ready = settle(site, dynamodb, time.perf_counter(), set(), timeout_s)
            at_ready.pop("unlinked_s")

            _, keys = expected(dynamodb)
            post_files = [f for f in files if "_posts" in f.parts]
            doomed = random.Random(seed).sample(post_files, delete)
            names = {f.name for f in doomed}
            gone = {url for url, key in keys.items() if key.rsplit("/", 1)[-1] in names}
            started = time.perf_counter()
            for path in doomed:
                path.unlink()
            print(f"after deleting {delete} posts:", file=sys.stderr)
            after = settle(site, dynamodb, started, gone, timeout_s)
            # The dev log's line for each deleted file: when the render function had
            # unpublished it. The lag is from there to the first look without a link to it.
            processed = {}
            for url in gone:
                name = keys[url].rsplit("/", 1)[-1]
                seen = [t for t, x in lines if t > started and name in x]
                if seen:
                    processed[url] = min(seen) - started
            unlinked = after.pop("unlinked_s")
            lags = sorted(unlinked[u] - processed[u] for u in processed if u in unlinked)
            after["last_delete_processed_s"] = round(max(processed.values()), 1)
            after["lag_after_processed_s"] = (
                {
                    "median": round(lags[len(lags) // 2], 1),
                    "max": round(lags[-1], 1),
                    "posts": len(lags),
                }
                if lags
                else None
            )
            after["log_tail"] = [x for t, x in lines if t > started][-5:]
            return {"posts": posts, "deleted": delete, "at_ready": at_ready, "after_delete": after}
        finally:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=120)
            except subprocess.TimeoutExpired:
                child.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=150)
    parser.add_argument("--delete", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run(args.posts, args.delete, args.seed, args.timeout)
    print(json.dumps(result, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")


if __name__ == "__main__":
    main()
