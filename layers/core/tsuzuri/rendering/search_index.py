"""The client-side search index: compact, sharded by year, rebuilt one shard at a time.

``/search/index.json`` is a small manifest (one line per year: post count and a
content hash); ``/search/posts-<year>.json`` holds that year's posts as arrays
``[url, title, date, tags, excerpt, headings]``. A publish rewrites the shard of the
post's year and the manifest only, so the index is maintained incrementally like the
rest of the site. The browser (``templates/static/search.js``) loads the shards on the
first query and matches Japanese by character bigrams and Latin text by words, so
no tokenizer, dictionary or external service is needed. Without JavaScript the search
page still offers the archive and the tag index.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tsuzuri.domain.model import PostSummary

# What an entry keeps: enough to match and to show a result, small enough for a phone.
EXCERPT_CHARS = 60
SHARD_PATH = "search/posts-{year}.json"
MANIFEST_PATH = "search/index.json"


@dataclass(frozen=True, slots=True)
class Shard:
    year: int
    body: str
    count: int

    @property
    def version(self) -> str:
        return hashlib.sha256(self.body.encode("utf-8")).hexdigest()[:10]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def entry(post: PostSummary) -> list[object]:
    return [
        post.url,
        post.title,
        post.date.strftime("%Y-%m-%d"),
        list(post.tags),
        _cut(post.excerpt, EXCERPT_CHARS),
        list(post.headings),
    ]


def build_shard(year: int, posts: Iterable[PostSummary]) -> Shard:
    """One year's entries, newest first, as compact JSON."""
    entries = [entry(p) for p in posts if p.in_sitemap]
    body = json.dumps(entries, ensure_ascii=False, separators=(",", ":")) + "\n"
    return Shard(year=year, body=body, count=len(entries))


def build_manifest(shards: Iterable[tuple[int, int, str]]) -> str:
    """The list of shards the browser fetches, newest year first, each with a version
    for cache busting: from (year, entries, version) per year, not from the shards."""
    data = {
        "version": 1,
        "shards": [
            {"url": "/" + SHARD_PATH.format(year=year), "count": count, "v": version}
            for year, count, version in sorted(shards, reverse=True)
            if count
        ],
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


# -- the matching rule, in Python: the browser's search.js does the same -------------


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF
        or 0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xF900 <= code <= 0xFAFF
        or 0xFF66 <= code <= 0xFF9F
    )


def query_grams(query: str) -> list[str]:
    """What must all occur in a post for it to match: bigrams of each Japanese run,
    whole Latin words."""
    grams: list[str] = []
    for term in normalize(query).split():
        run = ""
        for char in term + " ":
            if _is_cjk(char):
                run += char
                continue
            if run:
                grams += [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]
                run = ""
        latin = "".join(c if not _is_cjk(c) else " " for c in term).split()
        grams += [w for w in latin if w.strip()]
    return list(dict.fromkeys(grams))


def matches(query: str, fields: Sequence[str]) -> bool:
    grams = query_grams(query)
    text = normalize("\n".join(fields))
    return bool(grams) and all(g in text for g in grams)
