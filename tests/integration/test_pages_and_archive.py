"""Static pages (pages/*.md, pages/*.html) and the /archive/ pages, through the publisher."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.site import Site

from tests.support.site import post_text

ABOUT = """---
title: このブログについて
permalink: /about/
description: 運営者について
---

はじめの段落です。

## 書いている人

綴 太郎です。

## 方針

試したことだけを書きます。

## 連絡先

メールでどうぞ。
"""

CONTACT_HTML = """---
title: お問い合わせ
---
<p>ご連絡はメールで。</p>
<h2>連絡先</h2>
<p><a href="mailto:a@example.com" onclick="steal()">a@example.com</a></p>
<script>alert(1)</script>
"""


def test_markdown_page_is_rendered_with_the_theme_and_listed_in_the_sitemap(site: Site) -> None:
    result = site.publish("pages/about.md", ABOUT)
    assert [o.status for o in result.outcomes] == ["published"]
    html = site.page("/about/")
    assert html is not None
    assert '<h1 class="post-title">このブログについて</h1>' in html
    assert 'class="toc"' in html  # three h2 headings: a table of contents
    assert 'href="#書いている人"' in html
    assert '<link rel="canonical" href="https://blog.example.com/about/">' in html
    assert 'class="breadcrumbs"' in html
    report = site.report("pages/about.md")
    assert report["status"] == "published" and report["url"] == "/about/"

    sitemap = site.object("sitemaps/pages.xml")
    assert sitemap is not None
    assert "<loc>https://blog.example.com/about/</loc>" in sitemap["Text"]
    assert "/sitemaps/pages.xml" in (site.page("/sitemap.xml") or "")


def test_html_page_is_sanitized_and_gets_jekylls_default_url(site: Site) -> None:
    # The test site's permalink ends with "/", so pages/contact.html is /contact/ (Jekyll).
    site.publish("pages/contact.html", CONTACT_HTML)
    html = site.page("/contact/")
    assert html is not None
    assert "ご連絡はメールで。" in html
    assert "onclick" not in html and "alert(1)" not in html
    assert '<h2 id="連絡先">連絡先</h2>' in html


def test_deleting_a_page_unpublishes_it(site: Site) -> None:
    site.publish("pages/about.md", ABOUT)
    assert site.page("/about/") is not None
    result = site.unpublish("pages/about.md")
    assert [o.status for o in result.outcomes] == ["unpublished"]
    assert site.page("/about/") is None
    sitemap = site.object("sitemaps/pages.xml")
    assert sitemap is not None and "/about/" not in sitemap["Text"]
    assert site.report("pages/about.md")["status"] == "unpublished"


def test_changing_a_permalink_moves_the_page(site: Site) -> None:
    site.publish("pages/about.md", ABOUT)
    site.publish("pages/about.md", ABOUT.replace("permalink: /about/", "permalink: /profile/"))
    assert site.page("/about/") is None
    assert site.page("/profile/") is not None


def test_a_page_cannot_take_a_generated_or_a_post_url(site: Site) -> None:
    result = site.publish("pages/tags.md", "---\ntitle: x\npermalink: /tags/\n---\nx\n")
    (outcome,) = result.outcomes
    assert outcome.status == "rejected" and outcome.code == "url-collision"
    assert outcome.line == 3
    assert site.page("/tags/") is None or "<h1>x</h1>" not in (site.page("/tags/") or "")

    site.publish("posts/2026-02-11-hello.md", post_text("Hello"))
    result = site.publish("pages/clash.md", "---\ntitle: x\npermalink: /2026/02/12/hello/\n---\n")
    assert result.outcomes[0].status == "rejected"
    assert "Hello" in (site.page("/2026/02/12/hello/") or "")


def test_a_post_cannot_take_a_page_url(site: Site) -> None:
    site.publish("pages/about.md", ABOUT)
    result = site.publish(
        "posts/2026-02-11-about.md", post_text("About post", extra="permalink: /about/")
    )
    assert result.outcomes[0].status == "rejected"
    assert "このブログについて" in (site.page("/about/") or "")


def test_unpublished_page_is_hidden(site: Site) -> None:
    site.publish("pages/about.md", ABOUT)
    site.publish("pages/about.md", ABOUT.replace("---\n\n", "published: false\n---\n\n", 1))
    assert site.page("/about/") is None


def test_archive_groups_posts_by_year_and_month(site: Site) -> None:
    site.publish("posts/2025-03-01-a.md", post_text("三月の記事", "2025-03-01 10:00:00 +0900"))
    site.publish("posts/2025-03-20-b.md", post_text("三月の二本目", "2025-03-20 10:00:00 +0900"))
    site.publish("posts/2026-01-05-c.md", post_text("一月の記事", "2026-01-05 10:00:00 +0900"))

    index = site.page("/archive/")
    assert index is not None
    years = re.findall(r'<a href="/archive/(\d{4})/">', index)
    assert years == ["2026", "2025"]
    assert re.search(r'href="/archive/2025/#m03">3月<span class="term-count">\(2\)', index)
    year = site.page("/archive/2025/")
    assert year is not None
    assert '<h2 id="m03">2025年3月' in year
    assert year.index("三月の二本目") < year.index("三月の記事")  # newest first
    assert "/archive/2025/" in (site.object("sitemaps/lists.xml") or {}).get("Text", "")

    site.unpublish("posts/2026-01-05-c.md")
    assert site.page("/archive/2026/") is None
    assert "/archive/2026/" not in (site.page("/archive/") or "")


def test_search_index_is_sharded_by_year_and_updated_incrementally(site: Site) -> None:
    from tsuzuri.rendering.search_index import matches

    body = "## サーバーレスの設計\n\n本文です。\n\n## 運用\n\n監視します。\n"
    site.publish(
        "posts/2025-03-01-a.md",
        post_text("生成AIの導入", "2025-03-01 10:00:00 +0900", tags="[RAG, 生成AI]", body=body),
    )
    result = site.publish("posts/2026-01-05-c.md", post_text("年始", "2026-01-05 10:00:00 +0900"))
    # A 2026 post rewrites the 2026 shard and the manifest, not the 2025 shard.
    assert "search/posts-2026.json" in result.written
    assert "search/posts-2025.json" not in result.written
    manifest = site.json("/search/index.json")
    assert [s["url"] for s in manifest["shards"]] == [
        "/search/posts-2026.json",
        "/search/posts-2025.json",
    ]
    (entry,) = site.json("/search/posts-2025.json")
    url, title, date, tags, excerpt, headings, *body = entry  # body: when it has text
    assert (url, title, date, tags) == (
        "/2025/03/01/a/",
        "生成AIの導入",
        "2025-03-01",
        ["RAG", "生成AI"],
    )
    assert headings == ["サーバーレスの設計", "運用"]
    assert matches("サーバーレス 設計", [title, *tags, excerpt, *headings])
    assert matches("rag", [title, *tags, excerpt, *headings])
    assert not matches("コンテナ", [title, *tags, excerpt, *headings])
    assert matches("監視", body) and not matches("監視", [title, *tags, excerpt, *headings])

    search_page = site.page("/search/")
    assert search_page is not None
    assert '<form class="search-form" action="/search/" method="get" role="search">' in search_page
    assert re.search(r'<script src="/assets/theme/search\.[0-9a-f]{8}\.js" defer>', search_page)
    assert 'href="/archive/"' in search_page  # works without JavaScript

    site.unpublish("posts/2026-01-05-c.md")
    assert site.object("search/posts-2026.json") is None
    assert [s["url"] for s in site.json("/search/index.json")["shards"]] == [
        "/search/posts-2025.json"
    ]
