"""kramdown inline attribute lists: golden fixtures through the full pipeline, and the
markdown-it plugin on its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.utils import read_fixture_file
from tsuzuri.markdown.kramdown_ial import (
    IAL_BLOCK_TYPE,
    kramdown_ial_plugin,
    merge_ial_attrs,
    parse_ial,
)
from tsuzuri.markdown.render import render_markdown

FIXTURE = Path(__file__).parent / "fixtures" / "markdown" / "kramdown_ial.md"
CASES = read_fixture_file(FIXTURE)


def test_fixture_file_holds_all_its_cases() -> None:
    assert len(CASES) >= 12
    assert all(len(case) == 4 for case in CASES)
    assert len({case[1] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("source", "expected"),
    [pytest.param(src, exp, id=f"{line + 1}:{title}") for line, title, src, exp in CASES],
)
def test_kramdown_ial_fixture(source: str, expected: str) -> None:
    assert render_markdown(source).html.rstrip() == expected.rstrip()


def test_brief_example_exactly() -> None:
    html = render_markdown(
        "[無料相談はこちら](https://example.com/contact)\n{: .consulting-cta-link}\n"
    ).html
    assert html == (
        '<p class="consulting-cta-link"><a href="https://example.com/contact" '
        'rel="noopener noreferrer">無料相談はこちら</a></p>\n'
    )


# -- parse_ial -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (" .a", {"class": "a"}),
        (".a .b", {"class": "a b"}),
        (" #x", {"id": "x"}),
        (" #x #y", {"id": "y"}),
        (" .a.b#c.d", {"class": "a b d", "id": "c"}),
        (' k="v w"', {"k": "v w"}),
        (" k='v'", {"k": "v"}),
        (" k=v", {"k": "v"}),
        (' K="v"', {"k": "v"}),
        (' data-x="1" aria-label=閉じる', {"data-x": "1", "aria-label": "閉じる"}),
        (' class="a b" .c', {"class": "a b c"}),
        (' t="a \\" b \\} c \\\\ d \\n"', {"t": 'a " b } c \\ d \\n'}),
        (" t='it\\'s'", {"t": "it's"}),
        (' k=""', {"k": ""}),
        (" .日本語 #見出し", {"class": "日本語", "id": "見出し"}),
        (" refname .a", {"class": "a"}),  # ALD reference: accepted, ignored
        (" ", {}),
        ("\t.a\t", {"class": "a"}),
    ],
)
def test_parse_ial_valid(body: str, expected: dict[str, str]) -> None:
    assert parse_ial(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "",
        " .",
        " #",
        " k=",
        ' k="unterminated',
        " k='a\"",
        ' k="a"b',
        " .a,",
        " <b>",
        " .a junk=",
        " =v",
        " k=v=w",
        ' "quoted"',
        " .a{",
    ],
)
def test_parse_ial_invalid(body: str) -> None:
    assert parse_ial(body) is None


def test_merge_ial_attrs_adds_classes_and_replaces_the_rest() -> None:
    attrs = {"class": "a", "id": "x", "title": "t"}
    merge_ial_attrs(attrs, {"class": "b", "id": "y"})
    assert attrs == {"class": "a b", "id": "y", "title": "t"}


# -- the plugin alone ---------------------------------------------------------------


def plain_md(**options: object) -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table").use(kramdown_ial_plugin, **options)


def test_plugin_default_policy_drops_handlers_and_bad_urls_only() -> None:
    md = plain_md()
    tokens = md.parse(
        '段落\n{: .ok onclick="x" ONLOAD=\'y\' style="color:red" '
        'href="javascript:alert(1)" src="/ok.png" data-x=1}\n'
    )
    assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"]
    paragraph = tokens[0]
    assert paragraph.attrs == {
        "class": "ok",
        "style": "color:red",
        "src": "/ok.png",
        "data-x": "1",
    }
    assert paragraph.meta["insecure_attrs"] == {
        "onclick": "x",
        "onload": "y",
        "href": "javascript:alert(1)",
    }


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "JaVaScRiPt:x", " java\tscript:x", "vbscript:x", "data:text/html,x"],
)
def test_plugin_rejects_dangerous_urls_in_any_spelling(url: str) -> None:
    tokens = plain_md().parse(f"[a](/ok){{: href='{url}'}}")
    link = tokens[1].children[0]  # type: ignore[index]
    assert link.type == "link_open"
    assert link.attrs == {"href": "/ok"}
    assert link.meta["insecure_attrs"] == {"href": url}


def test_plugin_with_an_allow_list_keeps_nothing_else() -> None:
    md = plain_md(allowed=("class", "ID"))
    tokens = md.parse("## 見出し\n{: .a #b title=t style=x}\n")
    assert tokens[0].attrs == {"class": "a", "id": "b"}
    assert tokens[0].meta["insecure_attrs"] == {"title": "t", "style": "x"}


def test_plugin_renders_without_the_sanitizer() -> None:
    md = plain_md()
    assert (
        md.render("- a\n- b\n{: .list}\n") == '<ul class="list">\n<li>a</li>\n<li>b</li>\n</ul>\n'
    )
    assert md.render("> q\n{: .bq}\n") == '<blockquote class="bq">\n<p>q</p>\n</blockquote>\n'
    assert md.render("p\n{: .a junk=}\n") == "<p>p\n{: .a junk=}</p>\n"


def test_no_ial_token_survives_parsing() -> None:
    # Orphans (blank lines around), one that applies, and one alone in a container.
    source = "{: .a}\n\n{: .b}\n\np\n{: .c}\n\n{: .d}\n\n> {: .e}\n"
    tokens = plain_md().parse(source)
    assert IAL_BLOCK_TYPE not in {t.type for t in tokens}
    assert plain_md().render(source) == '<p class="c">p</p>\n<blockquote></blockquote>\n'


def test_a_blank_line_separates_ial_runs() -> None:
    md = plain_md()
    assert md.render("a\n{: .x}\n\n{: .y}\nb\n") == '<p class="x">a</p>\n<p class="y">b</p>\n'
    assert md.render("a\n{: .x}\n{: .y}\n\nb\n") == '<p class="x y">a</p>\n<p>b</p>\n'


def test_ial_is_not_taken_across_a_link_reference_definition() -> None:
    md = plain_md()
    assert md.render("p\n\n[ref]: /url\n{: .x}\n\n[ref]\n") == (
        '<p>p</p>\n<p><a href="/url">ref</a></p>\n'
    )


def test_ial_before_a_heading_and_after_setext_heading() -> None:
    md = plain_md()
    assert md.render("{: #top}\n# 見出し\n") == '<h1 id="top">見出し</h1>\n'
    assert md.render("見出し\n===\n{: .x}\n") == '<h1 class="x">見出し</h1>\n'


def test_heading_ial_needs_text_before_it() -> None:
    md = plain_md()
    assert md.render("## {: #x}\n") == "<h2>{: #x}</h2>\n"
    assert md.render("## a\\{: #x}\n") == "<h2>a{: #x}</h2>\n"


def test_span_ial_inside_link_text_is_text() -> None:
    assert plain_md().render("[a{: .x}](/u)") == '<p><a href="/u">a{: .x}</a></p>\n'
