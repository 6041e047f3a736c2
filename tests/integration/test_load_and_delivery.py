"""Load and delivery on the local stack as ``tsuzuri dev`` wires it: posts uploaded from
many threads at once over HTTP, S3 events through the render queue to the real handler,
the related function on the table's stream; and the same site with every event
delivered one to three times, shuffled, deletes before creates. Afterwards the site must
be exactly what a from-scratch build of the final source bucket gives."""

from __future__ import annotations

import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from tsuzuri.related.wiring import related_settings
from tsuzuri.settings import related_overrides

from tests.integration.test_related_function import (
    SITE,
    Related,
    assert_site_matches_recomputation,
)
from tests.support.live import Live, assert_feed_and_sitemap, assert_lists_exact, s3_message
from tests.support.site import post_text

HOT_TAGS = ["aws", "python", "serverless"]
BASE = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)


def as_related(live: Live) -> Related:
    settings = related_settings(None, related_overrides(os.environ))
    return Related(None, live.stream, live.site, settings)  # type: ignore[arg-type]


def corpus(count: int, seed: int) -> list[tuple[str, str, str, list[str]]]:
    """(key, text, url, tags): about 30% of the posts share the hot tags."""
    rng = random.Random(seed)
    posts = []
    for number in range(count):
        when = BASE + timedelta(hours=7 * number + rng.randrange(6))
        local = when + timedelta(hours=9)
        slug = f"load-{number}"
        tags = [f"t{number % 40}"]
        if rng.random() < 0.3:
            tags += rng.sample(HOT_TAGS, rng.randint(1, 2))
        text = post_text(
            f"負荷 {number}",
            date=when.strftime("%Y-%m-%d %H:%M:%S +0000"),
            tags="[" + ", ".join(tags) + "]",
            body=f"本文 {number}。" + " ".join(rng.sample(["雲", "関数", "索引", "配信"], 2)),
        )
        key = f"posts/{when:%Y-%m-%d}-{slug}.md"
        posts.append((key, text, f"/{local:%Y/%m/%d}/{slug}/", tags))
    return posts


def expected_tags(posts: list[tuple[str, str, str, list[str]]]) -> dict[str, set[str]]:
    by_tag: dict[str, set[str]] = {}
    for _key, _text, url, tags in posts:
        for tag in tags:
            by_tag.setdefault(tag, set()).add(url)
    return by_tag


def newest_first(posts: list[tuple[str, str, str, list[str]]]) -> list[str]:
    return [url for _k, _t, url, _tags in sorted(posts, key=lambda p: p[0], reverse=True)]


def check_site(live: Live, posts: list[tuple[str, str, str, list[str]]]) -> None:
    site = live.site
    assert_lists_exact(site, expected_tags(posts), {p[2] for p in posts})
    home = site.json("/index.json") if "index.json" in site.keys() else None
    if home is not None:
        assert home["count"] == len(posts)
    assert_feed_and_sitemap(site, newest_first(posts), SITE.feed_size)
    assert_site_matches_recomputation(as_related(live))  # related lists, sections, prev/next
    assert live.related_failures == []  # type: ignore[attr-defined]
    assert live.dead_letters() == 0


def upload_concurrently(live: Live, posts: list[tuple[str, str, str, list[str]]]) -> None:
    s3, bucket = live.site.clients.s3, live.stack.settings.source_bucket

    def put(post: tuple[str, str, str, list[str]]) -> None:
        s3.put_object(Bucket=bucket, Key=post[0], Body=post[1].encode())

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, posts))


def run_load(live: Live, count: int, pumps: int) -> None:
    posts = corpus(count, seed=count)
    started = time.perf_counter()
    live.start_render(pumps)
    live.start_stream()
    upload_concurrently(live, posts)
    live.settle(timeout=120 + count * 2)
    elapsed = time.perf_counter() - started
    check_site(live, posts)
    print(f"{count} posts, {pumps} render pumps: {elapsed:.1f} s, {live.deliveries} deliveries")


def test_concurrent_uploads_publish_every_post_exactly_once(live: Live) -> None:
    run_load(live, 24, pumps=2)


@pytest.mark.slow
def test_five_hundred_concurrent_uploads(live: Live) -> None:
    run_load(live, 500, pumps=2)


def deliver_shuffled(live: Live, messages: list[str], seed: int) -> int:
    rng = random.Random(seed)
    copies = [m for m in messages for _ in range(rng.randint(1, 3))]
    rng.shuffle(copies)
    for start in range(0, len(copies), 10):
        live.sqs.send_message_batch(
            QueueUrl=live.stack.queue_url,
            Entries=[
                {"Id": str(i), "MessageBody": m} for i, m in enumerate(copies[start : start + 10])
            ],
        )
    return len(copies)


def run_redelivery(live: Live, count: int, seed: int) -> None:
    """Every event one to three times, shuffled; a fifth of the posts deleted after
    upload, with the delete's event sent before the create's."""
    bucket = live.stack.settings.source_bucket
    s3 = live.site.clients.s3
    # Notifications off: the test sends the events itself, in its own order.
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    posts = corpus(count, seed=seed)
    upload_concurrently(live, posts)
    rng = random.Random(seed)
    deleted = set(rng.sample(range(count), count // 5))
    for number in deleted:
        s3.delete_object(Bucket=bucket, Key=posts[number][0])
    messages: list[str] = []
    for number, (key, _text, _url, _tags) in enumerate(posts):
        if number in deleted:
            # the delete first, then its create: the handler must still unpublish
            messages += [s3_message(bucket, key, removed=True), s3_message(bucket, key)]
        else:
            messages.append(s3_message(bucket, key))
    sent = deliver_shuffled(live, messages, seed)
    live.start_render(2)
    live.start_stream()
    live.settle(timeout=120 + count * 2)
    kept = [p for n, p in enumerate(posts) if n not in deleted]
    for number in deleted:
        assert live.site.page(posts[number][2]) is None, "a deleted post is live"
    check_site(live, kept)
    print(f"{len(messages)} events sent as {sent} messages; {len(deleted)} deletes first")


def test_duplicated_shuffled_events_and_deletes_before_creates(live: Live) -> None:
    run_redelivery(live, 15, seed=5)


@pytest.mark.slow
def test_duplicated_shuffled_events_at_scale(live: Live) -> None:
    run_redelivery(live, 300, seed=6)
