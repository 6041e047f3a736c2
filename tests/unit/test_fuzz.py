"""Property tests (Hypothesis) over front matter, Markdown and whole pages.

Properties, for any input:

* parsing a post raises nothing but :class:`~tsuzuri.errors.InputRejected` subclasses
  (anything else would be retried by the render function until the dead-letter queue);
* the body, the post page, list pages and the feed always parse, and carry nothing a
  browser would run (:mod:`tests.support.html_safety`): no ``<script>`` but JSON-LD that
  parses, no ``on*=`` attribute, no ``javascript:``/``vbscript:``/``data:`` URL, whatever
  text is put in any field.

``make test`` runs a modest number of examples per property; ``make test-slow`` runs the
same properties with many more (the ``*_slow`` twins).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tsuzuri.domain.keys import classify_key
from tsuzuri.domain.model import Post
from tsuzuri.domain.post import KNOWN_KEYS, parse_post
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.errors import InputRejected
from tsuzuri.markdown.render import render_markdown

from tests.support.html_safety import html_problems, xml_problems

SITE = SiteConfig(url="https://blog.example.com", title="ファズ")
SOURCE = classify_key("posts/2026-02-11-fuzz.md")
FAST = 200
SLOW = 5_000


def fast(test: Callable[..., None]) -> Callable[..., None]:
    return settings(max_examples=FAST, deadline=None, suppress_health_check=[HealthCheck.too_slow])(
        test
    )


def slow(test: Callable[..., None]) -> Any:
    configured = settings(
        max_examples=SLOW, deadline=None, suppress_health_check=list(HealthCheck)
    )(test)
    return pytest.mark.slow(configured)


@cache
def theme() -> Any:
    from tsuzuri.rendering.theme import Theme

    return Theme(SITE)


def parse(raw: bytes) -> Post | None:
    """A post, or None when it was rejected the way the domain rejects input."""
    try:
        return parse_post(SOURCE, raw, SITE)
    except InputRejected as exc:
        rejected = exc
    assert rejected.code and str(rejected)  # a report can be written for it
    return None


# -- strategies ----------------------------------------------------------------------

# Fragments that mean something to YAML, Markdown, HTML, URLs or kramdown IALs.
TOKENS = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<a href=\"javascript:alert(1)\">",
    "javascript:alert(1)", "JaVaScRiPt:", "java\tscript:", "&#106;avascript:", "vbscript:",
    "data:text/html,<script>alert(1)</script>", "<svg onload=alert(1)>", "</script>", "<!--",
    "-->", "<style>", "<iframe src=//x>", "\" onmouseover=\"alert(1)", "' onfocus='alert(1)",
    "{: onclick=\"alert(1)\"}", "{: style=\"x\" href=\"javascript:alert(1)\"}", "{: .c #i}",
    "[x](javascript:alert(1))", "![x](javascript:alert(1))", "[x]: javascript:alert(1)",
    "[^1]", "[^1]: note", "<javascript:alert(1)>", "<http://a.example>", "```", "~~~",
    "    ", "\n", "\n\n", "# ", "> ", "- ", "1. ", "| a | b |\n|---|---|\n", "*", "_", "`",
    "[", "]", "(", ")", "{", "}", "<", ">", "&", "&amp;", "&#x3C;", "\\", "\"", "'", ":",
    "%", "%0a", "\u2028", "\u202e", "\ufeff", "\x00", "\x1b", "日本語", "🎉", "-->",
    "<details open ontoggle=alert(1)>", "<a href=\"&#x6A;avascript:alert(1)\">x</a>",
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>", "<base href=\"javascript:\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">", "<form action=x>",
    "<input onfocus=alert(1) autofocus>", "<div style=\"background:url(javascript:x)\">",
]  # fmt: skip
markdownish = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=12)), max_size=40).map(
    "".join
)
any_text = st.one_of(st.text(max_size=80), markdownish)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    any_text,
    st.dates(min_value=date(1, 1, 1)),
    st.datetimes(timezones=st.just(UTC)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
front_matter = st.dictionaries(
    st.one_of(st.sampled_from(sorted(KNOWN_KEYS)), st.text(max_size=10)), values, max_size=12
)


def document(front: dict[str, Any], body: str) -> bytes:
    block = yaml.safe_dump(front, allow_unicode=True) if front else ""
    return f"---\n{block}---\n{body}".encode("utf-8", "surrogatepass")


# -- 1. only domain errors -------------------------------------------------------------


def _structured_front_matter(front: dict[str, Any], body: str) -> None:
    parse(document(front, body))


def _raw_front_matter(block: str, body: str) -> None:
    parse(f"---\n{block}\n---\n{body}".encode("utf-8", "surrogatepass"))


def _raw_bytes(raw: bytes) -> None:
    parse(raw)


test_structured_front_matter = fast(given(front_matter, markdownish)(_structured_front_matter))
test_structured_front_matter_slow = slow(given(front_matter, markdownish)(_structured_front_matter))
yaml_text = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "title: a\n",
                "date: ",
                "tags: ",
                "&a ",
                "*a",
                "!!python/name:os.system",
                "!!binary ",
                "<<: ",
                "? ",
                "- ",
                "[",
                "]",
                "{",
                "}",
                ": ",
                "'",
                '"',
                "|",
                ">",
                "#",
                "\n  ",
                "\t",
                "%YAML 1.1\n",
                "---",
                "...",
                "2026-02-30",
                "+0900",
                "!!timestamp ",
                "!!int ",
                "~",
            ]
        ),
        st.text(max_size=10),
    ),
    max_size=30,
).map("".join)
test_raw_front_matter = fast(given(yaml_text, markdownish)(_raw_front_matter))
test_raw_front_matter_slow = slow(given(yaml_text, markdownish)(_raw_front_matter))
test_raw_bytes = fast(given(st.binary(max_size=400))(_raw_bytes))
test_raw_bytes_slow = slow(given(st.binary(max_size=2_000))(_raw_bytes))


# -- 2. the Markdown body ---------------------------------------------------------------


def _body_is_safe(source: str) -> None:
    html = render_markdown(source).html
    assert not html_problems(html, parser="stdlib"), (html_problems(html, parser="stdlib"), html)
    assert "<script" not in html.lower()


test_markdown_body_is_safe = fast(given(markdownish)(_body_is_safe))
test_markdown_body_is_safe_slow = slow(given(markdownish)(_body_is_safe))
test_any_text_body_is_safe = fast(given(st.text(max_size=300))(_body_is_safe))


# -- 3. any text in any field, through the theme ------------------------------------------

FIELDS = ("title", "tags", "categories", "excerpt", "description", "author", "image", "robots")


def _pages_are_safe(fields: dict[str, str], body: str) -> None:
    front: dict[str, Any] = {"title": "題", **fields}
    if "tags" in fields:
        front["tags"] = [fields["tags"], "x"]
    post = parse(document(front, body))
    if post is None:
        return
    summary = post.summary()
    pages = {
        "post": theme().render_post(post, previous=summary, next=summary, related=[summary]),
        "list": theme().render_list(title=post.title, url="/", posts=[summary], older_url=post.url),
    }
    for term in (*post.tags, *post.categories):
        pages[f"term {term.slug}"] = theme().render_list(
            title=term.name, url=term.url, posts=[summary], term=term
        )
    for name, html in pages.items():
        problems = html_problems(html, parser="stdlib")
        assert not problems, (name, problems)
    feed = theme().render_feed([summary], updated=datetime(2026, 2, 12, tzinfo=UTC))
    assert not xml_problems(feed), xml_problems(feed)
    json.loads(json.dumps(post.extra))  # pass-through keys stay JSON


field_values = st.dictionaries(st.sampled_from(FIELDS), any_text, min_size=1)
test_any_text_in_any_field_is_escaped = fast(given(field_values, markdownish)(_pages_are_safe))
test_any_text_in_any_field_is_escaped_slow = slow(given(field_values, markdownish)(_pages_are_safe))
