"""The client-side search index: compact, sharded by year, rebuilt one shard at a time.

``/search/index.json`` is a small manifest (one line per year: post count and a
content hash); ``/search/posts-<year>.json`` holds that year's posts as arrays
``[url, title, date, tags, excerpt, headings]``, plus ``body`` as a seventh element
when the post has any body terms. A publish rewrites the shard of
the post's year and the manifest only, so the index is maintained incrementally like
the rest of the site.

``body`` is the post's text boiled down by :func:`body_terms` at parse time: each
distinct Latin word once and, of the Japanese text, only the pieces that hold a
character bigram not seen before, in the order they first occur, so a query matches a
post whose body says it (``lambda cold``) at a fraction of the text's size. Sizes are
bounded twice: at most :data:`BODY_CHARS` per post, and at most
:data:`SHARD_BUDGET_BYTES` per shard -- when a year's bodies do not fit, each post keeps
an equal share of what is left (a short body keeps all of it and its unused share goes
to the others), cut at a word. The browser (``templates/static/search.js``) loads the shards on the
first query and matches Japanese by character bigrams and Latin text by words, so
no tokenizer, dictionary or external service is needed. Without JavaScript the search
page still offers the archive and the tag index.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tsuzuri.domain.model import PostSummary
from tsuzuri.domain.search_terms import is_cjk_char, normalize

# What an entry keeps: enough to match and to show a result, small enough for a phone.
EXCERPT_CHARS = 60
SHARD_BUDGET_BYTES = 512 * 1024
"""A year's shard is kept within this many bytes of JSON (before gzip), bodies cut to fit."""
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


def entry(post: PostSummary, body: str | None = None) -> list[object]:
    """A post's search entry; ``body`` defaults to its whole :func:`body_terms` text."""
    fields: list[object] = [
        post.url,
        post.title,
        post.date.strftime("%Y-%m-%d"),
        list(post.tags),
        _cut(post.excerpt, EXCERPT_CHARS),
        list(post.headings),
    ]
    body = _search_text(post) if body is None else body
    if body:
        fields.append(body)
    return fields


def _search_text(post: PostSummary) -> str:
    # The summary's body terms (``PostSummary.search_text``, filled at parse time);
    # summaries stored before there was one simply have none.
    return str(getattr(post, "search_text", "") or "")


def _json(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def build_shard(
    year: int, posts: Iterable[PostSummary], *, budget: int = SHARD_BUDGET_BYTES
) -> Shard:
    """One year's entries, newest first, as compact JSON of at most ``budget`` bytes
    (unless the entries without their bodies are larger already)."""
    members = [p for p in posts if p.in_sitemap]
    bodies = [_search_text(p) for p in members]
    entries = [entry(p, b) for p, b in zip(members, bodies, strict=True)]
    text = _json(entries) + "\n"
    size = len(text.encode("utf-8"))
    if size > budget:
        # The bare entries, then each body its share of what is left (water-filling).
        bare = len((_json([entry(p, "") for p in members]) + "\n").encode("utf-8"))
        # A body costs its JSON string and a comma; an empty one is left out entirely.
        sizes = [len(_json(b).encode("utf-8")) + 1 if b else 0 for b in bodies]
        shares = _shares(sizes, budget - bare)
        entries = [
            entry(p, _cut_bytes(b, share - 3))
            for p, b, share in zip(members, bodies, shares, strict=True)
        ]
        text = _json(entries) + "\n"
    return Shard(year=year, body=text, count=len(entries))


def _shares(sizes: Sequence[int], left: int) -> list[int]:
    """Split ``left`` bytes among bodies of ``sizes``: equal shares, and a body smaller
    than its share gives the rest to the bodies after it (smallest first)."""
    shares = [0] * len(sizes)
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    left = max(left, 0)
    for done, i in enumerate(order):
        share = min(sizes[i], left // (len(sizes) - done))
        shares[i] = share
        left -= share
    return shares


def _cut_bytes(text: str, limit: int) -> str:
    """``text`` cut at a space so that its JSON string content is at most ``limit``
    bytes (every character of body terms is one JSON character, see body_terms)."""
    if len(_json(text).encode("utf-8")) - 2 <= limit:
        return text
    cut = text.encode("utf-8")[: max(limit, 0)].decode("utf-8", "ignore")
    return cut[: cut.rfind(" ")] if " " in cut else ""


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


def query_grams(query: str) -> list[str]:
    """What must all occur in a post for it to match: bigrams of each Japanese run,
    whole Latin words."""
    grams: list[str] = []
    for term in normalize(query).split():
        run = ""
        for char in term + " ":
            if is_cjk_char(char):
                run += char
                continue
            if run:
                grams += [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]
                run = ""
        latin = "".join(c if not is_cjk_char(c) else " " for c in term).split()
        grams += [w for w in latin if w.strip()]
    return list(dict.fromkeys(grams))


def matches(query: str, fields: Sequence[str]) -> bool:
    grams = query_grams(query)
    text = normalize("\n".join(fields))
    return bool(grams) and all(g in text for g in grams)
