"""Heading ids equal Jekyll 4's (kramdown-parser-gfm), so deep links survive the move.

The expected ids in ``tests/fixtures/headings/jekyll_gfm_ids.json`` come from a real
Jekyll build of ``jekyll_gfm.md`` (see ``extract_jekyll_ids.py`` there); no Ruby is
needed to run these tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tsuzuri.markdown.render as markdown_render
from tsuzuri.markdown.render import (
    kramdown_heading_id,
    render_markdown,
    sanitize_html,
)
from tsuzuri.rendering.theme import build_toc

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "headings"


def _fixture() -> tuple[str, list[dict[str, Any]]]:
    source = (FIXTURES / "jekyll_gfm.md").read_text(encoding="utf-8")
    body = source.split("---\n", 2)[2]  # front matter off, as the parser gets it
    expected = json.loads((FIXTURES / "jekyll_gfm_ids.json").read_text(encoding="utf-8"))
    return body, expected


def test_every_heading_id_equals_jekylls() -> None:
    body, expected = _fixture()
    rendered = render_markdown(body)
    assert len(expected) >= 40
    assert [h.level for h in rendered.headings] == [e["level"] for e in expected]
    for heading, jekyll in zip(rendered.headings, expected, strict=True):
        if jekyll["id"] is None:
            # kramdown writes no id when nothing is left; tsuzuri's TOC needs one.
            assert heading.id == "section", jekyll["text"]
        else:
            assert heading.id == jekyll["id"], jekyll["text"]
        assert f' id="{heading.id}"' in rendered.html


def test_the_fast_path_parsers_give_the_same_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    body, _ = _fixture()
    sources = [body, "## はじめに：なぜLLMカスタマイズが必要か\n\n## 概要\n\n## 概要\n"]
    fast = [render_markdown(s) for s in sources]
    monkeypatch.setattr(markdown_render, "_features", lambda _source: markdown_render._ALL_FEATURES)
    assert [render_markdown(s) for s in sources] == fast
    assert [h.id for h in fast[1].headings] == [
        "はじめになぜllmカスタマイズが必要か",
        "概要",
        "概要-1",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("はじめに：なぜLLMカスタマイズが必要か", "はじめになぜllmカスタマイズが必要か"),
        ("第１章 全角数字１２３", "第１章-全角数字１２３"),  # full-width digits stay
        ("ΣΑΣ", "σασ"),  # per-character lowercase, as Ruby's downcase (no final ς)
        ("Ⓐ ①", "ⓐ-"),  # alphabetic symbol kept, other numbers (No) dropped
        ("Ⅳ", "ⅳ"),  # letter numbers (Nl) are word characters
        ("❤️", "\ufe0f"),  # the variation selector is a mark, so kramdown keeps it
        ("\u3000全角\u00a0", "全角"),  # only ASCII space and tab become "-"
        ("a\tb  c", "a-b--c"),
        ("---", "---"),
        ("！？", ""),
    ],
)
def test_kramdown_rule(text: str, expected: str) -> None:
    assert kramdown_heading_id(text) == expected
    assert kramdown_heading_id(text) == expected  # the second time from the filled table


def test_repeats_are_numbered_and_explicit_ids_are_not_counted() -> None:
    rendered = render_markdown(
        "## Setup\n\n## Setup\n\n## Setup {#setup-2}\n\n## Setup\n\n## 概要\n{: #setup}\n"
    )
    # As Jekyll builds it: kramdown counts only the ids it makes up.
    assert [h.id for h in rendered.headings] == ["setup", "setup-1", "setup-2", "setup-2", "setup"]


def test_empty_ids_get_a_fallback_that_no_other_heading_has() -> None:
    rendered = render_markdown("## ！！！\n\n## Section\n\n## 「」\n")
    # kramdown: no id, "section", "-1"; the first needs one to be linked from the TOC.
    assert [h.id for h in rendered.headings] == ["section-1", "section", "-1"]


def test_footnote_ids_stay_the_footnotes() -> None:
    rendered = render_markdown("## fn1\n\n本文[^1]\n\n[^1]: 注\n")
    assert [h.id for h in rendered.headings] == ["fn1-1"]
    assert rendered.html.count('id="fn1"') == 1


def test_the_earlier_rule_is_still_available() -> None:
    rendered = render_markdown("## 「設定」・手順（Ｖｅｒ．２）\n", heading_ids="tsuzuri")
    assert rendered.headings[0].id == "設定-手順-ver-2"
    with pytest.raises(ValueError, match="unknown heading id style"):
        render_markdown("## x\n", heading_ids="github")


def test_html_pages_use_the_same_rule() -> None:
    page = sanitize_html("<h2>はじめに：概要</h2><h2 id='own'>x</h2><h2>A &amp; B</h2>")
    assert [h.id for h in page.headings] == ["はじめに概要", "own", "a--b"]
    assert '<h2 id="はじめに概要">' in page.html
    legacy = sanitize_html("<h2>はじめに：概要</h2>", heading_ids="tsuzuri")
    assert legacy.headings[0].id == "はじめに-概要"


def test_the_table_of_contents_links_the_ids_in_the_body() -> None:
    body, _ = _fixture()
    rendered = render_markdown(body)
    toc = build_toc(rendered.headings)
    linked = [e.heading.id for e in toc] + [c.id for e in toc for c in e.children]
    assert linked
    for anchor in linked:
        assert f' id="{anchor}"' in rendered.html
