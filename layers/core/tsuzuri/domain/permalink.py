"""Jekyll permalinks: the URL a post lives at, computed exactly as Jekyll 4 does."""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from tsuzuri.errors import PermalinkError

#: Files at the site root that tsuzuri writes itself: no post or redirect may take them.
RESERVED_FILES = frozenset({"index.html", "404.html", "robots.txt", "feed.xml", "sitemap.xml"})
#: Top folders whose pages tsuzuri writes itself (tag and category pages, sitemaps,
#: theme and uploaded assets); ``/page<N>/`` archive pages are reserved too.
RESERVED_DIRS = frozenset({"tags", "category", "sitemaps", "assets"})
_ARCHIVE_PAGE = re.compile(r"page[0-9]+")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")

#: Jekyll's built-in permalink styles (``permalink: pretty`` in ``_config.yml``).
PERMALINK_STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "weekdate": "/:categories/:year/W:week/:short_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
#: The placeholders of Jekyll 4's URL drop for a post.
PLACEHOLDERS = frozenset(
    {
        "year", "short_year", "month", "i_month", "short_month", "long_month", "day",
        "i_day", "y_day", "w_year", "week", "w_day", "short_day", "long_day", "hour",
        "minute", "second", "title", "slug", "name", "path", "categories",
        "slugified_categories", "output_ext", "collection",
    }
)  # fmt: skip
# Jekyll's own scan: a trailing ``_`` is tried with and without it (``:title_`` is the
# title followed by ``_``), and anything else after a colon must be a placeholder.
_PLACEHOLDER = re.compile(r":([a-z_]+)")
# strftime's %b/%a are locale-dependent; Jekyll's Ruby prints English names.
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# What Jekyll's URL.escape_path leaves as is; the rest is percent-encoded and decoded
# again by normalize_url_path, so a value's ``%41`` stays ``%41`` as in Jekyll.
_PATH_SAFE = "-._~!$&'()*+,;=:@/"


def permalink_pattern(permalink: str) -> str:
    """A ``permalink`` setting as a pattern: a style name is Jekyll's pattern for it."""
    return PERMALINK_STYLES.get(permalink, permalink)


def unknown_placeholders(permalink: str) -> list[str]:
    """The ``:names`` of a permalink setting that Jekyll would refuse to build with."""
    return [
        f":{name}"
        for name in _PLACEHOLDER.findall(permalink_pattern(permalink))
        if name not in PLACEHOLDERS and name.removesuffix("_") not in PLACEHOLDERS
    ]


def jekyll_categories(front_matter: Mapping[str, Any]) -> list[str]:
    """A post's categories as Jekyll reads them for ``:categories``.

    Jekyll's ``pluralized_array_from_hash``: ``category`` wins over ``categories``, and
    only the plural's string is split on spaces (``category: Tech Notes`` is one
    category, ``categories: Tech Notes`` two).
    """
    value = front_matter.get("category")
    if value is None:
        value = front_matter.get("categories")
        if isinstance(value, str):
            value = value.split()
    found: list[str] = []
    for item in _flatten(value):
        if item is not None:
            found.append(_ruby_to_s(item))
    return found


def jekyll_default_slug(text: str) -> str:
    """Jekyll's ``Utils.slugify(text)`` (mode "default"): ``:slug``, ``:name`` and
    ``:slugified_categories``. Anything but letters, marks and decimal digits is a hyphen."""
    out: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        out.append(char if category[0] in "LM" or category == "Nd" else "-")
    return re.sub(r"-+", "-", "".join(out)).strip("-").lower()


