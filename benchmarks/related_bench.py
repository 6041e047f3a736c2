"""Related posts: relevance against Hugo's algorithm, the cost of one publish, and the
time of a full recomputation, on a synthetic site whose tags are skewed like the
target's (about 240 tags, the top one on half the posts, 3 to 8 tags per post,
6 categories).

    .venv/bin/python -m benchmarks.related_bench --posts 2500 --publishes 100
    .venv/bin/python -m benchmarks.related_bench --posts 10000 --publishes 20

Parts:

relevance
    Each post has a main and a second topic; its words come from their vocabularies
    and a shared general one, and 70% of its tags are drawn from its main topic's tags
    (the rest, and the top tag on half the posts, say nothing about the content). The
    yardstick is content similarity: TF-IDF cosine of two posts' word bags. For each
    sampled post, ``random`` is the mean similarity to all other posts, ``best`` the mean
    of its k most similar posts, and a list scores the mean over its k slots (an empty
    slot counts as a random pick). Reported: sum(list - random) / sum(best - random),
    0 for random picks and 1 for the best possible lists.
full recomputation
    ``tsuzuri.domain.relatedness.recompute_all`` over every post, in process (the baseline).
one publish (moto)
    The site is loaded into a table on moto's server (POST, BODY and membership items,
    written in batches, then the list counters, TERMS, MONTHS and YEARS derived from the
    memberships by ``tsuzuri.publishing.migrate``), the related index is built with
    ``RelatedIndex.rebuild``, then new posts are published one at a time: the post is
    written as the render function's index phase writes it (``PostStore.publish_post``,
    one transaction), and the related function's service handles the
    INSERT record (sync, then one ``Publisher.refresh_posts``). moto does not report
    consumed capacity, so read and write units are estimated from the bytes of each
    call: 1 RRU per started 4 KB of a consistent read (per item for GetItem and
    BatchGetItem, per call for Query), 1 WRU per started KB of an item written, 1 WRU
    per delete and per UpdateItem.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import heapq
import math
import os
import random
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }
)

from tsuzuri.domain.model import Post, Term, sort_key
from tsuzuri.domain.relatedness import (
    DEFAULT_SETTINGS,
    Features,
    RelatedSettings,
    make_features,
    recompute_all,
    signature_of,
)

from benchmarks.meter import Meter

K = DEFAULT_SETTINGS.count
KANJI = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
KATAKANA = [chr(c) for c in range(0x30A1, 0x30F5)]
GLUE = ["の", "は", "を", "に", "が", "で", "と", "も", "です。", "ます。", "という", "して"]
CATEGORIES = ["AI最新ニュース", "クラウド", "プログラミング", "AI活用", "イベント", "お知らせ"]


# -- the synthetic site --------------------------------------------------------------


@dataclass
class Doc:
    number: int
    date: datetime
    tags: list[str]
    category: str
    words: list[str]

    @property
    def url(self) -> str:
        return f"/{self.date:%Y/%m/%d}/post-{self.number:05d}/"

    def text(self, rng: random.Random) -> str:
        return "".join(w + rng.choice(GLUE) for w in self.words)


def make_site(posts: int, seed: int = 7, topics: int = 40) -> list[Doc]:
    rng = random.Random(seed)

    def word(katakana: bool) -> str:
        if katakana:
            return "".join(rng.choice(KATAKANA) for _ in range(rng.randint(3, 5)))
        return "".join(rng.choice(KANJI) for _ in range(rng.randint(2, 3)))

    vocab = [[word(rng.random() < 0.3) for _ in range(80)] for _ in range(topics)]
    general = [word(rng.random() < 0.2) for _ in range(600)]
    general_weights = [1 / (i + 1) for i in range(len(general))]
    topic_weights = [1 / (i + 2) ** 0.8 for i in range(topics)]
    topic_category = [rng.randrange(len(CATEGORIES)) for _ in range(topics)]
    tags = ["日記"] + [f"タグ{i:03d}" for i in range(1, 240)]
    tag_weights = [0.0] + [1 / (rank + 4) for rank in range(1, 240)]
    topic_of_tag = [-1] + [rng.randrange(topics) for _ in range(1, 240)]
    by_topic: dict[int, list[int]] = collections.defaultdict(list)
    for index in range(1, 240):
        by_topic[topic_of_tag[index]].append(index)
    start = datetime(2016, 1, 1, tzinfo=UTC)
    minutes = sorted(rng.randrange(60 * 24 * 365 * 10) for _ in range(posts))
    docs = []
    for number in range(posts):
        main = rng.choices(range(topics), topic_weights)[0]
        second = rng.choices(range(topics), topic_weights)[0]
        count = rng.randint(3, 8)
        chosen: list[int] = [0] if rng.random() < 0.5 else []
        pool = by_topic[main] or list(range(1, 240))
        while len(chosen) < count:
            if rng.random() < 0.7 and set(pool) - set(chosen):
                tag = rng.choices(pool, [tag_weights[t] for t in pool])[0]
            else:
                tag = rng.choices(range(1, 240), tag_weights[1:])[0]
            if tag not in chosen:
                chosen.append(tag)
        category = topic_category[main] if rng.random() < 0.5 else rng.randrange(6)
        words = []
        for _ in range(rng.randint(150, 900)):
            roll = rng.random()
            if roll < 0.35:
                words.append(rng.choice(vocab[main]))
            elif roll < 0.5:
                words.append(rng.choice(vocab[second]))
            else:
                words.append(rng.choices(general, general_weights)[0])
        docs.append(
            Doc(
                number,
                start + timedelta(minutes=minutes[number]),
                [tags[t] for t in chosen],
                CATEGORIES[category],
                words,
            )
        )
    return docs


def features_of(docs: list[Doc], seed: int = 8) -> list[Features]:
    rng = random.Random(seed)
    return [
        make_features(
            url=d.url,
            sort_key=sort_key(d.date, d.url),
            date=d.date,
            tags=[t.lower() for t in d.tags],
            categories=[d.category],
            signature=signature_of(d.text(rng)),
        )
        for d in docs
    ]


# -- relevance ---------------------------------------------------------------------


class Similarity:
    """TF-IDF cosine over the generator's words (the yardstick, not the score)."""

    def __init__(self, docs: list[Doc]):
        df: collections.Counter[str] = collections.Counter()
        for doc in docs:
            df.update(set(doc.words))
        self.vectors = []
        for doc in docs:
            tf = collections.Counter(doc.words)
            vector = {w: (1 + math.log(c)) * math.log(len(docs) / df[w]) for w, c in tf.items()}
            norm = math.sqrt(sum(x * x for x in vector.values())) or 1.0
            self.vectors.append({w: x / norm for w, x in vector.items() if x > 0})
        self.postings: dict[str, list[tuple[int, float]]] = collections.defaultdict(list)
        for index, vector in enumerate(self.vectors):
            for word, weight in vector.items():
                self.postings[word].append((index, weight))

    def to_all(self, index: int) -> dict[int, float]:
        totals: dict[int, float] = collections.defaultdict(float)
        for word, weight in self.vectors[index].items():
            for other, other_weight in self.postings[word]:
                totals[other] += weight * other_weight
        totals.pop(index, None)
        return totals


