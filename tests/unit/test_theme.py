"""The Jinja2 theme: pages, feed, sitemaps, escaping and static assets."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import jinja2
import pytest
from tsuzuri.domain.model import Post, PostSummary, Term
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.errors import ConfigError
from tsuzuri.markdown.render import Heading
from tsuzuri.rendering.assets import style_source
from tsuzuri.rendering.seo import json_for_script
from tsuzuri.rendering.theme import Theme, build_toc, content_security_policy

JST = ZoneInfo("Asia/Tokyo")
BASE = "https://blog.example.jp"
ATOM = "{http://www.w3.org/2005/Atom}"
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
REPO_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
HOSTILE = '"><script>alert(1)</script>'


# ----- fixtures -----------------------------------------------------------------------


@pytest.fixture
def site() -> SiteConfig:
    return SiteConfig(
        title="つづりの技術ブログ",
        description="サーバーレスで書く日々のメモ",
        url=BASE + "/",
        author="",
        lang="ja",
        timezone="Asia/Tokyo",
    )


@pytest.fixture
def theme(site: SiteConfig) -> Theme:
    return Theme(site, templates_dir=REPO_TEMPLATES)


def make_post(**changes: object) -> Post:
    post = Post(
        source_key="posts/2026-02-12-serverless.md",
        slug="serverless",
        url="/2026/02/12/serverless/",
        title="サーバーレスでブログを公開する",
        date=datetime(2026, 2, 12, 5, 59, 9, tzinfo=JST),
        body_html='<h2 id="intro">はじめに</h2>\n<p>本文です。<strong>強調</strong></p>',
        excerpt="S3 と CloudFront だけでブログを公開する方法。",
        description="S3 と CloudFront で Jekyll のブログを再ビルドなしで公開する。",
        tags=(Term("tag", "AWS", "aws"), Term("tag", "Python", "python")),
        categories=(Term("category", "AI最新ニュース", "latest"),),
        author="山田太郎",
        image="/assets/images/cover.png",
        reading_time=4,
    )
    return replace(post, **changes)  # type: ignore[arg-type]


def summary(n: int, **changes: object) -> PostSummary:
    item = PostSummary(
        url=f"/2026/01/{n:02d}/post-{n}/",
        title=f"過去の記事その{n}",
        date=datetime(2026, 1, n, 21, 0, tzinfo=JST),
        excerpt=f"{n}番目の記事の抜粋です。",
        tags=("AWS", "日記"),
    )
    return replace(item, **changes)  # type: ignore[arg-type]


def render(theme: Theme, post: Post | None = None, **kwargs: object) -> str:
    args: dict[str, object] = {"previous": None, "next": None, "related": ()}
    args.update(kwargs)
    return theme.render_post(post or make_post(), **args)  # type: ignore[arg-type]


# ----- a small HTML inspector ---------------------------------------------------------


class Doc(HTMLParser):
    """Elements with their attributes, plus the text of <title> and every <script>."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self.title = ""
        self.text_by_tag: dict[str, list[str]] = {}
        self._open: list[tuple[str, dict[str, str]]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        if tag not in {"meta", "link", "img", "br", "hr", "input"}:
            self._open.append((tag, attributes))
        if tag == "script":
            self.scripts.append((attributes, ""))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                del self._open[i:]
                break

    def handle_data(self, data: str) -> None:
        if not self._open:
            return
        tag = self._open[-1][0]
        if tag == "title":
            self.title += data
        elif tag == "script":
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        self.text_by_tag.setdefault(tag, []).append(data)

    def find_all(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            a
            for t, a in self.elements
            if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def meta(self, key: str) -> str | None:
        for attributes in self.find_all("meta"):
            if attributes.get("name") == key or attributes.get("property") == key:
                return attributes.get("content")
        return None

    def json_ld(self) -> list[dict[str, object]]:
        return [
            json.loads(text)
            for attrs, text in self.scripts
            if attrs.get("type") == "application/ld+json"
        ]


def section(html: str, css_class: str, tag: str = "section") -> str:
    match = re.search(rf'<{tag}\b[^>]*\bclass="{css_class}"[^>]*>(.*?)</{tag}>', html, re.S)
    assert match, f"no <{tag} class={css_class!r}>"
    return match.group(1)


# ----- post page: head ----------------------------------------------------------------


def test_post_head_basics(theme: Theme) -> None:
    html = render(theme)
    doc = Doc(html)
    assert '<html lang="ja">' in html
    assert '<meta charset="utf-8">' in html
    assert doc.meta("viewport") == "width=device-width, initial-scale=1"
    assert doc.title == "サーバーレスでブログを公開する | つづりの技術ブログ"
    assert doc.meta("description") == make_post().description
    assert doc.find_all("link", rel="canonical") == [
        {"rel": "canonical", "href": BASE + "/2026/02/12/serverless/"}
    ]
    assert doc.meta("robots") is None
    feeds = doc.find_all("link", rel="alternate", type="application/atom+xml")
    assert [f["href"] for f in feeds] == ["/feed.xml"]


def test_post_robots_and_explicit_canonical(theme: Theme) -> None:
    post = make_post(robots="noindex, nofollow", canonical_url="https://other.example.com/x/")
    doc = Doc(render(theme, post))
    assert doc.meta("robots") == "noindex, nofollow"
    assert doc.find_all("link", rel="canonical")[0]["href"] == "https://other.example.com/x/"
    assert doc.meta("og:url") == "https://other.example.com/x/"


def test_site_relative_canonical_is_made_absolute(theme: Theme) -> None:
    doc = Doc(render(theme, make_post(canonical_url="/2020/01/01/original/")))
    assert doc.find_all("link", rel="canonical")[0]["href"] == BASE + "/2020/01/01/original/"


def test_description_falls_back_to_excerpt(theme: Theme) -> None:
    doc = Doc(render(theme, make_post(description="")))
    assert doc.meta("description") == make_post().excerpt


def test_ogp_and_twitter_card(theme: Theme) -> None:
    doc = Doc(render(theme))
    post = make_post()
    assert doc.meta("og:title") == post.title
    assert doc.meta("og:description") == post.description
    assert doc.meta("og:image") == BASE + "/assets/images/cover.png"
    assert doc.meta("og:url") == BASE + post.url
    assert doc.meta("og:type") == "article"
    assert doc.meta("og:site_name") == "つづりの技術ブログ"
    assert doc.meta("og:locale") == "ja_JP"
    assert doc.meta("twitter:card") == "summary_large_image"
    assert doc.meta("twitter:image") == BASE + "/assets/images/cover.png"
    assert doc.meta("article:published_time") == "2026-02-12T05:59:09+09:00"


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("assets/cover.png", BASE + "/assets/cover.png"),
        (
            "/assets/日本語 画像.png",
            BASE + "/assets/%E6%97%A5%E6%9C%AC%E8%AA%9E%20%E7%94%BB%E5%83%8F.png",
        ),
        ("https://cdn.example.com/a.png", "https://cdn.example.com/a.png"),
        ("//cdn.example.com/a.png", "https://cdn.example.com/a.png"),
    ],
)
def test_og_image_is_absolute(theme: Theme, image: str, expected: str) -> None:
    doc = Doc(render(theme, make_post(image=image)))
    assert doc.meta("og:image") == expected
    blog_posting = doc.json_ld()[0]
    assert blog_posting["image"] == [expected]


