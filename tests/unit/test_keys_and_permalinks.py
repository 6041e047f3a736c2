"""Source keys and Jekyll permalinks: URLs must equal the ones Jekyll 4 produces."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from tsuzuri.domain.keys import classify_key
from tsuzuri.domain.permalink import expand_permalink, normalize_url_path
from tsuzuri.domain.slugs import jekyll_slug
from tsuzuri.errors import KeyRejected, PermalinkError

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.mark.parametrize(
    ("key", "kind", "slug"),
    [
        ("posts/2026-02-11-hello-world.md", "post", "hello-world"),
        ("_posts/2026-02-11-hello-world.md", "post", "hello-world"),
        ("posts/2025-11-03-生成AIの基礎.md", "post", "生成AIの基礎"),
        ("posts/2026-01-01-old.markdown", "post", "old"),
        ("posts/2024/2024-01-01-nested.md", "post", "nested"),
        ("posts/2026-01-01-a b.md", "post", "a-b"),
        ("assets/images/x.svg", "asset", ""),
        ("_config.yml", "config", ""),
    ],
)
def test_accepted_keys(key: str, kind: str, slug: str) -> None:
    source = classify_key(key)
    assert (source.kind, source.slug) == (kind, slug)
    assert source.key.startswith(("posts/", "assets/", "_config"))


@pytest.mark.parametrize(
    "key",
    [
        "posts/../secret.md",
        "posts/./2026-01-01-x.md",
        "posts/.md",
        "posts/2026-01-01-.md",
        "posts/hello.md",
        "posts/2026-01-01-x.txt",
        "/posts/2026-01-01-x.md",
        "drafts/2026-01-01-x.md",
        "index.html",
        "posts/2026-01-01-x\x00.md",
        "posts//2026-01-01-x.md",
        "assets/",
        "",
    ],
)
def test_rejected_keys(key: str) -> None:
    with pytest.raises(KeyRejected):
        classify_key(key)


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("hello-world", "hello-world"),
        ("Hello World", "Hello-World"),  # pretty mode keeps case (cased: true)
        ("生成AIの基礎", "生成AIの基礎"),
        ("c++ tips", "c++-tips"),
        ("what?!", "what-!"),
        ("snake_case", "snake_case"),
        ("--trim--", "trim"),
    ],
)
def test_jekyll_pretty_slugify(text: str, slug: str) -> None:
    assert jekyll_slug(text) == slug


def test_permalink_uses_the_date_in_the_site_timezone() -> None:
    utc_evening = datetime.fromisoformat("2026-02-11T20:59:09+00:00").astimezone(TOKYO)
    assert (
        expand_permalink("/:year/:month/:day/:title/", date=utc_evening, slug="x")
        == "/2026/02/12/x/"
    )


def test_permalink_placeholders() -> None:
    date = datetime(2026, 3, 4, 5, 6, 7, tzinfo=TOKYO)
    url = expand_permalink(
        "/:categories/:short_year/:i_month/:i_day/:hour:minute:second/:title.html",
        date=date, slug="post", categories=["Cloud"],
    )  # fmt: skip
    assert url == "/cloud/26/3/4/050607/post.html"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("/about", "/about/"),
        ("/about/", "/about/"),
        ("/a/b.html", "/a/b.html"),
        ("/", "/"),
        ("/a//b/", "/a/b/"),
    ],
)
def test_normalized_permalinks(raw: str, clean: str) -> None:
    assert normalize_url_path(raw) == clean


@pytest.mark.parametrize(
    "raw",
    [
        "about/",
        "/../etc/passwd",
        "/a/../../b/",
        "//evil.example.com/",
        "https://x.example/",
        "/a\\b/",
        "/a?x=1",
        "",
    ],
)
def test_permalinks_outside_the_site_root_are_refused(raw: str) -> None:
    with pytest.raises(PermalinkError):
        normalize_url_path(raw)
