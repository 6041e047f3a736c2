"""Search covers the body text, within a size budget per shard."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from tsuzuri.domain.model import PostSummary
from tsuzuri.domain.search_terms import BODY_CHARS, body_terms
from tsuzuri.rendering.search_index import SHARD_BUDGET_BYTES, build_shard, entry, matches

JST = ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True, slots=True)
class _Summary(PostSummary):
    # What PostSummary.search_text will carry once the parser fills it.
    search_text: str = ""


def _summary(n: int, search_text: str = "") -> _Summary:
    return _Summary(
        url=f"/2025/11/{n:02d}/p{n}/",
        title=f"記事{n}",
        date=datetime(2025, 11, 3, tzinfo=JST),
        excerpt="要約",
        search_text=search_text,
    )


BODY = (
    "AWS Lambda の cold start（コールドスタート）を短くする方法を説明します。"
    "Lambda は SnapStart で cold start を短縮できます。設定は node.js でも同じです。"
)


def test_a_query_finds_words_of_the_body() -> None:
    terms = body_terms(BODY)
    for query in ("lambda cold", "コールドスタート", "短縮", "snapstart 設定", "node.js"):
        assert matches(query, [terms]), query
    assert not matches("kubernetes", [terms])
    assert len(terms) < len(BODY)


def test_body_terms_keep_each_word_and_bigram_once() -> None:
    terms = body_terms("lambda Lambda LAMBDA、lambda. サーバーレスとサーバーレス")
    assert terms.split() == ["lambda", "サーバーレスとサ"]
    # What the title and headings already say is not repeated.
    assert body_terms("lambda の設計", seen=["Lambda の設計"]) == ""


def test_body_terms_need_no_json_escapes_and_respect_the_limit() -> None:
    terms = body_terms('say "hi" C:\\path\x07 ' + " ".join(f"w{i}" for i in range(2000)))
    assert '"' not in terms and "\\" not in terms and "\x07" not in terms
    assert len(terms) <= BODY_CHARS
    assert len(body_terms("語" * 10 + "x" * 50, limit=20)) <= 20


def test_the_shard_entry_carries_the_body() -> None:
    summary = _summary(1, body_terms(BODY))
    shard = build_shard(2025, [summary])
    (row,) = json.loads(shard.body)
    assert row[6] == summary.search_text
    assert matches("lambda cold", row[6:])
    # A summary without body terms keeps the six-field entry.
    assert len(entry(_summary(2))) == 6


def test_a_shard_stays_within_its_budget() -> None:
    long = " ".join(f"word{i}" for i in range(300))
    posts = [_summary(i, long if i % 2 else "短い本文") for i in range(200)]
    unlimited = build_shard(2025, posts, budget=10**9)
    budget = len(unlimited.body.encode()) // 2
    shard = build_shard(2025, posts, budget=budget)
    assert len(shard.body.encode()) <= budget
    rows = json.loads(shard.body)
    assert len(rows) == 200
    # Short bodies keep all of theirs; the long ones share the rest, cut at a word.
    assert all(r[6] == "短い本文" for r in rows[::2])
    cut = [r[6] for r in rows[1::2]]
    assert all(long.startswith(c) and not c.endswith(" ") for c in cut)
    assert min(len(c) for c in cut) > 0.8 * max(len(c) for c in cut)
    assert SHARD_BUDGET_BYTES >= 256 * 1024


def test_a_budget_smaller_than_the_bare_entries_drops_every_body() -> None:
    posts = [_summary(i, "lambda cold start") for i in range(5)]
    rows = json.loads(build_shard(2025, posts, budget=10).body)
    assert [len(r) for r in rows] == [6] * 5