def test_no_image_means_no_og_image_and_summary_card(theme: Theme) -> None:
    html = render(theme, make_post(image=None))
    doc = Doc(html)
    assert doc.meta("og:image") is None
    assert doc.meta("twitter:image") is None
    assert doc.meta("twitter:card") == "summary"
    assert "image" not in doc.json_ld()[0]


def test_og_locale_follows_site_lang(site: SiteConfig) -> None:
    theme = Theme(replace(site, lang="en"), templates_dir=REPO_TEMPLATES)
    html = render(theme)
    assert '<html lang="en">' in html
    assert Doc(html).meta("og:locale") == "en_US"


def test_twitter_site_handle_from_site_extra(site: SiteConfig) -> None:
    theme = Theme(replace(site, extra={"twitter": {"username": "tsuzuri_dev"}}), REPO_TEMPLATES)
    assert Doc(render(theme)).meta("twitter:site") == "@tsuzuri_dev"
    assert Doc(render(Theme(site, REPO_TEMPLATES))).meta("twitter:site") is None


# ----- post page: JSON-LD -------------------------------------------------------------


def test_json_ld_blog_posting(theme: Theme) -> None:
    modified = datetime(2026, 2, 20, 1, 0, tzinfo=UTC)
    data = Doc(render(theme, make_post(last_modified_at=modified))).json_ld()
    assert [d["@type"] for d in data] == ["BlogPosting", "BreadcrumbList"]
    posting = data[0]
    assert posting["@context"] == "https://schema.org"
    assert posting["headline"] == "サーバーレスでブログを公開する"
    assert posting["datePublished"] == "2026-02-12T05:59:09+09:00"
    assert posting["dateModified"] == "2026-02-20T10:00:00+09:00"
    assert posting["author"] == {"@type": "Person", "name": "山田太郎"}
    assert posting["image"] == [BASE + "/assets/images/cover.png"]
    assert posting["mainEntityOfPage"] == {
        "@type": "WebPage",
        "@id": BASE + "/2026/02/12/serverless/",
    }
    assert posting["publisher"] == {
        "@type": "Organization",
        "name": "つづりの技術ブログ",
        "url": BASE + "/",
    }


def test_json_ld_date_modified_defaults_to_date(theme: Theme) -> None:
    posting = Doc(render(theme)).json_ld()[0]
    assert posting["dateModified"] == posting["datePublished"] == "2026-02-12T05:59:09+09:00"


def test_json_ld_author_falls_back_to_site(site: SiteConfig) -> None:
    theme = Theme(replace(site, author="つづり編集部"), REPO_TEMPLATES)
    posting = Doc(render(theme, make_post(author=None))).json_ld()[0]
    assert posting["author"] == {"@type": "Person", "name": "つづり編集部"}
    # Without any author, the publisher stands in.
    posting = Doc(render(Theme(site, REPO_TEMPLATES), make_post(author=None))).json_ld()[0]
    assert posting["author"]["@type"] == "Organization"  # type: ignore[index]


