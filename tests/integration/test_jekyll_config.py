"""A broken ``_config.yml`` never takes the posts down with it (through the real render
handler, the SQS pump and moto over HTTP, as ``tsuzuri dev`` runs them).

The posts publish with the last good (here: the default) settings, the config gets a
report with the line of the offending key, nothing is retried into the dead-letter
queue, and the fixed file re-publishes the posts with its permalink.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import botocore.session
import pytest
from tsuzuri.aws.buckets import report_key
from tsuzuri.aws.clients import Clients
from tsuzuri_local.devstack.pumps import EventPump
from tsuzuri_local.devstack.runtime import handler_environment, load_handler
from tsuzuri_local.provision import LocalStack, provision

from tests.support.site import post_text
from tests.support.waiting import eventually

BAD = """title: つづり
description: ノート
url: https://blog.example.com
timezone: Asia/Tokyo
permalink: /:year/:titel/
"""


@dataclass
class Stack:
    stack: LocalStack
    clients: Clients
    sqs: Any
    failed: list[set[str]]
    handler: Any

    def put(self, key: str, body: str) -> None:
        self.clients.s3.put_object(
            Bucket=self.stack.settings.source_bucket, Key=key, Body=body.encode()
        )

    def page(self, key: str) -> str | None:
        try:
            obj = self.clients.s3.get_object(Bucket=self.stack.settings.site_bucket, Key=key)
        except self.clients.s3.exceptions.NoSuchKey:
            return None
        return str(obj["Body"].read().decode())

    def report(self, key: str) -> dict[str, Any] | None:
        try:
            obj = self.clients.s3.get_object(
                Bucket=self.stack.settings.source_bucket, Key=report_key(key)
            )
        except self.clients.s3.exceptions.NoSuchKey:
            return None
        return json.loads(obj["Body"].read())  # type: ignore[no-any-return]

    def depth(self, url: str | None) -> int:
        assert url
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())


@pytest.fixture
def dev(moto_endpoint: str, clients: Clients, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    sqs = botocore.session.get_session().create_client(
        "sqs", region_name="ap-northeast-1", endpoint_url=moto_endpoint
    )
    stack = provision(clients, prefix=f"j{uuid.uuid4().hex[:10]}", sqs=sqs)
    assert stack.queue_url and stack.queue_arn
    environment = handler_environment(
        stack.settings, moto_endpoint, log_level="CRITICAL", RENDER_QUEUE_URL=stack.queue_url
    )
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    handler = load_handler()
    handler.service.cache_clear()  # cold start on the first batch, as in tsuzuri dev
    failed: list[set[str]] = []
    stop = threading.Event()
    pump = EventPump(
        sqs=sqs, queue_url=stack.queue_url, queue_arn=stack.queue_arn,
        handler=handler.lambda_handler, batch_size=stack.plan.batch_size, window_s=0.2,
        on_batch=lambda _r, bad, _ms: failed.append(bad) if bad else None, stop_event=stop,
        retry_visibility_s=1,
    )  # fmt: skip
    thread = threading.Thread(target=pump.run, daemon=True)
    thread.start()
    yield Stack(stack, clients, sqs, failed, handler)
    stop.set()
    thread.join(timeout=30)
    handler.service.cache_clear()


def test_a_bad_config_is_reported_and_the_posts_publish_with_the_defaults(dev: Stack) -> None:
    # The broken file is in the bucket before the function's first cold start, as on
    # `tsuzuri dev`'s first load: it must not stop the function from starting.
    dev.put("_config.yml", BAD)
    dev.put("posts/2026-02-11-hello.md", post_text("最初の記事", categories="AI"))
    dev.put("posts/2026-02-12-next.md", post_text("次の記事", date="2026-02-12 09:00:00 +0900"))

    # The default permalink, the date in Asia/Tokyo: 20:59 UTC is the next day.
    eventually(lambda: dev.page("2026/02/12/hello/index.html"), timeout=30)
    eventually(lambda: dev.page("2026/02/12/next/index.html"), timeout=30)
    report = eventually(lambda: dev.report("_config.yml"), timeout=30)
    assert report["status"] == "rejected"
    assert report["line"] == 5  # permalink: is on line 5
    assert ":titel is not a Jekyll placeholder" in report["problem"]
    assert report["code"] == "bad-config"
    eventually(
        lambda: (dev.report("posts/2026-02-11-hello.md") or {}).get("status") == "published",
        timeout=30,
    )
    assert eventually(lambda: dev.depth(dev.stack.queue_url) == 0, timeout=30)
    assert dev.depth(dev.stack.dead_letter_url) == 0
    assert dev.failed == []  # not a retry: a report

    # Fixed: what went out with the defaults is re-published with the file's permalink,
    # also by an instance that starts only now and finds the fixed file in the bucket.
    dev.handler.service.cache_clear()
    dev.put("_config.yml", BAD.replace("/:year/:titel/", "pretty"))
    fixed = eventually(
        lambda: (r := dev.report("_config.yml")) and r["status"] == "config" and r, timeout=30
    )
    assert fixed["rebuild"] == "reindex"
    eventually(lambda: dev.page("ai/2026/02/12/hello/index.html"), timeout=30)
    eventually(
        lambda: (
            (dev.report("posts/2026-02-11-hello.md") or {}).get("url") == "/ai/2026/02/12/hello/"
        ),
        timeout=30,
    )
    eventually(lambda: dev.page("2026/02/12/hello/index.html") is None, timeout=30)
    eventually(lambda: dev.depth(dev.stack.queue_url) == 0, timeout=30)
    assert dev.depth(dev.stack.dead_letter_url) == 0
    assert dev.failed == []


def test_a_jekyll_permalink_style_is_accepted(dev: Stack) -> None:
    dev.put("_config.yml", BAD.replace("/:year/:titel/", "pretty"))
    dev.put("posts/2026-02-11-hello.md", post_text("最初の記事", categories="AI News"))
    eventually(lambda: dev.page("ai/news/2026/02/12/hello/index.html"), timeout=30)
    eventually(lambda: (dev.report("_config.yml") or {}).get("status") == "config", timeout=30)
    assert dev.depth(dev.stack.dead_letter_url) == 0
