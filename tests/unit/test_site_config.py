"""_config.yml: Jekyll keys, tsuzuri's own keys, and errors an owner can act on."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
import yaml
from tsuzuri.domain.keys import classify_key
from tsuzuri.domain.model import Page, Term
from tsuzuri.domain.page import default_page_url, parse_page
from tsuzuri.domain.site_config import NavLink, SiteConfig
from tsuzuri.errors import ConfigError
from tsuzuri.related.wiring import related_settings
from tsuzuri.rendering.theme import Theme
from tsuzuri.settings import related_overrides

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "templates"

FULL = """
title: つづり技術ブログ
description: AI とクラウドの実践ノート
url: https://blog.example.com
author: 綴 太郎
lang: ja
timezone: Asia/Tokyo
permalink: /:year/:month/:day/:title/
paginate: 10
future: false
category_slugs:
  AI最新ニュース: latest
category_descriptions:
  AI最新ニュース: 生成AIの最新動向
tag_descriptions:
  生成AI: LLM の使い方
navigation:
  - title: このブログについて
    url: /about/
  - お問い合わせ: /contact/
social:
  x: "@tsuzuri_blog"
  github: tsuzuri-tech
github_username: ignored-when-social-says-so
linkedin_username: taro
related:
  count: 4
  window: 3
consulting_url: https://example.com/contact
"""


def test_the_example_config_loads() -> None:
    data = (REPO / "examples" / "_config.yml").read_bytes()
    raw = yaml.safe_load(data)
    site = SiteConfig.from_bytes(data)
    # Every key the example sets is read as written: a setting or, if it is not one, extra.
    assert site.navigation == tuple(NavLink(**link) for link in raw.pop("navigation"))
    assert site.social == raw.pop("social")
    settings = {f.name for f in fields(SiteConfig)}
    for key, value in raw.items():
        assert (getattr(site, key) if key in settings else site.extra[key]) == value, key
    assert site.extra.keys() == (raw.keys() - settings) | {"social"}


def test_every_key_is_read() -> None:
    site = SiteConfig.from_bytes(FULL.encode())
    assert site.navigation == (
        NavLink("このブログについて", "/about/"),
        NavLink("お問い合わせ", "/contact/"),
    )
    assert site.social == {"x": "@tsuzuri_blog", "github": "tsuzuri-tech", "linkedin": "taro"}
    assert [s for s, _, _ in site.social_links] == ["x", "github", "linkedin"]
    assert site.category_descriptions == {"AI最新ニュース": "生成AIの最新動向"}
    assert site.related == {"count": 4, "window": 3}
    assert site.extra["consulting_url"] == "https://example.com/contact"
    related = related_settings(site.related)
    assert (related.count, related.window) == (4, 3)
    overrides = related_overrides({"TSUZURI_RELATED_COUNT": "8"})
    assert related_settings(site.related, overrides).count == 8


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("navigation: /about/", "navigation must be a list"),
        ("navigation:\n  - title: About\n", "navigation entry 1 (About): url must be"),
        ("navigation:\n  - url: /about/\n", "navigation entry 1 needs a title"),
        ("navigation:\n  - title: x\n    url: javascript:alert(1)\n", "url must be a site path"),
        ("social:\n  myspace: me\n", "unknown service 'myspace'"),
        ("social:\n  x: 'not a handle'\n", "'not a handle' is not a user name"),
        ("category_slugs:\n  AI最新ニュース: late st\n", "'late st' is not a URL slug"),
        ("tag_descriptions: [a]", "tag_descriptions must map names to descriptions"),
        ("related:\n  weight: 3\n", "unknown setting 'weight'"),
        ("related:\n  count: many\n", "count must be a whole number"),
        ("paginate: 0", "paginate must be a positive integer"),
        ("timezone: Mars/Olympus", "not an IANA zone name"),
        ("title: [unclosed", "cannot be parsed"),
    ],
)
def test_errors_name_the_key_and_the_fix(yaml_text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SiteConfig.from_bytes(yaml_text.encode())


def test_fingerprint_tells_reindex_keys_from_render_keys() -> None:
    from tsuzuri.domain.site_config import REINDEX_KEYS

    a = SiteConfig(title="A")
    b = SiteConfig(title="B")
    c = SiteConfig(title="A", category_slugs={"AI最新ニュース": "latest"})
    assert a.fingerprint() != b.fingerprint()
    assert a.fingerprint(REINDEX_KEYS) == b.fingerprint(REINDEX_KEYS)
    assert a.fingerprint(REINDEX_KEYS) != c.fingerprint(REINDEX_KEYS)


def test_navigation_social_and_term_descriptions_render() -> None:
    site = SiteConfig.from_bytes(FULL.encode())
    theme = Theme(site, templates_dir=TEMPLATES)
    html = theme.render_list(
        title="AI最新ニュース",
        url="/category/latest/",
        posts=(),
        term=Term("category", "AI最新ニュース", "latest"),
    )
    assert '<li><a href="/about/">このブログについて</a></li>' in html
    assert '<li><a href="/contact/">お問い合わせ</a></li>' in html
    assert 'href="https://github.com/tsuzuri-tech"' in html
    assert 'href="https://www.linkedin.com/in/taro"' in html
    assert '<p class="list-description">生成AIの最新動向</p>' in html
    assert '<meta name="twitter:site" content="@tsuzuri_blog">' in html


@pytest.mark.parametrize(
    ("key", "permalink", "url"),
    [
        ("pages/about.md", "/:year/:month/:day/:title/", "/about/"),
        ("pages/about.md", "/:categories/:year/:month/:day/:title:output_ext", "/about.html"),
        ("pages/docs/index.md", "/:year/:month/:day/:title/", "/docs/"),
        ("pages/docs/setup.html", "/:year/:month/:day/:title/", "/docs/setup/"),
    ],
)
def test_page_urls_follow_jekyll(key: str, permalink: str, url: str) -> None:
    assert default_page_url(key, SiteConfig(permalink=permalink)) == url


def test_page_keys_are_classified() -> None:
    assert classify_key("pages/about.md").kind == "page"
    assert classify_key("pages/legal/privacy.html").kind == "page"
    with pytest.raises(Exception, match="is not a page"):
        classify_key("pages/logo.png")


def test_page_renders_with_toc_and_breadcrumbs() -> None:
    text = "---\ntitle: 概要\n---\n\n## 一\n\n## 二\n\n## 三\n"
    page = parse_page(classify_key("pages/about.md"), text.encode(), SiteConfig())
    assert isinstance(page, Page) and page.url == "/about/"
    html = Theme(SiteConfig(), templates_dir=TEMPLATES).render_page(page)
    assert '<nav class="toc"' in html
    assert '<li aria-current="page">概要</li>' in html


def test_search_grams_are_japanese_bigrams_and_latin_words() -> None:
    from tsuzuri.rendering.search_index import matches, query_grams

    assert query_grams("生成AI 導入") == ["生成", "ai", "導入"]
    assert query_grams("サーバーレス") == ["サー", "ーバ", "バー", "ーレ", "レス"]
    assert query_grams("Ｌａｍｂｄａ 冷") == ["lambda", "冷"]
    assert matches("レス", ["サーバーレスの設計"])
    assert not matches("設計 Kubernetes", ["サーバーレスの設計"])
    assert not matches("   ", ["なんでも"])
