"""Bounds on every input that multiplies the work of a render, and blank-looking titles."""

from __future__ import annotations

import pytest
from tsuzuri.aws.store import TRANSACT_LIMIT
from tsuzuri.domain.frontmatter import split_front_matter
from tsuzuri.domain.keys import classify_key
from tsuzuri.domain.limits import (
    MAX_CATEGORIES,
    MAX_HEADINGS,
    MAX_REDIRECT_FROM,
    MAX_TAGS,
    TRANSACTION_ITEMS,
)
from tsuzuri.domain.model import Post
from tsuzuri.domain.post import check_headings, parse_post
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.domain.text import is_blank
from tsuzuri.errors import FieldError, TooLarge

SITE = SiteConfig(url="https://blog.example.com", title="t")


def post(front: str, body: str = "本文\n", site: SiteConfig = SITE) -> Post:
    raw = f"---\ntitle: a\n{front}\n---\n{body}".encode()
    return parse_post(classify_key("posts/2026-02-11-x.md"), raw, site)


def flow(prefix: str, count: int) -> str:
    return "[" + ", ".join(f"{prefix}{i}" for i in range(count)) + "]"


def test_the_limits_are_the_documented_ones() -> None:
    assert (MAX_TAGS, MAX_CATEGORIES, MAX_REDIRECT_FROM, MAX_HEADINGS) == (30, 6, 15, 500)


def test_a_post_at_every_limit_fits_one_publish_transaction() -> None:
    assert TRANSACTION_ITEMS <= TRANSACT_LIMIT == 100


# --------------------------------------------------------------------------- terms


def test_tags_up_to_the_limit_are_published() -> None:
    assert len(post(f"tags: {flow('t', MAX_TAGS)}").tags) == MAX_TAGS


@pytest.mark.parametrize("count", [MAX_TAGS + 1, 300, 1000])
def test_more_tags_are_refused_naming_the_limit_the_count_and_the_line(count: int) -> None:
    with pytest.raises(FieldError, match=rf"tags: {count:,} entries, over the limit of 30") as e:
        post(f"date: 2026-02-11\ntags: {flow('t', count)}")
    assert e.value.line == 4
    assert e.value.code == "bad-field"


def test_a_space_separated_tag_string_is_bounded_too() -> None:
    words = " ".join(f"t{i}" for i in range(MAX_TAGS + 1))
    with pytest.raises(FieldError, match="31 entries"):
        post(f"tags: {words}")


def test_the_singular_key_is_bounded_and_named() -> None:
    with pytest.raises(FieldError, match="tag: 31 entries"):
        post(f"tag: {flow('t', MAX_TAGS + 1)}")


def test_categories_are_bounded() -> None:
    assert len(post(f"categories: {flow('c', MAX_CATEGORIES)}").categories) == MAX_CATEGORIES
    with pytest.raises(FieldError, match="categories: 7 entries, over the limit of 6") as e:
        post(f"categories: {flow('c', MAX_CATEGORIES + 1)}")
    assert e.value.line == 3


def test_invisible_tag_entries_are_skipped_like_empty_ones() -> None:
    assert [t.name for t in post('tags: ["\\u200b", "\\u3164", AWS, ""]').tags] == ["AWS"]


# --------------------------------------------------------------------------- redirect_from


def test_redirects_are_bounded() -> None:
    paths = ", ".join(f"/old/{i}/" for i in range(MAX_REDIRECT_FROM))
    assert len(post(f"redirect_from: [{paths}]").redirect_from) == MAX_REDIRECT_FROM
    paths = ", ".join(f"/old/{i}/" for i in range(100))
    with pytest.raises(FieldError, match="redirect_from: 100 entries, over the limit of 15") as e:
        post(f"redirect_from: [{paths}]")
    assert e.value.line == 3


# --------------------------------------------------------------------------- headings


def headings(count: int) -> str:
    return "".join(f"## 見出し{i}\n\n本文\n\n" for i in range(count))


def test_headings_up_to_the_limit_are_published() -> None:
    assert len(post("", headings(MAX_HEADINGS)).headings) == MAX_HEADINGS


def test_more_headings_are_refused_with_the_line_of_the_first_one_over() -> None:
    with pytest.raises(TooLarge, match="2,000 headings, over the limit of 500") as e:
        post("", headings(2000))
    # The body starts on line 5; each heading takes four lines.
    assert e.value.line == 5 + 4 * MAX_HEADINGS
    assert e.value.code == "too-large"


