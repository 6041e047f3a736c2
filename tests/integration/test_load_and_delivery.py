"""Load and delivery on the local stack as ``tsuzuri dev`` wires it: posts uploaded from
many threads at once over HTTP, S3 events through the render queue to the real handler,
the related function on the table's stream; and the same site with every event
delivered one to three times, shuffled, deletes before creates. Afterwards the site must
be exactly what a from-scratch build of the final source bucket gives."""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
import pytest
from tsuzuri.devstack import RELATED_HANDLER, EventPump, StreamPump, load_handler, related_mapping
from tsuzuri.provision import load_template, provision
from tsuzuri.related_index import settings_from_env
from tsuzuri.runtime import Clients, build_publisher, make_clients

from tests.integration.test_related_function import (
    SITE,
    SITE_ENV,
    Related,
    assert_site_matches_recomputation,
)
from tests.support.faults import Faults
from tests.support.live import Live, assert_feed_and_sitemap, assert_lists_exact, s3_message
from tests.support.site import Site, post_text

HOT_TAGS = ["aws", "python", "serverless"]
BASE = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
def live(moto_endpoint: str, clients: Clients, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    sqs = botocore.session.get_session().create_client(
        "sqs", region_name="ap-northeast-1", endpoint_url=moto_endpoint
    )
    stack = provision(clients, prefix=f"z{uuid.uuid4().hex[:10]}", sqs=sqs)
    settings = stack.settings
    for name, value in {
        "SOURCE_BUCKET": settings.source_bucket,
        "SITE_BUCKET": settings.site_bucket,
        "TABLE_NAME": settings.table_name,
        "DISTRIBUTION_ID": settings.distribution_id or "",
        "TSUZURI_AWS_ENDPOINT_URL": moto_endpoint,
        "TSUZURI_INDEX_WORKERS": "4",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
        **SITE_ENV,
    }.items():
        monkeypatch.setenv(name, value)
    faults = Faults()
    render = load_handler()
    # The render function's clients carry the fault hook (module globals are looked up
    # at call time, so the handler builds its publisher with these).
    render.make_clients = lambda **kw: _hooked(faults, make_clients(**kw))
    render.publisher.cache_clear()
    related_module = load_handler(RELATED_HANDLER)
    related_module.service.cache_clear()
    stop = __import__("threading").Event()
    mapping = related_mapping(load_template())
    assert stack.queue_url and stack.queue_arn and stack.stream_arn
    failures: list[dict[str, Any]] = []
    stream = StreamPump(
        streams=botocore.session.get_session().create_client(
            "dynamodbstreams", region_name="ap-northeast-1", endpoint_url=moto_endpoint
        ),
        stream_arn=stack.stream_arn, handler=related_module.lambda_handler,
        on_failure=failures.append, stop_event=stop,
        **{k: v for k, v in mapping.items() if k != "report_failures"},
    )  # fmt: skip
    publisher = build_publisher(settings, clients, site=SITE, environ={})
    running = Live(
        stack=stack, site=Site(clients, settings, publisher), sqs=sqs, render=render,
        pump=None,  # type: ignore[arg-type]
        stream=stream, faults=faults, endpoint=moto_endpoint, stop=stop,
    )  # fmt: skip

    def on_batch(records: list[dict[str, Any]], failed: set[str], _ms: float) -> None:
        running.deliveries += len(records)
        if failed:
            running.failed_batches.append(failed)

    running.pump = EventPump(
        sqs=sqs, queue_url=stack.queue_url, queue_arn=stack.queue_arn,
        handler=render.lambda_handler, batch_size=stack.plan.batch_size, window_s=0.2,
        on_batch=on_batch, stop_event=stop, retry_visibility_s=1,
    )  # fmt: skip
    running.related_failures = failures  # type: ignore[attr-defined]
    yield running
    running.shutdown()
    render.publisher.cache_clear()
    related_module.service.cache_clear()


def _hooked(faults: Faults, clients: Clients) -> Clients:
    for client in (clients.s3, clients.dynamodb, clients.cloudfront):
        faults.install(client)
    return clients


def as_related(live: Live) -> Related:
    return Related(None, live.stream, live.site, settings_from_env(os.environ))  # type: ignore[arg-type]


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
    run_load(live, 40, pumps=2)


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
    run_redelivery(live, 25, seed=5)


@pytest.mark.slow
def test_duplicated_shuffled_events_at_scale(live: Live) -> None:
    run_redelivery(live, 300, seed=6)
