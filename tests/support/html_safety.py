"""Does generated HTML or XML carry anything a browser would run? Used by the fuzz,
XSS and browser tests.

:func:`html_problems` parses a page with html5lib (the HTML5 algorithm browsers use; or,
five times faster for the property tests, the standard library's tokenizer) and checks
every element and attribute: no script other than JSON-LD that parses as
JSON, no element that loads or runs active content, no ``on*`` attribute, no URL
attribute whose scheme is ``javascript:``, ``vbscript:`` or ``data:`` once whitespace
and control characters are dropped (browsers ignore them), no ``style`` with
``expression(``/``url(``/``javascript:``, and no ``meta refresh`` to such a URL.
:func:`xml_problems` does the same for the Atom feed and sitemaps.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser

import html5lib
from tsuzuri.rendering.assets import style_source
from tsuzuri.rendering.theme import content_security_policy

# Attributes a browser resolves as a URL (and may navigate to or load).
URL_ATTRIBUTES = frozenset(
    {
        "href", "src", "action", "formaction", "poster", "background", "cite", "data",
        "codebase", "xlink:href", "srcset", "ping", "longdesc", "lowsrc", "dynsrc", "manifest",
        "icon", "profile", "usemap", "classid", "archive",
    }
)  # fmt: skip
ACTIVE_ELEMENTS = frozenset(
    {
        "iframe", "frame", "frameset", "object", "embed", "applet", "base", "form", "svg",
        "math", "link-import", "portal", "template", "noscript", "style", "xmp", "plaintext",
    }
)  # fmt: skip
# The theme's own active parts, which no content can turn against a reader: its
# content-hashed scripts (loaded from the site itself, no inline code), its inline
# stylesheet (only the exact text the site's Content-Security-Policy allows by hash)
# and the search page's plain GET form.
THEME_SCRIPT = re.compile(r"^/assets/theme/[\w.-]+\.js$")
SITE_POLICY = content_security_policy()
SEARCH_FORM = {"action": "/search/", "method": "get"}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:", "livescript:", "mocha:")
_IGNORED_IN_URL = re.compile(r"[\x00-\x20\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]+")
_BAD_STYLE = re.compile(r"expression\s*\(|url\s*\(|javascript:|behavior\s*:|-moz-binding", re.I)


def bad_url(value: str) -> bool:
    """Would a browser run (or render as a document) this URL?"""
    squeezed = _IGNORED_IN_URL.sub("", value).lower()
    return squeezed.startswith(BAD_SCHEMES)


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].lower()


def _attribute_problems(tag: str, attrs: Iterable[tuple[str, str]]) -> list[str]:
    problems = []
    attrs = list(attrs)
    for raw_name, value in attrs:
        name = _local(raw_name)
        if name.startswith("on"):
            problems.append(f"<{tag} {name}=...>: event handler attribute")
        elif name in URL_ATTRIBUTES and bad_url(value):
            problems.append(f"<{tag} {name}={value[:60]!r}>: script URL")
        elif name == "style" and _BAD_STYLE.search(value):
            problems.append(f"<{tag} style={value[:60]!r}>: active style")
        elif name == "content" and tag == "meta":
            equiv = dict((_local(n), v) for n, v in attrs).get("http-equiv", "").lower()
            target = value.split("url=", 1)[-1] if "url=" in value.lower() else ""
            if equiv == "refresh" and bad_url(target):
                problems.append(f"<meta refresh {value[:60]!r}>: script URL")
    return problems


class _Tokens(HTMLParser):
    """Start tags with their attributes, and the text of each script or style element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str]], str]] = []
        self._script: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pairs = [(name, value or "") for name, value in attrs]
        self.elements.append((tag, pairs, ""))
        if tag in ("script", "style"):
            self._script = []

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._script is not None:
            name, attrs, _ = self.elements[-1] if self.elements else ("", [], "")
            self.elements[-1] = (name, attrs, "".join(self._script))
            self._script = None


def _elements(html: str, parser: str) -> Iterator[tuple[str, list[tuple[str, str]], str]]:
    if parser == "stdlib":
        tokens = _Tokens()
        tokens.feed(html)
        tokens.close()
        yield from tokens.elements
        return
    document = html5lib.parse(html, treebuilder="etree", namespaceHTMLElements=False)
    for element in document.iter():
        if isinstance(element.tag, str):  # not a comment
            yield _local(element.tag), list(element.attrib.items()), element.text or ""


def html_problems(html: str, *, parser: str = "html5lib") -> list[str]:
    """Everything in ``html`` that could run script in a reader's browser.

    ``parser`` is ``"html5lib"`` (what browsers do) or ``"stdlib"`` (faster).
    """
    problems: list[str] = []
    for tag, attrs, text in _elements(html, parser):
        named = dict(attrs)
        search_form = all(named.get(k, "").lower() == v for k, v in SEARCH_FORM.items())
        if (
            (tag == "script" and THEME_SCRIPT.match(named.get("src", "")) and not text.strip())
            or (tag == "style" and not attrs and style_source(text) in SITE_POLICY)
            or (tag == "form" and search_form)
        ):
            pass
        elif tag == "script":
            kind = named.get("type", "").lower()
            if kind != "application/ld+json" or "src" in named:
                problems.append(f"<script type={kind!r}>")
            else:
                try:
                    json.loads(text)
                except ValueError:
                    problems.append("JSON-LD that is not JSON (a breakout?)")
        elif tag in ACTIVE_ELEMENTS:
            problems.append(f"<{tag}> element")
        problems += _attribute_problems(tag, attrs)
    return problems


def xml_problems(text: str) -> list[str]:
    """The same checks for XML (Atom, sitemaps); it must also be well-formed."""
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as exc:
        return [f"not well-formed XML: {exc}"]
    problems: list[str] = []
    for element in root.iter():
        tag = _local(element.tag)
        if tag in ACTIVE_ELEMENTS | {"script"} or "xhtml" in element.tag:
            problems.append(f"<{tag}> element in XML")
        problems += _attribute_problems(tag, element.attrib.items())
    return problems
