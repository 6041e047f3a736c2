"""Render pages, feeds and sitemaps with the Jinja2 theme.

Everything here is a pure function of its arguments and the theme directory: no AWS,
no clock, no I/O beyond reading the templates and the static files once.

Interface text comes from :mod:`tsuzuri.rendering.i18n` in the site's language:
templates call ``t("key", ...)`` and format dates with ``date_display``.

Escaping policy: autoescape is on for every HTML and XML template, and the only values
marked safe are the post body (sanitized upstream), JSON-LD serialized by
:func:`tsuzuri.rendering.seo.json_for_script` and the interface text with links built by
:meth:`Theme.t_links` (the text and every link are escaped there). Undefined template
variables raise (``StrictUndefined``). Theme overrides (:mod:`tsuzuri.rendering.overrides`)
run under the same policy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import jinja2
from markupsafe import Markup, escape

from tsuzuri.domain.model import Page, Post, PostSummary, Term
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.errors import ConfigError
from tsuzuri.markdown.render import Heading
from tsuzuri.rendering.assets import load_inline_styles, load_static, style_source
from tsuzuri.rendering.i18n import MONTH_NAMES, format_date, ui_language, ui_strings
from tsuzuri.rendering.loader import layered_loader
from tsuzuri.rendering.seo import Crumb, PageSeo, json_for_script, og_locale, twitter_handle

FEED_PATH = "/feed.xml"
SITEMAP_PATH = "/sitemap.xml"
TOC_MIN_HEADINGS = 3

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
# A heading that carries its own number ("1. 月額の内訳", "第2章", "Step 3", "②"): a
# table of contents listing such headings shows no numbers of its own, or the reader
# sees "1. 1. 月額の内訳".
_SELF_NUMBERED = re.compile(
    r"\s*(?:[0-9０-９]|[\u2460-\u24ff\u2776-\u2793\u2160-\u217f]"
    r"|第\s*[0-9０-９一二三四五六七八九十百]|(?:step|chapter|part|q)\s*[0-9０-９])",
    re.IGNORECASE,
)


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
    """Where the theme lives when the caller does not say: ``tsuzuri/theme/`` in the
    package (the Lambda layer build copies the templates there), else the repository's
    ``templates/``. A site's own templates are ``theme/*.j2`` overrides in the bucket."""
    package = Path(__file__).resolve().parents[1]
    packaged = package / "theme"
    if packaged.is_dir():
        return packaged
    return package.parents[2] / "templates"


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


def self_numbered(headings: Sequence[Heading]) -> bool:
    """Whether a list of headings numbers itself (one of them starts with a number), so
    that the table of contents must not number it again."""
    return any(_SELF_NUMBERED.match(h.text) for h in headings)


