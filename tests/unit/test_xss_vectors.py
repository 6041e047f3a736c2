"""Every XSS vector of tests/xss/, each in its own post, through the parser and the theme.

The browser test (tests/e2e/test_xss.py) publishes the same posts and loads the pages in
Chromium; this one checks each post's pages on their own, without AWS or a browser, so
that a vector swallowed by another on a shared page is still checked.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tsuzuri.domain.keys import classify_key
from tsuzuri.domain.post import parse_post
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.errors import InputRejected
from tsuzuri.rendering.theme import Theme

from tests.support.html_safety import html_problems, xml_problems
from tests.support.xss import markdown_it_cases, owasp_vectors, vector_posts

SITE = SiteConfig(url="https://blog.example.com", title="XSS")
POSTS = vector_posts()


@pytest.fixture(scope="module")
def theme() -> Theme:
    return Theme(SITE)


def test_vector_counts() -> None:
    assert len(owasp_vectors()) >= 100
    assert len(markdown_it_cases()) >= 10
    assert len(POSTS) >= 250


@pytest.mark.parametrize("vector", POSTS, ids=[f"{p.key[-11:-3]}-{p.where}" for p in POSTS])
def test_every_page_of_a_vector_post_is_inert(theme: Theme, vector: object) -> None:
    post_source = vector
    try:
        post = parse_post(classify_key(post_source.key), post_source.text.encode(), SITE)  # type: ignore[attr-defined]
    except InputRejected:
        return  # refused with a report: nothing reaches the site
    summary = post.summary()
    pages = {
        "post": theme.render_post(post, previous=summary, next=None, related=[summary]),
        "home": theme.render_list(title=SITE.title, url="/", posts=[summary]),
        "redirect": theme.render_redirect(post.url),
    }
    for term in (*post.tags, *post.categories):
        pages[term.url] = theme.render_list(
            title=term.name, url=term.url, posts=[summary], term=term
        )
    for name, html in pages.items():
        assert not html_problems(html, parser="stdlib"), (
            name,
            html_problems(html, parser="stdlib"),
        )
        assert "alert(1)</script>" not in html.replace("\\u003c/script", "")
    feed = theme.render_feed([summary], updated=datetime(2026, 11, 1, tzinfo=UTC))
    assert not xml_problems(feed)