@pytest.mark.parametrize(
    ("body", "count"),
    [
        ("# a\n## b\n###### c\n####### not\n#not\n", 3),
        ("title\n=====\n\ntext\n---\n\n---\n", 2),  # the last --- is a thematic break
        ("```\n# not\n```\n~~~~\n# not\n~~~\n# not\n~~~~\n# yes\n", 1),
        ("> # quoted\n> > ## deeper\n", 2),
        ("    # indented code\n", 0),
        ("<h2>raw</h2><H3 id=x>raw</h3>\n", 0),  # raw HTML gets no heading work
        ("- item\n\n# a\n", 1),
        ("- # in a list\n1. ## numbered\n", 2),
        ("a > b\n# a\n", 1),
    ],
)
def test_the_pre_count_follows_the_block_rules(body: str, count: int) -> None:
    import tsuzuri.domain.post as module

    front = split_front_matter(f"---\ntitle: a\n---\n{body}")
    limit = module.MAX_HEADINGS
    try:
        module.MAX_HEADINGS = count  # type: ignore[misc]
        check_headings(front)
        if count:
            module.MAX_HEADINGS = count - 1  # type: ignore[misc]
            with pytest.raises(TooLarge, match=f"{count} headings"):
                check_headings(front)
    finally:
        module.MAX_HEADINGS = limit  # type: ignore[misc]


def test_headings_the_pre_count_misses_are_counted_after_rendering() -> None:
    # Headings in nested list items escape the pre-count; the renderer's list catches them.
    body = "".join(f"- - # x{i}\n" for i in range(MAX_HEADINGS + 1))
    with pytest.raises(TooLarge, match="501 headings") as e:
        post("", body)
    assert e.value.line == 5


def test_raw_html_headings_are_not_counted() -> None:
    body = "".join(f"<h2>x{i}</h2>\n" for i in range(MAX_HEADINGS + 1))
    assert post("", body).headings == ()


# --------------------------------------------------------------------------- size


def test_the_size_report_names_the_real_size_of_a_capped_read() -> None:
    # The source bucket reads max_post_bytes + 1 bytes; S3 says how large the object is.
    raw = b"x" * (SITE.max_post_bytes + 1)
    with pytest.raises(TooLarge, match="the file is 5,400,019 bytes, over the 1,000,000"):
        parse_post(classify_key("posts/2026-02-11-x.md"), raw, SITE, size=5_400_019)
    with pytest.raises(TooLarge, match="the file is 1,000,001 bytes"):
        parse_post(classify_key("posts/2026-02-11-x.md"), raw, SITE)


def test_the_size_alone_refuses_a_post() -> None:
    with pytest.raises(TooLarge, match="2,000,000 bytes"):
        parse_post(classify_key("posts/2026-02-11-x.md"), b"---\n", SITE, size=2_000_000)


# --------------------------------------------------------------------------- blank titles


@pytest.mark.parametrize(
    "title",
    [
        "\u200b",  # zero width space
        "\u200b\u200c\u200d",  # with the joiners
        "\ufeff",  # BOM / zero width no-break space
        "\u2060\u2061",  # word joiner, function application
        "\u3164",  # Hangul filler (a letter to unicodedata, blank on screen)
        "\u115f\u1160\uffa0",
        "\u00ad",  # soft hyphen
        "\u200e\u200f\u202e",  # bidi marks and override
        "\u3000\u200b \t",  # with ideographic and ASCII spaces
        "\ufe0f",  # a lone variation selector
        "\U000e0041",  # a tag character
        "\u2800",  # braille blank
    ],
)
def test_a_title_of_invisible_characters_is_blank(title: str) -> None:
    assert is_blank(title)
    escaped = "".join(f"\\U{ord(c):08x}" for c in title)
    with pytest.raises(FieldError, match="title: must not be blank") as e:
        post(f'title: "{escaped}"'.replace("title: a\n", ""))
    assert e.value.line is not None


@pytest.mark.parametrize(
    "title", ["a", "\u200bタイトル", "🎉", "👨\u200d👩\u200d👧", "、", "\u0301e"]
)
def test_visible_titles_are_not_blank(title: str) -> None:
    assert not is_blank(title)
