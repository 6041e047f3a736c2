"""Turn a static page (``pages/about.md``, ``pages/contact.html``) into a :class:`Page`.

Front matter as for posts (``title`` required; ``permalink``, ``description``,
``sitemap``, ``robots``, ``published``, ``last_modified_at``; other keys reach the
templates as ``page_data.extra``). Markdown pages render like posts; HTML pages go
through the same sanitizer, so a page can no more run script than a post can.

Without a ``permalink``, the URL is Jekyll's for a page: ``pages/about.md`` is
``/about/`` when the site permalink ends with ``/`` (pretty URLs) and ``/about.html``
otherwise; ``pages/docs/index.md`` is ``/docs/``.
"""

from __future__ import annotations

import re

from tsuzuri.domain.frontmatter import decode_source, split_front_matter
from tsuzuri.domain.keys import SourceKey
from tsuzuri.domain.liquid import render_liquid
from tsuzuri.domain.model import Page
from tsuzuri.domain.permalink import normalize_url_path
from tsuzuri.domain.post import KNOWN_KEYS, FrontMatterFields, passthrough_fields
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.domain.text import truncate
from tsuzuri.errors import TooLarge, UrlCollision
from tsuzuri.markdown.render import render_markdown, sanitize_html

# URLs the site generates itself: a page may not take them.
RESERVED_EXACT = frozenset(
    {"/", "/404.html", "/feed.xml", "/sitemap.xml", "/robots.txt", "/index.html"}
)
RESERVED_PREFIXES = ("/tags/", "/category/", "/sitemaps/", "/assets/", "/archive/", "/search/")
_ARCHIVE_BUCKET = re.compile(r"^/page\d+/")
PAGE_KEYS = KNOWN_KEYS | {"nav_title"}


def reserved_url(url: str) -> bool:
    return (
        url in RESERVED_EXACT
        or url.startswith(RESERVED_PREFIXES)
        or bool(_ARCHIVE_BUCKET.match(url))
    )


def default_page_url(source_key: str, site: SiteConfig) -> str:
    """Jekyll's URL for a page without a permalink."""
    path = source_key.split("/", 1)[1]
    stem = path.rsplit(".", 1)[0]
    directory, _, name = stem.rpartition("/")
    if name == "index":
        return normalize_url_path(f"/{directory}/" if directory else "/")
    # Jekyll's add_permalink_suffix: pretty URLs when the posts' pattern ends with /.
    if site.permalink_pattern.endswith("/"):
        return normalize_url_path(f"/{stem}/")
    return normalize_url_path(f"/{stem}.html")


def parse_page(source: SourceKey, raw: bytes, site: SiteConfig) -> Page:
    """Parse and render a page. Raises an :class:`~tsuzuri.errors.InputRejected` subclass."""
    if len(raw) > site.max_post_bytes:
        raise TooLarge(
            f"the file is {len(raw):,} bytes, over the {site.max_post_bytes:,} byte limit",
            hint="split the page or move large content into assets/",
        )
    front = split_front_matter(decode_source(raw))
    fields = FrontMatterFields(front)
    permalink = fields.text("permalink")
    if permalink:
        url = normalize_url_path(permalink, line=fields.line("permalink"))
    else:
        url = default_page_url(source.key, site)
    if url == "/" and not permalink:
        # Checked before the title: minima's index.md (layout: home) has none, and
        # "title is missing" would send the editor to fix the wrong thing.
        raise UrlCollision(
            f"{source.key} is the source of Jekyll's home page; tsuzuri's home page (/) is"
            " its own list of posts, so this file is not published",
            line=fields.line("layout") or 1,
            hint="put the introduction in _config.yml's description, or move the text to"
            " pages/about.md",
        )
    title = fields.text("title", required=True)
    if reserved_url(url):
        raise UrlCollision(
            f"{url} is a page tsuzuri generates (home, tags, archive, search, feed…)",
            line=fields.line("permalink"),
            hint="choose another permalink, e.g. /about/",
        )
    # Jekyll runs Liquid on pages too; the supported subset is resolved, the rest stays text.
    liquid = render_liquid(front.body, site, first_line=front.body_line)
    body = liquid.text
    if source.key.lower().endswith(".html"):
        rendered = sanitize_html(body, heading_ids=site.heading_ids)
    else:
        rendered = render_markdown(body, heading_ids=site.heading_ids)
    description = fields.text("description") or fields.text("excerpt") or rendered.first_paragraph
    extra = passthrough_fields({k: v for k, v in front.data.items() if k not in PAGE_KEYS})
    nav_title = fields.text("nav_title")
    if nav_title:
        extra["nav_title"] = nav_title
    return Page(
        source_key=source.key,
        url=url,
        title=title,
        body_html=rendered.html,
        description=truncate(description, 300) if description else "",
        headings=rendered.headings,
        last_modified_at=fields.date("last_modified_at", site) or fields.date("date", site),
        robots=fields.text("robots") or None,
        sitemap=fields.boolean("sitemap", default=True),
        published=fields.boolean("published", default=True),
        layout=fields.text("layout") or "page",
        extra=extra,
        liquid_warning=liquid.warning or "",
    )