def content_security_policy(templates_dir: Path | None = None) -> str:
    """The site's Content-Security-Policy: same-origin everything, plus the hashes of the
    theme's inline stylesheets. template.yaml's response headers policy must equal this
    for the packaged theme (a unit test holds them together); another ``templates_dir``
    needs its own policy there.
    """
    directory = templates_dir if templates_dir is not None else default_templates_dir()
    styles = load_inline_styles(directory / "inline").values()
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
        # Template name -> source of the accepted theme/ overrides; see overrides.py.
        self.overrides: dict[str, str] = dict(overrides or {})
        self._tz = site.tz
        self._base = site.base_url
        self._scheme = urlsplit(site.base_url).scheme or "https"
        self.ui = ui_strings(site)
        self._seo = PageSeo(site, self.absolute_url, self.date_iso, self.ui)
        self._assets = load_static(self.templates_dir / "static")
        self._inline_styles = load_inline_styles(self.templates_dir / "inline")
        self.environment = self._build_environment()

    # ----- environment, filters and globals -------------------------------------------

    def _build_environment(self) -> jinja2.Environment:
        env = jinja2.Environment(
            loader=layered_loader(self.templates_dir, self.overrides),
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
            date_display=self.date_display,
            date_iso=self.date_iso,
            jsonld=json_for_script,
            self_numbered=self_numbered,
        )
        env.globals.update(
            site=self.site,
            absolute_url=self.absolute_url,
            url_path=self.url_path,
            asset_url=self.asset_url,
            inline_style=self.inline_style,
            og_locale=og_locale(self.site.lang),
            twitter_site=twitter_handle(self.site),
            feed_path=FEED_PATH,
            t=self.t,
            t_links=self.t_links,
            ui_lang=ui_language(self.site.lang),
            month_names=MONTH_NAMES,
        )
        return env

    def t(self, key: str, **values: object) -> str:
        """The interface string ``key`` in the site's language, its placeholders filled."""
        try:
            text = self.ui[key]
        except KeyError:
            raise KeyError(f"no interface string {key!r} (see tsuzuri.rendering.i18n)") from None
        return text.format(**values) if values else text

    def t_links(self, key: str, **links: tuple[str, str]) -> Markup:
        """``t(key)`` with each ``{name}`` placeholder a link: ``name=(url, text)``."""
        anchors = {
            name: Markup('<a href="{}">{}</a>').format(self.url_path(url), text)
            for name, (url, text) in links.items()
        }
        # escape() of the text is Markup already; format() escapes every plain argument.
        return escape(self.t(key)).format(**anchors)

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
        """``2026年2月12日`` in the site timezone, whatever the site's language (kept for
        theme overrides written before ``date_display``)."""
        local = self._local(value)
        return f"{local.year}年{local.month}月{local.day}日"

    def date_display(self, value: datetime) -> str:
        """The date as the site's language writes it, in the site timezone:
        ``2026年2月12日`` (``ja``), ``February 12, 2026`` (``en``), or ``ui: date``."""
        return format_date(self.ui["date"], self._local(value))

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
        author = post.author or self.site.author or None
        crumbs = self._post_breadcrumbs(post)
        page = self._seo.article(post, canonical=canonical, author=author, crumbs=crumbs)
        show_updated = post.last_modified_at is not None and self.date_display(
            post.last_modified_at
        ) != self.date_display(post.date)
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
        crumbs: tuple[Crumb, ...] = ()
        meta_description = description
        if term is not None:
            crumbs = (Crumb(self.t("home"), "/"), Crumb(term.name, url))
            # Every page needs a meta description; a term page without one says what it is.
            if not (description or self.site.description):
                meta_description = self.t(f"{term.kind}_description", name=term.name)
        is_home = term is None and url == "/"
        if is_home:
            page = self._seo.home(title, description=description)
        else:
            page = self._seo.section(title, url, description=meta_description, crumbs=crumbs)
        return self._render(
            "list.html.j2",
            page=page,
            heading=term.name if term is not None else title,
            # The header already shows the site title: the home page's h1 is for
            # screen readers and search engines only, so the title is seen once.
            is_home=is_home,
            term=term,
            posts=tuple(posts),
            newer_url=newer_url,
            older_url=older_url,
            description=description,
            breadcrumbs=crumbs,
        )

    def render_term_index(
        self, *, title: str | None = None, url: str, terms: Sequence[tuple[Term, int]]
    ) -> str:
        """A page listing terms with their post counts, e.g. ``/tags/``.

        ``title`` defaults to the interface string ``tags``; the Japanese default
        ``タグ一覧`` a caller may still pass is taken as that default too.
        """
        if title is None or title == "タグ一覧":
            title = self.t("tags")
        page = self._seo.section(title, url)
        return self._render("terms.html.j2", page=page, heading=title, terms=tuple(terms))

    def render_page(self, page: Page) -> str:
        """A static page (``pages/about.md``) with the site's layout."""
        crumbs = (Crumb(self.t("home"), "/"), Crumb(page.title, page.url))
        meta = self._seo.section(
            page.title, page.url, description=page.description, robots=page.robots, crumbs=crumbs
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
        title = self.t("archive")
        crumbs = (Crumb(self.t("home"), "/"), Crumb(title, "/archive/"))
        meta = self._seo.section(title, "/archive/", crumbs=crumbs)
        entries = tuple((year, sum(c for _, c in months), tuple(months)) for year, months in years)
        return self._render(
            "archive.html.j2", page=meta, heading=title, years=entries, breadcrumbs=crumbs
        )

    def render_archive_year(
        self, year: int, months: Sequence[tuple[int, Sequence[PostSummary]]]
    ) -> str:
        """``/archive/<year>/``: the year's posts, grouped by month, newest first."""
        title = self.t("archive_year_title", year=year)
        url = f"/archive/{year}/"
        crumbs = (
            Crumb(self.t("home"), "/"),
            Crumb(self.t("archive"), "/archive/"),
            Crumb(self.t("year", year=year), url),
        )
        meta = self._seo.section(title, url, crumbs=crumbs)
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
        title = self.t("search_title")
        meta = self._seo.section(title, "/search/", robots="noindex")
        return self._render("search.html.j2", page=meta, heading=title)

    def render_not_found(self) -> str:
        return self._render("404.html.j2", page=self._seo.not_found(self.t("not_found_title")))

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
        crumbs = [Crumb(self.t("home"), "/")]
        if post.categories:
            category = post.categories[0]
            crumbs.append(Crumb(category.name, category.url))
        crumbs.append(Crumb(post.title, post.url))
        return tuple(crumbs)

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
                self.t("hatena_bookmark"),
                "hatena",
                f"https://b.hatena.ne.jp/add?mode=confirm&url={u}&title={t}",
            ),
        )
