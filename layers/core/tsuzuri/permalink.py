"""Jekyll permalinks: the URL a post lives at, computed exactly as Jekyll 4 does."""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime

from tsuzuri.errors import PermalinkError

_PLACEHOLDER = re.compile(
    r":(year|short_year|month|i_month|day|i_day|y_day|hour|minute|second|title|slug|categories)"
)


def expand_permalink(
    pattern: str, *, date: datetime, slug: str, categories: Sequence[str] = ()
) -> str:
    """Fill a Jekyll permalink pattern. ``date`` must already be in the site timezone."""
    values = {
        "year": f"{date.year:04d}",
        "short_year": f"{date.year % 100:02d}",
        "month": f"{date.month:02d}",
        "i_month": str(date.month),
        "day": f"{date.day:02d}",
        "i_day": str(date.day),
        "y_day": f"{date.timetuple().tm_yday:03d}",
        "hour": f"{date.hour:02d}",
        "minute": f"{date.minute:02d}",
        "second": f"{date.second:02d}",
        "title": slug,
        "slug": slug,
        "categories": "/".join(c.lower() for c in categories),
    }
    return normalize_url_path(_PLACEHOLDER.sub(lambda m: values[m.group(1)], pattern))


def normalize_url_path(path: str, *, field: str = "permalink", line: int | None = None) -> str:
    """Clean a site-relative URL path and refuse anything that could leave the site root."""
    if not isinstance(path, str) or not path.strip():
        raise PermalinkError(f"{field} must be a non-empty path", line=line)
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
