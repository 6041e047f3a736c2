"""Faults injected under the real render handler on the local stack (see
``tests/support/faults.py``): S3 writes failing mid-publish, DynamoDB throttling,
CloudFront refusing or timing out, the process dying between the pages and the
invalidation. After Lambda's retries (as ``EventPump`` plays them) the site must be
exactly right, what keeps failing must wait in the dead-letter queue, and
``tsuzuri redrive`` must bring it back."""

from __future__ import annotations

import time
from typing import Any

import pytest
from tsuzuri_local import cli

from tests.integration.test_load_and_delivery import (
    check_site,
    corpus,
    upload_concurrently,
)
from tests.support.live import Live


def _site_pages(request: Any, live: Live) -> bool:
    return f"/{live.stack.settings.site_bucket}/" in request.url or (
        f"//{live.stack.settings.site_bucket}." in request.url
    )


def _source(request: Any, live: Live) -> bool:
    return f"/{live.stack.settings.source_bucket}/" in request.url or (
        f"//{live.stack.settings.source_bucket}." in request.url
    )


def publish_under(live: Live, count: int, seed: int) -> list[tuple[str, str, str, list[str]]]:
    posts = corpus(count, seed=seed)
    live.start_render()
    live.start_stream()
    upload_concurrently(live, posts)
    live.settle(timeout=180)
    return posts


@pytest.mark.slow
def test_s3_writes_failing_mid_publish_heal_on_retry(live: Live) -> None:
    """Writing one post's page fails on every attempt botocore makes (5) while other
    pages of the batch are written: the batch fails half-published, and its retry
    completes it. Scattered 503s on other writes are absorbed by botocore's retries."""
    posts = corpus(8, seed=21)
    page = posts[5][2].strip("/") + "/index.html"
    live.faults.add("s3.PutObject", "InternalError", calls=1, when=lambda r: page in r.url)
    live.faults.add(
        "s3.PutObject", "SlowDown", times=6, skip=8, when=lambda r: _site_pages(r, live)
    )
    assert publish_under(live, 8, seed=21) == posts
    assert live.faults.injected["s3.PutObject:InternalError"] == 6  # 1 try + 5 retries
    assert live.faults.injected["s3.PutObject:SlowDown"] == 6
    assert live.failed_batches, "the failure must have reached the function"
    check_site(live, posts)


@pytest.mark.slow
def test_dynamodb_throttling_is_retried_to_the_right_site(live: Live) -> None:
    for operation, code, times in [
        ("dynamodb.TransactWriteItems", "ProvisionedThroughputExceededException", 12),
        ("dynamodb.UpdateItem", "ThrottlingException", 12),
        ("dynamodb.Query", "ProvisionedThroughputExceededException", 8),
        ("dynamodb.PutItem", "ThrottlingException", 8),
        ("dynamodb.GetItem", "ThrottlingException", 6),
    ]:
        live.faults.add(operation, code, times=times)
    # and one call of each of these fails on every attempt: the core sees the throttle
    live.faults.add("dynamodb.TransactWriteItems", "ThrottlingException", calls=1, skip=30)
    live.faults.add("dynamodb.Query", "ProvisionedThroughputExceededException", calls=1, skip=60)
    posts = publish_under(live, 12, seed=22)
    print(dict(live.faults.injected))
    assert sum(live.faults.injected.values()) >= 30
    assert live.failed_batches, "a throttle must have reached the function"
    check_site(live, posts)


@pytest.mark.slow
def test_the_related_function_throttled_retries_to_exact_lists(live: Live) -> None:
    """Whole invocations of the related function fail on throttles (every attempt of a
    few calls): the stream mapping retries them (bisecting) within its 3 retries."""
    live.related_faults.add("dynamodb.Query", "ThrottlingException", calls=1, skip=5)
    live.related_faults.add("dynamodb.PutItem", "ProvisionedThroughputExceededException", calls=1)
    posts = publish_under(live, 10, seed=26)
    print(dict(live.related_faults.injected))
    assert live.related_faults.injected["dynamodb.Query:ThrottlingException"] >= 6
    check_site(live, posts)  # includes: nothing went to the on-failure destination


