"""parse_post on inputs that once escaped the error hierarchy or clobbered generated pages."""

from __future__ import annotations

import pytest
from tsuzuri.domain.keys import classify_key
from tsuzuri.domain.permalink import normalize_url_path, reserved_path
from tsuzuri.domain.post import parse_post
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.errors import DateError, FieldError, PermalinkError

SITE = SiteConfig(url="https://blog.example.com", title="t")


def parse(front: str, key: str = "posts/2026-02-11-x.md") -> str:
    raw = f"---\n{front}\n---\n本文\n".encode()
    return parse_post(classify_key(key), raw, SITE).url


@pytest.mark.parametrize("key", ["posts/2026-13-45-x.md", "posts/2025-02-29-x.md"])
def test_an_impossible_filename_date_is_a_date_error(key: str) -> None:
    # Was a bare ValueError: the render function retried it until the dead-letter queue.
    with pytest.raises(DateError, match="file name") as caught:
        parse("title: a", key=key)
    assert caught.value.hint and "rename" in caught.value.hint


def test_an_impossible_filename_date_is_fine_with_a_front_matter_date() -> None:
    # As in Jekyll: the filename date is only read when the front matter has none.
    assert parse("title: a\ndate: 2026-01-01", key="posts/2026-13-45-x.md") == "/2026/01/01/x/"


@pytest.mark.parametrize(
    "front",
    [
        "permalink: /",
        "permalink: /index.html",
        "permalink: /feed.xml",
        "permalink: /sitemap.xml",
        "permalink: /robots.txt",
        "permalink: /404.html",
        "permalink: /tags/",
        "permalink: /tags/aws/",
        "permalink: /category/クラウド/",
        "permalink: /page2/",
        "permalink: /sitemaps/posts-2026.xml",
        "permalink: /assets/theme/site.css",
        "redirect_from: /",
        "redirect_from: [/old/, /tags/aws/]",
        "redirect_from: /feed.xml",
    ],
)
def test_a_post_cannot_take_a_generated_page(front: str) -> None:
    with pytest.raises(PermalinkError, match="taken"):
        parse(f"title: a\n{front}")


def test_a_slug_that_maps_onto_a_generated_page_is_refused() -> None:
    site = SiteConfig(url="https://blog.example.com", title="t", permalink="/:title/")
    raw = b"---\ntitle: a\n---\nx\n"
    with pytest.raises(PermalinkError, match="taken"):
        parse_post(classify_key("posts/2026-02-11-tags.md"), raw, site)


@pytest.mark.parametrize("url", ["/pages/", "/tags.html", "/feed.xml/", "/page/", "/about/", "/x/"])
def test_ordinary_paths_are_not_reserved(url: str) -> None:
    assert reserved_path(url) is None


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("/%E7%94%9F%E6%88%90/", "/生成/"),  # Jekyll writes this page as 生成/index.html
        ("/100%/", "/100%/"),  # a lone % is no escape and stays
        ("/a%20b/", "/a b/"),
    ],
)
def test_percent_escapes_in_permalinks_are_decoded(raw: str, clean: str) -> None:
    assert normalize_url_path(raw) == clean


@pytest.mark.parametrize(
    "raw", ["/%2e%2e/%2e%2e/x/", "/a/%2E%2E/%2e%2E/b/", "/a%2fb%3fc/", "/%00/", "/%5c../", "/%FF/"]
)
def test_encoded_escapes_are_refused_once_decoded(raw: str) -> None:
    with pytest.raises(PermalinkError):
        normalize_url_path(raw)


def test_an_empty_list_entry_is_named_plainly() -> None:
    with pytest.raises(FieldError, match="not empty"):
        parse("title: a\ntags: [~, a]")


def test_a_duplicate_anchor_is_named_in_the_report() -> None:
    # libyaml's problem is only "second occurrence"; the context says what is wrong.
    from tsuzuri.domain.frontmatter import split_front_matter
    from tsuzuri.errors import FrontMatterError

    with pytest.raises(FrontMatterError, match="duplicate anchor") as caught:
        split_front_matter("---\ntitle: a\nx: &d 1\ny: &d 2\n---\n")
    assert caught.value.hint == "each &name may be defined only once"


@pytest.mark.parametrize("front", ["!!int ", "title: !!int", "title: a\nx: !!int ''", "!!float "])
def test_an_empty_typed_scalar_is_a_front_matter_error(front: str) -> None:
    # Found by tests/unit/test_fuzz.py: PyYAML raised IndexError, which escaped as a crash.
    from tsuzuri.errors import FrontMatterError

    with pytest.raises(FrontMatterError):
        parse(front)
