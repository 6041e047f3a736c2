"""Bytes a reader downloads: the search index for a generated site, and a median post page.

    .venv/bin/python -m benchmarks.page_weight --posts 2500
    .venv/bin/python -m benchmarks.page_weight --corpus OUT   # from benchmarks/corpus.py OUT

Generates the corpus with benchmarks/corpus.py (seeded) or reads one it wrote, parses
every post with the real parser, builds the search shards and manifest exactly as the
publisher does (and once more without the body terms, for comparison), sizes the
largest month's ``MONTHS`` item (the cards the shards are built from, which DynamoDB
caps at 400 KB), and renders the median-size post with the theme. Sizes are raw and
gzip -6 (CloudFront compresses text with gzip or Brotli; Brotli is smaller still).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import statistics
import tempfile
import zlib
from collections import defaultdict
from pathlib import Path

from tsuzuri.aws.lists import summary_fields
from tsuzuri.domain.keys import classify_key
from tsuzuri.domain.model import Post, PostSummary
from tsuzuri.domain.post import parse_post
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.rendering.search_index import build_manifest, build_shard
from tsuzuri.rendering.theme import Theme

from benchmarks.corpus import generate


def gz(data: bytes) -> int:
    return len(gzip.compress(data, 6))


def kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB"


def search_index(by_year: dict[int, list[PostSummary]], count: int, label: str) -> None:
    shards = {year: build_shard(year, members) for year, members in by_year.items()}
    manifest = build_manifest((y, s.count, s.version) for y, s in shards.items()).encode()
    raw_total = sum(len(s.body.encode()) for s in shards.values()) + len(manifest)
    gz_total = sum(gz(s.body.encode()) for s in shards.values()) + gz(manifest)
    largest = max(shards.values(), key=lambda s: len(s.body.encode()))
    print(f"  {label}: total {kib(raw_total)} raw, {kib(gz_total)} gzip")
    print(
        f"    largest shard {largest.year}: {largest.count} posts, "
        f"{kib(len(largest.body.encode()))} raw, {kib(gz(largest.body.encode()))} gzip"
    )
    print(f"    per post {raw_total / count:.0f} B raw, {gz_total / count:.0f} B gzip")


def month_items(by_month: dict[str, list[PostSummary]]) -> None:
    """The ``MONTHS`` items as the renderer stores them (zlib JSON cards with the body
    terms): the largest, and how many such cards would fill DynamoDB's 400 KB."""
    sizes = {
        month: len(
            zlib.compress(
                json.dumps(
                    [summary_fields(m, search_text=True) for m in members], ensure_ascii=False
                ).encode("utf-8"),
                6,
            )
        )
        for month, members in by_month.items()
    }
    month = max(sizes, key=lambda m: sizes[m])
    per_card = sum(sizes.values()) / sum(len(m) for m in by_month.values())
    print(
        f"  MONTHS items: largest {month}, {len(by_month[month])} posts, {kib(sizes[month])}; "
        f"{per_card:.0f} B a card, so about {400_000 // per_card:.0f} posts fill a month's item"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--corpus", type=Path, help="a folder benchmarks/corpus.py wrote")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.corpus or Path(tmp)
        if args.corpus:
            files = sorted((folder / "_posts").glob("*.md"))
        else:
            files = generate(folder, args.posts, args.seed)
        site = SiteConfig.from_bytes((folder / "_config.yml").read_bytes())
        posts: list[tuple[int, Post]] = []
        for path in files:
            raw = path.read_bytes()
            posts.append((len(raw), parse_post(classify_key(f"posts/{path.name}"), raw, site)))

    by_year: dict[int, list[PostSummary]] = defaultdict(list)
    by_month: dict[str, list[PostSummary]] = defaultdict(list)
    for _, post in sorted(posts, key=lambda p: p[1].date, reverse=True):
        by_year[post.date.year].append(post.summary())
        by_month[post.date.strftime("%Y-%m")].append(post.summary())
    print(f"search index, {len(posts)} posts in {len(by_year)} yearly shards:")
    search_index(by_year, len(posts), "with body terms")
    bare = {
        year: [dataclasses.replace(m, search_text="") for m in members]
        for year, members in by_year.items()
    }
    search_index(bare, len(posts), "without them")
    month_items(by_month)

    theme = Theme(site)
    ordered = sorted(posts, key=lambda p: p[0])
    size, median = ordered[len(ordered) // 2]
    related = [p.summary() for _, p in ordered[:6]]
    html = theme.render_post(median, previous=related[0], next=related[1], related=related).encode()
    css = str(theme.inline_style("site.css")).encode()
    print(f"median post page ({kib(size)} of Markdown):")
    print(f"  HTML {kib(len(html))} raw, {kib(gz(html))} gzip")
    print(f"  of which the inline stylesheet {kib(len(css))} raw, {kib(gz(css))} gzip alone")
    print(f"  transferred (HTML with its stylesheet, gzip): {kib(gz(html))}")
    bodies = [len(p.body_html.encode()) for _, p in posts]
    print(f"  (body HTML median {kib(int(statistics.median(bodies)))} over all posts)")


if __name__ == "__main__":
    main()
