"""Post URLs for every Jekyll permalink style equal the ones a real Jekyll 4 build gave.

The expected URLs were built by ``jekyll build`` from tests/fixtures/jekyll/site (see
tests/fixtures/jekyll/build_expected.py), so these tests need no Ruby.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from tsuzuri.domain.keys import classify_key
from tsuzuri.domain.page import default_page_url
from tsuzuri.domain.permalink import (
    PERMALINK_STYLES,
    PLACEHOLDERS,
    expand_permalink,
    jekyll_categories,
    jekyll_default_slug,
    normalize_url_path,
    unknown_placeholders,
)
from tsuzuri.domain.post import parse_post
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.errors import PermalinkError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "jekyll"
EXPECTED = json.loads((FIXTURE / "expected_permalinks.json").read_text(encoding="utf-8"))
CASES = [
    (pattern, path, url) for pattern, urls in EXPECTED["urls"].items() for path, url in urls.items()
]


@pytest.mark.parametrize(("pattern", "path", "jekyll_url"), CASES)
def test_post_urls_equal_jekylls(pattern: str, path: str, jekyll_url: str) -> None:
    source = classify_key(path)  # _posts/a/x.md is posts/a/x.md
    site = SiteConfig(permalink=pattern, future=True)
    post = parse_post(source, (FIXTURE / "site" / path).read_bytes(), site)
    # Jekyll's URL is percent-encoded; tsuzuri keeps it as text, as Jekyll's file name.
    assert post.url == normalize_url_path(jekyll_url)


def test_every_style_and_placeholder_is_covered_by_the_fixture() -> None:
    assert set(PERMALINK_STYLES) <= EXPECTED["urls"].keys()
    used = " ".join(EXPECTED["urls"])
    for name in PLACEHOLDERS:
        assert f":{name}" in used, name


def test_subfolder_twins_have_jekylls_one_url() -> None:
    urls = EXPECTED["urls"]["/:year/:month/:day/:title/"]
    assert urls["_posts/a/2026-05-20-twin.md"] == urls["_posts/b/2026-05-20-twin.md"]
    a, b = classify_key("_posts/a/2026-05-20-twin.md"), classify_key("posts/b/2026-05-20-twin.md")
    assert (a.key, b.key) == ("posts/a/2026-05-20-twin.md", "posts/b/2026-05-20-twin.md")
    assert (a.slug, a.filename_date, a.stem, a.path_below) == (
        "twin", "2026-05-20", "2026-05-20-twin", "/a/2026-05-20-twin"
    )  # fmt: skip


def test_categories_are_read_as_jekyll_reads_them() -> None:
    assert jekyll_categories({"categories": "Tech Notes"}) == ["Tech", "Notes"]
    assert jekyll_categories({"category": "Tech Notes"}) == ["Tech Notes"]
    assert jekyll_categories({"category": "A", "categories": ["B"]}) == ["A"]
    assert jekyll_categories({"categories": ["AI", None, ["x", 2026], True]}) == [
        "AI", "x", "2026", "true"
    ]  # fmt: skip
    assert jekyll_categories({}) == []


def test_default_slugify() -> None:
    assert jekyll_default_slug("Custom-Slug!") == "custom-slug"
    assert jekyll_default_slug("生成AIの基礎") == "生成aiの基礎"
    assert jekyll_default_slug("c++ tips") == "c-tips"


def test_site_timezone_decides_the_day() -> None:
    evening = datetime.fromisoformat("2026-02-11T20:59:09+00:00").astimezone(ZoneInfo("Asia/Tokyo"))
    assert expand_permalink("pretty", date=evening, slug="x", categories=["AI"]) == (
        "/ai/2026/02/12/x/"
    )


def test_jekylls_sanitizing_of_dots_and_percent() -> None:
    day = datetime(2026, 1, 2, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert expand_permalink("/:title/", date=day, slug="a..b") == "/a/b/"
    assert expand_permalink("/:title/", date=day, slug="v1.") == "/v1/"
    assert expand_permalink("/:categories/:title/", date=day, slug="x", categories=["100%41"]) == (
        "/100%41/x/"
    )


def test_unknown_placeholders_are_named() -> None:
    assert unknown_placeholders("/:year/:titel/") == [":titel"]
    assert unknown_placeholders("pretty") == []
    assert unknown_placeholders("/:title_/") == []
    day = datetime(2026, 1, 2, tzinfo=ZoneInfo("Asia/Tokyo"))
    with pytest.raises(PermalinkError, match=":titel"):
        expand_permalink("/:titel/", date=day, slug="x")


@pytest.mark.parametrize(
    ("permalink", "url"),
    [("pretty", "/about/"), ("date", "/about.html"), ("none", "/about.html"),
     ("ordinal", "/about.html"), ("/:year/:title/", "/about/")],
)  # fmt: skip
def test_page_urls_follow_the_style(permalink: str, url: str) -> None:
    assert default_page_url("pages/about.md", SiteConfig(permalink=permalink)) == url
