"""A publish reads the pages it renders, not the site: counted per call with botocore's
event hooks on the render function's own clients, on a site whose biggest tag has
1,050 members, and compared with the same publish on a site of 300 posts (where every
list is already longer than the window a publish reads).

The bounds are those of docs/architecture.md ("What a publish reads"): no call returns
more than a window of one list (two pages plus the feed) or one month of posts, and
the totals do not grow with the site.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from tsuzuri.publishing.publisher import Change

from tests.conftest import SITE
from tests.support.site import Site, post_text

BIG = 1_050
SMALL = 300
# One call's answer at most: the newest window of a list (two pages and the feed, see
# site_builder.ListView) or a month of posts; a batch read of the built files' hashes.
MAX_ITEMS_PER_QUERY = 2 * SITE.paginate + SITE.feed_size + 2
MAX_ITEMS_PER_BATCH = 100
MAX_CALLS_PER_PUBLISH = 60  # both tables and buckets, the render function alone
# Three lists' windows, a month, a year's months, the years, the built files' hashes.
MAX_ITEMS_PER_PUBLISH = 3 * MAX_ITEMS_PER_QUERY + 31 + 12 + 15 + 40


@dataclass
class Reads:
    calls: Counter[str] = field(default_factory=Counter)
    items: Counter[str] = field(default_factory=Counter)
    largest: dict[str, int] = field(default_factory=dict)

    def total_calls(self) -> int:
        return sum(self.calls.values())

    def read_calls(self) -> int:
        """Calls other than page writes (a bigger site has more archive pages to move)."""
        return self.total_calls() - self.calls["PutObject"] - self.calls["DeleteObjects"]


def _returned(operation: str, parsed: dict[str, Any]) -> int:
    if operation == "Query" or operation == "Scan":
        return len(parsed.get("Items", []))
    if operation == "BatchGetItem":
        return sum(len(items) for items in parsed.get("Responses", {}).values())
    if operation == "TransactGetItems":
        return sum(1 for r in parsed.get("Responses", []) if r.get("Item"))
    if operation == "GetItem":
        return 1 if parsed.get("Item") else 0
    return 0


@contextmanager
def counted(site: Site) -> Iterator[Reads]:
    reads = Reads()

    def after_call(model: Any, parsed: dict[str, Any], **_kwargs: Any) -> None:
        name = model.name
        reads.calls[name] += 1
        returned = _returned(name, parsed)
        reads.items[name] += returned
        reads.largest[name] = max(reads.largest.get(name, 0), returned)

    clients = [site.clients.dynamodb, site.clients.s3]
    for client in clients:
        client.meta.events.register("after-call", after_call, unique_id="bounds")
    try:
        yield reads
    finally:
        for client in clients:
            client.meta.events.unregister("after-call", unique_id="bounds")


def _seed(site: Site, count: int, *, first: int = 0) -> list[str]:
    """``count`` posts four days apart from 2014, all tagged ``big``, loaded in
    batches of 100 (the bulk path). Returns their keys, oldest first."""
    keys = []
    for n in range(first, first + count):
        day = (date(2014, 1, 1) + timedelta(days=4 * n)).isoformat()
        key = f"posts/{day}-seed-{n}.md"
        tags = f"[big, t{n % 7}]"
        site.upload(key, post_text(f"記事{n}", date=f"{day} 10:00:00 +0900", tags=tags))
        keys.append(key)
    for start in range(0, count, 100):
        batch = [site.change(k) for k in keys[start : start + 100]]
        result = site.publisher.process(batch)
        assert {o.status for o in result.outcomes} == {"published"}
    return keys


def _three_publishes(site: Site, keys: list[str]) -> dict[str, Reads]:
    """A new post, an edit in place of one in the middle, a delete of the newest."""
    measured: dict[str, Reads] = {}
    new = "posts/2026-10-30-new.md"
    with counted(site) as reads:
        site.publish(new, post_text("新着", date="2026-10-30 10:00:00 +0900", tags="[big, t1]"))
    measured["new post"] = reads
    middle = keys[len(keys) // 2]
    day = middle.split("/")[1][:10]
    n = int(middle.rsplit("-", 1)[1].removesuffix(".md"))
    text = post_text(f"改題{n}", date=f"{day} 10:00:00 +0900", tags=f"[big, t{n % 7}]")
    with counted(site) as reads:
        site.publish(middle, text)
    measured["edit in place"] = reads
    with counted(site) as reads:
        site.unpublish(new)
    measured["delete the newest"] = reads
    return measured


@pytest.mark.slow
def test_a_publish_reads_the_same_on_300_posts_and_on_1050(site: Site) -> None:
    keys = _seed(site, SMALL)
    small = _three_publishes(site, keys)
    keys += _seed(site, BIG - SMALL, first=SMALL)
    big = _three_publishes(site, keys)

    for what, reads in big.items():
        assert reads.largest.get("Query", 0) <= MAX_ITEMS_PER_QUERY, (what, reads.largest)
        assert reads.largest.get("BatchGetItem", 0) <= MAX_ITEMS_PER_BATCH, (what, reads.largest)
        assert reads.total_calls() <= MAX_CALLS_PER_PUBLISH, (what, dict(reads.calls))
        assert "Scan" not in reads.calls
        # No HEAD per page (the manifest answers): the one HEAD re-checks the source file.
        assert reads.calls["HeadObject"] <= 1, (what, dict(reads.calls))
        # Flat: a fixed budget of items, and the same reads as on 300 posts.
        assert sum(reads.items.values()) <= MAX_ITEMS_PER_PUBLISH, (what, dict(reads.items))
        assert reads.read_calls() <= small[what].read_calls() + 3, (what, dict(reads.calls))
    # The counting saw the reads (a blind hook would pass the bounds above).
    assert all(r.calls["Query"] > 0 and r.calls["TransactWriteItems"] > 0 for r in big.values())
    # And the pages are right on the big site.
    assert site.json("/tags/big/index.json")["count"] == BIG
    edited = int(keys[len(keys) // 2].rsplit("-", 1)[1].removesuffix(".md"))
    bucket_pages = "".join(
        site.page("/" + k) or "" for k in site.keys() if k.startswith("tags/big/page")
    )
    assert f"改題{edited}" in bucket_pages
    assert site.page("/2026/10/30/new/") is None


def test_the_bulk_path_reads_each_list_once_per_batch(site: Site) -> None:
    keys = [f"posts/2026-01-{d:02d}-bulk.md" for d in range(1, 29)]
    for day, key in enumerate(keys, start=1):
        site.upload(
            key, post_text(f"一括{day}", date=f"2026-01-{day:02d} 10:00:00 +0900", tags="[big]")
        )
    with counted(site) as reads:
        result = site.publisher.process([Change(k, removed=False, token=k) for k in keys])
    assert {o.status for o in result.outcomes} == {"published"}
    # One transaction per post; the pages of the batch rendered once, not once a post.
    assert reads.calls["TransactWriteItems"] == len(keys)
    # Per post: its page and its report; then each list page once (28 posts make nine
    # buckets of three in `all` and in `big`, with the tag's JSON). Rendered once a
    # post instead, the lists alone would take some 20 writes a post. The first posts
    # of a site also bring robots.txt, 404, the search page and the theme's assets.
    statics = 10
    assert reads.calls["PutObject"] <= 2 * len(keys) + 2 * 10 + 10 + 15 + statics, dict(reads.calls)
