"""The related-posts function over moto's server: posts are published through the render
path, the table's stream is read with ``get_records`` and delivered to the handler by
the local stack's :class:`~tsuzuri_local.devstack.pumps.StreamPump` (the template's filter, batch
size, bisection and retries), and the lists and pages are compared with a from-scratch
recomputation."""

from __future__ import annotations

import html
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

import botocore.session
import pytest
from tsuzuri.aws.clients import Clients
from tsuzuri.aws.dynamo_types import deserialize
from tsuzuri.domain.model import page_key
from tsuzuri.domain.relatedness import RelatedSettings, recompute_all
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.publishing.publisher import Change
from tsuzuri.publishing.wiring import build_publisher
from tsuzuri.related.store import _state_from_item, view_of_post_item
from tsuzuri.related.wiring import related_settings
from tsuzuri.settings import Settings, related_overrides
from tsuzuri_local.checkout import RELATED_HANDLER
from tsuzuri_local.devstack.pumps import StreamPump, related_mapping
from tsuzuri_local.devstack.runtime import LambdaContext, load_handler
from tsuzuri_local.provision import load_template

from tests.support.events import load_event
from tests.support.site import Site, post_text

# Both functions render with the same site config. Archive pages of 50 keep the render
# function's work per publish small: these tests are about post pages.
SITE = SiteConfig(url="https://blog.example.com", title="テストブログ", paginate=50)
SITE_ENV = {
    "TSUZURI_SITE_URL": SITE.url,
    "TSUZURI_SITE_TITLE": SITE.title,
    "TSUZURI_SITE_PAGINATE": str(SITE.paginate),
}


