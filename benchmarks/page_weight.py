"""Bytes a reader downloads: the search index for a generated site, and a median post page.

    .venv/bin/python -m benchmarks.page_weight --posts 2500

Generates the corpus with benchmarks/corpus.py (seeded), parses every post with the
real parser, builds the search shards and manifest exactly as the publisher does, and
renders the median-size post with the theme. Sizes are raw and gzip -6 (CloudFront
compresses text with gzip or Brotli; Brotli is smaller still).
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = generate(Path(tmp), args.posts, args.seed)
        site = SiteConfig.from_bytes((Path(tmp) / "_config.yml").read_bytes())
        posts: list[tuple[int, Post]] = []
        for path in files:
            raw = path.read_bytes()
            posts.append((len(raw), parse_post(classify_key(f"posts/{path.name}"), raw, site)))

    by_year: dict[int, list[PostSummary]] = defaultdict(list)
    for _, post in sorted(posts, key=lambda p: p[1].date, reverse=True):
        by_year[post.date.year].append(post.summary())
    shards = {year: build_shard(year, members) for year, members in by_year.items()}
    manifest = build_manifest((y, s.count, s.version) for y, s in shards.items()).encode()
    raw_total = sum(len(s.body.encode()) for s in shards.values()) + len(manifest)
    gz_total = sum(gz(s.body.encode()) for s in shards.values()) + gz(manifest)
    largest = max(shards.values(), key=lambda s: len(s.body.encode()))
    print(f"search index, {len(posts)} posts in {len(shards)} yearly shards:")
    print(f"  total {kib(raw_total)} raw, {kib(gz_total)} gzip")
    print(
        f"  largest shard {largest.year}: {largest.count} posts, "
        f"{kib(len(largest.body.encode()))} raw, {kib(gz(largest.body.encode()))} gzip"
    )
    print(f"  per post {raw_total / len(posts):.0f} B raw, {gz_total / len(posts):.0f} B gzip")

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
