"""Render a post's Markdown body to sanitized HTML, plus what the theme needs from it.

:func:`render_markdown` returns a :class:`RenderedMarkdown`: the HTML body, the
headings (with their ids, for a table of contents), the plain text of the first
paragraph (for excerpts) and the plain text of the whole body (reading time,
content signals). The plain text comes from markdown-it's token stream, never from
the HTML.

Syntax
    CommonMark plus GFM tables, strikethrough, footnotes
    (:mod:`mdit_py_plugins.footnote`), task lists (:mod:`mdit_py_plugins.tasklists`)
    and kramdown inline attribute lists (:mod:`tsuzuri.markdown.kramdown_ial`). No
    linkify: bare URLs stay text, as they did in kramdown.

Raw HTML policy
    markdown-it runs with ``html=True`` so the inline HTML editors write in posts
    (``<div class="...">``, ``<kbd>``, ``<details>``, ``<ruby>``, ``<br>`` ...)
    renders; then the whole HTML body goes through :func:`nh3.clean` (ammonia) with
    the explicit allow-list below, which is the only security boundary.
    ``<script>``, ``<style>``, ``<iframe>``, ``<object>``, ``<embed>``, ``<svg>``,
    ``<math>``, ``<template>``, ``<noscript>`` and ``<textarea>`` are removed with
    their content -- YouTube embeds included, since an ``<iframe>`` allow-list by
    host is a policy of its own; other unknown tags are removed and their text kept.
    Allowed attributes: ``class``, ``id``, ``title``, ``lang``, ``dir`` on every
    tag; ``href`` on ``<a>`` (and ``target`` only as ``_blank``); ``src``, ``alt``,
    ``width``, ``height`` on ``<img>``; ``style`` only on ``<th>``/``<td>`` and only
    its ``text-align`` property (how markdown-it writes table column alignment);
    ``checked`` and ``type="checkbox"`` on ``<input>``. URLs must be ``http``,
    ``https``, ``mailto``, ``tel`` or relative; ammonia parses the HTML and decodes entities
    first, so ``JaVaScRiPt:``, ``&#106;avascript:`` and ``java&#x09;script:`` are all
    caught. Every link gets ``rel="noopener noreferrer"`` (nh3's ``link_rel``), every
    ``<input>`` ``disabled="disabled"``; Markdown images get ``loading="lazy"
    decoding="async"``, raw ``<img>`` tags ``loading="lazy"`` (and keep the
    ``decoding`` their author wrote). IAL attributes are restricted before that to
    :data:`IAL_ATTRIBUTES`, so ``{: style=... onclick=... href=...}`` sets nothing.

Fenced code
    A fence whose language Pygments knows is rendered with CSS classes, never inline
    styles (pair it with any Pygments ``HtmlFormatter`` stylesheet for
    ``.highlight``)::

        <div class="highlight"><pre><code class="language-python"><span class="k">def</span> ...
        </code></pre></div>

    Without a language, or with one Pygments does not know (``text``, ``mermaid``
    ...), the code is escaped as is: ``<pre><code class="language-mermaid">...</code></pre>``.
    A block IAL on a fence puts its attributes on the outermost element.

Heading ids
    Two rules, chosen per call (``heading_ids=``; the site's ``heading_ids`` setting).

    ``"kramdown"`` (the default, so the anchors of a site moved from Jekyll keep
    working): :func:`kramdown_heading_id`, the rule of Jekyll 4 with
    kramdown-parser-gfm -- the heading's text without markup (link text without its
    URL, code without backticks, no image ``alt``, no footnote mark, entities decoded),
    lowercased one character at a time, with every character that is not a Unicode
    word character (Ruby's ``\\p{Word}``: letters, marks, decimal digits, connector
    punctuation, letter numbers and the circled and squared Latin letters), ``-``, an
    ASCII space or a tab removed, then each space or tab turned into ``-``; no
    normalisation, trimming or merging (``はじめに：なぜLLMカスタマイズが必要か`` ->
    ``はじめになぜllmカスタマイズが必要か``, ``A &amp; B`` -> ``a--b``, full-width
    ``Ｖｅｒ２`` stays ``ｖｅｒ２``). The n-th repeat of an id gets ``-n`` and, as in
    kramdown, ids set with an IAL are not counted. Checked against a real Jekyll build
    in ``tests/fixtures/headings/``. Two departures, because tsuzuri's page needs
    them where Jekyll's did not: the first heading whose id comes out empty (kramdown
    writes none, so no inbound link can point at it) gets ``section`` (or
    ``section-1`` ... if the page has that id already), and an id that is a footnote's
    (``fn1``, ``fnref1``) gets ``-1``, ``-2`` ... as below.

    ``"tsuzuri"`` (the earlier rule): :func:`heading_id`: NFKC-normalised (full-width
    ``Ｖｅｒ２`` is ``ver2``, half-width kana become full-width) and lowercased; Unicode
    letters, marks and digits kept, every other run of characters (spaces,
    punctuation, symbols) -> ``-``, ``-`` trimmed, ``section`` if nothing is left; a
    repeated id gets ``-1``, ``-2`` ... like GitHub (``## 概要 と Setup`` ->
    ``概要-と-setup``). An id set with an IAL (``{: #custom}``) is used as is and is
    never given to another heading; ``fn1``, ``fnref1`` ... belong to footnotes, so a
    heading ``## fn1`` gets ``fn1-1``.

Plain text
    Built from the tokens: text and code spans, fenced and indented code, table
    cells, footnotes. Not included: markup, image ``alt`` text, footnote reference
    marks, task-list checkboxes, raw HTML blocks, and the content of raw
    ``<script>``/``<style>``... tags written inline. Entities are decoded. A line
    break inside a paragraph between two CJK characters joins them (``今日は`` +
    ``晴れ`` is ``今日は晴れ``), any other one is a space, and runs of whitespace
    collapse to one space. ``first_paragraph`` is the first paragraph at the top
    level of the body (not in a list, quote or footnote) that has any text, so a
    paragraph holding only an image is skipped.

Cold start: importing this module imports neither markdown-it, nh3 nor Pygments; the
parser and the sanitizer are built on first use and cached for the life of the
process, and Pygments lexers are loaded per language when a fence needs one.

Cost: a post whose text cannot hold footnotes, task items, IALs or ``~`` is parsed by
a parser built without those extensions (one cached parser per set, see
:func:`_features`), which renders the same HTML without running their rules; the
headings and the plain text come from one pass over the tokens.
"""

