"""The theme's files that are not templates: ``static/`` and ``inline/``.

Kept apart from the templates because both kinds are fixed by their bytes. Static
files are published under content-hashed names, so they can be cached as immutable and
a changed file is a new URL. Inline stylesheets go in a ``<style>`` element that the
Content-Security-Policy allows by hash, so the text a page carries must be exactly the
text the hash was taken of.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from tsuzuri.errors import ConfigError

ASSET_PREFIX = "assets/theme/"

_CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".woff2": "font/woff2",
}

_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


@dataclass(frozen=True, slots=True)
class StaticAsset:
    key: str
    data: bytes
    content_type: str


def load_static(static_dir: Path) -> dict[str, StaticAsset]:
    assets: dict[str, StaticAsset] = {}
    if not static_dir.is_dir():
        return assets
    for path in sorted(static_dir.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        name = path.relative_to(static_dir).as_posix()
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()[:8]
        stem, dot, suffix = name.rpartition(".")
        hashed = f"{stem}.{digest}.{suffix}" if dot and stem else f"{name}.{digest}"
        content_type = _CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        assets[name] = StaticAsset(ASSET_PREFIX + hashed, data, content_type)
    return assets


def compact_css(css: str) -> str:
    """CSS as it is inlined: comments, indentation and blank lines dropped.

    Only safe for CSS without ``/*`` inside a string, which holds for the packaged theme.
    """
    text = _CSS_COMMENT.sub("", css)
    return "\n".join(stripped for line in text.splitlines() if (stripped := line.strip()))


def load_inline_styles(inline_dir: Path) -> dict[str, Markup]:
    styles: dict[str, Markup] = {}
    if not inline_dir.is_dir():
        return styles
    for path in sorted(inline_dir.glob("*.css")):
        css = compact_css(path.read_text(encoding="utf-8"))
        if "</" in css:
            # "</style" would end the element early; no valid CSS needs "</" at all.
            raise ConfigError(f"inline stylesheet {path.name} contains '</'")
        styles[path.name] = Markup(css)  # noqa: S704 - the theme's own file, checked above
    return styles


def style_source(css: str) -> str:
    """The CSP source that allows one ``<style>`` element with exactly this text."""
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"
