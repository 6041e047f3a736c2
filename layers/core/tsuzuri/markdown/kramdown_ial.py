"""kramdown inline attribute lists (IALs) for markdown-it-py.

Jekyll renders posts with kramdown, and editors use its attribute lists to put a
class or an id on a block::

    [無料相談はこちら](https://example.com/contact)
    {: .consulting-cta-link}

renders as ``<p class="consulting-cta-link"><a href="...">無料相談はこちら</a></p>``.

What this plugin understands, following kramdown's own parser
(``lib/kramdown/parser/kramdown/extensions.rb``):

Block IAL
    A line holding only ``{: ...}`` (at most three spaces of indentation). It applies
    to the block directly *above* it, with no blank line in between: a paragraph,
    heading, list, table, blockquote, fenced or indented code, rule. Like kramdown
    (whose ``LAZY_END`` includes the IAL line), such a line ends a paragraph, list,
    blockquote or table instead of being a lazy continuation of it, so an IAL written
    directly under a paragraph line -- which CommonMark would otherwise glue to the
    paragraph's inline content -- is taken off the paragraph and applied to it. Under
    a list or blockquote it applies to the whole list or blockquote, as in kramdown.

    When there is no such block above (a blank line before the IAL, or the IAL opens
    its container), kramdown applies the IAL to the block directly *below* it::

        {: .note}
        この段落に class="note" が付きます。

    An IAL with blank lines on both sides applies to nothing and is dropped, again
    as in kramdown. Consecutive IAL lines merge. A tight-list paragraph that
    receives attributes is rendered with its ``<p>`` so they are not lost.

Heading IAL (an extension, kramdown ignores it)
    ``## Title {: #id .class}`` at the end of a heading line. kramdown's own header
    id form ``## Title {#id}`` is supported as well.

Span IAL
    ``[text](url){: target="_blank"}``, ``![alt](src){: width="300"}`` and
    ```` `code`{: .x} ```` put the attributes on the link, image or code span
    written directly before the IAL.

Syntax inside the braces: ``.class`` (repeatable, classes accumulate), ``#id`` (the
last one wins), ``.a.b#c`` run together, ``key="value"``, ``key='value'`` and, beyond
kramdown, ``key=value`` for a value without spaces or quotes. Backslash escapes
``\\"``, ``\\'``, ``\\}`` and ``\\\\`` work inside quoted values. A bare name (a
reference to a kramdown ALD) is accepted and ignored, because attribute list
definitions are not supported. Attribute names are lowercased. ``{::ext}`` and
``{:/}`` are kramdown extensions, not IALs. Anything else -- an IAL that does not
parse as a whole -- is not an IAL and stays in the text, visible, so a typo shows up
in the preview instead of silently doing nothing.

Safety: this plugin is not a sanitiser, but it never emits event handlers. With
``allowed=None`` (the default) it drops ``on*`` attributes and URL attributes that
``md.validateLink`` rejects (``javascript:``, ``vbscript:``, ``data:`` ...); pass an
explicit ``allowed`` collection of attribute names to keep nothing else. Whatever is
dropped is kept in the target token's ``meta["insecure_attrs"]``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.rules_block import StateBlock
    from markdown_it.rules_core import StateCore
    from markdown_it.rules_inline import StateInline
    from markdown_it.token import Token

__all__ = ["IAL_BLOCK_TYPE", "kramdown_ial_plugin", "merge_ial_attrs", "parse_ial"]

IAL_BLOCK_TYPE = "kramdown_ial"
"""Type of the temporary block token a block IAL line becomes before it is resolved."""

# One IAL: "{:" (but not "{::" or "{:/"), then anything up to the first "}" that is
# not escaped with a backslash.
_IAL = r"\{:(?![:/])((?:\\.|[^\\}\n])*)\}"
_BLOCK_IAL_RE = re.compile(_IAL + r"[ \t]*")
_SPAN_IAL_RE = re.compile(_IAL)
# A heading's trailing IAL, or kramdown's header id "{#id}", after whitespace.
_HEADING_IAL_RE = re.compile(
    r"[ \t]+(?:" + _IAL + r"|\{#([^\W_][\w:-]*)\})[ \t]*\Z",
)

_ITEM_RE = re.compile(
    r"""
    (?P<key>[A-Za-z_][A-Za-z0-9_.:-]*)=(?:
        "(?P<dq>(?:\\.|[^"\\])*)"
      | '(?P<sq>(?:\\.|[^'\\])*)'
      | (?P<uq>[^\s"'=<>`{}\\]+)
    )
    | (?P<sel>(?:\.[\w][\w-]*|\#[\w][\w:-]*)+)
    | (?P<ref>[\w][\w-]*)
    """,
    re.VERBOSE,
)
_SELECTOR_RE = re.compile(r"([.#])([^.#]+)")
_UNESCAPE_RE = re.compile(r"\\([\\\"'}])")
_SPACE_RE = re.compile(r"[ \t]*")

_URL_ATTRS = frozenset(("href", "src", "action", "formaction", "xlink:href", "poster", "cite"))
_URL_IGNORED_RE = re.compile(r"[\t\n\r]")
_URL_STRIP = "".join(chr(i) for i in range(0x21))
_SPAN_TARGETS = frozenset(("link_close", "image", "code_inline"))


def parse_ial(body: str) -> dict[str, str] | None:
    """Parse the inside of ``{: ...}`` (without the braces and the colon).

    Returns the attributes (``class`` space-joined in order), or ``None`` when the
    text is not a valid attribute list. Whitespace only is a valid, empty list.
    """
    if not body:
        return None
    attrs: dict[str, str] = {}
    classes: list[str] = []
    pos = 0
    end = len(body)
    while True:
        pos = _SPACE_RE.match(body, pos).end()  # type: ignore[union-attr]
        if pos >= end:
            break
        m = _ITEM_RE.match(body, pos)
        if m is None:
            return None
        pos = m.end()
        if pos < end and body[pos] not in " \t":
            return None
        if m["key"] is not None:
            key = m["key"].lower()
            raw = m["uq"]
            if raw is None:
                quoted = m["dq"] if m["dq"] is not None else m["sq"]
                raw = _UNESCAPE_RE.sub(r"\1", quoted)
            if key == "class":
                classes.extend(raw.split())
            else:
                attrs[key] = raw
        elif m["sel"] is not None:
            for kind, name in _SELECTOR_RE.findall(m["sel"]):
                if kind == ".":
                    classes.append(name)
                else:
                    attrs["id"] = name
        # m["ref"]: a reference to an attribute list definition; ALDs are unsupported.
    if classes:
        attrs["class"] = " ".join(classes)
    return attrs


def merge_ial_attrs(target: dict[str, str], new: dict[str, str]) -> None:
    """Merge ``new`` into ``target`` the kramdown way: classes add up, the rest is replaced."""
    for key, value in new.items():
        if key == "class" and target.get("class"):
            target["class"] = f"{target['class']} {value}"
        else:
            target[key] = value


def kramdown_ial_plugin(md: MarkdownIt, *, allowed: Collection[str] | None = None) -> None:
    """Add kramdown block, heading and span IALs to ``md``.

    :param allowed: attribute names an IAL may set; others are dropped (into
        ``token.meta["insecure_attrs"]``). ``None`` keeps everything except event
        handlers and URL attributes that ``md.validateLink`` rejects.
    """
    allowed_set = None if allowed is None else frozenset(a.lower() for a in allowed)
    md.block.ruler.before(
        "table",
        IAL_BLOCK_TYPE,
        _block_rule,
        {"alt": ["paragraph", "reference", "blockquote", "list"]},
    )
    md.inline.ruler.push(IAL_BLOCK_TYPE, partial(_span_rule, allowed=allowed_set))
    md.core.ruler.after("block", IAL_BLOCK_TYPE, partial(_core_rule, allowed=allowed_set))


# -- block IAL ---------------------------------------------------------------------


def _block_rule(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    if state.is_code_block(start_line):
        return False
    pos = state.bMarks[start_line] + state.tShift[start_line]
    maximum = state.eMarks[start_line]
    if not state.src.startswith("{:", pos):
        return False
    m = _BLOCK_IAL_RE.match(state.src, pos, maximum)
    if m is None or m.end() != maximum:
        return False
    attrs = parse_ial(m[1])
    if attrs is None:
        return False
    if silent:
        return True
    token = state.push(IAL_BLOCK_TYPE, "", 0)
    token.map = [start_line, start_line + 1]
    token.meta = {
        "attrs": attrs,
        "after_blank": start_line > 0 and state.isEmpty(start_line - 1),
    }
    state.line = start_line + 1
    return True


def _core_rule(state: StateCore, *, allowed: frozenset[str] | None) -> None:
    tokens = state.tokens
    has_block_ial = False
    for i, token in enumerate(tokens):
        if token.type == IAL_BLOCK_TYPE:
            has_block_ial = True
        elif token.type == "heading_open" and i + 1 < len(tokens):
            _heading_ial(state.md, token, tokens[i + 1], allowed)
    if has_block_ial:
        state.tokens = _resolve_block_ials(state.md, tokens, allowed)


def _heading_ial(
    md: MarkdownIt, heading: Token, inline: Token, allowed: frozenset[str] | None
) -> None:
    content = inline.content
    if inline.type != "inline" or not content.endswith("}"):
        return
    m = _HEADING_IAL_RE.search(content)
    if m is None:
        return
    text = content[: m.start()]
    if not text.strip():
        return
    attrs = parse_ial(m[1]) if m[2] is None else {"id": m[2]}
    if attrs is None:
        return
    inline.content = text
    _apply(md, heading, attrs, allowed)


def _resolve_block_ials(
    md: MarkdownIt, tokens: list[Token], allowed: frozenset[str] | None
) -> list[Token]:
    """Move each run of IAL tokens' attributes onto its block, and drop the IAL tokens."""
    # Pair every opening token with its closing token (and back).
    opener: dict[int, int] = {}
    closer: dict[int, int] = {}
    stack: list[int] = []
    for i, token in enumerate(tokens):
        if token.nesting == 1:
            stack.append(i)
        elif token.nesting == -1 and stack:
            start = stack.pop()
            opener[i] = start
            closer[start] = i

    out: list[Token] = []
    i = 0
    count = len(tokens)
    while i < count:
        if tokens[i].type != IAL_BLOCK_TYPE:
            out.append(tokens[i])
            i += 1
            continue
        j = i
        attrs: dict[str, str] = {}
        while j < count and tokens[j].type == IAL_BLOCK_TYPE:
            # Consecutive IAL lines merge; a blank line between them starts a new run.
            if j > i and _line_gap(tokens[j - 1], tokens[j]):
                break
            merge_ial_attrs(attrs, tokens[j].meta["attrs"])
            j += 1
        first, last = tokens[i], tokens[j - 1]
        target = -1
        if not first.meta["after_blank"]:
            target = _block_before(tokens, i, opener, first)
        if target < 0:
            target = _block_after(tokens, j, last)
        if target >= 0:
            token = tokens[target]
            if token.hidden and token.type == "paragraph_open" and target in closer:
                # A tight list item's paragraph renders without <p>: show it.
                token.hidden = False
                tokens[closer[target]].hidden = False
            _apply(md, token, attrs, allowed)
        i = j
    return out


def _line_gap(above: Token, below: Token) -> bool:
    return above.map is None or below.map is None or above.map[1] != below.map[0]


def _block_before(tokens: list[Token], index: int, opener: dict[int, int], ial: Token) -> int:
    """Index of the block directly above the IAL at ``index``, or -1."""
    if index == 0:
        return -1
    found = index - 1
    if tokens[found].nesting == -1:
        found = opener.get(found, -1)
    elif tokens[found].nesting == 1:  # the IAL opens its container: nothing above it
        return -1
    if found < 0 or tokens[found].type == "inline":
        return -1
    # A construct that leaves no token (a link reference definition) may sit between.
    prev_map = tokens[found].map
    if prev_map is not None and ial.map is not None and prev_map[1] != ial.map[0]:
        return -1
    return found


def _block_after(tokens: list[Token], index: int, ial: Token) -> int:
    """Index of the block directly below the last IAL of a run (at ``index``), or -1."""
    if index >= len(tokens):
        return -1
    nxt = tokens[index]
    if nxt.nesting == -1 or nxt.type == "inline":
        return -1
    if nxt.map is None or ial.map is None or nxt.map[0] != ial.map[1]:
        return -1
    return index


# -- span IAL ----------------------------------------------------------------------


def _span_rule(state: StateInline, silent: bool, *, allowed: frozenset[str] | None) -> bool:
    if not state.src.startswith("{:", state.pos) or state.pending or not state.tokens:
        return False
    last = state.tokens[-1]
    if last.type not in _SPAN_TARGETS:
        return False
    m = _SPAN_IAL_RE.match(state.src, state.pos, state.posMax)
    if m is None:
        return False
    attrs = parse_ial(m[1])
    if attrs is None:
        return False
    if not silent:
        target = last
        if last.nesting == -1:
            level = 0
            for token in reversed(state.tokens):
                level += token.nesting
                if level == 0:
                    target = token
                    break
        _apply(state.md, target, attrs, allowed)
    state.pos = m.end()
    return True


# -- attributes --------------------------------------------------------------------


def _apply(
    md: MarkdownIt, token: Token, attrs: dict[str, str], allowed: frozenset[str] | None
) -> None:
    rejected: dict[str, str] = {}
    for key, value in attrs.items():
        if not _is_allowed(md, key, value, allowed):
            rejected[key] = value
        elif key == "class":
            token.attrJoin("class", value)
        else:
            token.attrSet(key, value)
    if rejected:
        meta = token.meta if isinstance(token.meta, dict) else {}
        meta.setdefault("insecure_attrs", {}).update(rejected)
        token.meta = meta


def _is_allowed(md: MarkdownIt, key: str, value: str, allowed: frozenset[str] | None) -> bool:
    if key.startswith("on"):
        return False
    if allowed is not None and key not in allowed:
        return False
    if key in _URL_ATTRS:
        url = _URL_IGNORED_RE.sub("", value).strip(_URL_STRIP)
        return bool(md.validateLink(md.normalizeLink(url)))
    return True