def test_json_ld_breadcrumbs(theme: Theme) -> None:
    crumbs = Doc(render(theme)).json_ld()[1]
    items = crumbs["itemListElement"]
    assert [(i["position"], i["name"], i["item"]) for i in items] == [  # type: ignore[attr-defined]
        (1, "ホーム", BASE + "/"),
        (2, "AI最新ニュース", BASE + "/category/latest/"),
        (3, "サーバーレスでブログを公開する", BASE + "/2026/02/12/serverless/"),
    ]
    no_category = Doc(render(theme, make_post(categories=()))).json_ld()[1]
    assert len(no_category["itemListElement"]) == 2  # type: ignore[arg-type]


def test_json_for_script_escapes_breakout_characters() -> None:
    text = str(json_for_script({"a": "</script><!-- & \u2028"}))
    assert "<" not in text
    assert ">" not in text
    assert "&" not in text
    assert "\\u003c/script\\u003e" in text
    assert json.loads(text) == {"a": "</script><!-- & \u2028"}


# ----- post page: body and furniture ------------------------------------------------------


def test_time_element_uses_site_timezone(theme: Theme) -> None:
    html = render(theme)
    assert '<time class="published" datetime="2026-02-12T05:59:09+09:00">2026年2月12日</time>' in (
        html
    )
    # A UTC date is shown on the Tokyo calendar day.
    utc_post = make_post(date=datetime(2026, 2, 11, 20, 59, 9, tzinfo=UTC))
    assert 'datetime="2026-02-12T05:59:09+09:00">2026年2月12日<' in render(theme, utc_post)


def test_updated_date_shown_only_when_on_another_day(theme: Theme) -> None:
    same_day = make_post(last_modified_at=datetime(2026, 2, 12, 9, 0, tzinfo=JST))
    assert "更新:" not in render(theme, same_day)
    later = make_post(last_modified_at=datetime(2026, 3, 1, 9, 0, tzinfo=JST))
    assert 'datetime="2026-03-01T09:00:00+09:00">2026年3月1日</time>' in render(theme, later)


def test_author_and_reading_time(theme: Theme) -> None:
    html = render(theme)
    assert '<span class="post-author">山田太郎</span>' in html
    assert "約4分で読めます" in html
    assert 'class="post-author"' not in render(theme, make_post(author=None))


def test_category_and_tag_links(theme: Theme) -> None:
    doc = Doc(render(theme))
    category_links = [a for a in doc.find_all("a") if a.get("class") == "category"]
    assert [a["href"] for a in category_links] == ["/category/latest/"]
    tags = doc.find_all("a", rel="tag")
    assert [a["href"] for a in tags] == ["/tags/aws/", "/tags/python/"]
    assert "AI最新ニュース</a>" in render(theme)


def test_non_ascii_term_slugs_are_percent_encoded_in_links(theme: Theme) -> None:
    doc = Doc(render(theme, make_post(tags=(Term("tag", "日記", "日記"),))))
    assert doc.find_all("a", rel="tag")[0]["href"] == "/tags/%E6%97%A5%E8%A8%98/"


def test_body_is_inserted_unescaped_inside_post_body(theme: Theme) -> None:
    html = render(theme)
    body = section(html, "post-body", "div")
    assert '<h2 id="intro">はじめに</h2>' in body
    assert "<strong>強調</strong>" in body


def test_toc_with_three_or_more_headings(theme: Theme) -> None:
    headings = (
        Heading(2, "intro", "はじめに"),
        Heading(3, "setup", "準備"),
        Heading(4, "detail", "細部"),
        Heading(2, "deploy", "デプロイ"),
    )
    html = render(theme, make_post(headings=headings))
    toc = section(html, "toc", "nav")
    assert re.findall(r'href="#([^"]+)"', toc) == ["intro", "setup", "deploy"]
    # h3 is nested under its h2.
    assert re.search(r'href="#intro">はじめに</a>\s*<ol>\s*<li><a href="#setup">', toc)
    assert "細部" not in toc


def test_no_toc_with_fewer_than_three_headings(theme: Theme) -> None:
    headings = (Heading(2, "a", "A"), Heading(3, "b", "B"), Heading(4, "c", "C"))
    assert 'class="toc"' not in render(theme, make_post(headings=headings))
    assert 'class="toc"' not in render(theme, make_post(headings=()))


def test_build_toc_handles_leading_h3() -> None:
    toc = build_toc([Heading(3, "a", "A"), Heading(2, "b", "B"), Heading(3, "c", "C")])
    assert [(e.heading.id, [c.id for c in e.children]) for e in toc] == [
        ("a", []),
        ("b", ["c"]),
    ]


