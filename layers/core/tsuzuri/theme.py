"""Render pages, feeds and sitemaps with the Jinja2 theme.

Everything here is a pure function of its arguments and the theme directory: no AWS,
no clock, no I/O beyond reading the templates and the static files once.

Escaping policy: autoescape is on for every HTML and XML template, and the only values
marked safe are the post body (sanitized upstream) and JSON-LD serialized by
:func:`json_for_script`. Undefined template variables raise (``StrictUndefined``).

Theme overrides: templates uploaded under ``theme/`` in the source bucket replace the
packaged ones by name (a ``ChoiceLoader``: overrides first, packaged second). An
override is trusted site-owner code, like a Jekyll layout, but it runs under the same
escaping policy: the ``safe`` filter does not exist and ``{% autoescape false %}`` is
refused, so an override cannot mark a value safe that the packaged theme escapes.
:func:`validate_overrides` compiles them and renders sample pages before they are used.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import jinja2
from markupsafe import Markup

from tsuzuri.config import SiteConfig
from tsuzuri.errors import ConfigError, ThemeRejected
from tsuzuri.model import Heading, Page, Post, PostSummary, Term

THEME_DIR_ENV = "TSUZURI_THEME_DIR"
ASSET_PREFIX = "assets/theme/"
FEED_PATH = "/feed.xml"
SITEMAP_PATH = "/sitemap.xml"
TOC_MIN_HEADINGS = 3
OVERRIDE_PREFIX = "theme/"
# One template, and all of them together (they are kept in one DynamoDB item, < 400 KB).
MAX_OVERRIDE_BYTES = 64 * 1024
MAX_OVERRIDES_BYTES = 256 * 1024

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

_OG_LOCALES = {
    "ja": "ja_JP",
    "en": "en_US",
    "zh": "zh_CN",
    "ko": "ko_KR",
    "fr": "fr_FR",
    "de": "de_DE",
    "es": "es_ES",
    "it": "it_IT",
    "pt": "pt_BR",
}

# Characters left alone when percent-encoding a URL: the RFC 3986 reserved and unreserved
# sets plus "%" (existing escapes are kept). Everything else, including non-ASCII, quotes
# and angle brackets, is encoded.
_PATH_SAFE = "/:@!$&()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HTTP_URL = re.compile(r"^https?://", re.IGNORECASE)
_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
# Characters that are invalid in XML 1.0 and meaningless in HTML: dropped from all output.
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_JSON_SCRIPT_ESCAPES = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)


@dataclass(frozen=True, slots=True)
class Crumb:
    """One step of the breadcrumb trail. ``url`` is a site-relative path."""

    name: str
    url: str


@dataclass(frozen=True, slots=True)
class TocEntry:
    """An h2 (or a stray h3) with the h3 headings under it."""

    heading: Heading
    children: tuple[Heading, ...] = ()


@dataclass(frozen=True, slots=True)
class ShareLink:
    name: str
    service: str
    url: str


@dataclass(frozen=True, slots=True)
class PageMeta:
    """What the base layout puts in ``<head>``."""

    title: str
    og_title: str = ""
    description: str = ""
    canonical: str | None = None
    og_type: str | None = None
    image: str | None = None
    robots: str | None = None
    published: str | None = None
    modified: str | None = None
    section: str | None = None
    tags: tuple[str, ...] = ()
    json_ld: tuple[Markup, ...] = ()


@dataclass(frozen=True, slots=True)
class StaticAsset:
    key: str
    data: bytes
    content_type: str


def json_for_script(data: Any) -> Markup:
    """Serialize ``data`` for a ``<script type="application/ld+json">`` element.

    ``<``, ``>`` and ``&`` become JSON unicode escapes, so the text can never close the
    script element or open a comment, and it still parses as the same JSON.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.translate(_JSON_SCRIPT_ESCAPES))  # noqa: S704 - escaped just above


def encode_url(url: str) -> str:
    """Percent-encode non-ASCII and unsafe characters of a URL or path, idempotently."""
    url = _LONE_PERCENT.sub("%25", url)
    parts = urlsplit(url)
    return urlunsplit(
        (
            parts.scheme,
            parts.netloc,
            quote(parts.path, safe=_PATH_SAFE),
            quote(parts.query, safe=_QUERY_SAFE),
            quote(parts.fragment, safe=_QUERY_SAFE),
        )
    )


