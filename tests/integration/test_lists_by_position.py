"""Lists read by position: every page of a list stays exact whatever order posts come,
go and move in, and a publish reads the pages it renders, not the list."""

from __future__ import annotations

import html
import random
import re

from tests.support.site import Site, post_text

POST_LINK = re.compile(r'href="(/\d{4}/\d{2}/\d{2}/[^"/]+/)"')
PER_PAGE = 3  # tests.conftest.SITE


def _key(day: int) -> str:
    return f"posts/2026-01-{day:02d}-p{day}.md"


def _url(day: int) -> str:
    return f"/2026/01/{day:02d}/p{day}/"


def _publish(site: Site, day: int, *, tags: str = "[AWS]", month: str = "01") -> None:
    text = post_text(f"記事{day}", date=f"2026-{month}-{day:02d} 10:00:00 +0900", tags=tags)
    site.publish(_key(day), text)


def _tag_pages(site: Site, slug: str) -> dict[str, list[str]]:
    keys = sorted(k for k in site.keys() if k.startswith(f"tags/{slug}/") and k.endswith(".html"))
    return {
        k: list(
            dict.fromkeys(html.unescape(u) for u in POST_LINK.findall(site.page("/" + k) or ""))
        )
        for k in keys
    }


def _assert_exact(site: Site, days: set[int]) -> None:
    newest_first = [_url(d) for d in sorted(days, reverse=True)]
    oldest_first = newest_first[::-1]
    pages = _tag_pages(site, "aws")
    assert pages["tags/aws/index.html"] == newest_first[:PER_PAGE]
    buckets = max(0, -(-(len(days) - PER_PAGE) // PER_PAGE))
    for number in range(1, buckets + 1):
        expected = oldest_first[(number - 1) * PER_PAGE : number * PER_PAGE][::-1]
        assert pages[f"tags/aws/page{number}/index.html"] == expected, number
    assert len(pages) == 1 + buckets, sorted(pages)
    assert set(site.tag_posts("/tags/aws/index.json")) == set(newest_first)
    assert site.json("/tags/aws/index.json")["count"] == len(days)
    assert {t["slug"]: t["count"] for t in site.json("/tags/index.json")["tags"]} == {
        "aws": len(days)
    }
    for i, day in enumerate(sorted(days)):
        page = site.page(_url(day)) or ""
        if i > 0:
            assert _url(sorted(days)[i - 1]) in page, f"older link on {day}"
        if i + 1 < len(days):
            assert _url(sorted(days)[i + 1]) in page, f"newer link on {day}"


def test_shuffled_publishes_and_deletes_keep_every_page_exact(site: Site) -> None:
    days = list(range(1, 15))
    random.Random(7).shuffle(days)
    live: set[int] = set()
    for day in days:
        _publish(site, day)
        live.add(day)
        _assert_exact(site, live)
    for day in (1, 9, 14, 5):  # the oldest, a middle one, the newest, one in the first bucket
        site.unpublish(_key(day))
        live.discard(day)
        _assert_exact(site, live)


def test_a_rebuild_chunk_gets_every_neighbour_from_one_read_of_the_timeline(site: Site) -> None:
    for day in range(1, 10):
        _publish(site, day)
    chunk = [_url(d) for d in range(2, 9)]  # consecutive, as rebuild requests are
    for url in chunk:
        site.clients.s3.delete_object(Bucket=site.settings.site_bucket, Key=url[1:] + "index.html")
    queries: list[str] = []

    def count(model: object, params: dict[str, object], **_kwargs: object) -> None:
        body = params.get("body", b"")
        queries.append(f"{getattr(model, 'name', '')} {body!s:.160}")

    site.clients.dynamodb.meta.events.register("before-call", count, unique_id="span")
    try:
        site.publisher.refresh_posts(chunk, rewrite=True)
    finally:
        site.clients.dynamodb.meta.events.unregister("before-call", unique_id="span")
    # The outbox, then the span (three queries) for the render; its check reads the
    # posts again by key, since the timeline's version did not move. Two queries a
    # post would be 28.
    assert sum(q.startswith("Query") for q in queries) == 4, queries

    for day in range(2, 9):
        page = site.page(_url(day)) or ""
        assert _url(day - 1) in page and _url(day + 1) in page, day