from __future__ import annotations

import html as html_lib
import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from collections.abc import Sequence

    from markdown_it import MarkdownIt
    from markdown_it.renderer import RendererHTML
    from markdown_it.token import Token
    from markdown_it.utils import EnvType, OptionsDict
    from nh3 import Cleaner
    from pygments.formatters.html import HtmlFormatter  # type: ignore[import-untyped,unused-ignore]
    from pygments.lexer import Lexer  # type: ignore[import-untyped,unused-ignore]

__all__ = [
    "HEADING_ID_STYLES",
    "IAL_ATTRIBUTES",
    "Heading",
    "HeadingIdStyle",
    "RenderedMarkdown",
    "heading_id",
    "kramdown_heading_id",
    "render_markdown",
    "sanitize_html",
]


@dataclass(frozen=True, slots=True)
class Heading:
    """An h1-h6 of a post: its level, its id (the anchor the table of contents links)
    and its plain text."""

    level: int
    id: str
    text: str


@dataclass(frozen=True, slots=True)
class RenderedMarkdown:
    """A rendered post body and what the theme and the publisher read from it."""

    html: str
    """The sanitized HTML body."""
    headings: tuple[Heading, ...]
    """Every ``h1``-``h6``, in document order, with the id it has in :attr:`html`."""
    first_paragraph: str
    """Plain text of the first top-level paragraph that has any text; ``""`` if none."""
    text: str
    """Plain text of the whole body (code and footnotes included), whitespace collapsed."""


HeadingIdStyle = Literal["kramdown", "tsuzuri"]
HEADING_ID_STYLES: tuple[str, ...] = get_args(HeadingIdStyle)
"""The heading id rules :func:`render_markdown` knows; see "Heading ids" above."""
DEFAULT_HEADING_IDS: HeadingIdStyle = "kramdown"

IAL_ATTRIBUTES = frozenset({"id", "class", "title", "lang", "dir", "width", "height", "target"})
"""The attributes a kramdown IAL may set; anything else in an IAL is dropped."""