def default_templates_dir() -> Path:
    """Where the theme lives when the caller does not say.

    ``$TSUZURI_THEME_DIR`` if set; else ``tsuzuri/theme/`` next to this module (the Lambda
    layer build copies the templates there); else the repository's ``templates/``.
    """
    configured = os.environ.get(THEME_DIR_ENV)
    if configured:
        return Path(configured)
    here = Path(__file__).resolve()
    packaged = here.parent / "theme"
    if packaged.is_dir():
        return packaged
    return here.parents[3] / "templates"


def build_toc(headings: Sequence[Heading]) -> tuple[TocEntry, ...]:
    """Nest h3 under the preceding h2. Empty when there are fewer than three headings."""
    relevant = [h for h in headings if h.level in (2, 3)]
    if len(relevant) < TOC_MIN_HEADINGS:
        return ()
    entries: list[tuple[Heading, list[Heading]]] = []
    for heading in relevant:
        if heading.level == 3 and entries and entries[-1][0].level == 2:
            entries[-1][1].append(heading)
        else:
            entries.append((heading, []))
    return tuple(TocEntry(h, tuple(children)) for h, children in entries)


def _load_static(static_dir: Path) -> dict[str, StaticAsset]:
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


def _load_inline_styles(inline_dir: Path) -> dict[str, Markup]:
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


def content_security_policy(templates_dir: Path | None = None) -> str:
    """The site's Content-Security-Policy: same-origin everything, plus the hashes of the
    theme's inline stylesheets. template.yaml's response headers policy must equal this
    for the packaged theme (a unit test holds them together); a theme directory of one's
    own (``TSUZURI_THEME_DIR``) needs its own policy there.
    """
    directory = templates_dir if templates_dir is not None else default_templates_dir()
    styles = _load_inline_styles(directory / "inline").values()
    hashes = "".join(" " + style_source(css) for css in styles)
    return (
        f"default-src 'self'; img-src 'self' https: data:; style-src 'self'{hashes}; "
        "script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
    )


def _finalize(value: Any) -> Any:
    """Drop XML-invalid control characters from every printed value, keeping Markup safe."""
    if isinstance(value, str) and _CONTROL_CHARS.search(value):
        cleaned = _CONTROL_CHARS.sub("", value)
        return Markup(cleaned) if isinstance(value, Markup) else cleaned  # noqa: S704
    return value


def _twitter_handle(site: SiteConfig) -> str | None:
    raw = site.social.get("x")
    if raw is None:
        raw = site.extra.get("twitter")
        if isinstance(raw, Mapping):
            raw = raw.get("username")
    if not isinstance(raw, str) or not raw.strip():
        return None
    return "@" + raw.strip().lstrip("@")


def _og_locale(lang: str) -> str | None:
    if "-" in lang or "_" in lang:
        language, _, region = lang.replace("-", "_").partition("_")
        return f"{language.lower()}_{region.upper()}"
    return _OG_LOCALES.get(lang.lower())


