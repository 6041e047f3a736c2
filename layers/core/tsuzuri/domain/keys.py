"""Source-bucket keys: what an uploaded object is, and whether it may be published."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from tsuzuri.domain.slugs import jekyll_slug
from tsuzuri.errors import KeyRejected

KeyKind = Literal["post", "page", "asset", "config", "theme"]
CONFIG_NAMES = frozenset({"_config.yml", "_config.yaml", "_config.json"})
POST_EXTENSIONS = (".md", ".markdown")
PAGE_EXTENSIONS = (".md", ".markdown", ".html")
# A theme override: one file directly under theme/, named like a packaged template.
_THEME_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*\.(html|xml|txt)\.j2$")
_POST_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})-(.+)\.(md|markdown)$")


@dataclass(frozen=True, slots=True)
class SourceKey:
    key: str
    kind: KeyKind
    slug: str = ""
    filename_date: str = ""

    @property
    def stem(self) -> str:
        """The file name without its extension: Jekyll's ``:name`` of a post."""
        return self.key.rsplit("/", 1)[-1].rsplit(".", 1)[0]

    @property
    def path_below(self) -> str:
        """The path below the top folder, without the extension: Jekyll's ``:path``
        (``posts/a/2026-05-20-twin.md`` is ``/a/2026-05-20-twin``). Subfolders are kept
        in the key and here, but, as in Jekyll, in no other part of a post's URL."""
        below = self.key.split("/", 1)[-1]
        return "/" + below.rsplit(".", 1)[0]


def classify_key(key: str) -> SourceKey:
    """Validate an already URL-decoded key and say what it is.

    Jekyll folder names are accepted as uploaded from a Jekyll checkout:
    ``_posts/`` is treated as ``posts/``.
    """
    if not key or len(key.encode("utf-8")) > 1024:
        raise KeyRejected("the object key is empty or too long")
    if any(unicodedata.category(ch) == "Cc" for ch in key) or "\\" in key:
        raise KeyRejected(
            f"the key {key!r} contains control characters or backslashes",
            hint="rename the file using letters, digits, - and _",
        )
    parts = key.split("/")
    if key.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise KeyRejected(
            f"the key {key!r} is not a clean relative path",
            hint="upload to posts/YYYY-MM-DD-slug.md or assets/...",
        )
    if parts[0] == "_posts":
        parts[0] = "posts"
    normalized = "/".join(parts)
    if len(parts) == 1 and parts[0] in CONFIG_NAMES:
        return SourceKey(key=normalized, kind="config")
    if parts[0] == "assets" and len(parts) > 1:
        return SourceKey(key=normalized, kind="asset")
    if parts[0] == "theme" and len(parts) > 1:
        if len(parts) != 2 or not _THEME_NAME.match(parts[1]):
            raise KeyRejected(
                f"{key!r} is not a theme template",
                hint="upload templates as theme/<name>.html.j2 (or the name of a packaged"
                " template, e.g. theme/post.html.j2), directly under theme/",
            )
        return SourceKey(key=normalized, kind="theme", slug=parts[1])
    if parts[0] == "posts" and len(parts) > 1:
        match = _POST_NAME.match(parts[-1])
        if not match:
            raise KeyRejected(
                f"{parts[-1]!r} is not named like a post",
                hint="name posts YYYY-MM-DD-slug.md, e.g. posts/2026-02-21-my-first-post.md",
            )
        slug = jekyll_slug(match.group(2))
        if not slug:
            raise KeyRejected(
                f"{parts[-1]!r} has no usable slug after the date",
                hint="add words after the date, e.g. 2026-02-21-hello.md",
            )
        return SourceKey(key=normalized, kind="post", slug=slug, filename_date=match.group(1))
    if parts[0] == "pages" and len(parts) > 1:
        name = parts[-1]
        if name.startswith(".") or not name.lower().endswith(PAGE_EXTENSIONS):
            raise KeyRejected(
                f"{name!r} is not a page",
                hint="pages are Markdown or HTML files: pages/about.md, pages/contact.html",
            )
        return SourceKey(key=normalized, kind="page")
    raise KeyRejected(
        f"the key {key!r} is outside posts/, pages/, assets/ and theme/",
        hint="posts go under posts/, static pages under pages/, images and files under assets/",
    )
