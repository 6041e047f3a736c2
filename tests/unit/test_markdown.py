"""Markdown rendering: golden fixtures, XSS properties, heading ids and plain text."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import FrozenInstanceError, fields
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it.utils import read_fixture_file
from tsuzuri.markdown.render import Heading, RenderedMarkdown, heading_id, render_markdown

FIXTURES = Path(__file__).parent / "fixtures" / "markdown"
FIXTURE_FILES = ("features.md", "xss.md", "kramdown_ial.md")


def fixture_cases(name: str) -> list[pytest.ParameterSet]:
    return [
        pytest.param(source, expected, id=f"{name}:{line + 1}:{title}")
        for line, title, source, expected in read_fixture_file(FIXTURES / name)
    ]


ALL_CASES = [case for name in FIXTURE_FILES for case in fixture_cases(name)]


@pytest.mark.parametrize(("name", "minimum"), [("features.md", 10), ("xss.md", 15)])
def test_fixture_files_hold_all_their_cases(name: str, minimum: int) -> None:
    cases = read_fixture_file(FIXTURES / name)
    assert len(cases) >= minimum
    # A stray "." would shift every later case by one section.
    assert all(len(case) == 4 for case in cases)
    assert len({case[1] for case in cases}) == len(cases), "titles must be unique"


@pytest.mark.parametrize(("source", "expected"), fixture_cases("features.md"))
def test_features_fixture(source: str, expected: str) -> None:
    assert render_markdown(source).html.rstrip() == expected.rstrip()


@pytest.mark.parametrize(("source", "expected"), fixture_cases("xss.md"))
def test_xss_fixture(source: str, expected: str) -> None:
    assert render_markdown(source).html.rstrip() == expected.rstrip()


# -- XSS properties, over every fixture and some extra vectors -----------------------

EXTRA_VECTORS = [
    '<a href="javas\x00cript:alert(1)">x</a>',
    '<a href="\x01javascript:alert(1)">x</a>',
    '<a href="javascript&#58;alert(1)">x</a>',
    '<a href="javascript&#x3A;alert(1)">x</a>',
    '<a href="jav&#x0A;ascript:alert(1)">x</a>',
    '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;:alert(1)">x</a>',
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    '<img src="x"/onerror="alert(1)">',
    "<img src=x onerror=alert(1)//",
    '<body onload="alert(1)">',
    '<details open ontoggle="alert(1)"><summary>s</summary></details>',
    '<input autofocus onfocus="alert(1)">',
    '<a href="#" style="position:fixed;inset:0">overlay</a>',
    '<td style="text-align:right" onclick="alert(1)">x</td>',
    "[x](<javascript:alert(1)>)",
    "[x](javascript&#58;alert(1))",
    '[x](https://example.com "title" onclick="alert(1)")',
    "![x](https://example.com/a.png){: onerror=alert(1)}",
    '```"><script>alert(1)</script>\ncode\n```',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "<template><script>alert(1)</script></template>",
    '<a href="vbscript:msgbox(1)">v</a> <a href="file:///etc/passwd">f</a>',
    "段落\n{: href='javascript:alert(1)' src=\"javascript:alert(1)\" style='x:y'}",
    "## 見出し {: onclick=alert(1) #ok}",
]

FORBIDDEN_TAGS = frozenset(
    {
        *("script", "style", "iframe", "frame", "frameset", "object", "embed", "applet"),
        *("svg", "math", "template", "noscript", "textarea", "form", "button", "select"),
        *("meta", "base", "link", "body", "html", "head"),
    }
)
URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "xlink:href", "srcset", "poster", "data", "cite"}
)
SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_C0_AND_SPACE = "".join(chr(i) for i in range(0x21))


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see, after it drops what it ignores in a URL."""
    cleaned = re.sub(r"[\t\n\r]", "", value).strip(_C0_AND_SPACE).lower()
    m = re.match(r"([a-z][a-z0-9+.-]*):", cleaned)
    return m[1] if m else None


def assert_safe_html(html: str) -> None:
    lowered = html.lower()
    assert "<script" not in lowered
    # Inside markup (not escaped text): no handler and no javascript: anywhere.
    assert not re.search(r"<[^>]*\son\w+\s*=", html, re.IGNORECASE)
    assert not re.search(r"<[^>]*javascript:", html, re.IGNORECASE)
    assert not re.search(r"<[^>]*(vbscript|data):", html, re.IGNORECASE)
    parser = _Elements()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.elements:
        assert tag not in FORBIDDEN_TAGS, tag
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            if name in URL_ATTRIBUTES:
                scheme = url_scheme(value or "")
                assert scheme is None or scheme in SAFE_SCHEMES, (tag, name, value)
            if name == "style":
                assert tag in {"th", "td"}, tag
                assert re.fullmatch(r"text-align:(left|center|right)", value or ""), value
            if name == "target":
                assert (tag, value) == ("a", "_blank")