def test_previous_and_next_links(theme: Theme) -> None:
    older, newer = summary(1), summary(2)
    doc = Doc(render(theme, previous=older, next=newer))
    assert doc.find_all("a", rel="prev")[0]["href"] == older.url
    assert doc.find_all("a", rel="next")[0]["href"] == newer.url
    html = render(theme, previous=older, next=newer)
    assert older.title in section(html, "post-nav", "nav")
    assert newer.title in section(html, "post-nav", "nav")


def test_previous_and_next_omitted_when_none(theme: Theme) -> None:
    html = render(theme)
    assert 'rel="prev"' not in html
    assert 'rel="next"' not in html
    assert 'class="post-nav"' not in html
    only_prev = render(theme, previous=summary(1))
    assert 'rel="prev"' in only_prev
    assert 'rel="next"' not in only_prev


def test_related_posts(theme: Theme) -> None:
    related = [summary(3), summary(4)]
    html = render(theme, related=related)
    body = section(html, "related-posts")
    assert "<h2>関連記事</h2>" in body
    for item in related:
        assert f'<a href="{item.url}">{item.title}</a>' in body
        assert item.excerpt in body
    assert 'datetime="2026-01-03T21:00:00+09:00">2026年1月3日</time>' in body


def test_related_posts_empty_state(theme: Theme) -> None:
    html = render(theme, related=())
    body = section(html, "related-posts")
    assert "<h2>関連記事</h2>" in body
    assert "<ul" not in body
    assert "<li" not in body
    assert "関連記事はまだありません" in body


def test_share_links(theme: Theme) -> None:
    post = make_post(url="/2026/02/12/日本語/", title="共有 & テスト?")
    doc = Doc(render(theme, post))
    canonical = BASE + "/2026/02/12/%E6%97%A5%E6%9C%AC%E8%AA%9E/"
    links = {a["class"]: a["href"] for a in doc.find_all("a") if "share-" in a.get("class", "")}
    assert set(links) == {"share-x", "share-facebook", "share-linkedin", "share-hatena"}
    expected = {
        "share-x": ("x.com", "url"),
        "share-facebook": ("www.facebook.com", "u"),
        "share-linkedin": ("www.linkedin.com", "url"),
        "share-hatena": ("b.hatena.ne.jp", "url"),
    }
    for css_class, (host, param) in expected.items():
        parts = urlsplit(links[css_class])
        assert parts.scheme == "https"
        assert parts.netloc == host
        query = parse_qs(parts.query)
        assert query[param] == [canonical]
    assert parse_qs(urlsplit(links["share-x"]).query)["text"] == ["共有 & テスト?"]
    assert parse_qs(urlsplit(links["share-hatena"]).query)["title"] == ["共有 & テスト?"]


def test_breadcrumbs_header_and_footer(theme: Theme) -> None:
    html = render(theme)
    crumbs = section(html, "breadcrumbs", "nav")
    assert re.findall(r'href="([^"]+)"', crumbs) == ["/", "/category/latest/"]
    assert '<li aria-current="page">サーバーレスでブログを公開する</li>' in crumbs
    assert '<a class="site-title" href="/">つづりの技術ブログ</a>' in html
    footer = section(html, "site-footer", "footer")
    assert 'href="/feed.xml"' in footer
    assert 'href="/tags/"' in footer


def test_no_third_party_requests_or_scripts(theme: Theme) -> None:
    html = render(theme, related=[summary(1)], previous=summary(2))
    doc = Doc(html)
    assert all(attrs.get("type") == "application/ld+json" for attrs, _ in doc.scripts)
    assert not [a for _, a in doc.elements if "src" in a]
    stylesheets = doc.find_all("link", rel="stylesheet")
    print_css = theme.asset_url("print.css")
    assert [(s["href"], s["media"]) for s in stylesheets] == [(print_css, "print")]
    assert stylesheets[0]["href"].startswith("/assets/theme/print.")


# ----- escaping -----------------------------------------------------------------------


def hostile_post() -> Post:
    return make_post(
        title="</title><script>alert(1)</script>",
        description=HOSTILE,
        excerpt="</script><script>alert(1)</script>",
        author=HOSTILE,
        image=HOSTILE,
        robots=HOSTILE,
        canonical_url="javascript:alert(1)",
        tags=(Term("tag", HOSTILE, HOSTILE), Term("tag", "</script>", "x")),
        categories=(Term("category", HOSTILE, HOSTILE),),
        headings=(
            Heading(2, HOSTILE, HOSTILE),
            Heading(2, "b", "</script><script>alert(1)</script>"),
            Heading(3, "c", "c"),
        ),
        body_html="<p>safe</p>",
    )


def hostile_summary() -> PostSummary:
    return PostSummary(
        url="/2026/01/01/x/",
        title="</title><script>alert(1)</script>",
        date=datetime(2026, 1, 1, tzinfo=JST),
        excerpt=HOSTILE,
        image=HOSTILE,
        tags=(HOSTILE, "</script>"),
    )


def assert_no_raw_script(html: str) -> None:
    assert "<script>alert" not in html
    assert "<script>" not in html
    assert '"><script' not in html


