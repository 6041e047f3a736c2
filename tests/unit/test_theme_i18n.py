"""The theme speaks the site's language (ja, en), a site may reword it, and the small
things a reader sees: TOC numbering, one site title, a home meta description."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from tsuzuri.domain.model import Post, PostSummary, Term
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.markdown.render import Heading
from tsuzuri.rendering.i18n import (
    STRINGS,
    check_ui,
    missing_description_warning,
    ui_language,
    ui_strings,
)
from tsuzuri.rendering.theme import Theme, build_toc, self_numbered

JST = ZoneInfo("Asia/Tokyo")
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
DATE = datetime(2025, 11, 3, 10, 48, tzinfo=JST)
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _site(**changes: object) -> SiteConfig:
    raw: dict[str, object] = {
        "title": "Tsuzuri Notes",
        "description": "Notes on serverless",
        "url": "https://blog.example.com",
        "lang": "en",
        **changes,
    }
    return SiteConfig.from_mapping(raw)


def _post(headings: tuple[Heading, ...] = ()) -> Post:
    return Post(
        source_key="posts/2025-11-03-cold-start.md",
        slug="cold-start",
        url="/2025/11/03/cold-start/",
        title="Cold starts",
        date=DATE,
        body_html="<p>Body</p>",
        excerpt="Body",
        description="Body",
        tags=(Term("tag", "lambda", "lambda"),),
        categories=(Term("category", "aws", "aws"),),
        headings=headings,
        last_modified_at=datetime(2025, 11, 20, tzinfo=JST),
    )


def _summary(title: str = "Other") -> PostSummary:
    return PostSummary(url="/2025/11/01/other/", title=title, date=DATE, excerpt="…")


def _pages(theme: Theme) -> dict[str, str]:
    tag = Term("tag", "lambda", "lambda")
    return {
        "post": theme.render_post(
            _post(), previous=_summary(), next=_summary(), related=[_summary()]
        ),
        "home": theme.render_list(title=theme.site.title, url="/", posts=[_summary()]),
        "tag": theme.render_list(
            title="lambda", url="/tags/lambda/", posts=[], term=tag, older_url="/page1/"
        ),
        "tags": theme.render_term_index(title="タグ一覧", url="/tags/", terms=[(tag, 1)]),
        "archive": theme.render_archive_index([(2025, [(11, 1)])]),
        "year": theme.render_archive_year(2025, [(11, [_summary()])]),
        "search": theme.render_search(),
        "404": theme.render_not_found(),
        "redirect": theme.render_redirect("/new/"),
    }


def _visible_text(html: str) -> str:
    # The text a reader sees or hears: no tags, no JSON-LD; attributes read aloud kept.
    html = re.sub(r"<script.*?</script>|<style>.*?</style>", "", html, flags=re.DOTALL)
    labels = " ".join(re.findall(r'(?:aria-label|placeholder|data-[a-z]+)="([^"]*)"', html))
    return re.sub(r"<[^>]+>", " ", html) + " " + labels


def test_english_pages_have_no_japanese_interface_text() -> None:
    for name, html in _pages(Theme(_site(), templates_dir=TEMPLATES)).items():
        assert not JAPANESE.search(_visible_text(html)), (name, JAPANESE.findall(html)[:10])


def test_english_strings() -> None:
    pages = _pages(Theme(_site(), templates_dir=TEMPLATES))
    post = pages["post"]
    assert "November 3, 2025" in post
    assert "Updated: <time" in post and "November 20, 2025" in post
    assert "1 min read" in post
    assert "<h2>Related posts</h2>" in post
    assert ">Home</a>" in post
    assert 'aria-label="Breadcrumb"' in post
    assert "<title>Tags | Tsuzuri Notes</title>" in pages["tags"]
    assert "<h1>Posts from 2025</h1>" in pages["year"]
    assert "November 2025" in pages["year"] and "November" in pages["archive"]
    assert 'data-date="{month_name} {day}, {year}"' in pages["search"]
    assert 'data-months="January,February,' in pages["search"]
    assert '<a href="/archive/">Archive</a>' in pages["search"]
    assert "Page not found" in pages["404"]
    assert 'Taking you to <a href="https://blog.example.com/new/">' in pages["redirect"]


def test_json_ld_and_html_say_the_sites_language() -> None:
    pages = _pages(Theme(_site(), templates_dir=TEMPLATES))
    for name in ("post", "home"):
        html = pages[name]
        assert '<html lang="en">' in html
        blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html)
        languages = [json.loads(b).get("inLanguage") for b in blocks]
        assert "en" in languages and "ja" not in languages, name
    assert 'content="en_US"' in pages["post"]


def test_japanese_is_unchanged() -> None:
    site = _site(lang="ja", title="つづり", description="説明")
    pages = _pages(Theme(site, templates_dir=TEMPLATES))
    assert "2025年11月3日" in pages["post"]
    assert "約1分で読めます" in pages["post"]
    assert "<h2>関連記事</h2>" in pages["post"]
    assert ">ホーム</a>" in pages["post"]
    assert '"inLanguage":"ja"' in pages["post"]
    assert "<title>タグ一覧 | つづり</title>" in pages["tags"]
    assert "2025年11月" in pages["year"]


@pytest.mark.parametrize(
    ("lang", "table"), [("ja", "ja"), ("ja-JP", "ja"), ("en", "en"), ("en_GB", "en"), ("fr", "en")]
)
def test_language_tables(lang: str, table: str) -> None:
    assert ui_language(lang) == table


def test_both_tables_have_the_same_keys_and_placeholders() -> None:
    assert set(STRINGS["ja"]) == set(STRINGS["en"])
    for key, text in STRINGS["ja"].items():
        assert set(re.findall(r"{(\w+)}", STRINGS["en"][key])) <= set(
            re.findall(r"{(\w+)}", text)
        ) | {"month_name"}, key


def test_config_overrides_the_wording() -> None:
    site = _site(ui={"related": "You may also like", "date": "{day} {month_name} {year}"})
    html = Theme(site, templates_dir=TEMPLATES).render_post(
        _post(), previous=None, next=None, related=[]
    )
    assert "<h2>You may also like</h2>" in html
    assert "3 November 2025" in html
    assert check_ui(site) == []


def test_bad_overrides_are_ignored_and_reported() -> None:
    site = _site(
        ui={
            "relatd": "typo",
            "related": 3,
            "reading_time": "{minutes} minutes, {title.__class__}",
            "date": "{year",
        }
    )
    strings = ui_strings(site)
    assert strings["related"] == "Related posts"
    assert strings["reading_time"] == "{minutes} min read"
    assert strings["date"] == "{month_name} {day}, {year}"
    problems = check_ui(site)
    assert len(problems) == 4
    assert any("unknown key 'relatd'" in p for p in problems)
    assert check_ui(_site(ui="nope")) != []
    Theme(site, templates_dir=TEMPLATES).render_not_found()  # still renders


def test_interface_text_is_escaped() -> None:
    site = _site(ui={"related": "<b>x</b>", "moved_text": "<i>go</i> {link}"})
    theme = Theme(site, templates_dir=TEMPLATES)
    html = theme.render_post(_post(), previous=None, next=None, related=[])
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    redirect = theme.render_redirect('/x/"><script>')
    assert "&lt;i&gt;go&lt;/i&gt;" in redirect and "<script>" not in redirect


# -- the table of contents -------------------------------------------------------------


def test_the_toc_does_not_number_headings_that_carry_numbers() -> None:
    numbered = (
        Heading(2, "1-月額の内訳", "1. 月額の内訳"),
        Heading(3, "a", "内訳の詳細"),
        Heading(3, "b", "その他"),
        Heading(2, "2-料金プラン比較", "2. 料金プラン比較"),
    )
    html = Theme(_site(lang="ja"), templates_dir=TEMPLATES).render_post(
        _post(numbered), previous=None, next=None, related=[]
    )
    toc = html[html.index('<nav class="toc"') : html.index("</nav>", html.index('class="toc"'))]
    assert toc.count('<ol class="toc-plain">') == 1  # the h2 list; its h3 list is numbered
    assert '<a href="#1-月額の内訳">1. 月額の内訳</a>' in toc
    plain = (Heading(2, "x", "概要"), Heading(2, "y", "設定"), Heading(2, "z", "まとめ"))
    html = Theme(_site(lang="ja"), templates_dir=TEMPLATES).render_post(
        _post(plain), previous=None, next=None, related=[]
    )
    assert 'class="toc-plain"' not in html and '<nav class="toc"' in html


@pytest.mark.parametrize(
    ("text", "numbered"),
    [
        ("1. 月額の内訳", True),
        ("１．全角", True),
        ("第2章 設計", True),
        ("Step 3: deploy", True),
        ("② 丸数字", True),
        ("Ⅳ ローマ数字", True),
        ("Q1. よくある質問", True),
        ("概要", False),
        ("AWS 2025", False),
        ("Steps", False),
    ],
)
def test_self_numbered(text: str, numbered: bool) -> None:
    assert self_numbered([Heading(2, "x", text)]) is numbered


def test_build_toc_is_unchanged() -> None:
    headings = (Heading(2, "a", "A"), Heading(3, "b", "B"), Heading(2, "c", "C"))
    assert [e.heading.id for e in build_toc(headings)] == ["a", "c"]


# -- the home page ----------------------------------------------------------------------


def test_the_home_page_shows_the_site_title_once() -> None:
    html = Theme(_site(), templates_dir=TEMPLATES).render_list(
        title="Tsuzuri Notes", url="/", posts=[_summary()]
    )
    body = html[html.index("<body") : html.index('<footer class="site-footer">')]
    visible = re.sub(r'<h1 class="visually-hidden">.*?</h1>', "", body)
    assert visible.count("Tsuzuri Notes") == 1
    assert '<h1 class="visually-hidden">Tsuzuri Notes</h1>' in body  # still one h1


def test_a_home_page_without_a_description_gets_a_default_one() -> None:
    site = _site(description="")
    html = Theme(site, templates_dir=TEMPLATES).render_list(
        title="Tsuzuri Notes", url="/", posts=[]
    )
    assert '<meta name="description" content="The latest posts on Tsuzuri Notes.">' in html
    ja = Theme(_site(lang="ja", description="", title="つづり"), templates_dir=TEMPLATES)
    assert '<meta name="description" content="つづりの最新記事の一覧です。">' in ja.render_list(
        title="つづり", url="/", posts=[]
    )
    tag = ja.render_list(title="x", url="/tags/x/", posts=[], term=Term("tag", "x", "x"))
    assert '<meta name="description" content="「x」タグの記事の一覧です。">' in tag
    warning = missing_description_warning(site)
    assert warning is not None and "description" in warning
    assert missing_description_warning(_site()) is None