@dataclass
class Related:
    module: ModuleType
    pump: StreamPump
    site: Site
    settings: RelatedSettings
    events: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def drain(self) -> int:
        return self.pump.drain()

    def invoke(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        event = {"Records": records}
        return self.module.lambda_handler(event, LambdaContext("tsuzuri-related"))  # type: ignore[no-any-return]


def _table_items(clients: Clients, table: str) -> list[dict[str, Any]]:
    paginator = clients.dynamodb.get_paginator("scan")
    items = []
    for page in paginator.paginate(TableName=table, ConsistentRead=True):
        items += [{k: deserialize(v) for k, v in raw.items()} for raw in page["Items"]]
    return items


def expected_lists(
    related: Related,
) -> dict[str, tuple[list[str], list[int], list[dict[str, Any]]]]:
    """Every list as a full recomputation over the published posts gives it."""
    items = _table_items(related.site.clients, related.site.settings.table_name)
    views = {}
    for item in items:
        if item["sk"] == "POST":
            view = view_of_post_item(item, related.settings)
            if view is not None:
                views[view.features.url] = view
    lists = recompute_all([v.features for v in views.values()], related.settings)
    return {
        url: (
            [e.url for e in entries],
            [e.score for e in entries],
            [views[e.url].card for e in entries],
        )
        for url, entries in lists.items()
    }


def stored_lists(related: Related) -> dict[str, tuple[list[str], list[int], list[dict[str, Any]]]]:
    items = _table_items(related.site.clients, related.site.settings.table_name)
    found = {}
    for item in items:
        if item["sk"] == "RELATED":
            state = _state_from_item(item)
            found[state.url] = (state.urls, [e.score for e in state.entries], state.cards)
    return found


_SECTION = re.compile(r'<section class="related-posts">(.*?)</section>', re.DOTALL)
_HREF = re.compile(r'href="([^"]+)"')


def related_links(page: str) -> list[str]:
    match = _SECTION.search(page)
    assert match, "no related-posts section"
    links = [html.unescape(h) for h in _HREF.findall(match.group(1))]
    return list(dict.fromkeys(links))  # a card links its title and its image


@pytest.fixture(autouse=True)
def partition_queries(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto answers a Query by sorting every item of the table; with a few thousand
    items that is most of these tests' time. While they run, a base-table Query reads
    the key's partition only, as DynamoDB does (the same results)."""
    from moto.dynamodb.models.table import Table

    original = Table.query
    lock = threading.Lock()

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name is not None or hash_key is None or not self.range_key_attr:
            return original(self, hash_key, *args, **kwargs)
        with lock:
            partition = list(self.items.get(hash_key, {}).values())
            self.all_items = lambda: sorted(partition, key=lambda item: item.range_key)
            try:
                return original(self, hash_key, *args, **kwargs)
            finally:
                del self.all_items

    monkeypatch.setattr(Table, "query", query)


@pytest.fixture
def related(
    monkeypatch: pytest.MonkeyPatch,
    stack: Settings,
    clients: Clients,
    clock: Any,
    moto_endpoint: str,
    request: pytest.FixtureRequest,
) -> Iterator[Related]:
    env = {
        "SOURCE_BUCKET": stack.source_bucket,
        "SITE_BUCKET": stack.site_bucket,
        "TABLE_NAME": stack.table_name,
        "DISTRIBUTION_ID": stack.distribution_id or "",
        "TSUZURI_AWS_ENDPOINT_URL": moto_endpoint,
        "POWERTOOLS_METRICS_NAMESPACE": "tsuzuri",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        **SITE_ENV,
        **getattr(request, "param", {}),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    module = load_handler(RELATED_HANDLER)
    module.service.cache_clear()
    mapping = related_mapping(load_template())
    stream_arn = clients.dynamodb.describe_table(TableName=stack.table_name)["Table"][
        "LatestStreamArn"
    ]
    streams = botocore.session.get_session().create_client(
        "dynamodbstreams", region_name="ap-northeast-1", endpoint_url=moto_endpoint
    )
    publisher = build_publisher(stack, clients, site=SITE)
    publisher.clock = clock
    site = Site(clients, stack, publisher)
    result = Related(module, None, site, related_settings(None, related_overrides(os.environ)))  # type: ignore[arg-type]

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        result.events.append(event)
        return module.lambda_handler(event, context)  # type: ignore[no-any-return]

    result.pump = StreamPump(
        streams=streams,
        stream_arn=stream_arn,
        handler=handler,
        filters=mapping["filters"],
        batch_size=mapping["batch_size"],
        max_retries=mapping["max_retries"],
        bisect=mapping["bisect"],
        starting_position=mapping["starting_position"],
        on_failure=result.failures.append,
    )
    yield result
    module.service.cache_clear()


def publish_days(
    site: Site, month: int, days: int, tags: str | Callable[[int], str], **front: Any
) -> None:
    """Posts p1…pN on the first days of ``month`` 2026, ``tags`` fixed or chosen per day."""
    for day in range(1, days + 1):
        site.publish(
            f"posts/2026-{month:02}-0{day}-p{day}.md",
            post_text(
                f"記事{day}",
                date=f"2026-{month:02}-0{day} 10:00:00 +0900",
                tags=tags if isinstance(tags, str) else tags(day),
                **front,
            ),
        )


def test_lists_follow_publishes_edits_and_deletes(related: Related) -> None:
    site = related.site
    site.publish(
        "posts/2026-01-01-a.md",
        post_text(
            "Lambda 入門",
            date="2026-01-01 10:00:00 +0900",
            tags="[AWS, Lambda]",
            categories="クラウド",
            body="Lambda のコールドスタート",
        ),
    )
    site.publish(
        "posts/2026-01-02-b.md",
        post_text(
            "Lambda 応用",
            date="2026-01-02 10:00:00 +0900",
            tags="[AWS, Lambda]",
            categories="クラウド",
            body="Lambda の同時実行",
        ),
    )
    site.publish(
        "posts/2026-01-03-c.md",
        post_text(
            "料理の記録",
            date="2026-01-03 10:00:00 +0900",
            tags="[料理]",
            categories="日記",
            body="カレーを作りました",
        ),
    )
    related.drain()

    assert stored_lists(related) == expected_lists(related)
    a = site.page("/2026/01/01/a/") or ""
    assert related_links(a) == ["/2026/01/02/b/"], "an old post links to a newer related one"
    assert related_links(site.page("/2026/01/03/c/") or "") == []

    site.publish(
        "posts/2026-01-02-b.md",
        post_text(
            "Lambda 応用（改訂）",
            date="2026-01-02 10:00:00 +0900",
            tags="[AWS, Lambda]",
            categories="クラウド",
            body="Lambda の同時実行",
        ),
    )
    related.drain()
    assert (
        "Lambda 応用（改訂）"
        in (site.page("/2026/01/01/a/") or "").split('class="related-posts"')[1]
    )

    site.unpublish("posts/2026-01-02-b.md")
    related.drain()
    assert stored_lists(related) == expected_lists(related)
    assert related_links(site.page("/2026/01/01/a/") or "") == []
    assert "/2026/01/02/b/" not in (site.page("/2026/01/01/a/") or "")
    assert related.failures == []


def test_sample_events_drive_the_handler(related: Related) -> None:
    """The JSON samples in tests/events (INSERT, MODIFY, REMOVE with both images)."""
    site = related.site
    url = "/2026/02/12/hello-tsuzuri/"
    site.publish(
        "posts/2026-02-10-other.md",
        post_text(
            "別の記事", date="2026-02-10 10:00:00 +0900", tags="[AWS]", categories="クラウド"
        ),
    )
    site.publish(
        "posts/2026-02-11-hello-tsuzuri.md",
        post_text(
            "こんにちは",
            tags="[AWS, 生成AI]",
            categories="クラウド",
            body="サーバーレスで記事を公開します。",
        ),
    )
    values = {"URL": url, "TABLE_NAME": site.settings.table_name}
    insert = load_event("dynamodb_stream_insert", SEQUENCE_NUMBER="100", **values)
    other = dict(insert["Records"][0])
    other["dynamodb"] = {
        **other["dynamodb"],
        "Keys": {"pk": {"S": "POST#/2026/02/10/other/"}, "sk": {"S": "POST"}},
        "SequenceNumber": "101",
    }

    assert related.invoke([insert["Records"][0], other]) == {"batchItemFailures": []}
    assert related_links(site.page(url) or "") == ["/2026/02/10/other/"]

    modify = load_event("dynamodb_stream_modify", SEQUENCE_NUMBER="102", **values)
    same = load_event("dynamodb_stream_modify", SEQUENCE_NUMBER="103", **values)
    record = same["Records"][0]["dynamodb"]
    record["OldImage"] = {**record["NewImage"], "revision": {"N": "1"}}  # only the revision moved
    before = stored_lists(related)
    assert related.invoke([modify["Records"][0], same["Records"][0]]) == {"batchItemFailures": []}
    assert stored_lists(related) == before

    site.unpublish("posts/2026-02-11-hello-tsuzuri.md")
    remove = load_event("dynamodb_stream_remove", SEQUENCE_NUMBER="104", **values)
    assert related.invoke(remove["Records"]) == {"batchItemFailures": []}
    assert url not in stored_lists(related)
    assert related_links(site.page("/2026/02/10/other/") or "") == []


# -- differential: a seeded random history against a from-scratch recomputation ---------

TAGS = [f"タグ{i:02d}" for i in range(30)]
TAG_WEIGHTS = [1 / (rank + 1) ** 1.1 for rank in range(1, len(TAGS))]
CATEGORIES = ["クラウド", "生成AI", "日記", "イベント"]
TOPICS = [
    "サーバーレス 関数 冷間起動 同時実行 料金 設計",
    "検索 拡張 生成 埋込 文書 分割 評価",
    "型 検査 静的 解析 品質 保守",
    "容器 画像 構築 多段 軽量 配布",
    "権限 最小 方針 監査 鍵 暗号",
    "料理 献立 買物 季節 野菜 味噌",
]


@dataclass
class Draft:
    number: int
    day: int
    hour: int
    topic: int
    tags: list[str]
    categories: list[str]
    title: str
    sentences: int
    hidden: bool = False

    @property
    def key(self) -> str:
        return f"posts/2025-01-01-p{self.number:03d}.md"

    def text(self) -> str:
        month, day = divmod(self.day, 28)
        words = TOPICS[self.topic].split()
        body = "。".join(
            f"{words[i % len(words)]}と{words[(i * 3 + self.number) % len(words)]}について"
            f"記事{self.number}で説明します"
            for i in range(self.sentences)
        )
        extra = "published: false" if self.hidden else ""
        return post_text(
            self.title,
            date=f"2025-{month + 1:02d}-{day + 1:02d} {self.hour:02d}:00:00 +0900",
            tags="[" + ", ".join(self.tags) + "]" if self.tags else "",
            categories="[" + ", ".join(self.categories) + "]" if self.categories else "",
            body=body + "。",
            extra=extra,
        )


def random_draft(rng: random.Random, number: int) -> Draft:
    draft = Draft(
        number,
        rng.randrange(336),
        rng.randrange(24),
        rng.randrange(len(TOPICS)),
        [],
        [],
        "",
        rng.randint(1, 6),
    )
    draft.tags = random_tags(rng)
    draft.categories = random_categories(rng)
    draft.title = f"記事{number} {TOPICS[draft.topic].split()[0]}"
    return draft


def random_tags(rng: random.Random) -> list[str]:
    tags = [TAGS[0]] if rng.random() < 0.5 else []  # the top tag is on half the posts
    for _ in range(rng.randint(1, 4)):
        tags.append(rng.choices(TAGS[1:], TAG_WEIGHTS)[0])
    return list(dict.fromkeys(tags))


def random_categories(rng: random.Random) -> list[str]:
    roll = rng.random()
    if roll < 0.1:
        return []
    if roll < 0.15:
        return rng.sample(CATEGORIES, 2)
    return [rng.choice(CATEGORIES)]


def run_history(
    related: Related,
    *,
    seed: int,
    operations: int,
    posts: int,
    max_batch: int = 8,
    from_stream: bool = True,
) -> dict[str, int]:
    """Random publishes, edits (tags, title, body, date and so URL, category, topic),
    deletes, hides and identical re-publishes. Each batch (1 to ``max_batch`` distinct
    files) goes through the render path as one SQS batch would; then the function gets
    the stream's records (``from_stream``), or records built from tests/events samples
    for every URL the batch touched (cheaper: moto's GetRecords serializes every record
    the render wrote)."""
    rng = random.Random(seed)
    site = related.site
    drafts: dict[int, Draft] = {}
    counts: dict[str, int] = {}
    batch: list[Change] = []
    size = rng.randint(1, max_batch)
    url_of: dict[str, str | None] = {}
    sequence = iter(range(10**20, 10**21))

    def flush() -> None:
        nonlocal size
        if batch:
            result = site.publisher.process(batch)
            batch.clear()
            if from_stream:
                related.drain()
            else:
                touched: set[str] = set()
                for outcome in result.outcomes:
                    before = url_of.get(outcome.key)
                    now = outcome.url if outcome.status in ("published", "unchanged") else None
                    touched |= {u for u in (before, now) if u}
                    url_of[outcome.key] = now
                records = [_record(site, url, str(next(sequence))) for url in sorted(touched)]
                assert related.invoke(records) == {"batchItemFailures": []}
        size = rng.randint(1, max_batch)

    for _ in range(operations):
        waiting = {c.key for c in batch}
        free = [d for d in drafts.values() if d.key not in waiting]
        live = [d for d in free if not d.hidden]
        roll = rng.random()
        if len(drafts) < posts and (roll < 0.5 or not live):
            op, draft = "new", random_draft(rng, max(drafts, default=-1) + 1)
            drafts[draft.number] = draft
        elif roll < 0.82 and live:
            op, draft = "edit", rng.choice(live)
        elif roll < 0.9 and free:
            op, draft = "delete", rng.choice(free)
        elif roll < 0.95 and free:
            op, draft = "hide", rng.choice(free)
        elif live:
            op, draft = "same", rng.choice(live)
        else:
            flush()
            continue
        if op == "edit":
            change = rng.choice(["tags", "tags", "title", "body", "date", "category", "topic"])
            if change == "tags":
                draft.tags = random_tags(rng)
            elif change == "title":
                draft.title = f"{draft.title}・改"
            elif change == "body":
                draft.sentences = rng.randint(1, 6)
            elif change == "date":
                draft.day, draft.hour = rng.randrange(336), rng.randrange(24)
            elif change == "category":
                draft.categories = random_categories(rng)
            else:
                draft.topic = rng.randrange(len(TOPICS))
        elif op == "hide":
            draft.hidden = not draft.hidden
        counts[op] = counts.get(op, 0) + 1
        if op == "delete":
            site.remove(draft.key)
            del drafts[draft.number]
            batch.append(site.change(draft.key, removed=True))
        else:
            site.upload(draft.key, draft.text())
            batch.append(site.change(draft.key))
        if len(batch) >= size:
            flush()
    flush()
    return counts


def _record(site: Site, url: str, sequence_number: str) -> dict[str, Any]:
    """An INSERT record of the sample event for a post that exists, a REMOVE for one
    that does not (the function reads the post as it is now either way)."""
    exists = site.publisher.store.get_post_owner(url) is not None
    name = "dynamodb_stream_insert" if exists else "dynamodb_stream_remove"
    event = load_event(
        name, URL=url, SEQUENCE_NUMBER=sequence_number, TABLE_NAME=site.settings.table_name
    )
    record: dict[str, Any] = event["Records"][0]
    return record


def assert_site_matches_recomputation(related: Related) -> None:
    site = related.site
    expected = expected_lists(related)
    stored = stored_lists(related)
    assert set(stored) == set(expected), "a list is missing or left over"
    for url in sorted(expected):
        assert stored[url] == expected[url], f"related list of {url}"
    pages = {key: (site.object(key) or {}).get("Text", "") for key in site.keys()}
    pages = {key: text for key, text in pages.items() if key.endswith(".html")}
    # The rendered sections show exactly those lists.
    for url, (urls, _scores, _cards) in expected.items():
        assert page_key(url) in pages, url
        assert related_links(pages[page_key(url)]) == urls, f"related section of {url}"
    # No page links to a post that is not published.
    live = set(expected)
    post_link = re.compile(r'href="(/\d{4}/\d{2}/\d{2}/[^"/]+/)"')
    for key, text in sorted(pages.items()):
        for link in post_link.findall(text):
            assert html.unescape(link) in live, f"{key} links to {link}"
    # Previous and next links follow the timeline everywhere.
    sort_keys = stored_sort_keys(related)
    timeline = sorted(expected, key=lambda u: sort_keys[u])
    for index, url in enumerate(timeline):
        page = pages[page_key(url)]
        previous = timeline[index - 1] if index > 0 else None
        following = timeline[index + 1] if index + 1 < len(timeline) else None
        assert nav_link(page, "prev") == previous, f"previous link of {url}"
        assert nav_link(page, "next") == following, f"next link of {url}"


def stored_sort_keys(related: Related) -> dict[str, str]:
    items = _table_items(related.site.clients, related.site.settings.table_name)
    return {i["url"]: i["sort_key"] for i in items if i["sk"] == "POST"}


def nav_link(page: str, rel: str) -> str | None:
    match = re.search(rf'<a class="post-nav-{rel}" href="([^"]+)" rel="{rel}"', page)
    return html.unescape(match.group(1)) if match else None


TIGHT = {
    "TSUZURI_RELATED_RARE_MAX_DF": "5",
    "TSUZURI_RELATED_WINDOW": "2",
    "TSUZURI_RELATED_COUNT": "4",
}


@pytest.mark.parametrize("related", [{}, TIGHT], ids=["default", "tight"], indirect=True)
def test_differential_small(related: Related) -> None:
    """A short history with default settings, and one with a rare-tag threshold of 5 and
    windows of 2, so that common tags, windows and class changes happen all the time."""
    started = time.perf_counter()
    counts = run_history(related, seed=11, operations=40, posts=16)
    assert_site_matches_recomputation(related)
    assert related.failures == []
    print(f"{counts} in {time.perf_counter() - started:.1f}s")


@pytest.mark.slow
def test_differential_history(related: Related) -> None:
    """The full property, with the default settings: 300 operations over more than 100
    posts with a skewed tag distribution (the top tag on half the posts), processed
    incrementally in batches of up to 30 files."""
    counts = run_history(
        related, seed=2026, operations=300, posts=110, max_batch=30, from_stream=False
    )
    assert counts["new"] >= 100 and sum(counts.values()) >= 300
    assert_site_matches_recomputation(related)
    assert related.failures == []


# -- the function never triggers itself ----------------------------------------------


def test_one_change_causes_a_bounded_number_of_invocations(related: Related) -> None:
    site = related.site
    publish_days(site, 3, 5, "[AWS, Lambda]")
    related.drain()
    invocations, delivered = related.pump.invocations, related.pump.records_delivered

    site.publish(
        "posts/2026-03-09-new.md",
        post_text("新しい記事", date="2026-03-09 10:00:00 +0900", tags="[AWS, Lambda]"),
    )
    read_before = related.pump.records_read
    related.drain()

    # One publish: its POST records (moto writes an update of a new item as two) reach
    # the function in one batch; everything the function wrote is filtered out.
    assert related.pump.invocations - invocations == 1
    assert 1 <= related.pump.records_delivered - delivered <= 2
    assert related.pump.records_read - read_before > 20, "the function's own writes are there"
    assert related.drain() == 0, "and they never come back to it"
    assert related.pump.invocations - invocations == 1
    # It did change other posts' lists and pages: they are simply not POST items.
    assert "/2026/03/09/new/" in related_links(site.page("/2026/03/05/p5/") or "")


# -- batches: poison records, partial failures, replays --------------------------------


def _post_records(related: Related) -> list[dict[str, Any]]:
    """The POST records on the stream that the pump has not read yet, in Lambda's shape."""
    pump = related.pump
    taken: list[dict[str, Any]] = []
    original, pump.handler = (
        pump.handler,
        lambda event, _context: taken.extend(event["Records"]) or {"batchItemFailures": []},
    )
    try:
        related.drain()
    finally:
        pump.handler = original
    return taken


def test_a_poison_record_does_not_block_the_shard(related: Related) -> None:
    site = related.site
    site.publish(
        "posts/2026-04-01-a.md",
        post_text("前の記事", date="2026-04-01 10:00:00 +0900", tags="[AWS]"),
    )
    related.drain()
    # A POST item the core cannot read (no headings): every attempt fails on it.
    site.clients.dynamodb.put_item(
        TableName=site.settings.table_name,
        Item={"pk": {"S": "POST#/broken/"}, "sk": {"S": "POST"}, "url": {"S": "/broken/"}},
    )
    site.publish(
        "posts/2026-04-02-b.md",
        post_text("後の記事", date="2026-04-02 10:00:00 +0900", tags="[AWS]"),
    )
    invocations = related.pump.invocations

    related.drain()

    (failure,) = related.failures
    info = failure["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1, "bisection isolated the poison record"
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    retries = related_mapping(load_template())["max_retries"]
    assert related.pump.invocations - invocations <= 2 + 2 * retries
    # The records after it were processed: the new post and its neighbour link up.
    assert related_links(site.page("/2026/04/02/b/") or "") == ["/2026/04/01/a/"]
    assert related_links(site.page("/2026/04/01/a/") or "") == ["/2026/04/02/b/"]
    site.clients.dynamodb.delete_item(
        TableName=site.settings.table_name,
        Key={"pk": {"S": "POST#/broken/"}, "sk": {"S": "POST"}},
    )
    related.drain()
    assert len(related.failures) == 1
    assert stored_lists(related) == expected_lists(related)


def _snapshot(related: Related) -> tuple[list[Any], dict[str, str], int]:
    site = related.site
    items = sorted(
        _table_items(site.clients, site.settings.table_name), key=lambda i: (i["pk"], i["sk"])
    )
    objects = {key: (site.object(key) or {}).get("ETag", "") for key in site.keys()}
    return items, objects, len(site.invalidations())


def test_a_record_replayed_after_a_partial_failure_changes_nothing(
    related: Related, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tsuzuri.errors import TransientError
    from tsuzuri.related.sync import RelatedIndex

    site = related.site
    for day, tags in ((1, "[AWS, Lambda]"), (2, "[AWS, Lambda]"), (3, "[AWS, Python]")):
        site.publish(
            f"posts/2026-05-0{day}-p{day}.md",
            post_text(f"記事{day}", date=f"2026-05-0{day} 10:00:00 +0900", tags=tags),
        )
    records = [r for r in _post_records(related) if r["eventName"] == "INSERT"]
    records = list({r["dynamodb"]["Keys"]["pk"]["S"]: r for r in records}.values())
    assert len(records) == 3
    flaky = "/2026/05/02/p2/"
    original = RelatedIndex.sync
    calls = {"n": 0}

    def sync(self: RelatedIndex, url: str) -> Any:
        if url == flaky and calls["n"] == 0:
            calls["n"] += 1
            raise TransientError("DynamoDB query: ThrottlingException")
        return original(self, url)

    monkeypatch.setattr(RelatedIndex, "sync", sync)

    # Record 2 fails: the function reports it, and only it (Lambda resumes from there).
    response = related.invoke(records)
    assert response == {
        "batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]
    }
    assert related_links(site.page("/2026/05/01/p1/") or "") == []  # p2 not indexed yet
    before = _snapshot(related)

    # Bisection replays record 1, which was applied: nothing changes, nothing is written.
    assert related.invoke(records[:1]) == {"batchItemFailures": []}
    assert _snapshot(related) == before

    # The retry from record 2 completes the batch; replaying all of it again is a no-op.
    assert related.invoke(records[1:]) == {"batchItemFailures": []}
    assert related_links(site.page("/2026/05/01/p1/") or "")[0] == "/2026/05/02/p2/"
    after = _snapshot(related)
    assert related.invoke(records) == {"batchItemFailures": []}
    assert _snapshot(related) == after
    assert stored_lists(related) == expected_lists(related)


def test_pages_of_a_batch_that_stopped_are_rendered_by_the_next_one(
    related: Related, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list written but its page not rendered (the function died in between) is
    rendered by the next invocation, whatever records that one carries."""
    from tsuzuri.related.service import RelatedService

    site = related.site
    site.publish(
        "posts/2026-06-01-a.md", post_text("一", date="2026-06-01 10:00:00 +0900", tags="[x]")
    )
    related.drain()
    original = RelatedService.render_pending
    dead = {"on": True}

    def render_pending(self: RelatedService, outcome: Any = None, **kwargs: Any) -> list[str]:
        if dead["on"]:
            raise RuntimeError("the function timed out before rendering")
        return original(self, outcome, **kwargs)

    monkeypatch.setattr(RelatedService, "render_pending", render_pending)
    site.publish(
        "posts/2026-06-02-b.md", post_text("二", date="2026-06-02 10:00:00 +0900", tags="[x]")
    )
    records = _post_records(related)
    with pytest.raises(RuntimeError, match="timed out"):
        related.invoke(records)
    assert related_links(site.page("/2026/06/01/a/") or "") == []

    dead["on"] = False
    assert related.invoke([]) == {"batchItemFailures": []}
    assert related_links(site.page("/2026/06/01/a/") or "") == ["/2026/06/02/b/"]
    assert related_links(site.page("/2026/06/02/b/") or "") == ["/2026/06/01/a/"]


def test_a_site_published_before_the_function_is_indexed_by_hand(related: Related) -> None:
    site = related.site
    publish_days(site, 7, 5, "[AWS]")
    event: dict[str, Any] = {"action": "sync", "limit": 2}
    pages = 0
    while True:
        pages += 1
        result = related.module.lambda_handler(event, LambdaContext("tsuzuri-related"))
        if result["next"] is None:
            break
        event["after"] = result["next"]
    assert pages == 3
    assert stored_lists(related) == expected_lists(related)
    assert set(related_links(site.page("/2026/07/01/p1/") or "")) == {
        f"/2026/07/0{day}/p{day}/" for day in range(2, 6)
    }
    before = _snapshot(related)
    related.drain()  # the stream's records of those publishes arrive late: no-ops
    assert _snapshot(related) == before


def test_a_bulk_rebuild_writes_what_the_incremental_path_would(related: Related) -> None:
    from tsuzuri.related.store import RelatedStore
    from tsuzuri.related.sync import RelatedIndex

    site = related.site
    for day in range(1, 8):
        tags = "[AWS, Lambda]" if day % 2 else "[AWS, Python]"
        site.publish(
            f"posts/2026-08-0{day}-p{day}.md",
            post_text(f"記事{day}", date=f"2026-08-0{day} 10:00:00 +0900", tags=tags,
                      categories="クラウド" if day < 5 else "日記"),
        )  # fmt: skip
    store = RelatedStore(site.clients.dynamodb, site.settings.table_name)
    items = _table_items(site.clients, site.settings.table_name)
    views = [view_of_post_item(i, related.settings) for i in items if i["sk"] == "POST"]
    RelatedIndex(store, related.settings).rebuild([v for v in views if v is not None])
    assert stored_lists(related) == expected_lists(related)

    def index_items() -> list[dict[str, Any]]:
        return [
            i
            for i in _snapshot(related)[0]
            if i["sk"] == "RELATED" or i["pk"].startswith(("RX#", "RBY#"))
        ]

    before = index_items()
    # The stream's records of those publishes: every post is already as indexed, so
    # they change nothing; the pages the rebuild marked are rendered.
    related.drain()
    assert index_items() == before
    assert related_links(site.page("/2026/08/01/p1/") or "")[0] == "/2026/08/03/p3/"


def test_a_list_moved_by_another_writer_before_the_flush_is_recomputed(
    related: Related, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync computes every list it touches and writes them in one transaction. Another
    writer moves one of those lists meanwhile: that list (and only it) is read again
    and recomputed, the others are written in the same flush, and every list ends equal
    to a full recomputation."""
    from tsuzuri.related.store import RelatedStore

    site = related.site
    for day in range(1, 7):
        site.publish(
            f"posts/2026-09-0{day}-p{day}.md",
            post_text(f"P{day}", date=f"2026-09-0{day} 10:00:00 +0900", tags="[AWS, Lambda]"),
        )
    related.drain()
    site.publish(
        "posts/2026-09-08-new.md",
        post_text("New", date="2026-09-08 10:00:00 +0900", tags="[AWS, Lambda]"),
    )
    original = RelatedStore.write_lists
    flushes: list[list[str]] = []
    moved_by_other: list[str] = []

    def write_lists(self: RelatedStore, writes: Any) -> set[str]:
        owners = [w.state.url for w in writes]
        flushes.append(owners)
        others = [o for o in owners if o != "/2026/09/08/new/"]
        if not moved_by_other and others:
            moved_by_other.append(others[0])
            self.table.call(
                "update_item",
                TableName=self.table.name,
                Key={"pk": {"S": f"POST#{others[0]}"}, "sk": {"S": "RELATED"}},
                UpdateExpression="ADD #rev :one",
                ExpressionAttributeNames={"#rev": "rev"},
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        return original(self, writes)

    monkeypatch.setattr(RelatedStore, "write_lists", write_lists)
    related.drain()
    assert moved_by_other, "the new post entered no other list"
    assert len(flushes[0]) > 1, "the lists of one sync were not written together"
    assert flushes[1] == moved_by_other, "only the moved list is recomputed"
    assert stored_lists(related) == expected_lists(related)
    assert related.failures == []


def test_a_sync_that_stopped_half_way_is_redone_in_full(
    related: Related, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index took a's new tags, then the function died; c is processed before a's
    record comes back (it went to the failure queue, say). c's sync refreshes a's list
    but must not make a's own sync look done."""
    from tsuzuri.related.sync import RelatedIndex

    site = related.site
    a, b = "posts/2026-09-01-a.md", "posts/2026-09-02-b.md"
    site.publish(a, post_text("A", date="2026-09-01 10:00:00 +0900", tags="[AWS]"))
    site.publish(b, post_text("B", date="2026-09-02 10:00:00 +0900", tags="[AWS, Python]"))
    related.drain()
    site.publish(a, post_text("A", date="2026-09-01 10:00:00 +0900", tags="[AWS, Lambda, Go]"))
    record_a = _post_records(related)
    site.publish(
        "posts/2026-09-03-c.md",
        post_text("C", date="2026-09-03 10:00:00 +0900", tags="[Lambda, Python]"),
    )
    record_c = _post_records(related)
    original = RelatedIndex._apply
    died = {"once": False}

    def apply(self: RelatedIndex, *args: Any, **kwargs: Any) -> Any:
        if not died["once"]:
            died["once"] = True
            raise TimeoutError("the function timed out")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RelatedIndex, "_apply", apply)
    assert related.invoke(record_a)["batchItemFailures"]
    assert related.invoke(record_c) == {"batchItemFailures": []}
    assert related.invoke(record_a) == {"batchItemFailures": []}
    assert stored_lists(related) == expected_lists(related)
    assert "/2026/09/01/a/" in related_links(site.page("/2026/09/03/c/") or "")


def test_new_related_weights_in_the_config_are_applied_from_the_stream(
    related: Related, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``related:`` in _config.yml changes how every list is scored: the function hears
    the accepted config on the stream, recomputes every list with the new settings and
    renders the pages a chunk per invocation, each chunk bringing it back for the next."""
    from tsuzuri.related import service as related_service

    site = related.site
    publish_days(site, 9, 7, lambda day: "[AWS, Lambda]" if day % 2 else "[AWS, Python]")
    related.drain()
    assert max(len(urls) for urls, _s, _c in stored_lists(related).values()) > 2
    assert related.module.service().service  # a warm instance, built with the old settings
    monkeypatch.setattr(related_service, "PAGES_PER_BATCH", 3)
    invocations = related.pump.invocations

    config = "title: テストブログ\ndescription: 重みを変えた\nrelated:\n  count: 2\n"
    site.upload("_config.yml", config)
    [outcome] = site.publisher.process([site.change("_config.yml")]).outcomes
    assert "related function recomputes every list" in outcome.message
    related.drain()

    # 7 pages, 3 a batch: the config record's batch and two continuations.
    assert related.pump.invocations - invocations == 3
    related.settings = replace(related.settings, count=2)
    assert stored_lists(related) == expected_lists(related)
    for url, (urls, _scores, _cards) in expected_lists(related).items():
        assert len(urls) <= 2
        assert related_links(site.page(url) or "") == urls
    # Rendered by the related function, with the config it had not loaded when warm.
    assert "重みを変えた" in (site.page("/2026/09/01/p1/") or "")


def test_a_config_change_that_leaves_related_alone_recomputes_nothing(
    related: Related, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tsuzuri.related.service import RelatedService

    site = related.site
    publish_days(site, 9, 3, "[AWS]")
    related.drain()
    calls: list[int] = []
    original = RelatedService.rebuild_all

    def rebuild_all(self: RelatedService) -> int:
        calls.append(1)
        return original(self)

    monkeypatch.setattr(RelatedService, "rebuild_all", rebuild_all)
    site.upload("_config.yml", "title: 新しい名前\n")
    [outcome] = site.publisher.process([site.change("_config.yml")]).outcomes
    assert "related" not in outcome.message
    related.drain()
    assert calls == []
    site.upload("_config.yml", "title: 新しい名前\nrelated:\n  count: 1\n")
    site.publisher.process([site.change("_config.yml")])
    related.drain()
    assert calls == [1]


def test_a_rebuild_out_of_time_leaves_pages_for_the_render_action(related: Related) -> None:
    site = related.site
    publish_days(site, 10, 3, "[AWS]")
    # Less time left than the rebuild keeps back: lists are written, no page rendered.
    short = LambdaContext("tsuzuri-related", timeout_s=10)
    assert related.module.lambda_handler({"action": "rebuild"}, short) == {
        "posts": 3, "rendered": 0, "pending": 3,
    }  # fmt: skip
    assert stored_lists(related) == expected_lists(related)
    result = related.module.lambda_handler(
        {"action": "render"}, LambdaContext("tsuzuri-related", timeout_s=120)
    )
    assert result == {"posts": 0, "rendered": 3, "pending": 0}
    assert_site_matches_recomputation(related)


def _count_bulk_syncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the bulk syncs the function runs from now on."""
    from tsuzuri.related.sync import RelatedIndex

    sizes: list[int] = []
    original = RelatedIndex.sync_many

    def sync_many(self: RelatedIndex, urls: Any) -> Any:
        sizes.append(len(urls))
        return original(self, urls)

    monkeypatch.setattr(RelatedIndex, "sync_many", sync_many)
    return sizes


def test_a_load_reaches_the_function_as_stream_batches_and_is_synced_in_bulk(
    related: Related, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``tsuzuri dev`` and Lambda alike: a folder's worth of posts arrives on the stream
    in batches of the template's size, and a batch that holds a large share of the site
    is synced in one pass, with the same lists and pages as one sync per post."""
    bulk = _count_bulk_syncs(monkeypatch)
    site = related.site
    for day in range(1, 13):
        site.publish(
            f"posts/2026-09-{day:02}-p{day}.md",
            post_text(f"記事{day}", date=f"2026-09-{day:02} 10:00:00 +0900",
                      tags="[AWS, Lambda]" if day % 3 else "[AWS, Python]"),
        )  # fmt: skip
    related.drain()
    assert bulk == [12], "one batch, one pass"
    assert_site_matches_recomputation(related)
    # Then one publish is one incremental sync, exact on top of the bulk pass.
    site.publish(
        "posts/2026-09-20-late.md",
        post_text("後から", date="2026-09-20 10:00:00 +0900", tags="[AWS, Python]"),
    )
    related.drain()
    assert bulk == [12]
    assert_site_matches_recomputation(related)
    assert related.failures == []


def test_a_bulk_sync_writes_the_index_one_sync_per_post_writes(
    related: Related, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reverse index, timeline entries, floors and lists: the bulk pass leaves exactly
    the items the incremental path leaves (revisions apart)."""
    from tsuzuri.related import service
    from tsuzuri.related.store import RelatedStore
    from tsuzuri.related.sync import RelatedIndex

    monkeypatch.setattr(service, "BULK_MIN", 10**6)  # one sync per post
    site = related.site
    for day in range(1, 10):
        site.publish(
            f"posts/2026-10-0{day}-p{day}.md",
            post_text(f"記事{day}", date=f"2026-10-0{day} 10:00:00 +0900",
                      tags=["[AWS, Lambda]", "[AWS, Python]", "[Go]"][day % 3],
                      categories="クラウド" if day < 5 else "日記"),
        )  # fmt: skip
    site.unpublish("posts/2026-10-04-p4.md")
    related.drain()

    def index_items() -> list[dict[str, Any]]:
        items = _snapshot(related)[0]
        kept = [
            {k: v for k, v in i.items() if k != "rev"}
            for i in items
            if i["sk"] == "RELATED" or i["pk"].startswith(("RX#", "RBY#", "RFL#"))
        ]
        return sorted(kept, key=lambda i: (i["pk"], i["sk"]))

    incremental = index_items()
    table = site.settings.table_name
    for item in _snapshot(related)[0]:
        if item["sk"] == "RELATED" or item["pk"].startswith(("RX#", "RBY#", "RFL#")):
            key = {"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}}
            site.clients.dynamodb.delete_item(TableName=table, Key=key)
    store = RelatedStore(site.clients.dynamodb, table)
    urls = [url for _key, url in store.published()] + ["/2026/10/04/p4/"]
    RelatedIndex(store, related.settings).sync_many(urls)
    assert index_items() == incremental


@pytest.mark.parametrize("related", [{}, TIGHT], ids=["default", "tight"], indirect=True)
def test_differential_with_bulk_batches(related: Related, monkeypatch: pytest.MonkeyPatch) -> None:
    """A history whose batches of 3 files or more are synced in bulk and the others one
    post at a time: the two paths interleave and the lists stay exact."""
    from tsuzuri.related import service

    monkeypatch.setattr(service, "BULK_MIN", 3)
    monkeypatch.setattr(service, "BULK_SHARE", 10**6)
    bulk = _count_bulk_syncs(monkeypatch)
    run_history(related, seed=12, operations=50, posts=18, max_batch=6)
    assert bulk, "no batch went the bulk way"
    assert_site_matches_recomputation(related)
    assert related.failures == []


def test_the_pump_reads_a_long_backlog_a_page_at_a_time_and_stops_when_told(
    clients: Clients, stack: Settings, moto_endpoint: str
) -> None:
    """Past 1,000 records the stream is read in pages: records the filter drops (a bulk
    rebuild writes thousands of its own) are read past, the posts among them delivered,
    and a stop is heard between pages."""
    from tsuzuri_local.devstack.pumps import StreamPump

    table = stack.table_name
    own = [{"pk": {"S": f"RBY#/p{i}/"}, "sk": {"S": "/q/"}} for i in range(1_150)]
    for start in range(0, len(own), 25):
        requests = [{"PutRequest": {"Item": item}} for item in own[start : start + 25]]
        clients.dynamodb.batch_write_item(RequestItems={table: requests})
    clients.dynamodb.put_item(TableName=table, Item={"pk": {"S": "POST#/a/"}, "sk": {"S": "POST"}})
    delivered: list[str] = []

    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        delivered.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"])
        return {"batchItemFailures": []}

    def pump() -> StreamPump:
        return StreamPump(
            streams=botocore.session.get_session().create_client(
                "dynamodbstreams", region_name="ap-northeast-1", endpoint_url=moto_endpoint
            ),
            stream_arn=clients.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"],
            handler=handler,
            filters=related_mapping(load_template())["filters"],
        )

    whole = pump()
    assert whole.poll() == 1_151
    assert delivered == ["POST#/a/"]

    stopped = pump()
    stopped.stop_event.set()
    assert stopped.poll(until=stopped.stop_event) == 0
    # A drain after the background loop was told to stop still reads everything.
    delivered.clear()
    assert stopped.drain() == 1
    assert delivered == ["POST#/a/"]