def relevance(
    lists: dict[int, list[int]], sample: list[int], sim: Similarity, cache: dict[int, Any]
) -> float:
    gained = possible = 0.0
    for index in sample:
        if index not in cache:
            sims = sim.to_all(index)
            others = len(sim.vectors) - 1
            rnd = sum(sims.values()) / others
            best = sum(heapq.nlargest(K, sims.values())) / K
            cache[index] = (sims, rnd, best)
        sims, rnd, best = cache[index]
        listed = lists.get(index, [])[:K]
        mean = (sum(sims.get(j, 0.0) for j in listed) + (K - len(listed)) * rnd) / K
        gained += mean - rnd
        possible += best - rnd
    return gained / possible


def hugo_lists(feats: list[Features]) -> dict[int, list[int]]:
    """Hugo's related content (related/inverted_index.go): indices tags (weight 100),
    categories (80) and the year (10); a candidate's rank is the sum of the weights of
    its matches; keep it if normalize(rank / matches) >= threshold / matches with
    threshold 80; never list newer pages (includeNewer: false); sort by rank, then date."""
    index: dict[tuple[str, Any], list[int]] = collections.defaultdict(list)

    def keys(f: Features) -> list[tuple[tuple[str, Any], int]]:
        year = datetime.fromtimestamp(f.timestamp, UTC).year
        return (
            [(("tags", t), 100) for t in f.tags]
            + [(("categories", c), 80) for c in f.categories]
            + [(("date", year), 10)]
        )

    for number, f in enumerate(feats):
        for key, _weight in keys(f):
            index[key].append(number)
    lists = {}
    for number, f in enumerate(feats):
        weight: dict[int, int] = collections.defaultdict(int)
        matches: dict[int, int] = collections.defaultdict(int)
        for key, key_weight in keys(f):
            for other in index[key]:
                if other != number and feats[other].timestamp <= f.timestamp:
                    weight[other] += key_weight
                    matches[other] += 1
        kept = [o for o in weight if weight[o] // matches[o] >= 80 // matches[o]]
        kept.sort(key=lambda o: (-weight[o], -feats[o].timestamp, feats[o].url))
        lists[number] = kept[:K]
    return lists


def theme_lists(feats: list[Features]) -> dict[int, list[int]]:
    """The target theme: every other post, +2 for the same category, +1 per shared tag,
    kept at 2 or more (ties: newer first)."""
    lists = {}
    for number, f in enumerate(feats):
        tags, cats = set(f.tags), set(f.categories)
        scored = []
        for other, g in enumerate(feats):
            if other != number:
                value = 2 * (not cats.isdisjoint(g.categories)) + len(tags.intersection(g.tags))
                if value >= 2:
                    scored.append((-value, -g.timestamp, other))
        lists[number] = [o for _, _, o in heapq.nsmallest(K, scored)]
    return lists


def report_relevance(docs: list[Doc], feats: list[Features], sample_size: int) -> None:
    sim = Similarity(docs)
    sample = random.Random(3).sample(range(len(docs)), min(sample_size, len(docs)))
    cache: dict[int, Any] = {}
    position = {f.url: i for i, f in enumerate(feats)}
    started = time.perf_counter()
    ours = recompute_all(feats)
    baseline_s = time.perf_counter() - started
    rows = [
        ("tsuzuri", {position[u]: [position[e.url] for e in v] for u, v in ours.items()}),
        ("Hugo (tags 100, categories 80, year 10)", hugo_lists(feats)),
    ]
    if len(feats) <= 3000:
        rows.append(("target theme (+2 category, +1 tag, >= 2)", theme_lists(feats)))
    newest = sorted(range(len(feats)), key=lambda i: -feats[i].timestamp)[: K + 1]
    rows.append(
        ("Jekyll related_posts (newest)", {i: [j for j in newest if j != i] for i in sample})
    )
    no_content = RelatedSettings(content_weight=0)
    plain = recompute_all(feats, no_content)
    rows.append(
        (
            "tsuzuri without the content sketch",
            {position[u]: [position[e.url] for e in v] for u, v in plain.items()},
        )
    )
    print(f"\nrelevance on {len(sample)} sampled posts (0 = random picks, 1 = best possible):")
    for name, lists in rows:
        print(f"  {name:45s} {relevance(lists, sample, sim, cache):6.3f}")
    print(f"\nfull recomputation of {len(feats)} lists: {baseline_s * 1000:,.0f} ms (one process)")


# -- one publish on moto -----------------------------------------------------------


def post_of(doc: Doc, text: str) -> Post:
    return Post(
        source_key=f"posts/{doc.date:%Y-%m-%d}-post-{doc.number:05d}.md",
        slug=f"post-{doc.number:05d}",
        url=doc.url,
        title=f"{doc.words[0]}と{doc.words[1]} その{doc.number}",
        date=doc.date.astimezone(UTC),
        body_html=f"<p>{text[:400]}</p>",
        excerpt=text[:120],
        description=text[:120],
        tags=tuple(Term("tag", t, t.lower()) for t in doc.tags),
        categories=(Term("category", doc.category, doc.category),),
        signature=signature_of(text),
    )


def load_site(store: Any, table: str, posts: list[Post], title: str) -> None:
    """POST, BODY and membership items as the render function writes them, in batches
    (the render path would take hours for 10,000 posts on moto), and one LISTS item per
    list (its name): the counters and summaries are derived by ``migrate`` afterwards."""
    import zlib

    from tsuzuri.aws.lists import member_item
    from tsuzuri.aws.store import _post_fields
    from tsuzuri.aws.table import dump_item

    counts: collections.Counter[str] = collections.Counter()
    requests = []
    for post in posts:
        item = {"pk": f"POST#{post.url}", "sk": "POST", **_post_fields(post), "revision": 1}
        requests.append(dump_item(item))
        body = zlib.compress(post.body_html.encode(), 6)
        requests.append(dump_item({"pk": f"POST#{post.url}", "sk": "BODY", "html": body}))
        for list_id in ["all", *(t.list_id for t in post.terms)]:
            requests.append(member_item(list_id, post.summary()))
            counts[list_id] += 1
    names = {t.list_id: t.name for p in posts for t in p.terms} | {"all": title}
    for list_id in counts:
        requests.append(dump_item({"pk": "LISTS", "sk": list_id, "name": names[list_id]}))
    store.table.batch_write({"PutRequest": {"Item": r}} for r in requests)


def report_publishes(docs: list[Doc], total: int, publishes: int) -> None:
    from tsuzuri.aws.clients import make_clients
    from tsuzuri.aws.store import placement_of
    from tsuzuri.aws.table import load_item
    from tsuzuri.domain.site_config import SiteConfig
    from tsuzuri.publishing.migrate import migrate
    from tsuzuri.publishing.wiring import build_publisher
    from tsuzuri.related.service import RelatedService
    from tsuzuri.related.store import RelatedStore, view_of_post_item
    from tsuzuri.related.sync import RelatedIndex
    from tsuzuri_local.devstack.aws_process import start_in_this_process
    from tsuzuri_local.provision import provision

    server, endpoint = start_in_this_process()  # with the local stack's moto fixes
    clients = make_clients(endpoint_url=endpoint, region="ap-northeast-1")
    # The records are handed to the service directly: no stream to keep in memory.
    settings = provision(clients, prefix="relbench", stream=False).settings
    site = SiteConfig(url="https://bench.example.com", title="ベンチマークブログ")
    publisher = build_publisher(settings, clients, site=site)
    store = RelatedStore(clients.dynamodb, settings.table_name)
    service = RelatedService(RelatedIndex(store), publisher)
    rng = random.Random(9)
    posts = [post_of(d, d.text(rng)) for d in docs[: total + publishes]]
    # The new posts are the newest, as when an editor publishes today.
    newest = max(p.date for p in posts[:total])
    fresh = []
    for offset, post in enumerate(posts[total:], start=1):
        date = newest + timedelta(hours=offset)
        fresh.append(dataclasses.replace(post, date=date, url=f"/{date:%Y/%m/%d}/{post.slug}/"))

    started = time.perf_counter()
    load_site(store, settings.table_name, posts[:total], site.title)
    migrate(publisher.store, clients.s3, settings.site_bucket)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    views = [view_of_post_item(load_item(_post_item(post))) for post in posts[:total]]
    service.index.rebuild([v for v in views if v is not None])
    store.clear_pending(store.pending())  # the bench measures publishes, not the first build
    rebuild_s = time.perf_counter() - started
    print(
        f"\nmoto: {total} posts loaded (and migrated) in {load_s:.0f} s, "
        f"index rebuilt in {rebuild_s:.0f} s"
    )

    meter = Meter()
    for client in (clients.s3, clients.dynamodb, clients.cloudfront):
        meter.attach(client)
    rows = []
    for post in fresh:
        # What the render function's index phase writes (its pages are not measured).
        publisher.store.publish_post(post, placement_of(post, site.title))
        # What the service does with the INSERT record: sync, then render the pages.
        meter.reset()
        began = time.perf_counter()
        outcome = service.index.sync(post.url)
        sync = (meter.rru, meter.wru, meter.items_read, meter.items_written)
        sync_calls = sum(meter.calls.values())
        if os.environ.get("RELATED_BENCH_DEBUG"):
            print(dict(meter.calls))
        sync_ms = (time.perf_counter() - began) * 1000
        rendered_before = time.perf_counter()
        pages = service.render_pending()
        refresh_ms = (time.perf_counter() - rendered_before) * 1000
        wall_ms = (time.perf_counter() - began) * 1000
        rows.append(
            {
                "lists written": outcome.lists_written,
                "lists recomputed": outcome.recomputed,
                "lists merged": outcome.merged,
                "pages re-rendered": len(pages),
                "invalidation paths": len(_last_invalidation(clients, settings)),
                "sync RRU": sync[0],
                "sync WRU": sync[1],
                "sync items read": sync[2],
                "sync items written": sync[3],
                "sync API calls": sync_calls,
                "total API calls": sum(meter.calls.values()),
                "total items read": meter.items_read,
                "largest read (items)": meter.largest_read,
                "total RRU": meter.rru,
                "total WRU": meter.wru,
                "sync ms": sync_ms,
                "render ms": refresh_ms,
                "wall ms": wall_ms,
            }
        )
    server.stop()
    print(f"one publish at {total} posts, {len(rows)} publishes:       median      p95")
    for field in rows[0]:
        values = sorted(float(r[field]) for r in rows)
        p95 = values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)]
        print(f"  {field:22s} {statistics.median(values):12.1f} {p95:10.1f}")


