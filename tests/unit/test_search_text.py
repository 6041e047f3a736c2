"""The parser fills a post's body terms and Liquid warning; the cards keep the terms
only where asked (the month cards), and read them back."""

from __future__ import annotations

from dataclasses import replace

from tsuzuri.aws.lists import summary_fields, summary_from_fields
from tsuzuri.domain.keys import classify_key
from tsuzuri.domain.model import Post
from tsuzuri.domain.page import parse_page
from tsuzuri.domain.post import parse_post
from tsuzuri.domain.search_terms import BODY_CHARS
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.rendering.search_index import entry, matches

SITE = SiteConfig(title="つづり", url="https://blog.example.com")

POST = """---
title: 計測の記録
date: 2026-02-21 10:00:00 +0900
tags: [AWS, サーバーレス]
---
## 設計の方針

Lambda の cold start を測りました。サーバーレスでも AWS でも同じです。

{body}
"""


def _post(body: str = "") -> Post:
    raw = POST.format(body=body).encode("utf-8")
    return parse_post(classify_key("posts/2026-02-21-a.md"), raw, SITE)


def test_the_body_terms_leave_out_the_title_tags_and_headings() -> None:
    post = _post()
    words = post.search_text.split()
    assert {"lambda", "cold", "start"} <= set(words)
    assert "aws" not in words  # a tag
    assert not any("設計" in w or "サーバーレス" in w for w in words)  # a heading, a tag
    assert post.summary().search_text == post.search_text
    assert matches("lambda cold start", [str(f) for f in entry(post.summary())[6:]])


def test_the_body_terms_are_capped() -> None:
    body = " ".join(f"word{n}" for n in range(2000))
    assert len(_post(body).search_text) <= BODY_CHARS


def test_the_body_terms_do_not_make_a_summary_differ() -> None:
    # A list page shows none of it: a change there alone re-renders no list.
    summary = _post().summary()
    assert replace(summary, search_text="") == summary


def test_cards_hold_the_body_terms_only_when_asked() -> None:
    summary = _post().summary()
    assert "search_text" not in summary_fields(summary)
    card = summary_fields(summary, search_text=True)
    assert card["search_text"] == summary.search_text
    assert summary_from_fields(card).search_text == summary.search_text
    assert summary_from_fields(summary_fields(summary)).search_text == ""
    # A post without body terms stores no empty string.
    assert summary_fields(replace(summary, search_text=""), search_text=True)["search_text"] is None


def test_unsupported_liquid_is_kept_for_the_report() -> None:
    post = _post("{% include cta.html %}")
    assert post.liquid_warning.startswith("Liquid is shown as text: {% include cta.html %}")
    assert _post().liquid_warning == ""
    raw = "---\ntitle: ページ\n---\n{{ page.title | upcase }}\n".encode()
    page = parse_page(classify_key("pages/a.md"), raw, SITE)
    assert "{{ page.title | upcase }} (line 4)" in page.liquid_warning
