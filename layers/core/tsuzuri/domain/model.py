"""The data model shared by the parser, the store, the theme and the publisher."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from tsuzuri.markdown.render import Heading

TermKind = Literal["tag", "category"]
#: Why a term is published under another name (see :class:`TermNote`).
TermNoteReason = Literal["case", "config", "same-url"]


@dataclass(frozen=True, slots=True)
class Term:
    """A tag or a category: the name the editor wrote and the slug in its URL."""

    kind: TermKind
    name: str
    slug: str

    @property
    def url(self) -> str:
        return f"/tags/{self.slug}/" if self.kind == "tag" else f"/category/{self.slug}/"

    @property
    def list_id(self) -> str:
        return f"{self.kind}/{self.slug}"


@dataclass(frozen=True, slots=True)
class TermNote:
    """A tag or category name published under another spelling, for the report.

    ``AWS`` on a post whose site already has the tag ``aws`` joins that tag and shows
    as ``aws`` (one tag, one stable display name); the editor is told rather than
    finding out from the tag page.
    """

    kind: TermKind
    #: As written in the front matter.
    written: str
    #: The display name the post is published with.
    name: str
    slug: str
    #: ``case``: differs only in case or width; ``config``: a ``_config.yml`` entry
    #: names it; ``same-url``: another spelling that gives the same URL.
    reason: TermNoteReason

    @property
    def message(self) -> str:
        where = Term(self.kind, self.name, self.slug).url
        why = {
            "case": "the same name in another case or width",
            "config": f"the name _config.yml's {self.kind}_slugs gives it",
            "same-url": "another spelling with the same URL",
        }[self.reason]
        return f"{self.kind} {self.written!r} is published as {self.name!r} at {where}: {why}"


@dataclass(frozen=True, slots=True)
class PostSummary:
    """What a list, a neighbour link or a related-post card shows of a post."""

    url: str
    title: str
    date: datetime
    excerpt: str
    image: str | None = None
    tags: tuple[str, ...] = ()
    # For the sitemap: when the page last changed, and whether it is listed at all.
    lastmod: datetime | None = None
    in_sitemap: bool = True
    # h2/h3 texts for the search index (rendering.search_index); not what lists show.
    headings: tuple[str, ...] = field(default=(), compare=False)
    # The body's search terms (rendering.search_index.body_terms). Not compared: no list
    # shows them, and a post read back from the store (which does not keep them) must
    # still compare equal to the same post parsed again.
    search_text: str = field(default="", compare=False)

    @property
    def sort_key(self) -> str:
        return sort_key(self.date, self.url)


@dataclass(frozen=True, slots=True)
class Post:
    """One parsed source file, ready to render.

    ``date`` is timezone-aware and already converted to the site timezone, because
    that is the calendar day Jekyll uses for the permalink and the reader sees.
    """

    source_key: str
    slug: str
    url: str
    title: str
    date: datetime
    body_html: str
    excerpt: str
    description: str
    tags: tuple[Term, ...] = ()
    categories: tuple[Term, ...] = ()
    author: str | None = None
    image: str | None = None
    last_modified_at: datetime | None = None
    canonical_url: str | None = None
    robots: str | None = None
    sitemap: bool = True
    reading_time: int = 1
    redirect_from: tuple[str, ...] = ()
    published: bool = True
    layout: str = "post"
    headings: tuple[Heading, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Content sketch for related posts (tsuzuri.domain.relatedness.signature_of), computed once at
    # parse time from the title and the body's plain text.
    signature: str = ""
    # Tag and category names published under another spelling, for the report.
    term_notes: tuple[TermNote, ...] = ()
    # The body's search terms (rendering.search_index.body_terms), computed at parse time
    # from the plain text, so the search shard never needs the post's body.
    search_text: str = ""
    # Liquid left as text (tsuzuri.domain.liquid), one sentence for the report; "" for none.
    liquid_warning: str = ""

    @property
    def terms(self) -> tuple[Term, ...]:
        return self.categories + self.tags

    @property
    def sort_key(self) -> str:
        return sort_key(self.date, self.url)

    def summary(self) -> PostSummary:
        return PostSummary(
            url=self.url,
            title=self.title,
            date=self.date,
            excerpt=self.excerpt,
            image=self.image,
            tags=tuple(t.name for t in self.tags),
            lastmod=self.last_modified_at or self.date,
            in_sitemap=self.sitemap and "noindex" not in (self.robots or ""),
            headings=heading_texts(self.headings),
            search_text=self.search_text,
        )


@dataclass(frozen=True, slots=True)
class Page:
    """A static page (``pages/about.md``): rendered with the theme, outside every list."""

    source_key: str
    url: str
    title: str
    body_html: str
    description: str = ""
    headings: tuple[Heading, ...] = ()
    last_modified_at: datetime | None = None
    robots: str | None = None
    sitemap: bool = True
    published: bool = True
    layout: str = "page"
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Liquid left as text (tsuzuri.domain.liquid), one sentence for the report; "" for none.
    liquid_warning: str = ""

    @property
    def in_sitemap(self) -> bool:
        return self.sitemap and "noindex" not in (self.robots or "")


@dataclass(frozen=True, slots=True)
class PageEntry:
    """What the page index keeps of a page: enough for the sitemap."""

    url: str
    title: str
    source_key: str
    lastmod: datetime | None = None
    in_sitemap: bool = True


SEARCH_HEADINGS_CHARS = 120


def heading_texts(headings: tuple[Heading, ...]) -> tuple[str, ...]:
    """The h2/h3 texts a post is searched by, at most ``SEARCH_HEADINGS_CHARS`` in total."""
    kept: list[str] = []
    used = 0
    for heading in headings:
        if heading.level not in (2, 3) or not heading.text:
            continue
        if used + len(heading.text) > SEARCH_HEADINGS_CHARS:
            break
        kept.append(heading.text)
        used += len(heading.text)
    return tuple(kept)


def sort_key(date: datetime, url: str) -> str:
    """Chronological key: UTC instant first, URL as a deterministic tie-break."""
    return f"{date.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}#{url}"


def page_key(url: str) -> str:
    """The site-bucket object key of a URL path: ``/a/b/`` -> ``a/b/index.html``."""
    path = url.lstrip("/")
    if path == "" or path.endswith("/"):
        return f"{path}index.html"
    return path