def _post_item(post: Post) -> dict[str, Any]:
    from tsuzuri.aws.store import _post_fields
    from tsuzuri.aws.table import dump_item

    return dump_item({"pk": f"POST#{post.url}", "sk": "POST", **_post_fields(post)})


def _last_invalidation(clients: Any, settings: Any) -> list[str]:
    listing = clients.cloudfront.list_invalidations(DistributionId=settings.distribution_id)
    items = listing["InvalidationList"].get("Items", [])
    if not items:
        return []
    newest = max(items, key=lambda i: i["CreateTime"])
    detail = clients.cloudfront.get_invalidation(
        DistributionId=settings.distribution_id, Id=newest["Id"]
    )
    return list(detail["Invalidation"]["InvalidationBatch"]["Paths"].get("Items", []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2500)
    parser.add_argument("--publishes", type=int, default=100)
    parser.add_argument("--sample", type=int, default=300, help="posts scored for relevance")
    parser.add_argument("--skip-relevance", action="store_true")
    parser.add_argument("--skip-moto", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    docs = make_site(args.posts + args.publishes)
    site_docs = docs[: args.posts]
    feats = features_of(site_docs)
    df = collections.Counter(t for f in feats for t in f.tags)
    top = df.most_common(1)[0]
    print(
        f"site: {len(feats)} posts, {len(df)} tags, top tag on {top[1] / len(feats):.0%}, "
        f"{sum(len(f.tags) for f in feats) / len(feats):.1f} tags per post, "
        f"{sum(1 for v in df.values() if v > DEFAULT_SETTINGS.rare_max_df)} tags common "
        f"(> {DEFAULT_SETTINGS.rare_max_df} posts); "
        f"generated in {time.perf_counter() - started:.0f} s"
    )
    if not args.skip_relevance:
        report_relevance(site_docs, feats, args.sample)
    if not args.skip_moto:
        report_publishes(docs, args.posts, args.publishes)


if __name__ == "__main__":
    main()
