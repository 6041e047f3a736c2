"""The local stack as ``tsuzuri dev`` wires it, for load and fault tests: moto's server
over HTTP, the render queue fed by the source bucket's notifications, the real render
handler driven by :class:`~tsuzuri_local.devstack.pumps.EventPump` (partial batch failures, retries,
dead-letter queue) and the related function by :class:`~tsuzuri_local.devstack.pumps.StreamPump`.

The render handler's clients carry a :class:`~tests.support.faults.Faults` hook, so a
test can make S3, DynamoDB or CloudFront fail underneath the real code.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from tsuzuri.domain.model import page_key
from tsuzuri_local.devstack.pumps import EventPump, StreamPump
from tsuzuri_local.provision import LocalStack

from tests.support.faults import Faults
from tests.support.site import Site

POST_LINK = re.compile(r'href="(/\d{4}/\d{2}/\d{2}/[^"/]+/)"')
LOC = re.compile(r"<loc>([^<]+)</loc>")


@dataclass
class Live:
    stack: LocalStack
    site: Site
    sqs: Any
    render: ModuleType
    pump: EventPump
    stream: StreamPump
    faults: Faults
    endpoint: str
    stop: threading.Event
    related_faults: Faults = field(default_factory=Faults)  # on the related function's clients
    threads: list[threading.Thread] = field(default_factory=list)
    failed_batches: list[set[str]] = field(default_factory=list)
    deliveries: int = 0

    def start_render(self, pumps: int = 1) -> None:
        for number in range(pumps):
            thread = threading.Thread(target=self.pump.run, name=f"render-{number}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def start_stream(self) -> None:
        thread = threading.Thread(target=self.stream.run, name="related", daemon=True)
        thread.start()
        self.threads.append(thread)

    def shutdown(self) -> None:
        self.stop.set()
        for thread in self.threads:
            # A pump stops after the invocation it is in; a related batch of 100 records
            # has taken over two minutes on moto with both cores busy.
            thread.join(timeout=600)
        alive = [t.name for t in self.threads if t.is_alive()]
        self.threads.clear()
        assert not alive, f"pump threads still running: {alive}"

    def queue_depth(self, url: str | None = None) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.stack.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def dead_letters(self) -> int:
        return self.queue_depth(self.stack.dead_letter_url)

    def settle(self, timeout: float = 300) -> float:
        """Wait until the render queue is empty (retries included), then stop the pumps
        and let the related function catch up with the whole stream."""
        started = time.monotonic()
        quiet = 0
        while quiet < 3:  # three looks in a row: a retried message is invisible for 1 s
            if time.monotonic() - started > timeout:
                raise AssertionError(f"render queue not empty after {timeout:.0f} s")
            quiet = quiet + 1 if self.queue_depth() == 0 else 0
            time.sleep(0.5)
        self.shutdown()
        self.stream.drain()
        return time.monotonic() - started


def tag_slugs_on_site(site: Site) -> dict[str, dict[str, Any]]:
    return {t["slug"]: t for t in site.json("/tags/index.json")["tags"]}


def assert_lists_exact(site: Site, expected_by_tag: dict[str, set[str]], live: set[str]) -> None:
    """Every tag page (all of its pages) and tag JSON lists exactly its posts; the tag
    index counts are exact; the home archive lists every live post once."""
    keys = site.keys()
    index = tag_slugs_on_site(site)
    assert set(index) == {slug for slug, urls in expected_by_tag.items() if urls}
    for slug, urls in expected_by_tag.items():
        if not urls:
            assert slug not in index
            continue
        assert index[slug]["count"] == len(urls), f"tags/index.json count of {slug}"
        data = site.json(f"/tags/{slug}/index.json")
        assert data["count"] == len(urls), f"count in /tags/{slug}/index.json"
        listed = site.tag_posts(f"/tags/{slug}/index.json")
        assert set(listed) == urls, f"posts in /tags/{slug}/index.json and its older files"
        seen: list[str] = []
        for key in sorted(k for k in keys if k.startswith(f"tags/{slug}/") and k.endswith(".html")):
            seen += [html.unescape(u) for u in POST_LINK.findall(site.page("/" + key) or "")]
        assert set(seen) == urls, f"posts on the pages of /tags/{slug}/"
    for url in live:
        assert page_key(url) in keys, f"{url} is not live"


def assert_feed_and_sitemap(site: Site, live_by_date: list[str], feed_size: int) -> None:
    """``live_by_date``: live post URLs, newest first."""
    feed = site.page("/feed.xml") or ""
    in_feed = [u for u in re.findall(r"<link[^>]*href=\"([^\"]+)\"", feed) if "/20" in u]
    in_feed = list(dict.fromkeys(u.split("blog.example.com", 1)[-1] for u in in_feed))
    assert in_feed == live_by_date[:feed_size], "the feed is not the newest posts"
    index = site.page("/sitemap.xml") or ""
    located: list[str] = []
    for sitemap in LOC.findall(index):
        path = sitemap.split("blog.example.com", 1)[-1]
        if "/posts-" in path:
            located += [
                u.split("blog.example.com", 1)[-1] for u in LOC.findall(site.page(path) or "")
            ]
    assert sorted(located) == sorted(live_by_date), "the sitemaps are not exactly the live posts"


def s3_message(bucket: str, key: str, *, removed: bool = False) -> str:
    """An S3 notification as moto delivers it to SQS (no sequencer, no version id)."""
    from urllib.parse import quote

    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "ap-northeast-1",
                    "eventTime": "2026-11-01T00:00:00.000Z",
                    "eventName": "ObjectRemoved:DeleteMarkerCreated"
                    if removed
                    else "ObjectCreated:Put",
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                        "object": {"key": quote(key, safe="").replace("%20", "+")},
                    },
                }
            ]
        }
    )
