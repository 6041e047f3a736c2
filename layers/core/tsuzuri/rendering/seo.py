"""What a page tells search engines and link previews about itself, for ``<head>``.

Kept apart from the theme because it follows other people's rules (schema.org, Open
Graph, X cards) rather than the site's design: whatever a theme override does with the
layout, the titles, canonical URLs, descriptions and JSON-LD it is handed come from here.

JSON-LD is handed over as markup, so :func:`json_for_script` is one of the two ways
(with the sanitized body) a value gets past the escaping policy of
:mod:`tsuzuri.rendering.theme`; it escapes for a script element instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup

from tsuzuri.domain.model import Post
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.rendering.i18n import ui_strings

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


def json_for_script(data: Any) -> Markup:
    """Serialize ``data`` for a ``<script type="application/ld+json">`` element.

    ``<``, ``>`` and ``&`` become JSON unicode escapes, so the text can never close the
    script element or open a comment, and it still parses as the same JSON.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.translate(_JSON_SCRIPT_ESCAPES))  # noqa: S704 - escaped just above


def twitter_handle(site: SiteConfig) -> str | None:
    raw = site.social.get("x")
    if raw is None:
        raw = site.extra.get("twitter")
        if isinstance(raw, Mapping):
            raw = raw.get("username")
    if not isinstance(raw, str) or not raw.strip():
        return None
    return "@" + raw.strip().lstrip("@")


def og_locale(lang: str) -> str | None:
    if "-" in lang or "_" in lang:
        language, _, region = lang.replace("-", "_").partition("_")
        return f"{language.lower()}_{region.upper()}"
    return _OG_LOCALES.get(lang.lower())


class PageSeo:
    """The site's metadata rules, with the theme's URL and date formatting.

    Takes the theme's ``absolute_url`` and ``date_iso`` rather than redoing them, so that
    a URL or a date reads the same in ``<head>``, in the JSON-LD and in the page body.
    """

    def __init__(
        self,
        site: SiteConfig,
        absolute_url: Callable[[str], str],
        date_iso: Callable[[datetime], str],
        ui: Mapping[str, str] | None = None,
    ) -> None:
        self.site = site
        self._absolute_url = absolute_url
        self._date_iso = date_iso
        self._ui = ui if ui is not None else ui_strings(site)

    def home_description(self) -> str:
        """The site's ``description``, else a sentence made from its title: a page
        without a meta description loses search snippets (and Lighthouse SEO points)."""
        if self.site.description.strip():
            return self.site.description
        return self._ui["home_description"].format(title=self.site.title)

    def full_title(self, title: str) -> str:
        if not self.site.title or not title or title == self.site.title:
            return title or self.site.title
        return f"{title} | {self.site.title}"

    def article(
        self, post: Post, *, canonical: str, author: str | None, crumbs: Sequence[Crumb]
    ) -> PageMeta:
        image = self._absolute_url(post.image) if post.image else None
        published = self._date_iso(post.date)
        modified = self._date_iso(post.last_modified_at or post.date)
        description = post.description or post.excerpt or self.site.description
        return PageMeta(
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

    def home(self, title: str, *, description: str | None = None) -> PageMeta:
        canonical = self._absolute_url("/")
        website = {
            "@context": "https://schema.org",
            "@type": "WebSite",
            "name": self.site.title,
            "url": canonical,
            "inLanguage": self.site.lang,
            **({"description": self.site.description} if self.site.description else {}),
        }
        description = description or self.home_description()
        return self._website(title, canonical, description, None, (json_for_script(website),))

    def section(
        self,
        title: str,
        url: str,
        *,
        description: str | None = None,
        robots: str | None = None,
        crumbs: Sequence[Crumb] = (),
    ) -> PageMeta:
        """Only posts are articles; every other page is described as part of the site."""
        json_ld = (json_for_script(self._breadcrumb_list(crumbs)),) if crumbs else ()
        return self._website(title, self._absolute_url(url), description, robots, json_ld)

    def not_found(self, title: str) -> PageMeta:
        # No robots noindex: the page is served with status 404, which search engines
        # never index, and the same document is audited as /404.html.
        return PageMeta(title=self.full_title(title), description=self.site.description)

    def _website(
        self,
        title: str,
        canonical: str,
        description: str | None,
        robots: str | None,
        json_ld: tuple[Markup, ...],
    ) -> PageMeta:
        return PageMeta(
            title=self.full_title(title),
            og_title=title,
            description=description or self.site.description,
            canonical=canonical,
            og_type="website",
            robots=robots,
            json_ld=json_ld,
        )

    def _breadcrumb_list(self, crumbs: Sequence[Crumb]) -> dict[str, Any]:
        return {
            "@context": "https://schema.org",
            "@type": "BreadcrumbList",
            "itemListElement": [
                {
                    "@type": "ListItem",
                    "position": position,
                    "name": crumb.name,
                    "item": self._absolute_url(crumb.url),
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
        home = self._absolute_url("/")
        publisher = {"@type": "Organization", "name": self.site.title, "url": home}
        data: dict[str, Any] = {
            "@context": "https://schema.org",
            "@type": "BlogPosting",
            "headline": post.title,
            "description": description,
            "url": self._absolute_url(post.url),
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
