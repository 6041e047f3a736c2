"""``tsuzuri dev``: the whole product on an embedded AWS (moto's server), served locally."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from tsuzuri.keys import POST_EXTENSIONS
from tsuzuri.preview import PreviewServer
from tsuzuri.publisher import Change, Publisher

BATCH = 10


def content_files(content: Path) -> Iterator[tuple[Path, str]]:
    """(file, source key) pairs for a Jekyll site folder: _posts/ and posts/ go to posts/."""
    for name in ("_config.yml", "_config.yaml", "_config.json"):
        if (content / name).is_file():
            yield content / name, name
    for folder in ("posts", "_posts"):
        root = content / folder
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_file() and path.suffix in POST_EXTENSIONS:
                    yield path, f"posts/{path.name}"
    assets = content / "assets"
    if assets.is_dir():
        for path in sorted(assets.rglob("*")):
            if path.is_file():
                yield path, "assets/" + path.relative_to(assets).as_posix()


def run_dev(*, content: Path, port: int, aws_port: int) -> int:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "tsuzuri-local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "tsuzuri-local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "ap-northeast-1")
    os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per event is ours to print

    from tsuzuri.provision import provision
    from tsuzuri.runtime import build_publisher, make_clients

    if not content.is_dir():
        print(f"tsuzuri dev: content folder {content} does not exist", file=sys.stderr)
        return 2
    aws = ThreadedMotoServer(ip_address="127.0.0.1", port=aws_port, verbose=False)
    aws.start()
    endpoint = f"http://127.0.0.1:{aws.get_host_and_port()[1]}"
    clients = make_clients(endpoint_url=endpoint, region="ap-northeast-1")
    settings = provision(clients, prefix="tsuzuri-dev")
    print(f"aws endpoint: {endpoint}", flush=True)
    print(f"source bucket: {settings.source_bucket}", flush=True)

    files = list(content_files(content))
    for path, key in files:
        clients.s3.put_object(Bucket=settings.source_bucket, Key=key, Body=path.read_bytes())
    preview = PreviewServer(clients.s3, settings.site_bucket, port=port)
    site_url = preview.url
    publisher = build_publisher(
        settings, clients, environ={**os.environ, "TSUZURI_SITE_URL": site_url.rstrip("/")}
    )
    _publish_all(publisher, [key for _, key in files if not key.startswith("_config")])
    preview.start()
    print(f"site: {site_url}", flush=True)
    stop = threading.Event()
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    finally:
        preview.stop()
        aws.stop()
    return 0


def _publish_all(publisher: Publisher, keys: list[str]) -> None:
    total = len(keys)
    started = time.perf_counter()
    for start in range(0, total, BATCH):
        batch = [Change(key=k, removed=False, token=k) for k in keys[start : start + BATCH]]
        result = publisher.process(batch)
        for outcome in result.outcomes:
            if outcome.status == "rejected":
                where = f":{outcome.line}" if outcome.line else ""
                print(f"{outcome.key}{where}: {outcome.message}", flush=True)
            else:
                print(
                    f"{outcome.key} -> {outcome.url} {outcome.status} {outcome.ms:.0f} ms",
                    flush=True,
                )
        done = min(start + BATCH, total)
        print(
            f"[{done}/{total}] {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True
        )