def expand_permalink(
    permalink: str,
    *,
    date: datetime,
    slug: str,
    categories: Sequence[str] = (),
    name: str = "",
    path: str = "",
) -> str:
    """Fill a Jekyll permalink (a pattern or a style name) for a post, as Jekyll 4 does.

    ``date`` must already be in the site timezone. ``slug`` is the post's ``:title``
    (Jekyll's pretty slug of the front matter's ``slug`` or of the file name);
    ``categories`` are the names as written (:func:`jekyll_categories`); ``name`` is the
    file name without its extension and ``path`` the file's path below ``posts/``
    without it (both default to what the date and slug give).
    """
    name = name or f"{date:%Y-%m-%d}-{slug}"
    iso = date.isocalendar()
    values = {
        "year": f"{date.year:04d}",
        "short_year": f"{date.year % 100:02d}",
        "month": f"{date.month:02d}",
        "i_month": str(date.month),
        "short_month": _MONTHS[date.month - 1][:3],
        "long_month": _MONTHS[date.month - 1],
        "day": f"{date.day:02d}",
        "i_day": str(date.day),
        "y_day": f"{date.timetuple().tm_yday:03d}",
        "w_year": f"{iso.year:04d}",
        "week": f"{iso.week:02d}",
        "w_day": str(iso.weekday),
        "short_day": _DAYS[date.weekday()][:3],
        "long_day": _DAYS[date.weekday()],
        "hour": f"{date.hour:02d}",
        "minute": f"{date.minute:02d}",
        "second": f"{date.second:02d}",
        "title": slug,
        "slug": jekyll_default_slug(slug),
        "name": jekyll_default_slug(name),
        "path": "/" + (path or name).strip("/"),
        "categories": "/".join(dict.fromkeys(c.lower() for c in categories)),
        "slugified_categories": "/".join(dict.fromkeys(jekyll_default_slug(c) for c in categories)),
        "output_ext": ".html",
        "collection": "posts",
    }

    def fill(match: re.Match[str]) -> str:
        placeholder = match.group(1)
        for key in (placeholder, placeholder.removesuffix("_")):
            if key in values:
                return match.group(0).replace(f":{key}", quote(values[key], safe=_PATH_SAFE), 1)
        raise PermalinkError(
            f"permalink {permalink!r}: :{placeholder} is not a Jekyll placeholder",
            hint="use :year, :month, :day, :title, :categories... or a style such as pretty",
        )

    url = _PLACEHOLDER.sub(fill, permalink_pattern(permalink))
    # Jekyll's URL#sanitize_url: ".." becomes "/", "./" goes, and "//" is squeezed, which
    # is also how an empty :categories vanishes from /:categories/:year/...
    url = re.sub(r"/{2,}", "/", ("/" + url).replace("..", "/").replace("./", ""))
    return normalize_url_path(url)


def _flatten(value: Any) -> Iterator[Any]:
    if isinstance(value, list | tuple):
        for item in value:
            yield from _flatten(item)
    else:
        yield value


def _ruby_to_s(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def normalize_url_path(path: str, *, field: str = "permalink", line: int | None = None) -> str:
    """Clean a site-relative URL path and refuse anything that could leave the site root.

    Percent-escapes are decoded first, as Jekyll does when it writes a page
    (``/%E7%94%9F/`` is the page ``/生/``), and the checks apply to the decoded path, so
    ``/%2e%2e/`` is refused like ``/../``. A ``%`` not followed by two hex digits is kept.
    """
    if not isinstance(path, str) or not path.strip():
        raise PermalinkError(f"{field} must be a non-empty path", line=line)
    if _PERCENT_ESCAPE.search(path):
        try:
            path = unquote_to_bytes(path).decode("utf-8")
        except UnicodeDecodeError:
            raise PermalinkError(
                f"{field} {path!r} has percent-escapes that are not UTF-8 text",
                line=line,
                hint="write the path as plain text, for example /2026/02/21/記事/",
            ) from None
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in path) or "\\" in path:
        raise PermalinkError(f"{field} contains control characters or backslashes", line=line)
    if not path.startswith("/") or path.startswith("//") or "://" in path:
        raise PermalinkError(
            f"{field} {path!r} must be a path inside the site, starting with /",
            line=line,
            hint="for example /about/ or /2026/02/21/my-post/",
        )
    if any(segment in (".", "..") for segment in path.split("/")):
        raise PermalinkError(f"{field} {path!r} must not contain . or .. segments", line=line)
    if "?" in path or "#" in path:
        raise PermalinkError(f"{field} {path!r} must not contain ? or #", line=line)
    cleaned = posixpath.normpath(path)
    if cleaned in ("/", "//"):
        return "/"
    last = cleaned.rsplit("/", 1)[-1]
    # Jekyll writes extensionless permalinks as directories: /about -> /about/index.html.
    if path.endswith("/") or "." not in last:
        cleaned += "/"
    return cleaned


def reserved_path(url: str) -> str | None:
    """Why a normalized site path belongs to a page tsuzuri generates, or ``None``.

    A post or a redirect written there would overwrite the home page, the feed, a tag
    page or an asset, and be overwritten back by the next publish.
    """
    path = url.lstrip("/")
    key = f"{path}index.html" if path == "" or path.endswith("/") else path
    top, _, rest = key.partition("/")
    if key in RESERVED_FILES:
        return f"/{key} is generated by tsuzuri"
    if rest and top in RESERVED_DIRS:
        return f"/{top}/ holds pages generated by tsuzuri"
    if rest and _ARCHIVE_PAGE.fullmatch(top):
        return f"/{top}/ is an archive page generated by tsuzuri"
    return None