class Theme:
    """The site's templates bound to its configuration. Build once per cold start."""

    def __init__(
        self,
        site: SiteConfig,
        templates_dir: Path | None = None,
        *,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        self.site = site
        self.templates_dir = templates_dir if templates_dir is not None else default_templates_dir()
        if not self.templates_dir.is_dir():
            raise ConfigError(f"theme directory not found: {self.templates_dir}")
        # Template name -> source of the accepted theme/ overrides; see validate_overrides.
        self.overrides: dict[str, str] = dict(overrides or {})
        self._tz = site.tz
        self._base = site.base_url
        self._scheme = urlsplit(site.base_url).scheme or "https"
        self._assets = _load_static(self.templates_dir / "static")
        self._inline_styles = _load_inline_styles(self.templates_dir / "inline")
        self.environment = self._build_environment()

    # ----- environment, filters and globals -------------------------------------------

    def _build_environment(self) -> jinja2.Environment:
        packaged = jinja2.FileSystemLoader(str(self.templates_dir))
        loader: jinja2.BaseLoader = packaged
        if self.overrides:
            loader = jinja2.ChoiceLoader([_OverrideLoader(self.overrides), packaged])
        env = jinja2.Environment(
            loader=loader,
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html", "xml", "html.j2", "xml.j2"),
                disabled_extensions=("txt", "txt.j2"),
                default_for_string=True,
                default=True,
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
            finalize=_finalize,
        )
        # Nothing in a template may turn text into markup: values are escaped, and only
        # the sanitized body and JSON-LD come in already safe (see the module docstring).
        env.filters.pop("safe", None)
        env.filters.update(
            absolute_url=self.absolute_url,
            url_path=self.url_path,
            asset_url=self.asset_url,
            date_ja=self.date_ja,
            date_iso=self.date_iso,
            jsonld=json_for_script,
        )
        env.globals.update(
            site=self.site,
            absolute_url=self.absolute_url,
            url_path=self.url_path,
            asset_url=self.asset_url,
            inline_style=self.inline_style,
            og_locale=_og_locale(self.site.lang),
            twitter_site=_twitter_handle(self.site),
            feed_path=FEED_PATH,
        )
        return env

    def absolute_url(self, path: str) -> str:
        """``site.base_url + path``, percent-encoded. Absolute http(s) URLs pass through."""
        if _HTTP_URL.match(path):
            return encode_url(path)
        if path.startswith("//"):
            return encode_url(f"{self._scheme}:{path}")
        if not path.startswith("/"):
            path = "/" + path
        return self._base + encode_url(path)

    def url_path(self, url: str) -> str:
        """A link target for ``href``: percent-encoded, and never a ``javascript:`` URL."""
        scheme = urlsplit(url).scheme.lower()
        if scheme and scheme not in _SAFE_SCHEMES:
            url = "/" + url
        return encode_url(url)

    def asset_url(self, name: str) -> str:
        """The site path of a static theme file, e.g. ``/assets/theme/site.3f2a9c1b.css``."""
        try:
            return "/" + self._assets[name].key
        except KeyError:
            raise KeyError(f"theme asset not found: {name!r} (looked in static/)") from None

    def inline_style(self, name: str) -> Markup:
        """The text of ``inline/NAME`` for a ``<style>`` element; see content_security_policy."""
        try:
            return self._inline_styles[name]
        except KeyError:
            raise KeyError(f"inline stylesheet not found: {name!r} (looked in inline/)") from None

    def _local(self, value: datetime) -> datetime:
        # Naive datetimes are taken as site-local time, as Jekyll does for front matter.
        if value.tzinfo is None:
            return value.replace(tzinfo=self._tz)
        return value.astimezone(self._tz)

    def date_iso(self, value: datetime) -> str:
        """RFC 3339 / W3C datetime in the site timezone: ``2026-02-12T05:59:09+09:00``."""
        return self._local(value).isoformat(timespec="seconds")

    def date_ja(self, value: datetime) -> str:
        """``2026年2月12日`` in the site timezone."""
        local = self._local(value)
        return f"{local.year}年{local.month}月{local.day}日"

    def full_title(self, title: str) -> str:
        if not self.site.title or not title or title == self.site.title:
            return title or self.site.title
        return f"{title} | {self.site.title}"

    # ----- pages ---------------------------------------------------------------------

    def render_post(
        self,
        post: Post,
        *,
        previous: PostSummary | None,
        next: PostSummary | None,
        related: Sequence[PostSummary],
    ) -> str:
        canonical = self.absolute_url(post.canonical_url or post.url)
        image = self.absolute_url(post.image) if post.image else None
        author = post.author or self.site.author or None
        crumbs = self._post_breadcrumbs(post)
        published = self.date_iso(post.date)
        modified = self.date_iso(post.last_modified_at or post.date)
        description = post.description or post.excerpt or self.site.description
        page = PageMeta(
            title=self.full_title(post.title),
            og_title=post.title,
            description=description,
            canonical=canonical,
            og_type="article",
            image=image,
            robots=post.robots,
            published=published,
            modified=modified,
            section=post.categories[0].name if post.categories else None,
            tags=tuple(t.name for t in post.tags),
            json_ld=(
                json_for_script(
                    self._blog_posting(
                        post,
                        canonical=canonical,
                        image=image,
                        author=author,
                        description=description,
                        published=published,
                        modified=modified,
                    )
                ),
                json_for_script(self._breadcrumb_list(crumbs)),
            ),
        )
        show_updated = post.last_modified_at is not None and self.date_ja(
            post.last_modified_at
        ) != self.date_ja(post.date)
        return self._render(
            "post.html.j2",
            page=page,
            post=post,
            body=Markup(post.body_html),  # noqa: S704 - sanitized by the parser
            author=author,
            show_updated=show_updated,
            toc=build_toc(post.headings),
            breadcrumbs=crumbs,
            previous_post=previous,
            next_post=next,
            related=tuple(related),
            share_links=self._share_links(post.title, canonical),
        )

    def render_list(
        self,
        *,
        title: str,
        url: str,
        posts: Sequence[PostSummary],
        term: Term | None = None,
        newer_url: str | None = None,
        older_url: str | None = None,
        description: str | None = None,
    ) -> str:
        """The home page, a paginated archive page, a tag page or a category page."""
        if term is not None and description is None:
            described = (
                self.site.tag_descriptions
                if term.kind == "tag"
                else self.site.category_descriptions
            )
            description = described.get(term.name)
        canonical = self.absolute_url(url)
        crumbs: tuple[Crumb, ...] = ()
        json_ld: list[Markup] = []
        if term is not None:
            crumbs = (Crumb("ホーム", "/"), Crumb(term.name, url))
            json_ld.append(json_for_script(self._breadcrumb_list(crumbs)))
        elif url == "/":
            json_ld.append(
                json_for_script(
                    {
                        "@context": "https://schema.org",
                        "@type": "WebSite",
                        "name": self.site.title,
                        "url": canonical,
                        "inLanguage": self.site.lang,
                        **({"description": self.site.description} if self.site.description else {}),
                    }
                )
            )
        page = PageMeta(
            title=self.full_title(title),
            og_title=title,
            description=description or self.site.description,
            canonical=canonical,
            og_type="website",
            json_ld=tuple(json_ld),
        )
        return self._render(
            "list.html.j2",
            page=page,
            heading=term.name if term is not None else title,
            term=term,
            posts=tuple(posts),
            newer_url=newer_url,
            older_url=older_url,
            description=description,
            breadcrumbs=crumbs,
        )

    def render_term_index(self, *, title: str, url: str, terms: Sequence[tuple[Term, int]]) -> str:
        """A page listing terms with their post counts, e.g. ``/tags/``."""
        page = PageMeta(
            title=self.full_title(title),
            og_title=title,
            description=self.site.description,
            canonical=self.absolute_url(url),
            og_type="website",
        )
        return self._render("terms.html.j2", page=page, heading=title, terms=tuple(terms))

    def render_page(self, page: Page) -> str:
        """A static page (``pages/about.md``) with the site's layout."""
        canonical = self.absolute_url(page.url)
        crumbs = (Crumb("ホーム", "/"), Crumb(page.title, page.url))
        meta = PageMeta(
            title=self.full_title(page.title),
            og_title=page.title,
            description=page.description or self.site.description,
            canonical=canonical,
            og_type="website",
            robots=page.robots,
            json_ld=(json_for_script(self._breadcrumb_list(crumbs)),),
        )
        return self._render(
            "page.html.j2",
            page=meta,
            page_data=page,
            body=Markup(page.body_html),  # noqa: S704 - sanitized by the parser
            toc=build_toc(page.headings),
            breadcrumbs=crumbs,
        )

    def render_archive_index(self, years: Sequence[tuple[int, Sequence[tuple[int, int]]]]) -> str:
        """``/archive/``: every year, newest first, with its months and post counts."""
        title = "アーカイブ"
        crumbs = (Crumb("ホーム", "/"), Crumb(title, "/archive/"))
        meta = PageMeta(
            title=self.full_title(title),
            og_title=title,
            description=self.site.description,
            canonical=self.absolute_url("/archive/"),
            og_type="website",
            json_ld=(json_for_script(self._breadcrumb_list(crumbs)),),
        )
        entries = tuple((year, sum(c for _, c in months), tuple(months)) for year, months in years)
        return self._render(
            "archive.html.j2", page=meta, heading=title, years=entries, breadcrumbs=crumbs
        )

    def render_archive_year(
        self, year: int, months: Sequence[tuple[int, Sequence[PostSummary]]]
    ) -> str:
        """``/archive/<year>/``: the year's posts, grouped by month, newest first."""
        title = f"{year}年の記事"
        url = f"/archive/{year}/"
        crumbs = (Crumb("ホーム", "/"), Crumb("アーカイブ", "/archive/"), Crumb(f"{year}年", url))
        meta = PageMeta(
            title=self.full_title(title),
            og_title=title,
            description=self.site.description,
            canonical=self.absolute_url(url),
            og_type="website",
            json_ld=(json_for_script(self._breadcrumb_list(crumbs)),),
        )
        return self._render(
            "archive_year.html.j2",
            page=meta,
            heading=title,
            year=year,
            months=tuple((month, tuple(posts)) for month, posts in months),
            breadcrumbs=crumbs,
        )

    def render_search(self) -> str:
        """``/search/``: a plain GET form; ``search.js`` answers it in the browser. Without
        JavaScript the page offers the archive and the tag index instead."""
        title = "サイト内検索"
        meta = PageMeta(
            title=self.full_title(title),
            og_title=title,
            description=self.site.description,
            canonical=self.absolute_url("/search/"),
            og_type="website",
            robots="noindex",
        )
        return self._render("search.html.j2", page=meta, heading=title)

    def render_not_found(self) -> str:
        # No robots noindex: the page is served with status 404, which search engines
        # never index, and the same document is audited as /404.html.
        page = PageMeta(
            title=self.full_title("ページが見つかりません"),
            description=self.site.description,
        )
        return self._render("404.html.j2", page=page)

    def render_redirect(self, target_url: str) -> str:
        return self._render("redirect.html.j2", target=self.absolute_url(target_url))

    # ----- machine-readable files -------------------------------------------------------

    def render_feed(self, posts: Sequence[PostSummary], *, updated: datetime) -> str:
        """Atom 1.0 for ``/feed.xml``. The caller chooses and orders the entries.

        An entry's ``updated`` is the summary's ``lastmod`` when it has one, else its date.
        """
        entries = tuple((p, getattr(p, "lastmod", None) or p.date) for p in posts)
        return self._render("feed.xml.j2", entries=entries, updated=updated)

    def render_sitemap_index(self, sitemaps: Sequence[tuple[str, datetime | None]]) -> str:
        return self._render("sitemap_index.xml.j2", entries=tuple(sitemaps))

    def render_sitemap(self, entries: Sequence[tuple[str, datetime | None]]) -> str:
        return self._render("sitemap.xml.j2", entries=tuple(entries))

    def render_robots(self) -> str:
        return self._render("robots.txt.j2", sitemap_url=self.absolute_url(SITEMAP_PATH))

    def static_files(self) -> dict[str, tuple[bytes, str]]:
        """Site-bucket key -> (bytes, content type) for every file under ``static/``."""
        return {a.key: (a.data, a.content_type) for a in self._assets.values()}

    # ----- helpers --------------------------------------------------------------------

    def _render(self, name: str, **context: Any) -> str:
        return self.environment.get_template(name).render(**context)

    def _post_breadcrumbs(self, post: Post) -> tuple[Crumb, ...]:
        crumbs = [Crumb("ホーム", "/")]
        if post.categories:
            category = post.categories[0]
            crumbs.append(Crumb(category.name, category.url))
        crumbs.append(Crumb(post.title, post.url))
        return tuple(crumbs)

    def _breadcrumb_list(self, crumbs: Sequence[Crumb]) -> dict[str, Any]:
        return {
            "@context": "https://schema.org",
            "@type": "BreadcrumbList",
            "itemListElement": [
                {
                    "@type": "ListItem",
                    "position": position,
                    "name": crumb.name,
                    "item": self.absolute_url(crumb.url),
                }
                for position, crumb in enumerate(crumbs, start=1)
            ],
        }

    def _blog_posting(
        self,
        post: Post,
        *,
        canonical: str,
        image: str | None,
        author: str | None,
        description: str,
        published: str,
        modified: str,
    ) -> dict[str, Any]:
        home = self.absolute_url("/")
        publisher = {"@type": "Organization", "name": self.site.title, "url": home}
        data: dict[str, Any] = {
            "@context": "https://schema.org",
            "@type": "BlogPosting",
            "headline": post.title,
            "description": description,
            "url": self.absolute_url(post.url),
            "datePublished": published,
            "dateModified": modified,
            "author": {"@type": "Person", "name": author} if author else publisher,
            "publisher": publisher,
            "mainEntityOfPage": {"@type": "WebPage", "@id": canonical},
            "inLanguage": self.site.lang,
        }
        if image:
            data["image"] = [image]
        if post.categories:
            data["articleSection"] = post.categories[0].name
        if post.tags:
            data["keywords"] = [t.name for t in post.tags]
        return data

    def _share_links(self, title: str, url: str) -> tuple[ShareLink, ...]:
        u = quote(url, safe="")
        t = quote(title, safe="")
        return (
            ShareLink("X", "x", f"https://x.com/intent/tweet?text={t}&url={u}"),
            ShareLink("Facebook", "facebook", f"https://www.facebook.com/sharer/sharer.php?u={u}"),
            ShareLink(
                "LinkedIn", "linkedin", f"https://www.linkedin.com/sharing/share-offsite/?url={u}"
            ),
            ShareLink(
                "はてなブックマーク",
                "hatena",
                f"https://b.hatena.ne.jp/add?mode=confirm&url={u}&title={t}",
            ),
        )


# ----- theme overrides -------------------------------------------------------------------


class _OverrideLoader(jinja2.BaseLoader):
    """Overrides by name; their "file name" is the source key, so errors name it."""

    def __init__(self, templates: Mapping[str, str]) -> None:
        self._templates = dict(templates)

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        try:
            return self._templates[template], OVERRIDE_PREFIX + template, lambda: True
        except KeyError:
            raise jinja2.TemplateNotFound(template) from None

    def list_templates(self) -> list[str]:
        return sorted(self._templates)


def overrides_fingerprint(overrides: Mapping[str, str]) -> str:
    """Identifies an override set; never empty, so "no overrides" is a set too."""
    digest = hashlib.sha256()
    for name in sorted(overrides):
        digest.update(name.encode() + b"\0" + overrides[name].encode() + b"\0")
    return digest.hexdigest()[:16]


def packaged_templates(templates_dir: Path | None = None) -> list[str]:
    root = templates_dir if templates_dir is not None else default_templates_dir()
    return sorted(p.name for p in root.glob("*.j2") if p.is_file())


def validate_overrides(
    site: SiteConfig, overrides: Mapping[str, str], templates_dir: Path | None = None
) -> Theme:
    """Build the theme with these overrides and prove it renders, or raise ThemeRejected.

    Every template (the packaged ones too: an override of ``_macros.html.j2`` can break
    them) must compile, and a sample post, list, tag index, page, archive, search, 404,
    feed and sitemap must render under ``StrictUndefined``. Returns the theme.
    """
    packaged = set(packaged_templates(templates_dir))
    total = 0
    for name, source in sorted(overrides.items()):
        total += len(source.encode("utf-8"))
        if name.endswith(".txt.j2") and name not in packaged:
            raise ThemeRejected(
                f"{OVERRIDE_PREFIX}{name}: new templates must be .html.j2 or .xml.j2",
                hint="plain-text templates are not escaped; only robots.txt.j2 may be overridden",
            )
    if total > MAX_OVERRIDES_BYTES:
        raise ThemeRejected(
            f"the theme overrides total {total} bytes, over {MAX_OVERRIDES_BYTES}",
            hint="remove unused templates from theme/",
        )
    theme = Theme(site, templates_dir, overrides=overrides)
    env = theme.environment
    for name in sorted(overrides):
        try:
            _refuse_unescaped(name, env.parse(overrides[name], name, OVERRIDE_PREFIX + name))
        except jinja2.TemplateSyntaxError as exc:
            raise _syntax_rejected(exc, name) from None
    for name in sorted(packaged | set(overrides)):
        try:
            env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            raise _syntax_rejected(exc, name) from None
    for what, render in _samples(theme):
        try:
            render()
        except jinja2.TemplateSyntaxError as exc:
            raise _syntax_rejected(exc, exc.name or "") from None
        except Exception as exc:
            template, line = _template_frame(exc)
            where = f"{template}: " if template else ""
            message = exc.message if isinstance(exc, jinja2.TemplateError) else None
            message = message or f"{type(exc).__name__}: {exc}"
            raise ThemeRejected(
                f"{where}rendering a sample {what} failed: {message}",
                line=line,
                hint=_HINT_UNDEFINED
                if isinstance(exc, jinja2.UndefinedError)
                else "fix the template and upload it again; the site keeps its last valid theme",
            ) from None
    return theme


_HINT_UNDEFINED = (
    "use only the variables the packaged template receives; test optional ones with"
    " `is defined` or `x.get('key')`; the site keeps its last valid theme"
)


def _refuse_unescaped(name: str, tree: jinja2.nodes.Template) -> None:
    for node in tree.find_all((jinja2.nodes.EvalContextModifier,)):
        for option in node.options:
            if option.key == "autoescape":
                raise ThemeRejected(
                    f"{OVERRIDE_PREFIX}{name}: autoescape cannot be switched in a theme override",
                    line=node.lineno,
                    hint="remove the {% autoescape %} block; values are always escaped",
                )


def _syntax_rejected(exc: jinja2.TemplateSyntaxError, name: str) -> ThemeRejected:
    template = exc.filename or exc.name or name
    if template and not template.startswith(OVERRIDE_PREFIX) and "/" in template:
        template = Path(template).name
    hint = "fix the template and upload it again; the site keeps its last valid theme"
    if "no filter named 'safe'" in (exc.message or "").lower():
        hint = "the safe filter is not available: values are always escaped"
    return ThemeRejected(f"{template}: {exc.message}", line=exc.lineno, hint=hint)


def _template_frame(exc: BaseException) -> tuple[str, int | None]:
    """The innermost template frame of an exception's (Jinja2-rewritten) traceback."""
    found: tuple[str, int | None] = ("", None)
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            name = filename if filename.startswith(OVERRIDE_PREFIX) else Path(filename).name
            found = (name, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _samples(theme: Theme) -> list[tuple[str, Callable[[], object]]]:
    tz = theme.site.tz
    date = datetime(2026, 2, 21, 10, 48, 10, tzinfo=tz)
    tag = Term("tag", "サンプル", "sample")
    category = Term("category", "日記", "diary")
    headings = (
        Heading(2, "first", "はじめに"),
        Heading(3, "detail", "詳細"),
        Heading(2, "last", "おわりに"),
    )
    body = '<h2 id="first">はじめに</h2><p>本文です。</p>'
    post = Post(
        source_key="posts/2026-02-21-sample.md",
        slug="sample",
        url="/2026/02/21/sample/",
        title="サンプル記事",
        date=date,
        body_html=body,
        excerpt="本文です。",
        description="サンプルの説明",
        tags=(tag,),
        categories=(category,),
        author="綴 太郎",
        image="/assets/sample.png",
        last_modified_at=date + timedelta(days=3),
        headings=headings,
    )
    summary = post.summary()
    other = PostSummary(
        url="/2026/02/20/other/", title="別の記事", date=date - timedelta(days=1), excerpt="…"
    )
    page = Page(
        source_key="pages/about.md",
        url="/about/",
        title="このブログについて",
        body_html=body,
        description="説明",
        headings=headings,
    )
    return [
        ("post", lambda: theme.render_post(post, previous=other, next=other, related=(other,))),
        (
            "post without neighbours",
            lambda: theme.render_post(post, previous=None, next=None, related=()),
        ),
        ("home page", lambda: theme.render_list(title=theme.site.title, url="/", posts=(summary,))),
        (
            "tag page",
            lambda: theme.render_list(
                title=tag.name,
                url=tag.url,
                posts=(summary, other),
                term=tag,
                newer_url="/tags/sample/",
                older_url="/tags/sample/page/3/",
            ),
        ),
        (
            "tag index",
            lambda: theme.render_term_index(title="タグ", url="/tags/", terms=[(tag, 2)]),
        ),
        ("page", lambda: theme.render_page(page)),
        ("archive", lambda: theme.render_archive_index(((2026, ((2, 2),)),))),
        ("archive year", lambda: theme.render_archive_year(2026, ((2, (summary, other)),))),
        ("search page", theme.render_search),
        ("404 page", theme.render_not_found),
        ("redirect", lambda: theme.render_redirect(post.url)),
        ("feed", lambda: theme.render_feed((summary, other), updated=date)),
        ("sitemap", lambda: theme.render_sitemap(((post.url, date),))),
        ("sitemap index", lambda: theme.render_sitemap_index((("/sitemaps/2026.xml", date),))),
        ("robots.txt", theme.render_robots),
    ]
