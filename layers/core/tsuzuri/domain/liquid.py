"""The few Liquid forms a Jekyll post or page commonly holds, resolved before Markdown.

tsuzuri does not run Liquid: the theme is Jinja2 and a post is Markdown. But migrated
posts link with ``{% post_url %}`` and ``{{ "/path" | relative_url }}``, and leaving
those as text breaks every such link. So this module resolves exactly:

* ``{{ site.title }}``, ``{{ site.description }}``, ``{{ site.url }}``, ``{{ site.baseurl }}``;
* ``{{ "/path" | relative_url }}`` and ``{{ "/path" | absolute_url }}``;
* ``{% post_url 2026-01-10-slug %}`` (also ``sub/2026-01-10-slug``), from the file name
  alone with the site's permalink rule, the same function that gives a post its URL, so
  no table is read;
* ``{% raw %}…{% endraw %}`` (its content is kept as written), ``{% comment %}…{% endcomment %}``
  (dropped) and ``{% highlight lang %}…{% endhighlight %}`` (a fenced code block).

Anything else in ``{{ }}`` or ``{% %}`` is left as written and listed in
:attr:`LiquidResult.unsupported`, for a warning in the report: never a rejection.

The site is served from the root of its host, so ``site.baseurl`` is the path of
``url`` in ``_config.yml`` (usually empty), not Jekyll's ``baseurl`` key: links keep
pointing at pages that exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from tsuzuri.domain.dates import parse_date
from tsuzuri.domain.keys import classify_key
from tsuzuri.domain.permalink import expand_permalink
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.errors import InputRejected

__all__ = ["LiquidNote", "LiquidResult", "filename_post_url", "has_liquid", "render_liquid"]

_TAG = re.compile(r"\{%-?\s*(?P<tag>.*?)\s*-?%\}|\{\{-?\s*(?P<out>.*?)\s*-?\}\}", re.DOTALL)
_BLOCK = re.compile(
    r"\{%-?\s*(?P<name>raw|comment|highlight)\b(?P<args>[^%]*?)\s*-?%\}\n?"
    r"(?P<inner>.*?)"
    r"\{%-?\s*end(?P=name)\s*-?%\}",
    re.DOTALL,
)
_STRING = r"""(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)')"""
_URL_FILTER = re.compile(rf"^{_STRING}\s*\|\s*(?P<filter>relative_url|absolute_url)$")
_SITE_VALUE = re.compile(r"^site\.(?P<key>title|description|url|baseurl)$")
_POST_URL = re.compile(r"^post_url\s+(?P<ref>[^\s%]+)$")
_SUPPORTED = (
    '{{ site.title }}, {{ site.baseurl }}, {{ "/path" | relative_url }}, {% post_url %}, '
    "{% raw %}, {% highlight %}"
)


@dataclass(frozen=True, slots=True)
class LiquidNote:
    """A Liquid tag tsuzuri left as written, at its line in the file."""

    line: int
    text: str


@dataclass(frozen=True, slots=True)
class LiquidResult:
    text: str
    resolved: int
    unsupported: tuple[LiquidNote, ...]

    @property
    def warning(self) -> str | None:
        """One sentence for the report, or None when every tag was resolved."""
        if not self.unsupported:
            return None
        shown = ", ".join(f"{n.text} (line {n.line})" for n in self.unsupported[:3])
        more = f" and {len(self.unsupported) - 3} more" if len(self.unsupported) > 3 else ""
        return (
            f"Liquid is shown as text: {shown}{more}. tsuzuri resolves only {_SUPPORTED}; "
            "replace the rest with Markdown or HTML"
        )


def has_liquid(text: str) -> bool:
    return "{{" in text or "{%" in text


def render_liquid(text: str, site: SiteConfig, *, first_line: int = 1) -> LiquidResult:
    """Resolve the supported forms in a post's or page's body (``first_line`` is the
    body's line in the file, for the notes)."""
    if not has_liquid(text):
        return LiquidResult(text, 0, ())
    resolved = 0
    kept: list[str] = []  # raw and highlight content, kept out of the tag scan
    notes: list[LiquidNote] = []

    def block(match: re.Match[str]) -> str:
        nonlocal resolved
        resolved += 1
        name, inner = match.group("name"), match.group("inner")
        if name == "comment":
            return ""
        if name == "highlight":
            lang = (match.group("args").split() or [""])[0]
            fence = "~~~~" if "```" in inner else "```"
            inner = f"{fence}{lang}\n{inner.strip(chr(10))}\n{fence}"
        kept.append(inner)
        return f"\x00{len(kept) - 1}\x00"

    body = _BLOCK.sub(block, text.replace("\x00", ""))

    def tag(match: re.Match[str]) -> str:
        nonlocal resolved
        value = _resolve(match, site)
        if value is None:
            line = first_line + body.count("\n", 0, match.start())
            notes.append(LiquidNote(line, " ".join(match.group(0).split())[:80]))
            return match.group(0)
        resolved += 1
        return value

    body = _TAG.sub(tag, body)
    if kept:
        body = re.sub("\x00([0-9]+)\x00", lambda m: kept[int(m.group(1))], body)
    return LiquidResult(body, resolved, tuple(notes))


def filename_post_url(ref: str, site: SiteConfig) -> str | None:
    """The URL ``{% post_url ref %}`` names: the post ``posts/<ref>.md`` at its file
    name's date, with the site's permalink rule, or None when ``ref`` is not a post's
    name. A post whose front matter moves it (``date``, ``slug``, ``permalink``,
    categories in ``:categories``) is not seen: no table is read."""
    try:
        source = classify_key(f"posts/{ref.strip('/')}.md")
        day = parse_date(source.filename_date, tz=site.tz, field="post_url")
    except InputRejected:
        return None
    if source.kind != "post":
        return None
    return expand_permalink(
        site.permalink, date=day, slug=source.slug, name=source.stem, path=source.path_below
    )


def _base_path(site: SiteConfig) -> str:
    return urlsplit(site.url).path.rstrip("/")


def _resolve(match: re.Match[str], site: SiteConfig) -> str | None:
    if match.group("tag") is not None:
        post = _POST_URL.match(match.group("tag"))
        if post is None:
            return None
        url = filename_post_url(post.group("ref"), site)
        return None if url is None else _base_path(site) + url
    expression = match.group("out")
    value = _SITE_VALUE.match(expression)
    if value is not None:
        key = value.group("key")
        return _base_path(site) if key == "baseurl" else str(getattr(site, key))
    url_filter = _URL_FILTER.match(expression)
    if url_filter is not None:
        path = url_filter.group("dq")
        if path is None:
            path = url_filter.group("sq")
        # Jekyll's relative_url: the base path, then the input with one leading slash.
        relative = re.sub(r"/{2,}", "/", f"{_base_path(site)}/{path.lstrip('/')}")
        if url_filter.group("filter") == "absolute_url":
            return f"{site.base_url.removesuffix(_base_path(site))}{relative}"
        return relative
    return None