def test_post_page_escapes_every_field(theme: Theme) -> None:
    post = hostile_post()
    html = render(
        theme, post, previous=hostile_summary(), next=hostile_summary(), related=[hostile_summary()]
    )
    assert_no_raw_script(html)
    doc = Doc(html)
    # Exactly the two JSON-LD scripts; both still valid JSON holding the original strings.
    assert len(doc.scripts) == 2
    posting, crumbs = doc.json_ld()
    assert posting["headline"] == post.title
    assert posting["description"] == HOSTILE
    assert posting["author"] == {"@type": "Person", "name": HOSTILE}
    assert crumbs["itemListElement"][1]["name"] == HOSTILE  # type: ignore[index]
    # Text round-trips through the parser: it was escaped, not stripped.
    assert doc.title == f"{post.title} | つづりの技術ブログ"
    assert doc.meta("description") == HOSTILE
    assert doc.meta("robots") == HOSTILE
    og_image = doc.meta("og:image")
    assert og_image is not None
    assert og_image.startswith(BASE + "/")
    assert "<" not in og_image
    assert '"' not in og_image
    # javascript: never becomes a URL of its own.
    canonical = doc.find_all("link", rel="canonical")[0]["href"]
    assert canonical.startswith(BASE + "/")
    assert all(not a.get("href", "").startswith("javascript:") for a in doc.find_all("a"))


def test_list_page_escapes_every_field(theme: Theme) -> None:
    html = theme.render_list(
        title=HOSTILE,
        url="/tags/x/",
        posts=[hostile_summary()],
        term=Term("tag", HOSTILE, HOSTILE),
        newer_url="javascript:alert(1)",
        older_url=HOSTILE,
        description=HOSTILE,
    )
    assert_no_raw_script(html)
    doc = Doc(html)
    assert all(not a.get("href", "").startswith("javascript:") for a in doc.find_all("a"))
    for data in doc.json_ld():
        assert data["@type"] == "BreadcrumbList"


def test_feed_and_sitemap_escape_text(theme: Theme) -> None:
    feed = theme.render_feed([hostile_summary()], updated=datetime(2026, 2, 1, tzinfo=JST))
    assert_no_raw_script(feed)
    entry = ET.fromstring(feed).find(f"{ATOM}entry")
    assert entry is not None
    assert entry.findtext(f"{ATOM}title") == "</title><script>alert(1)</script>"
    assert entry.findtext(f"{ATOM}summary") == HOSTILE
    sitemap = theme.render_sitemap([("/" + HOSTILE, None)])
    assert_no_raw_script(sitemap)
    ET.fromstring(sitemap)


def test_redirect_escapes_target(theme: Theme) -> None:
    html = theme.render_redirect(HOSTILE)
    assert_no_raw_script(html)
    assert Doc(html).find_all("link", rel="canonical")[0]["href"].startswith(BASE + "/")


def test_control_characters_are_dropped_so_xml_stays_valid(theme: Theme) -> None:
    feed = theme.render_feed(
        [summary(1, title="制御\x0b文字\x00", excerpt="a\x1fb")],
        updated=datetime(2026, 2, 1, tzinfo=JST),
    )
    entry = ET.fromstring(feed).find(f"{ATOM}entry")
    assert entry is not None
    assert entry.findtext(f"{ATOM}title") == "制御文字"
    assert entry.findtext(f"{ATOM}summary") == "ab"


def test_environment_autoescapes_and_is_strict(theme: Theme) -> None:
    env = theme.environment
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ post.titel }}").render(post=make_post())
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ nothing_here }}").render()


def test_template_typo_raises(tmp_path: Path, site: SiteConfig) -> None:
    templates = tmp_path / "theme"
    shutil.copytree(REPO_TEMPLATES, templates)
    post_template = templates / "post.html.j2"
    post_template.write_text(
        post_template.read_text(encoding="utf-8").replace("{{ post.title }}", "{{ post.titel }}"),
        encoding="utf-8",
    )
    with pytest.raises(jinja2.UndefinedError):
        render(Theme(site, templates_dir=templates))


# ----- list pages ---------------------------------------------------------------------


def test_home_page_list(theme: Theme) -> None:
    posts = [summary(3), summary(2), summary(1)]
    html = theme.render_list(title="つづりの技術ブログ", url="/", posts=posts, older_url="/page/2/")
    doc = Doc(html)
    assert doc.title == "つづりの技術ブログ"
    assert doc.find_all("link", rel="canonical")[0]["href"] == BASE + "/"
    assert doc.meta("og:type") == "website"
    assert doc.json_ld()[0]["@type"] == "WebSite"
    listing = section(html, "container", "main")
    assert len(re.findall(r'<article class="post-card">', listing)) == 3
    for item in posts:
        assert f'<a href="{item.url}">{item.title}</a>' in listing
        assert item.excerpt in listing
    assert '<time datetime="2026-01-03T21:00:00+09:00">2026年1月3日</time>' in listing
    assert "<li>日記</li>" in listing
    assert doc.find_all("a", rel="next")[0]["href"] == "/page/2/"
    assert "過去の記事" in html
    assert 'rel="prev"' not in html