@pytest.mark.parametrize(("source", "expected"), ALL_CASES)
def test_every_fixture_output_is_safe(source: str, expected: str) -> None:
    assert_safe_html(render_markdown(source).html)
    assert_safe_html(expected)  # the golden file itself must not bless an unsafe output


@pytest.mark.parametrize("source", EXTRA_VECTORS)
def test_extra_vectors_are_neutralised(source: str) -> None:
    rendered = render_markdown(source)
    assert_safe_html(rendered.html)
    assert "alert(" not in " ".join(h.id for h in rendered.headings)


def test_xss_inline_script_body_is_not_in_the_plain_text() -> None:
    rendered = render_markdown("前<script>alert(document.cookie)</script>後")
    assert rendered.html == "<p>前後</p>\n"
    assert rendered.text == "前後"
    assert rendered.first_paragraph == "前後"


def test_hostile_fence_language_is_escaped_and_not_highlighted() -> None:
    html = render_markdown('```"><img src=x onerror=alert(1)>\ncode\n```').html
    assert html == '<pre><code class="language-&quot;&gt;&lt;img">code\n</code></pre>\n'


# -- heading ids -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("概要 と Setup", "概要-と-setup"),
        ("Hello, World!", "hello-world"),
        ("  --Leading & trailing--  ", "leading-trailing"),
        ("FAQ: よくある質問？", "faq-よくある質問"),
        ("「設定」・手順（Ｖｅｒ．２）", "設定-手順-ver-2"),
        ("ｶﾀｶﾅ と ﾃﾞｰﾀ", "カタカナ-と-データ"),
        ("C++ と C#", "c-と-c"),
        ("snake_case and kebab-case", "snake-case-and-kebab-case"),
        ("Café ÜBER", "café-über"),
        ("日本語のみ", "日本語のみ"),
        ("第2章 2024年", "第2章-2024年"),
        ("🎉 リリース 🎉", "リリース"),
        ("!!!", "section"),
        ("", "section"),
    ],
)
def test_heading_id(text: str, expected: str) -> None:
    assert heading_id(text) == expected


def test_heading_ids_are_unique_and_explicit_ids_win() -> None:
    # The "tsuzuri" rule; the default "kramdown" one is tests/unit/test_heading_ids.py's.
    rendered = render_markdown(
        "# はじめに\n\n## Setup\n\n## Setup\n\n## Setup {: #setup-2}\n\n## Setup\n\n"
        "## 概要\n{: #setup}\n",
        heading_ids="tsuzuri",
    )
    assert [h.id for h in rendered.headings] == [
        "はじめに",
        "setup-1",  # "setup" is taken by the explicit id further down
        "setup-3",
        "setup-2",
        "setup-4",
        "setup",
    ]
    for heading in rendered.headings:
        assert f'id="{heading.id}"' in rendered.html
    assert rendered.html.count('id="setup"') == 1


def test_heading_ids_never_take_a_footnote_id() -> None:
    rendered = render_markdown(
        "## fn1\n\n## FnRef2\n\n本文[^1]\n\n[^1]: 注\n", heading_ids="tsuzuri"
    )
    assert [h.id for h in rendered.headings] == ["fn1-1", "fnref2-1"]
    assert rendered.html.count('id="fn1"') == 1  # the footnote's own


def test_headings_carry_level_and_plain_text_in_order() -> None:
    rendered = render_markdown(
        "# タイトル\n\n"
        "## **太字** と `code` と [リンク](/x) ![icon](/i.png)\n\n"
        "> ### 引用の中\n\n"
        "A &amp; B\n---\n\n"
        "###### 6 段目 ######\n",
        heading_ids="tsuzuri",
    )
    assert rendered.headings == (
        Heading(level=1, id="タイトル", text="タイトル"),
        Heading(level=2, id="太字-と-code-と-リンク", text="太字 と code と リンク"),
        Heading(level=3, id="引用の中", text="引用の中"),
        Heading(level=2, id="a-b", text="A & B"),
        Heading(level=6, id="6-段目", text="6 段目"),
    )
    assert '<h2 id="太字-と-code-と-リンク"><strong>太字</strong>' in rendered.html


def test_heading_ids_are_stable_across_renders() -> None:
    source = "## 概要\n\n## 概要\n\n### Setup\n"
    assert render_markdown(source) == render_markdown(source)


# -- first paragraph and plain text ----------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("# 見出し\n\n最初の**段落**です。\n\n二つ目。", "最初の段落です。"),
        ("今日は\n晴れです。", "今日は晴れです。"),
        ("hello\nworld", "hello world"),
        ("日本語\nEnglish\n日本語", "日本語 English 日本語"),
        ("改行  \n後", "改行 後"),
        ("![写真](/a.png)\n\n本文", "本文"),
        ("<img src='/a.png'>\n\n本文", "本文"),
        ("> 引用\n\n本文", "本文"),
        ("- 項目\n\n本文", "本文"),
        ("A &amp; B &lt;tag&gt; &#x3042;", "A & B <tag> あ"),
        ("本文[^1]です\n\n[^1]: 注", "本文です"),
        ("<span>a</span> <b>b</b>", "a b"),
        (
            "[無料相談はこちら](https://example.com/contact)\n{: .consulting-cta-link}",
            "無料相談はこちら",
        ),
        ("## 見出しだけ", ""),
        ("```\ncode\n```", ""),
        ("", ""),
    ],
)
def test_first_paragraph(source: str, expected: str) -> None:
    assert render_markdown(source).first_paragraph == expected


