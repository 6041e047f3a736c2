"""The XSS checker itself: the theme's own script and search form pass, look-alikes don't."""

from __future__ import annotations

import pytest

from tests.support.html_safety import html_problems


@pytest.mark.parametrize("parser", ["html5lib", "stdlib"])
def test_the_themes_own_script_and_search_form_are_allowed(parser: str) -> None:
    html = (
        '<script src="/assets/theme/search.3f2a9c.js" defer></script>'
        '<form class="search-form" action="/search/" method="get" role="search">'
        '<input name="q"></form>'
    )
    assert html_problems(html, parser=parser) == []


@pytest.mark.parametrize("parser", ["html5lib", "stdlib"])
@pytest.mark.parametrize(
    "html",
    [
        '<script src="/assets/theme/search.js">alert(1)</script>',
        '<script src="https://evil.example/assets/theme/x.js"></script>',
        '<script src="/assets/theme/../../x.js"></script>',
        '<form action="https://evil.example/" method="get"></form>',
        '<form action="/search/" method="post"></form>',
    ],
)
def test_look_alikes_are_flagged(html: str, parser: str) -> None:
    assert html_problems(html, parser=parser)