def test_paginated_archive_page(theme: Theme) -> None:
    html = theme.render_list(
        title="2ページ目",
        url="/page/2/",
        posts=[summary(1)],
        newer_url="/",
        older_url="/page/3/",
    )
    doc = Doc(html)
    assert doc.title == "2ページ目 | つづりの技術ブログ"
    newer = doc.find_all("a", rel="prev")
    older = doc.find_all("a", rel="next")
    assert [a["href"] for a in newer] == ["/"]
    assert [a["href"] for a in older] == ["/page/3/"]
    assert re.search(r'rel="prev">[^<]*新しい記事', html)
    assert re.search(r'rel="next">[^<]*過去の記事', html)


@pytest.mark.parametrize(
    ("term", "kind_label"),
    [
        (Term("tag", "サーバーレス", "serverless"), "タグ"),
        (Term("category", "AI最新ニュース", "latest"), "カテゴリー"),
    ],
)
def test_term_pages_use_term_name_as_heading(theme: Theme, term: Term, kind_label: str) -> None:
    html = theme.render_list(
        title=f"{term.name}の記事一覧", url=term.url, posts=[summary(1)], term=term
    )
    assert f"<h1>{term.name}</h1>" in html
    assert kind_label in section(html, "list-header", "header")
    doc = Doc(html)
    assert doc.title == f"{term.name}の記事一覧 | つづりの技術ブログ"
    assert doc.find_all("link", rel="canonical")[0]["href"] == BASE + term.url
    crumbs = doc.json_ld()[0]["itemListElement"]
    assert [c["name"] for c in crumbs] == ["ホーム", term.name]  # type: ignore[attr-defined]


def test_empty_list(theme: Theme) -> None:
    html = theme.render_list(title="空", url="/tags/none/", posts=[], description="説明文")
    assert "記事はまだありません" in html
    assert 'class="post-list"' not in html
    assert Doc(html).meta("description") == "説明文"


def test_term_index(theme: Theme) -> None:
    terms = [(Term("tag", "AWS", "aws"), 3), (Term("tag", "日記", "日記"), 1)]
    html = theme.render_term_index(title="タグ一覧", url="/tags/", terms=terms)
    doc = Doc(html)
    assert [a["href"] for a in doc.find_all("a", rel="tag")] == [
        "/tags/aws/",
        "/tags/%E6%97%A5%E8%A8%98/",
    ]
    assert "(3)" in html


# ----- feed, sitemaps, robots, 404, redirect ----------------------------------------------


