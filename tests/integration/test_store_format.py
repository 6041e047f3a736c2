"""Membership items: the compact card format, and the older attribute format still read."""

from __future__ import annotations

from datetime import UTC, datetime

from tsuzuri.aws.clients import Clients
from tsuzuri.aws.lists import Placement, membership_actions
from tsuzuri.aws.store import PostStore
from tsuzuri.domain.model import PostSummary
from tsuzuri.settings import Settings


def test_membership_round_trips_through_one_card_attribute(
    clients: Clients, stack: Settings
) -> None:
    store = PostStore(clients.dynamodb, stack.table_name)
    summary = PostSummary(
        url="/2026/01/02/日本語/",
        title='「引用」と "quotes" & <tags>',
        date=datetime(2026, 1, 2, 9, 30, tzinfo=UTC),
        excerpt="抜粋",
        image="/assets/a.png",
        tags=("AI", "エージェント"),
        lastmod=datetime(2026, 1, 3, tzinfo=UTC),
        in_sitemap=False,
        headings=("見出し", "Heading"),
    )
    place = Placement(summary.sort_key, "2026-01", {"tag/ai": "AI"}, summary)
    change = membership_actions(stack.table_name, None, place)
    clients.dynamodb.transact_write_items(TransactItems=change.actions)
    assert change.counts == {"tag/ai": 1}

    item = clients.dynamodb.get_item(
        TableName=stack.table_name,
        Key={"pk": {"S": "L#tag/ai"}, "sk": {"S": summary.sort_key}},
    )["Item"]
    assert set(item) == {"pk", "sk", "url", "card"}
    [read] = store.lists.every("tag/ai")
    assert read == summary
    assert read.headings == summary.headings


def test_membership_written_before_the_card_format_still_reads(
    clients: Clients, stack: Settings
) -> None:
    store = PostStore(clients.dynamodb, stack.table_name)
    clients.dynamodb.put_item(
        TableName=stack.table_name,
        Item={
            "pk": {"S": "L#all"},
            "sk": {"S": "2025-05-06T00:00:00+00:00#/2025/05/06/old/"},
            "url": {"S": "/2025/05/06/old/"},
            "title": {"S": "古い記事"},
            "date": {"S": "2025-05-06T00:00:00+00:00"},
            "excerpt": {"S": "前の形式"},
            "tags": {"L": [{"S": "AI"}]},
            "in_sitemap": {"BOOL": True},
        },
    )
    [read] = store.lists.every("all")
    assert read.url == "/2025/05/06/old/"
    assert read.title == "古い記事"
    assert read.tags == ("AI",)
    assert read.date == datetime(2025, 5, 6, tzinfo=UTC)