_TAGS = frozenset(
    {
        *("p", "div", "span", "section", "blockquote", "hr", "br", "wbr"),
        *("h1", "h2", "h3", "h4", "h5", "h6"),
        *("a", "em", "strong", "b", "i", "u", "s", "del", "ins", "mark", "small"),
        *("sup", "sub", "code", "pre", "kbd", "samp", "var", "abbr", "dfn", "q", "cite"),
        *("time", "ruby", "rt", "rp", "bdi", "bdo"),
        *("ul", "ol", "li", "dl", "dt", "dd"),
        *("table", "caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "th", "td"),
        *("img", "figure", "figcaption", "details", "summary", "input"),
    }
)
_CLEAN_CONTENT_TAGS = frozenset(
    {
        *("script", "style", "iframe", "frame", "frameset", "object", "embed", "applet"),
        *("svg", "math", "template", "noscript", "noembed", "noframes", "textarea", "xmp"),
    }
)
_ATTRIBUTES = {
    "*": {"class", "id", "title", "lang", "dir"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "th": {"style", "colspan", "rowspan"},
    "td": {"style", "colspan", "rowspan"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "reversed"},
    "li": {"value"},
    "details": {"open"},
    "time": {"datetime"},
    "input": {"checked"},
}
_ATTRIBUTE_VALUES = {
    "a": {"target": {"_blank"}},
    "img": {"loading": {"lazy"}, "decoding": {"async", "sync", "auto"}},
    "input": {"type": {"checkbox"}},
}
# One forced attribute per tag: ammonia appends forced attributes a tag lacks in hash
# order, so two could come out in either order and the HTML would not be stable.
# Markdown images already carry both loading and decoding (see _render_image), which
# ammonia then rewrites in place.
_SET_ATTRIBUTES = {"img": {"loading": "lazy"}, "input": {"disabled": "disabled"}}
_URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_PLAIN_LANGUAGES = frozenset({"text", "txt", "plain", "plaintext", "none", "nohighlight"})

_SLUG_SEPARATORS_RE = re.compile(r"-{2,}")
# Ids the footnote plugin gives its notes and references; a heading never takes one.
_FOOTNOTE_ID_RE = re.compile(r"fn(?:ref)?\d+")
_URL_IGNORED_RE = re.compile(r"[\t\n\r]")
_URL_STRIP = "".join(chr(i) for i in range(0x21))
# Raw inline HTML whose text is not shown, so is not plain text either.
_HIDDEN_HTML_RE = re.compile(
    r"<(/?)(?:" + "|".join(sorted(_CLEAN_CONTENT_TAGS)) + r")(?![\w-])", re.IGNORECASE
)
# A soft line break between two CJK characters is no space when read (compiled on use).
_CJK = (
    r"[\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u31ff\u3200-\u9fff\uf900-\ufaff\uff00-\uffef]"
)


def render_markdown(source: str, *, heading_ids: str = DEFAULT_HEADING_IDS) -> RenderedMarkdown:
    """Render ``source`` (a post body, front matter already removed), giving headings
    ids by the ``heading_ids`` rule (one of :data:`HEADING_ID_STYLES`, else ValueError;
    a plain ``str`` so that a site setting can be passed as it is)."""
    md = _parser(_features(source))
    env: dict[str, Any] = {}
    tokens = md.parse(source, env)
    headings, first_paragraph, text = _walk_tokens(tokens, heading_ids)
    html = _align_classes(_cleaner().clean(_render_tokens(md, tokens, env)))
    return RenderedMarkdown(
        html=html, headings=headings, first_paragraph=first_paragraph, text=text
    )


def sanitize_html(source: str, *, heading_ids: str = DEFAULT_HEADING_IDS) -> RenderedMarkdown:
    """An HTML page body (``pages/contact.html``) through the same allow-list as Markdown.

    Headings without an id get one (as in Markdown) so the table of contents can link
    them; the plain text is the tag-stripped text of what survived the sanitizer.
    """
    cleaned = _align_classes(_cleaner().clean(source))
    matches = list(_HTML_HEADING_RE.finditer(cleaned))
    raw_texts = [html_lib.unescape(_TAG_RE.sub("", m.group(3))).strip() for m in matches]
    explicit = [_HTML_ID_RE.search(m.group(2)) for m in matches]
    ids = _heading_ids(
        raw_texts,
        [html_lib.unescape(e.group(1)) if e else None for e in explicit],
        heading_ids,
        taken=frozenset(html_lib.unescape(i) for i in _HTML_ID_RE.findall(cleaned)),
    )
    headings: list[Heading] = []
    out: list[str] = []
    end = 0
    for match, raw, found, anchor in zip(matches, raw_texts, explicit, ids, strict=True):
        level, attrs, inner = match.group(1), match.group(2), match.group(3)
        if not found:
            attrs = f' id="{html_lib.escape(anchor)}"{attrs}'
        headings.append(Heading(level=int(level), id=anchor, text=_collapse(raw)))
        out += [cleaned[end : match.start()], f"<h{level}{attrs}>{inner}</h{level}>"]
        end = match.end()
    out.append(cleaned[end:])
    html = "".join(out)
    paragraph = _HTML_PARAGRAPH_RE.search(html)
    first = _collapse(html_lib.unescape(_TAG_RE.sub("", paragraph.group(1)))) if paragraph else ""
    text = _collapse(html_lib.unescape(_TAG_RE.sub(" ", html)))
    return RenderedMarkdown(html=html, headings=tuple(headings), first_paragraph=first, text=text)


_ALIGN_RE = re.compile(
    r'<(td|th)([^>]*?) style="text-align:\s*(left|center|right);?"([^>]*)>', re.IGNORECASE
)


def _align_classes(html: str) -> str:
    """Table-cell alignment as a class (``ta-right``), never an inline style: the site's
    Content-Security-Policy (``style-src 'self'``) blocks inline styles."""

    def replace(match: re.Match[str]) -> str:
        tag, before, align, after = match.groups()
        if " class=" in before or " class=" in after:
            return f"<{tag}{before}{after}>"
        return f'<{tag}{before} class="ta-{align.lower()}"{after}>'

    return _ALIGN_RE.sub(replace, html)


_HTML_HEADING_RE = re.compile(r"<h([1-6])((?:\s[^>]*)?)>(.*?)</h\1>", re.DOTALL)
_HTML_ID_RE = re.compile(r'\sid="([^"]*)"')
_HTML_PARAGRAPH_RE = re.compile(r"<p(?:\s[^>]*)?>(.*?)</p>", re.DOTALL)
_TAG_RE = re.compile(r"<[^>]*>")


def heading_id(text: str) -> str:
    """A heading's id: readable for Japanese, lowercased, ``section`` if empty.

    ``"概要 と Setup"`` -> ``"概要-と-setup"``, ``"「設定」・手順（Ｖｅｒ．２）"`` ->
    ``"設定-手順-ver-2"``.

    Not one of the URL slug rules of :mod:`tsuzuri.domain.slugs`: an anchor must never
    fail (a tag name with no letters is an error, a heading is not), and the markdown
    layer sits below the domain, so the rule lives here.
    """
    chars = unicodedata.normalize("NFKC", text).lower().translate(_SLUG_CHARS)
    slug = _SLUG_SEPARATORS_RE.sub("-", chars).strip("-")
    return slug or "section"


class _SlugChars(dict[int, str]):
    """``str.translate`` table for :func:`heading_id`: a character kept, or ``-``.

    Filled on first sight of each character (up to a bound), so that a heading costs
    one C-level pass instead of a Python loop with a Unicode look-up per character.
    """

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        if ch.isascii():
            out = ch if ch.isalnum() else "-"
        elif unicodedata.category(ch)[0] in "LMN":
            out = ch
        else:
            out = "-"
        if len(self) < 8192:
            self[code] = out
        return out


_SLUG_CHARS = _SlugChars()


def kramdown_heading_id(text: str) -> str:
    """The id kramdown's GFM parser (Jekyll 4) gives a heading, before repeats are
    numbered; ``""`` when nothing is left.

    ``"はじめに：なぜLLMカスタマイズが必要か"`` -> ``"はじめになぜllmカスタマイズが必要か"``,
    ``"C++ / C# の比較"`` -> ``"c--c-の比較"``. ``text`` is the heading's text as written,
    markup removed, spaces not collapsed (``multiple   spaces`` is ``multiple---spaces``).
    """
    return text.translate(_KRAMDOWN_CHARS)


# Alphabetic symbols: Ruby's \p{Word} counts Unicode's Alphabetic property, which
# takes in these letters of category So besides the letters, marks and letter numbers.
_ALPHABETIC_SYMBOLS = ((0x24B6, 0x24E9), (0x1F130, 0x1F149), (0x1F150, 0x1F169), (0x1F170, 0x1F189))


def _ruby_word(ch: str) -> bool:
    """Whether Ruby's (Onigmo's) ``\\p{Word}`` matches ``ch``: checked code point by
    code point against Ruby 3.1 for every character its Unicode version assigns."""
    category = unicodedata.category(ch)
    if category[0] in "LM" or category in ("Nd", "Nl", "Pc"):
        return True
    code = ord(ch)
    return category == "So" and any(lo <= code <= hi for lo, hi in _ALPHABETIC_SYMBOLS)


class _KramdownChars(dict[int, str]):
    """``str.translate`` table for :func:`kramdown_heading_id`, filled like _SlugChars.

    Ruby's ``downcase`` of a whole string is its per-character mapping (``ΣΑΣ`` is
    ``σασ``, where Python's ``lower`` would end on ``ς``), so each character is
    lowercased alone, then what is not a word character dropped.
    """

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        out = "-" if ch in " \t-" else "".join(c for c in ch.lower() if _ruby_word(c))
        if len(self) < 8192:
            self[code] = out
        return out


_KRAMDOWN_CHARS = _KramdownChars()


def _heading_ids(
    texts: Sequence[str],
    explicit: Sequence[str | None],
    style: str,
    *,
    taken: frozenset[str] = frozenset(),
) -> list[str]:
    """The id of each heading, from its text as written (markup removed) and its
    explicit id if it has one; ``taken`` are other ids already on the page."""
    if style == "tsuzuri":
        used = set(taken) | {e for e in explicit if e}
        ids: list[str] = []
        for text, given in zip(texts, explicit, strict=True):
            if given:
                ids.append(given)
                continue
            base = anchor = heading_id(_collapse(text))
            suffix = 0
            while anchor in used or _FOOTNOTE_ID_RE.fullmatch(anchor):
                suffix += 1
                anchor = f"{base}-{suffix}"
            used.add(anchor)
            ids.append(anchor)
        return ids
    if style != "kramdown":
        raise ValueError(f"unknown heading id style {style!r} (known: {HEADING_ID_STYLES})")
    seen: dict[str, int] = {}
    out: list[str | None] = []
    for text, given in zip(texts, explicit, strict=True):
        if given:
            out.append(given)
            continue
        base = kramdown_heading_id(text)
        count = seen.get(base, 0)
        seen[base] = count + 1
        anchor = f"{base}-{count}" if count else base
        # The footnote plugin's ids; kramdown's own are "fn:1", so this never met Jekyll.
        while _FOOTNOTE_ID_RE.fullmatch(anchor):
            count += 1
            anchor = f"{base}-{count}"
        out.append(anchor or None)  # None: kramdown would write no id
    if None not in out:
        return [a for a in out if a is not None]
    used = set(taken) | {a for a in out if a}
    anchor = "section"
    suffix = 0
    while anchor in used:
        suffix += 1
        anchor = f"section-{suffix}"
    return [a if a is not None else anchor for a in out]


# -- the parser --------------------------------------------------------------------


# Syntax extensions a post may not use. Each is left out of the parser when the source
# holds none of the characters it needs, so its rules cost nothing on that post; the
# HTML is the same either way, because the rule could not have matched. The checks
# run on the raw source: markdown-it's normalisation (CR LF -> LF, NUL -> U+FFFD) and
# block parsing only ever drop or replace characters between lines or cells, so
# they never make these sequences appear in an inline or block's text.
_FOOTNOTES = 1  # "[^label]" references and definitions, "^[inline]" notes
_TASKLISTS = 2  # "[ ] " / "[x] " / "[X] " at the start of a list item
_IAL = 4  # "{: ...}" attribute lists and the heading id "{#id}"
_STRIKETHROUGH = 8  # "~~text~~"
_ALL_FEATURES = _FOOTNOTES | _TASKLISTS | _IAL | _STRIKETHROUGH


def _features(source: str) -> int:
    """The extensions whose syntax can occur in ``source`` (a cheap superset)."""
    features = 0
    if "[^" in source or "^[" in source:
        features |= _FOOTNOTES
    if "[ ]" in source or "[x]" in source or "[X]" in source:
        features |= _TASKLISTS
    if "{:" in source or "{#" in source:
        features |= _IAL
    if "~" in source:
        features |= _STRIKETHROUGH
    return features


def _markdown() -> MarkdownIt:
    """The parser with every extension (what :func:`render_markdown` may use)."""
    return _parser(_ALL_FEATURES)


@cache
def _parser(features: int) -> MarkdownIt:
    """The parser for one set of extensions, built once per set for the process."""
    from urllib.parse import unquote

    from markdown_it import MarkdownIt
    from mdit_py_plugins.footnote import footnote_plugin
    from mdit_py_plugins.tasklists import tasklists_plugin

    from tsuzuri.markdown.kramdown_ial import kramdown_ial_plugin

    class _MarkdownIt(MarkdownIt):
        def validateLink(self, url: str) -> bool:
            # markdown-it checks the percent-encoded URL, so "java&#x09;script:" passes
            # as "java%09script:"; check the decoded form too.
            decoded = _URL_IGNORED_RE.sub("", unquote(url)).strip(_URL_STRIP)
            return bool(super().validateLink(url) and super().validateLink(decoded.lower()))

    md = _MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"] if features & _STRIKETHROUGH else ["table"])
    if features & _FOOTNOTES:
        md.use(footnote_plugin)
    if features & _TASKLISTS:
        md.use(tasklists_plugin)
    if features & _IAL:
        md.use(kramdown_ial_plugin, allowed=IAL_ATTRIBUTES)
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("image", _render_image)
    return md


def _render_tokens(md: MarkdownIt, tokens: Sequence[Token], env: EnvType) -> str:
    """``md.renderer.render(tokens, md.options, env)``, with the commonest inline -- a
    single run of text -- escaped in place instead of through ``renderInline``.

    The same HTML: for one ``text`` child, ``renderInline`` returns the ``text`` rule's
    output, which is :func:`escapeHtml` of its content while that rule is the default.
    """
    from markdown_it.common.utils import escapeHtml
    from markdown_it.renderer import RendererHTML

    renderer = md.renderer
    options = md.options
    if not isinstance(renderer, RendererHTML):
        return str(renderer.render(tokens, options, env))
    rules = renderer.rules
    plain = getattr(rules.get("text"), "__func__", None) is RendererHTML.text
    out: list[str] = []
    for i, token in enumerate(tokens):
        kind = token.type
        if kind == "inline":
            children = token.children
            if children:
                if plain and len(children) == 1 and children[0].type == "text":
                    out.append(escapeHtml(children[0].content))
                else:
                    out.append(renderer.renderInline(children, options, env))
        elif kind in rules:
            out.append(rules[kind](tokens, i, options, env))
        else:
            out.append(renderer.renderToken(tokens, i, options, env))
    return "".join(out)


@cache
def _cleaner() -> Cleaner:
    import nh3

    return nh3.Cleaner(
        tags=set(_TAGS),
        clean_content_tags=set(_CLEAN_CONTENT_TAGS),
        attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
        tag_attribute_values={
            tag: {name: set(values) for name, values in attrs.items()}
            for tag, attrs in _ATTRIBUTE_VALUES.items()
        },
        set_tag_attribute_values={tag: dict(attrs) for tag, attrs in _SET_ATTRIBUTES.items()},
        url_schemes=set(_URL_SCHEMES),
        filter_style_properties={"text-align"},
        strip_comments=True,
    )


# -- fenced code -------------------------------------------------------------------


def _render_fence(
    self: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    from markdown_it.common.utils import escapeHtml, unescapeAll
    from markdown_it.token import Token

    token = tokens[idx]
    info = unescapeAll(token.info).strip() if token.info else ""
    lang = info.split(maxsplit=1)[0] if info else ""
    code_class = f' class="language-{escapeHtml(lang)}"' if lang else ""
    outer = Token("", "", 0, attrs=dict(token.attrs))
    highlighted = _highlight(token.content, lang)
    if highlighted is None:
        return (
            f"<pre{self.renderAttrs(outer)}><code{code_class}>"
            f"{escapeHtml(token.content)}</code></pre>\n"
        )
    classes = outer.attrGet("class")
    outer.attrSet("class", f"highlight {classes}" if classes else "highlight")
    return (
        f"<div{self.renderAttrs(outer)}><pre><code{code_class}>{highlighted}</code></pre></div>\n"
    )


def _render_image(
    self: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    token = tokens[idx]
    token.attrSet("loading", "lazy")
    token.attrSet("decoding", "async")
    return str(type(self).image(self, tokens, idx, options, env))


def _highlight(code: str, lang: str) -> str | None:
    """Pygments' HTML for ``code`` (spans with classes only), or ``None`` if no lexer."""
    lexer = _lexer(lang.lower()) if lang else None
    if lexer is None:
        return None
    from pygments import highlight  # type: ignore[import-untyped,unused-ignore]

    return str(highlight(code, lexer, _formatter()))


@lru_cache(maxsize=128)
def _lexer(lang: str) -> Lexer | None:
    if lang in _PLAIN_LANGUAGES:
        return None
    from pygments.lexers import get_lexer_by_name  # type: ignore[import-untyped,unused-ignore]
    from pygments.util import ClassNotFound  # type: ignore[import-untyped,unused-ignore]

    try:
        return get_lexer_by_name(lang, stripnl=False)
    except ClassNotFound:
        return None


@cache
def _formatter() -> HtmlFormatter[str]:
    from pygments.formatters.html import HtmlFormatter  # type: ignore[import-untyped,unused-ignore]

    return HtmlFormatter(nowrap=True)


# -- headings and plain text ---------------------------------------------------------


def _walk_tokens(tokens: Sequence[Token], heading_ids: str) -> tuple[tuple[Heading, ...], str, str]:
    """One pass over the tokens: (headings, first top-level paragraph, whole body).

    Every heading gets an id (explicit ones win); the plain text of each inline token
    is built once and serves both the heading it belongs to and the body text.
    """
    parts: list[str] = []
    first_paragraph = ""
    depth = 0
    # [heading_open, plain text of the inline after it], in document order.
    found: list[list[Any]] = []
    previous = ""
    cjk_line_break = _cjk_line_break()
    for token in tokens:
        kind = token.type
        if kind == "inline":
            children = token.children
            if children and len(children) == 1 and children[0].type == "text":
                # Most inlines are one run of text: _inline_text without its loop.
                text = children[0].content
                if "\n" in text:
                    text = cjk_line_break.sub("", text)
            else:
                text = _inline_text(children or ())
            parts.append(text)
            if previous == "heading_open":
                found[-1][1] = text
            elif previous == "paragraph_open" and depth == 1 and not first_paragraph:
                first_paragraph = _collapse(text)
        elif kind == "heading_open":
            found.append([token, ""])
        elif kind in ("fence", "code_block"):
            parts.append(token.content)
        depth += token.nesting
        previous = kind
    explicit = [str(e) if (e := token.attrGet("id")) else None for token, _ in found]
    ids = _heading_ids([raw for _, raw in found], explicit, heading_ids)
    headings: list[Heading] = []
    for (token, raw), given, anchor in zip(found, explicit, ids, strict=True):
        if not given:
            token.attrSet("id", anchor)
        headings.append(Heading(level=int(token.tag[1]), id=anchor, text=_collapse(raw)))
    return tuple(headings), first_paragraph, _collapse(" ".join(parts))


def _inline_text(children: Sequence[Token]) -> str:
    """Text of an inline token's children: no markup, no image alt, no footnote marks."""
    out: list[str] = []
    hidden = 0  # inside raw <script>, <style> ... whose text the sanitizer drops
    for child in children:
        kind = child.type
        if kind in ("text", "code_inline"):
            if not hidden:
                out.append(child.content)
        elif kind == "softbreak":
            out.append("\n")
        elif kind == "hardbreak":
            out.append(" ")
        elif kind == "html_inline" and (m := _HIDDEN_HTML_RE.match(child.content)):
            hidden = max(hidden - 1, 0) if m[1] else hidden + 1
    text = "".join(out)
    return _cjk_line_break().sub("", text) if "\n" in text else text


@cache
def _cjk_line_break() -> re.Pattern[str]:
    return re.compile(rf"(?<={_CJK})\n(?={_CJK})")


def _collapse(text: str) -> str:
    return " ".join(text.split())