def test_atom_feed(theme: Theme) -> None:
    posts = [summary(3), summary(2), summary(1, url="/2026/01/01/日本語/")]
    xml = theme.render_feed(posts, updated=datetime(2026, 2, 12, 5, 59, 9, tzinfo=JST))
    assert xml.startswith('<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(xml)
    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{ATOM}id") == BASE + "/"
    assert root.findtext(f"{ATOM}title") == "つづりの技術ブログ"
    assert root.findtext(f"{ATOM}updated") == "2026-02-12T05:59:09+09:00"
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert links == {"self": BASE + "/feed.xml", "alternate": BASE + "/"}
    assert root.find(f"{ATOM}author/{ATOM}name") is not None
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 3
    for entry, post in zip(entries, posts, strict=True):
        for child in ("id", "title", "link", "updated", "published", "summary"):
            assert entry.find(f"{ATOM}{child}") is not None, child
        assert entry.findtext(f"{ATOM}title") == post.title
        assert entry.findtext(f"{ATOM}summary") == post.excerpt
        link = entry.find(f"{ATOM}link")
        assert link is not None
        href = link.get("href", "")
        assert href.startswith(BASE + "/")
        assert entry.findtext(f"{ATOM}id") == href
        assert entry.findtext(f"{ATOM}published", "").endswith("+09:00")
    assert entries[2].findtext(f"{ATOM}id") == BASE + "/2026/01/01/%E6%97%A5%E6%9C%AC%E8%AA%9E/"
    assert len(entries[0].findall(f"{ATOM}category")) == 2


def test_feed_entry_updated_uses_lastmod_when_present(theme: Theme) -> None:
    if "lastmod" not in {f.name for f in fields(PostSummary)}:
        pytest.skip("PostSummary has no lastmod")
    edited = replace(summary(1), lastmod=datetime(2026, 2, 1, 3, 0, tzinfo=UTC))
    xml = theme.render_feed([edited, summary(2)], updated=datetime(2026, 2, 1, tzinfo=JST))
    first, second = ET.fromstring(xml).findall(f"{ATOM}entry")
    assert first.findtext(f"{ATOM}published") == "2026-01-01T21:00:00+09:00"
    assert first.findtext(f"{ATOM}updated") == "2026-02-01T12:00:00+09:00"
    assert second.findtext(f"{ATOM}updated") == second.findtext(f"{ATOM}published")


def test_empty_feed_is_valid(theme: Theme) -> None:
    root = ET.fromstring(theme.render_feed([], updated=datetime(2026, 1, 1, tzinfo=UTC)))
    assert root.findall(f"{ATOM}entry") == []
    assert root.findtext(f"{ATOM}updated") == "2026-01-01T09:00:00+09:00"


def test_sitemap(theme: Theme) -> None:
    entries = [
        ("/", datetime(2026, 2, 12, tzinfo=JST)),
        ("/2026/02/12/日本語/", datetime(2026, 2, 11, 15, 0, tzinfo=UTC)),
        ("/tags/aws/", None),
    ]
    root = ET.fromstring(theme.render_sitemap(entries))
    assert root.tag == f"{SM}urlset"
    urls = root.findall(f"{SM}url")
    assert len(urls) == 3
    assert [u.findtext(f"{SM}loc") for u in urls] == [
        BASE + "/",
        BASE + "/2026/02/12/%E6%97%A5%E6%9C%AC%E8%AA%9E/",
        BASE + "/tags/aws/",
    ]
    assert [u.findtext(f"{SM}lastmod") for u in urls] == [
        "2026-02-12T00:00:00+09:00",
        "2026-02-12T00:00:00+09:00",
        None,
    ]


def test_sitemap_escapes_ampersand(theme: Theme) -> None:
    xml = theme.render_sitemap([("/search/?a=1&b=2", None)])
    assert "&amp;" in xml
    assert ET.fromstring(xml).findtext(f"{SM}url/{SM}loc") == BASE + "/search/?a=1&b=2"


def test_sitemap_index(theme: Theme) -> None:
    sitemaps = [
        ("/sitemap-posts.xml", datetime(2026, 2, 12, tzinfo=JST)),
        ("/sitemap-pages.xml", None),
    ]
    root = ET.fromstring(theme.render_sitemap_index(sitemaps))
    assert root.tag == f"{SM}sitemapindex"
    items = root.findall(f"{SM}sitemap")
    assert len(items) == 2
    assert items[0].findtext(f"{SM}loc") == BASE + "/sitemap-posts.xml"
    assert items[0].findtext(f"{SM}lastmod") == "2026-02-12T00:00:00+09:00"
    assert items[1].find(f"{SM}lastmod") is None


def test_robots(theme: Theme) -> None:
    text = theme.render_robots()
    lines = text.splitlines()
    assert "User-agent: *" in lines
    assert "Allow: /" in lines
    assert f"Sitemap: {BASE}/sitemap.xml" in lines
    assert "Disallow: /" not in lines


def test_not_found_page(theme: Theme) -> None:
    html = theme.render_not_found()
    doc = Doc(html)
    assert doc.meta("robots") is None  # served with status 404: never indexed anyway
    assert "ページが見つかりません" in doc.title
    assert '<a class="site-title" href="/">' in html
    # Served at arbitrary paths, so every link and asset is root-relative.
    hrefs = [a["href"] for a in doc.find_all("a")] + [link["href"] for link in doc.find_all("link")]
    assert all(h.startswith(("/", "#")) for h in hrefs)


def test_redirect_page(theme: Theme) -> None:
    html = theme.render_redirect("/2026/02/12/新しい記事/")
    target = BASE + "/2026/02/12/%E6%96%B0%E3%81%97%E3%81%84%E8%A8%98%E4%BA%8B/"
    doc = Doc(html)
    assert doc.find_all("link", rel="canonical")[0]["href"] == target
    refresh = [m for m in doc.find_all("meta") if m.get("http-equiv") == "refresh"]
    assert refresh == [{"http-equiv": "refresh", "content": f"0; url={target}"}]
    assert doc.meta("robots") == "noindex"
    assert doc.find_all("a", href=target)
    assert not doc.scripts


# ----- helpers, assets and theme discovery ----------------------------------------------------


def test_absolute_url(theme: Theme) -> None:
    assert theme.absolute_url("/") == BASE + "/"
    assert theme.absolute_url("/a/日本/") == BASE + "/a/%E6%97%A5%E6%9C%AC/"
    assert theme.absolute_url("/a/%E6%97%A5/") == BASE + "/a/%E6%97%A5/"  # idempotent
    assert theme.absolute_url("/100%/") == BASE + "/100%25/"
    assert theme.absolute_url("/a b/#見出し") == BASE + "/a%20b/#%E8%A6%8B%E5%87%BA%E3%81%97"
    assert theme.absolute_url("http://x.example/é") == "http://x.example/%C3%A9"
    assert theme.absolute_url("javascript:alert(1)") == BASE + "/javascript:alert(1)"


def test_date_filters(theme: Theme) -> None:
    env = theme.environment
    moment = datetime(2026, 2, 11, 20, 59, 9, 123456, tzinfo=UTC)
    rendered = env.from_string("{{ d|date_iso }} {{ d|date_ja }}").render(d=moment)
    assert rendered == "2026-02-12T05:59:09+09:00 2026年2月12日"
    other = datetime(2026, 2, 12, 5, 59, 9, tzinfo=timezone(timedelta(hours=-5)))
    assert theme.date_iso(other) == "2026-02-12T19:59:09+09:00"
    assert theme.date_iso(datetime(2026, 2, 12, 5, 59, 9)) == "2026-02-12T05:59:09+09:00"


def test_static_files(theme: Theme) -> None:
    files = theme.static_files()
    css_keys = [k for k in files if k.endswith(".css")]
    assert len(css_keys) == 1
    key = css_keys[0]
    assert re.fullmatch(r"assets/theme/print\.[0-9a-f]{8}\.css", key)
    data, content_type = files[key]
    assert content_type == "text/css; charset=utf-8"
    assert data == (REPO_TEMPLATES / "static" / "print.css").read_bytes()
    assert theme.asset_url("print.css") == "/" + key
    with pytest.raises(KeyError):
        theme.asset_url("missing.css")


def test_static_hash_changes_with_content(tmp_path: Path, site: SiteConfig) -> None:
    templates = tmp_path / "theme"
    shutil.copytree(REPO_TEMPLATES, templates)
    before = Theme(site, templates_dir=templates)
    (templates / "static" / "print.css").write_text("body { color: red; }\n", encoding="utf-8")
    after = Theme(site, templates_dir=templates)
    assert before.asset_url("print.css") != after.asset_url("print.css")
    changed = set(before.static_files()) ^ set(after.static_files())
    assert {k.rsplit(".", 1)[-1] for k in changed} == {"css"}  # only the edited file moves
    assert after.asset_url("print.css") in render(after)
    # Same content, same key: deterministic across instances.
    assert Theme(site, templates_dir=templates).static_files().keys() == after.static_files().keys()


def test_stylesheet_content() -> None:
    css = (REPO_TEMPLATES / "inline" / "site.css").read_text(encoding="utf-8")
    print_css = (REPO_TEMPLATES / "static" / "print.css").read_text(encoding="utf-8")
    assert "prefers-color-scheme: dark" in css
    assert "@page" in print_css
    assert ".site-nav" in print_css
    assert "line-height: 1.8" in css
    assert "line-break: strict" in css
    assert "overflow-wrap: anywhere" in css
    assert "Hiragino" in css
    assert "sans-serif" in css
    assert ".highlight .k" in css
    assert ".highlight .s" in css
    # Token rules exist for both light and dark.
    assert css.count(".highlight .k {") == 2
    for forbidden in ("@import", "@font-face", "url(http", "url(//"):
        assert forbidden not in css
        assert forbidden not in print_css


_STYLE_ELEMENT = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def test_the_policy_allows_exactly_the_inline_stylesheet_of_every_page(theme: Theme) -> None:
    pages = {
        "post": render(theme, related=[summary(1)], previous=summary(2)),
        "not found": theme.render_not_found(),
        "search": theme.render_search(),
        "tag index": theme.render_term_index(title="タグ", url="/tags/", terms=[]),
    }
    policy = content_security_policy()
    style_src = next(d for d in policy.split("; ") if d.startswith("style-src "))
    for kind, html in pages.items():
        styles = _STYLE_ELEMENT.findall(html)
        assert styles == [str(theme.inline_style("site.css"))], kind
        assert style_src == f"style-src 'self' {style_source(styles[0])}", kind
        # Print rules come after the inline ones, so they win when printing.
        assert html.index("<style>") < html.index('media="print"'), kind
    compact = styles[0]
    assert "/*" not in compact and "\n\n" not in compact
    assert "line-break: strict" in compact


def test_the_policy_follows_the_stylesheet(tmp_path: Path, site: SiteConfig) -> None:
    templates = tmp_path / "theme"
    shutil.copytree(REPO_TEMPLATES, templates)
    before = content_security_policy(templates)
    (templates / "inline" / "site.css").write_text("body { color: red; }\n", encoding="utf-8")
    after = content_security_policy(templates)
    assert before != after
    assert style_source("body { color: red; }") in after
    assert "<style>body { color: red; }</style>" in render(Theme(site, templates_dir=templates))


def test_an_inline_stylesheet_that_could_close_its_element_is_refused(
    tmp_path: Path, site: SiteConfig
) -> None:
    templates = tmp_path / "theme"
    shutil.copytree(REPO_TEMPLATES, templates)
    (templates / "inline" / "site.css").write_text("a::after { content: '</style><b>'; }\n")
    with pytest.raises(ConfigError, match=r"site\.css"):
        Theme(site, templates_dir=templates)


def test_templates_dir_default_is_repo_templates(site: SiteConfig) -> None:
    theme = Theme(site)
    package = Path(sys.modules["tsuzuri"].__file__ or "").parent
    assert theme.templates_dir.resolve() in {
        REPO_TEMPLATES.resolve(),
        (package / "theme").resolve(),  # the Lambda layer's copy
    }
    assert "<!DOCTYPE html>" in theme.render_not_found()


def test_missing_templates_dir_is_a_config_error(tmp_path: Path, site: SiteConfig) -> None:
    with pytest.raises(ConfigError):
        Theme(site, templates_dir=tmp_path / "nope")


def test_import_does_not_pull_in_pygments() -> None:
    code = "import sys, tsuzuri.rendering.theme; print('pygments' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
