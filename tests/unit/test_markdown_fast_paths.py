"""The render fast paths change nothing: a post rendered by the parser chosen for its
text is byte-identical to the one rendered with every extension enabled."""

from __future__ import annotations

import random

import pytest
import tsuzuri.markdown.render as m
from tsuzuri.markdown.render import RenderedMarkdown, heading_id, render_markdown

FRAGMENTS = [
    "# 見出し",
    "## Title {: #custom .x}",
    "## fn1",
    "### Title {#kid}",
    "## 概要 と Setup",
    "段落テキスト",
    "text[^1] more",
    "[^1]: the note",
    "[^note]: multi\n    line",
    "x ^[inline [nested] note] y",
    "- [ ] todo",
    "- [x] done",
    "* [X] upper",
    "1. [ ] ordered",
    "- [] not a task",
    "{: .cls}",
    '{: #id title="t"}',
    "{: onclick=x style=y}",
    "{::nomarkdown}",
    '[link](https://e.com){: target="_blank"}',
    "`code`{: .k}",
    "| a | b |\n|---|:-:|\n| [^1] | [ ] |",
    "> quote\n{: .q}",
    "```python\nx = 1\n```",
    "~~strike~~ and ~single~",
    "<div>raw</div> <script>alert(1)</script>",
    "今日は\n晴れ",
    "[x](javascript:alert(1))",
    "[\n^1]",
    "\\[^1] `[^1]`",
    "[^1]\n\n[^1]: a\n[^1]: dup",
    "- item\n{: .l}",
    "a\r\n- [ ] crlf\r\n",
]


def _full(source: str, monkeypatch: pytest.MonkeyPatch) -> RenderedMarkdown:
    with monkeypatch.context() as patch:
        patch.setattr(m, "_features", lambda _source: m._ALL_FEATURES)
        return render_markdown(source)


def _sources() -> list[str]:
    rng = random.Random(5)
    mixes = []
    for _ in range(300):
        parts = rng.choices(FRAGMENTS, k=rng.randint(1, 6))
        mixes.append("".join(p + rng.choice(["\n", "\n\n", " "]) for p in parts))
    return FRAGMENTS + mixes


def test_every_source_renders_as_with_every_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    for source in _sources():
        assert render_markdown(source) == _full(source, monkeypatch), source


@pytest.mark.parametrize(
    ("source", "features"),
    [
        ("plain text, **bold**, [a link](/x)", 0),
        ("a[^1]\n\n[^1]: note", m._FOOTNOTES),
        ("an ^[inline] note", m._FOOTNOTES),
        ("- [ ] a\n- [x] b", m._TASKLISTS),
        ("- [X] b", m._TASKLISTS),
        ("para\n{: .x}", m._IAL),
        ("## t {#id}", m._IAL),
        ("~~gone~~", m._STRIKETHROUGH),
    ],
)
def test_features_are_found_from_the_text(source: str, features: int) -> None:
    assert m._features(source) == features


def test_parsers_are_built_once_per_feature_set() -> None:
    assert m._parser(0) is m._parser(0)
    assert m._parser(m._IAL) is not m._parser(0)
    assert m._markdown() is m._parser(m._ALL_FEATURES)


def test_a_disabled_extension_leaves_its_syntax_as_text() -> None:
    # What the fast path relies on: without the syntax there is nothing to parse.
    html = render_markdown("a [^1] b, - [ ] c, {: .x} d, ~~e~~").html
    assert html == "<p>a [^1] b, - [ ] c, {: .x} d, <s>e</s></p>\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("概要 と Setup", "概要-と-setup"),
        ("「設定」・手順（Ｖｅｒ．２）", "設定-手順-ver-2"),
        ("İstanbul", "i\u0307stanbul"),
        ("a\u0301b", "\u00e1b"),
        ("\U0001f600 x", "x"),
        ("---", "section"),
    ],
)
def test_heading_id_translation_table(text: str, expected: str) -> None:
    assert heading_id(text) == expected
    assert heading_id(text) == expected  # the second time from the filled table