def test_text_is_the_whole_body_as_collapsed_plain_text() -> None:
    source = (
        "# タイトル\n\n"
        "一行目\n二行目の  **強調**   と `code` と [リンク](/x)。\n\n"
        "- 項目1\n- [x] 完了\n\n"
        "| 列A | 列B |\n|---|---|\n| a &amp; b | c |\n\n"
        "```python\nprint('hi')\n```\n\n"
        "![画像の説明](/a.png)\n\n"
        "<div>raw block</div>\n\n"
        "本文[^n]\n\n[^n]: 脚注の本文\n"
    )
    text = render_markdown(source).text
    assert text == (
        "タイトル 一行目二行目の 強調 と code と リンク。 項目1 完了 列A 列B a & b c "
        "print('hi') 本文 脚注の本文"
    )
    assert "<" not in text
    assert "  " not in text
    assert "画像の説明" not in text  # alt text is not read


def test_rendered_markdown_is_a_frozen_slotted_record() -> None:
    rendered = render_markdown("## 見出し\n\n本文")
    assert [f.name for f in fields(RenderedMarkdown)] == [
        "html",
        "headings",
        "first_paragraph",
        "text",
    ]
    assert rendered == RenderedMarkdown(
        html='<h2 id="見出し">見出し</h2>\n<p>本文</p>\n',
        headings=(Heading(level=2, id="見出し", text="見出し"),),
        first_paragraph="本文",
        text="見出し 本文",
    )
    assert not hasattr(rendered, "__dict__")
    with pytest.raises(FrozenInstanceError):
        rendered.html = ""  # type: ignore[misc]


def test_empty_source() -> None:
    assert render_markdown("") == RenderedMarkdown(
        html="", headings=(), first_paragraph="", text=""
    )


# -- code --------------------------------------------------------------------------------


def test_highlighted_code_uses_classes_not_inline_styles() -> None:
    html = render_markdown("```Python\nx = 1  # c\n```\n").html
    assert html.startswith('<div class="highlight"><pre><code class="language-Python">')
    assert html.endswith("</code></pre></div>\n")
    assert '<span class="n">x</span>' in html
    assert '<span class="c1"># c</span>' in html
    assert "style=" not in html


@pytest.mark.parametrize("lang", ["", "text", "plaintext", "no-such-language"])
def test_code_without_a_known_language_is_plain_and_escaped(lang: str) -> None:
    html = render_markdown(f"```{lang}\n<b>&</b>\n```\n").html
    assert "highlight" not in html
    assert "<span" not in html
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in html
    assert html.startswith("<pre><code")


def test_indented_code_is_plain() -> None:
    assert (
        render_markdown("    <i>x</i>\n").html == "<pre><code>&lt;i&gt;x&lt;/i&gt;\n</code></pre>\n"
    )


# -- process-level behaviour -------------------------------------------------------------


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout


def test_import_is_cheap_and_pygments_loads_only_for_code() -> None:
    out = _run(
        "import json, sys\n"
        "import tsuzuri.markdown.render as m\n"
        "heavy = ('markdown_it', 'mdit_py_plugins', 'nh3', 'pygments')\n"
        "loaded = lambda: sorted({n.split('.')[0] for n in sys.modules if n.startswith(heavy)})\n"
        "a = loaded()\n"
        "m.render_markdown('# t\\n\\ntext')\n"
        "b = loaded()\n"
        "m.render_markdown('```python\\nx = 1\\n```')\n"
        "c = loaded()\n"
        "print(json.dumps([a, b, c, m._markdown() is m._markdown()]))\n"
    )
    on_import, after_text, after_code, cached = json.loads(out)
    assert on_import == []
    assert after_text == ["markdown_it", "mdit_py_plugins", "nh3"]
    assert after_code == ["markdown_it", "mdit_py_plugins", "nh3", "pygments"]
    assert cached is True


def test_output_is_identical_across_processes() -> None:
    # nh3 adds forced attributes in hash order; only one is forced per tag, so the HTML
    # (and anything hashed from it) must not change from one Lambda cold start to the next.
    source = (
        "![a](/a.png) <img src='/b.png'> <input type='checkbox'>\n\n"
        "- [x] done\n\n[l](https://example.com)\n{: .x #y title=t}\n"
    )
    code = (
        "from tsuzuri.markdown.render import render_markdown; "
        f"print(render_markdown({source!r}).html)"
    )
    outputs = {_run(code) for _ in range(4)}
    assert len(outputs) == 1
    assert '<img src="/a.png" alt="a" loading="lazy" decoding="async">' in outputs.pop()
