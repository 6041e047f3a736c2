"""Turn one source file into a :class:`~tsuzuri.domain.model.Post`, or say precisely why not."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from tsuzuri.domain.dates import parse_date
from tsuzuri.domain.frontmatter import FrontMatter, decode_source, split_front_matter
from tsuzuri.domain.keys import SourceKey
from tsuzuri.domain.model import Post, Term, TermKind
from tsuzuri.domain.permalink import expand_permalink, normalize_url_path, reserved_path
from tsuzuri.domain.relatedness import signature_of
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.domain.slugs import jekyll_slug, term_slug
from tsuzuri.domain.text import reading_time_minutes, truncate
from tsuzuri.errors import DateError, FieldError, FrontMatterError, PermalinkError, TooLarge
from tsuzuri.markdown.render import render_markdown

# Keys tsuzuri interprets; everything else passes through to templates as ``post.extra``.
KNOWN_KEYS = frozenset(
    {
        "layout", "title", "date", "categories", "category", "tags", "tag", "author",
        "excerpt", "description", "reading_time", "image", "sitemap", "robots",
        "canonical_url", "last_modified_at", "permalink", "published", "redirect_from",
        "slug",
    }
)  # fmt: skip
_ABSOLUTE_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)


def parse_post(source: SourceKey, raw: bytes, site: SiteConfig) -> Post:
    """Parse and render a post. Raises an :class:`~tsuzuri.errors.InputRejected` subclass."""
    if len(raw) > site.max_post_bytes:
        raise TooLarge(
            f"the file is {len(raw):,} bytes, over the {site.max_post_bytes:,} byte limit",
            hint="split the post or move large content into assets/",
        )
    front = split_front_matter(decode_source(raw))
    fields = FrontMatterFields(front)

    title = fields.text("title", required=True)
    slug = jekyll_slug(fields.text("slug") or source.slug) or source.slug
    post_date = _post_date(fields, source, site)
    categories = _terms(fields, "categories", "category", "category", site.category_slugs)
    tags = _terms(fields, "tags", "tag", "tag", site.tag_slugs)

    permalink = fields.text("permalink")
    if permalink:
        url = normalize_url_path(permalink, line=fields.line("permalink"))
    else:
        url = expand_permalink(
            site.permalink, date=post_date, slug=slug, categories=[t.slug for t in categories]
        )
    _check_not_reserved(url, "permalink" if permalink else "the URL", fields.line("permalink"))

    rendered = render_markdown(front.body)
    excerpt_source = fields.text("excerpt") or rendered.first_paragraph
    excerpt = truncate(excerpt_source, site.excerpt_chars) if excerpt_source else ""
    description = fields.text("description") or excerpt
    reading_time = fields.positive_int("reading_time") or reading_time_minutes(rendered.text)

    return Post(
        source_key=source.key,
        slug=slug,
        url=url,
        title=title,
        date=post_date,
        body_html=rendered.html,
        excerpt=excerpt,
        description=truncate(description, 300),
        tags=tags,
        categories=categories,
        author=_author(fields),
        image=_image(fields),
        last_modified_at=fields.date("last_modified_at", site),
        canonical_url=fields.url("canonical_url"),
        robots=fields.text("robots"),
        sitemap=fields.boolean("sitemap", default=True),
        reading_time=reading_time,
        redirect_from=_redirects(fields),
        published=fields.boolean("published", default=True),
        layout=fields.text("layout") or "post",
        headings=rendered.headings,
        extra=passthrough_fields(front.data),
        signature=signature_of(f"{title}\n{rendered.text}"),
    )


class FrontMatterFields:
    """Typed access to front matter values, with errors that name the line."""

    def __init__(self, front: FrontMatter):
        self.data = front.data
        self.lines: Mapping[str, int] = getattr(front, "lines", {}) or {}

    def line(self, key: str) -> int | None:
        return self.lines.get(key)

    def fail(self, key: str, message: str, hint: str | None = None) -> FieldError:
        return FieldError(f"{key}: {message}", line=self.line(key), hint=hint)

    def text(self, key: str, *, required: bool = False) -> str:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise FrontMatterError(
                    f"{key} is missing", line=1, hint=f"add a line such as `{key}: ...`"
                )
            return ""
        if isinstance(value, date | datetime):  # YAML read `title: 2024-01-01` as a date
            value = value.isoformat()
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(
                key, f"must be text, not {_type_name(value)}", hint=f'quote it: {key}: "..."'
            )
        text = str(value).strip()
        if required and not text:
            raise self.fail(key, "must not be blank")
        return text

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self.data.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {value!r}")
        return value

    def positive_int(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10_000:
            raise self.fail(key, f"must be a whole number of minutes, not {value!r}")
        return value

    def date(self, key: str, site: SiteConfig) -> datetime | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        return _with_line(lambda: parse_date(value, tz=site.tz, field=key), self.line(key))

    def url(self, key: str) -> str | None:
        value = self.text(key)
        if not value:
            return None
        if _ABSOLUTE_URL.match(value):
            return value
        if value.startswith("/") and not value.startswith("//"):
            return normalize_url_path(value, field=key, line=self.line(key))
        raise self.fail(key, f"{value!r} is not an http(s) URL or a site path starting with /")


def _with_line(parse: Any, line: int | None) -> datetime:
    try:
        result: datetime = parse()
    except FieldError as exc:
        if exc.line is None:
            exc.line = line
        raise
    return result


def _post_date(fields: FrontMatterFields, source: SourceKey, site: SiteConfig) -> datetime:
    explicit = fields.date("date", site)
    if explicit is not None:
        return explicit
    # Jekyll takes the filename's day, at midnight in the site timezone, and (as Jekyll)
    # only needs it to be a real day when the front matter has no date.
    try:
        return parse_date(source.filename_date, tz=site.tz, field="the date in the file name")
    except DateError as exc:
        exc.hint = "rename the file with a real day (YYYY-MM-DD), or add a date: line"
        raise


def _check_not_reserved(url: str, field: str, line: int | None) -> None:
    why = reserved_path(url)
    if why is not None:
        raise PermalinkError(
            f"{field} {url} is taken: {why}",
            line=line,
            hint="choose another permalink (or file name) for this post",
        )


def _terms(
    fields: FrontMatterFields, plural: str, singular: str, kind: TermKind, slugs: Mapping[str, str]
) -> tuple[Term, ...]:
    key = plural if fields.data.get(plural) is not None else singular
    value = fields.data.get(key)
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        names = value.split()  # Jekyll splits a string of categories or tags on spaces
    elif isinstance(value, list):
        names = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise fields.fail(key, f"entries must be text, not {_type_name(item)}")
            names.append(str(item).strip())
    elif isinstance(value, int | float) and not isinstance(value, bool):
        names = [str(value)]
    else:
        raise fields.fail(
            key, f"must be a list or a space-separated string, not {_type_name(value)}"
        )
    terms: dict[str, Term] = {}
    for name in names:
        if not name:
            continue
        if len(name) > 100:
            raise fields.fail(key, f"{name[:20]!r}… is longer than 100 characters")
        try:
            slug = slugs.get(name) or term_slug(name)
        except ValueError:
            raise fields.fail(
                key, f"{name!r} has no letters or digits to make a URL from"
            ) from None
        terms.setdefault(slug, Term(kind=kind, name=name, slug=slug))
    return tuple(terms.values())


def _author(fields: FrontMatterFields) -> str | None:
    value = fields.data.get("author")
    if isinstance(value, Mapping):  # jekyll-seo-tag style: author: {name: ...}
        name = value.get("name")
        if isinstance(name, str) and name.strip():
            return name.strip()
        raise fields.fail("author", "needs a name: author: {name: ...}")
    return fields.text("author") or None


def _image(fields: FrontMatterFields) -> str | None:
    value = fields.data.get("image")
    if isinstance(value, Mapping):  # jekyll-seo-tag style: image: {path: ...}
        value = value.get("path")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise fields.fail("image", f"must be a URL or a path, not {_type_name(value)}")
    value = value.strip()
    if _ABSOLUTE_URL.match(value):
        return value
    if value.startswith("/") and not value.startswith("//"):
        return normalize_url_path(value, field="image", line=fields.line("image"))
    raise fields.fail("image", f"{value!r} must be an https URL or a path starting with /")


def _redirects(fields: FrontMatterFields) -> tuple[str, ...]:
    value = fields.data.get("redirect_from")
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise fields.fail("redirect_from", "must be a path or a list of paths")
    line = fields.line("redirect_from")
    paths = tuple(
        dict.fromkeys(normalize_url_path(i, field="redirect_from", line=line) for i in items)
    )
    for path in paths:
        _check_not_reserved(path, "redirect_from", line)
    return paths


def passthrough_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """Unknown keys for templates, made JSON-safe so they survive storage unchanged."""
    extra = {k: v for k, v in data.items() if k not in KNOWN_KEYS}
    return json.loads(json.dumps(extra, default=_json_default, ensure_ascii=False))  # type: ignore[no-any-return]


def _json_default(value: object) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _type_name(value: object) -> str:
    return {dict: "a mapping", list: "a list", bool: "true/false", type(None): "empty"}.get(
        type(value), type(value).__name__
    )
