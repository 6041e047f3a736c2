"""The search shard carries each post's body terms: words said only in the body are found,
and they are stored on the timeline and the month cards only, not on every tag list."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.site import Site

from tsuzuri.rendering.search_index import matches

from tests.support.site import post_text

BODY = """## 設計

サーバーレスで組みます。

Lambda の cold start を測りました。
"""


def _fields(entry: list[Any]) -> list[str]:
    # What search.js matches: title, tags, excerpt, headings and the body terms.
    _url, title, _date, tags, excerpt, headings, *body = entry
    return [title, *tags, excerpt, *headings, *body]


def _members(site: Site, list_id: str) -> list[dict[str, Any]]:
    response = site.clients.dynamodb.query(
        TableName=site.settings.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"L#{list_id}"}},
    )
    return [json.loads(item["card"]["S"]) for item in response["Items"]]


def test_words_only_in_the_body_are_in_the_shard_and_found(site: Site) -> None:
    site.publish(
        "posts/2025-03-01-a.md",
        post_text("計測の記録", "2025-03-01 10:00:00 +0900", tags="[AWS]", body=BODY),
    )
    (entry,) = site.json("/search/posts-2025.json")
    assert len(entry) == 7
    assert {"lambda", "cold", "start"} <= set(entry[6].split())
    assert "設計" not in entry[6].split()  # a heading: in the entry already
    assert matches("lambda cold start", _fields(entry))
    assert not matches("lambda cold start", _fields(entry[:6]))  # found by the body alone

    # Another post of the same month rebuilds the month from the timeline: the first
    # post's terms come back from storage, not from the batch that parsed it.
    site.publish(
        "posts/2025-03-02-b.md",
        post_text("別の記事", "2025-03-02 10:00:00 +0900", tags="[AWS]", body="別の話です。"),
    )
    shard = site.json("/search/posts-2025.json")
    found = [e[0] for e in shard if matches("lambda cold start", _fields(e))]
    assert found == ["/2025/03/01/a/"]

    # Stored on the timeline's cards, never on a tag's: those are read for every list page.
    assert any("search_text" in card for card in _members(site, "all"))
    assert all("search_text" not in card for card in _members(site, "tag/aws"))


def test_a_post_without_body_text_has_a_six_field_entry(site: Site) -> None:
    site.publish(
        "posts/2025-04-01-c.md",
        post_text("見出しだけ", "2025-04-01 10:00:00 +0900", body="## 見出しだけ\n"),
    )
    (entry,) = site.json("/search/posts-2025.json")
    assert len(entry) == 6


def test_a_month_too_big_for_one_item_keeps_its_cards_without_body_terms(site: Site) -> None:
    """Body terms are the first thing a month's item gives up before DynamoDB's 400 KB."""
    import random
    import string
    from dataclasses import replace

    from tsuzuri.aws import lists

    site.publish("posts/2026-05-01-one.md", post_text("一つ目", date="2026-05-01 10:00:00 +0900"))
    index = site.publisher.store.lists
    (card,) = index.year_months(2026)["2026-05"]
    rng = random.Random(1)
    noisy = [
        replace(card, url=f"/2026/05/01/p{i}/", search_text="".join(
            rng.choices(string.ascii_letters + "あいうえお", k=800)))
        for i in range(600)
    ]  # fmt: skip
    index.put_month("2026-05", noisy, version=10**6)
    cards = index.year_months(2026)["2026-05"]
    assert len(cards) == 600
    assert all(not c.search_text for c in cards)
    index.put_month("2026-05", noisy[:3], version=10**6 + 1)
    assert all(c.search_text for c in index.year_months(2026)["2026-05"])
    assert lists.MONTH_BYTES < 400_000
