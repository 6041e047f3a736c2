"""The XSS checker itself: the theme's own script, inline stylesheet and search form pass,
look-alikes don't."""

from __future__ import annotations

import pytest
from tsuzuri.rendering.assets import compact_css
from tsuzuri.rendering.theme import default_templates_dir

from tests.support.html_safety import html_problems

THEME_STYLE = compact_css((default_templates_dir() / "inline" / "site.css").read_text("utf-8"))


@pytest.mark.parametrize("parser", ["html5lib", "stdlib"])
def test_the_themes_own_script_style_and_search_form_are_allowed(parser: str) -> None:
    html = (
        f"<style>{THEME_STYLE}</style>"
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
        "<style>@import 'https://evil.example/x.css';</style>",
        f"<style>{THEME_STYLE} body {{ background: url(https://evil.example/) }}</style>",
        f'<style media="print">{THEME_STYLE}</style>',
    ],
)
def test_look_alikes_are_flagged(html: str, parser: str) -> None:
    assert html_problems(html, parser=parser)