@pytest.mark.slow
@pytest.mark.parametrize("error", ["TooManyInvalidationsInProgress", "timeout"])
def test_cloudfront_refusing_or_timing_out_still_invalidates(live: Live, error: str) -> None:
    if error == "timeout":  # every attempt of the invalidator's 6 calls (botocore's 6 each)
        live.faults.add("cloudfront.CreateInvalidation", error, calls=6)
    else:  # botocore does not retry this code; the invalidator tries 6 times, then once more
        live.faults.add("cloudfront.CreateInvalidation", error, times=7)
    posts = publish_under(live, 8, seed=23)
    print(dict(live.faults.injected))
    assert live.failed_batches, "CloudFront's refusal must have reached the function"
    check_site(live, posts)
    assert live.site.publisher.store.pending_outbox() == [], "an invalidation was lost"
    invalidated = {p for batch in live.site.invalidations() for p in batch}
    assert {url for _k, _t, url, _tags in posts} <= invalidated


@pytest.mark.slow
def test_a_crash_after_the_pages_before_the_invalidation_is_repaired(live: Live) -> None:
    """The process dies between writing the pages and invalidating them: the outbox
    keeps the paths, and the redelivered batch invalidates them."""
    live.faults.add("cloudfront.CreateInvalidation", "crash", times=2)
    live.faults.add("s3.PutObject", "crash", times=1, skip=4, when=lambda r: _site_pages(r, live))
    posts = publish_under(live, 8, seed=24)
    assert live.faults.injected["cloudfront.CreateInvalidation:crash"] == 2
    assert live.failed_batches
    check_site(live, posts)
    assert live.site.publisher.store.pending_outbox() == []
    invalidated = {p for batch in live.site.invalidations() for p in batch}
    assert {url for _k, _t, url, _tags in posts} <= invalidated


def test_what_exhausts_its_retries_waits_in_the_dlq_and_redrive_replays_it(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reading two posts from the source bucket fails on every attempt: after
    maxReceiveCount deliveries their messages are dead-lettered, the rest of the site is
    published; once the fault is gone, ``tsuzuri redrive`` replays them."""
    posts = corpus(6, seed=25)
    broken = {posts[1][0], posts[4][0]}
    live.faults.add(
        "s3.GetObject", "InternalError", times=-1,
        when=lambda r: _source(r, live) and any(k.split("/")[-1] in r.url for k in broken),
    )  # fmt: skip
    live.start_render()
    live.start_stream()
    upload_concurrently(live, posts)
    deadline = time.monotonic() + 120
    while live.dead_letters() < 2:
        assert time.monotonic() < deadline, "nothing reached the dead-letter queue"
        time.sleep(0.5)
    ok = [p for p in posts if p[0] not in broken]
    live.faults.clear()
    for _k, _t, url, _tags in ok:
        assert live.site.page(url) is not None
    for key in broken:
        assert live.site.page(next(p[2] for p in posts if p[0] == key)) is None

    code = cli.main(
        ["redrive", "--endpoint-url", live.endpoint, "--queue-url", live.stack.queue_url or "",
         "--dead-letter-url", live.stack.dead_letter_url or ""]
    )  # fmt: skip

    assert code == 0
    err = capsys.readouterr().err
    assert "[2/2] moved back to the render queue" in err
    assert "moved 2 message(s); 0 left" in err
    live.settle(timeout=120)
    check_site(live, posts)


def test_redrive_says_what_is_missing_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["redrive", "--queue-url", "http://127.0.0.1:1/q"]) == 2
    assert capsys.readouterr().err.strip() == (
        "tsuzuri: give --stack, or both --queue-url and --dead-letter-url"
    )
    code = cli.main(
        ["redrive", "--endpoint-url", "http://127.0.0.1:9", "--region", "ap-northeast-1",
         "--queue-url", "http://127.0.0.1:9/1/q", "--dead-letter-url", "http://127.0.0.1:9/1/d"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("tsuzuri: redrive stopped: ") and err.count("\n") == 1
