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


def _fixed(number: int) -> str:
    """A ``permalink:`` of the date-shaped kind the site checks read (not the post's date)."""
    return f"/2099/01/01/fixed-{number}/"


def _renamed(key: str) -> str:
    return key.removesuffix(".md") + "-renamed.md"


def run_claims_redelivery(
    live: Live, renames: int, owner_deletes: int, others: int, seed: int
) -> None:
    """URL claims under redelivery: ``renames`` posts with a fixed ``permalink:`` renamed
    (create of the new key, delete of the old), and ``owner_deletes`` owners of a URL a
    twin (``.markdown`` beside ``.md``) waits for deleted; those events and a create of
    every other post and twin, each one to three times, shuffled. No post may be lost:
    every renamed post stays at its URL under its new key, every twin takes its owner's
    URL, and the site equals a from-scratch build of the final bucket."""
    bucket = live.stack.settings.source_bucket
    s3 = live.site.clients.s3
    base = corpus(renames + owner_deletes + others, seed=seed)
    fixed = [
        (
            key,
            text.replace("title: ", f"permalink: {_fixed(n)}\ntitle: ", 1),
            _fixed(n),
            tags,
        )
        for n, (key, text, _url, tags) in enumerate(base[:renames])
    ]
    owners = base[renames : renames + owner_deletes]
    plain = base[renames + owner_deletes :]
    twins = [
        (key.removesuffix(".md") + ".markdown", text.replace("負荷 ", "双子 ", 1), url, tags)
        for key, text, url, tags in owners
    ]

    # Before: every post live, each twin refused and waiting in line for its owner's URL.
    live.start_render(2)
    live.start_stream()
    upload_concurrently(live, fixed + owners + plain)
    live.settle(timeout=120 + len(base) * 2)
    live.stop.clear()
    live.start_render(2)
    live.start_stream()
    upload_concurrently(live, twins)
    live.settle(timeout=120 + len(twins) * 2)
    for key, _text, _url, _tags in twins:
        assert "waits in line" in live.site.report(key)["problem"], key
    assert all(live.site.page(url) for _k, _t, url, _tags in fixed)

    # The changes, with notifications off: the test delivers their events in its order.
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    renamed = []
    messages: list[str] = []
    for key, text, url, tags in fixed:
        new = _renamed(key)
        s3.put_object(Bucket=bucket, Key=new, Body=text.replace("負荷 ", "改名 ", 1).encode())
        s3.delete_object(Bucket=bucket, Key=key)
        renamed.append((new, text, url, tags))
        messages += [s3_message(bucket, new), s3_message(bucket, key, removed=True)]
    for key, _text, _url, _tags in owners:
        s3.delete_object(Bucket=bucket, Key=key)
        messages.append(s3_message(bucket, key, removed=True))
    messages += [s3_message(bucket, key) for key, _t, _u, _tags in plain + twins]
    sent = deliver_shuffled(live, messages, seed)
    live.stop.clear()
    live.start_render(2)
    live.start_stream()
    live.settle(timeout=120 + len(messages) * 2)

    store = live.site.publisher.store
    for key, _text, url, _tags in renamed + twins:
        assert store.get_post_owner(url) == key, f"{url} is not {key}'s"
        assert store.claims(url) == [], f"{url} still has a line"
        assert live.site.report(key)["url"] == url, live.site.report(key)
    assert all("改名" in (live.site.page(url) or "") for _k, _t, url, _tags in renamed)
    assert all("双子" in (live.site.page(url) or "") for _k, _t, url, _tags in twins)
    check_site(live, plain + renamed + twins)
    print(f"{len(messages)} events sent as {sent} messages: {renames} renames, "
          f"{owner_deletes} owner deletes")  # fmt: skip


def test_renames_and_owner_deletes_among_shuffled_duplicated_events(live: Live) -> None:
    run_claims_redelivery(live, renames=3, owner_deletes=3, others=6, seed=11)


@pytest.mark.slow
def test_fifty_renames_and_fifty_owner_deletes_among_three_hundred_events(live: Live) -> None:
    run_claims_redelivery(live, renames=50, owner_deletes=50, others=150, seed=12)
