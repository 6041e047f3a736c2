"""Turn one source file into a :class:`~tsuzuri.domain.model.Post`, or say precisely why not."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any, Literal

from tsuzuri.domain.dates import parse_date
from tsuzuri.domain.frontmatter import FrontMatter, decode_source, split_front_matter
from tsuzuri.domain.keys import SourceKey
from tsuzuri.domain.limits import (
    MAX_CATEGORIES,
    MAX_HEADINGS,
    MAX_REDIRECT_FROM,
    MAX_TAGS,
    MAX_TERM_CHARS,
)
from tsuzuri.domain.liquid import render_liquid
from tsuzuri.domain.model import Post, Term, TermKind, TermNote, TermNoteReason, heading_texts
from tsuzuri.domain.permalink import (
    expand_permalink,
    jekyll_categories,
    normalize_url_path,
    reserved_path,
)
from tsuzuri.domain.relatedness import signature_of
from tsuzuri.domain.search_terms import body_terms
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.domain.slugs import jekyll_slug, looks_like_path, term_fold, term_slug
from tsuzuri.domain.text import is_blank, reading_time_minutes, truncate
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


def parse_post(source: SourceKey, raw: bytes, site: SiteConfig, *, size: int | None = None) -> Post:
    """Parse and render a post. Raises an :class:`~tsuzuri.errors.InputRejected` subclass.

    ``size`` is the object's real size when ``raw`` was read only up to the limit (the
    source bucket reads one byte past it), so that the report says how large it is.
    """
    check_size(raw, site, size=size)
    front = split_front_matter(decode_source(raw))
    fields = FrontMatterFields(front)

    title = fields.text("title", required=True)
    slug = jekyll_slug(fields.text("slug") or source.slug) or source.slug
    if slug.strip(".") == "":
        # Jekyll would clean a ``..`` segment away and publish at the day's archive URL.
        raise PermalinkError(
            f"slug {slug!r} is a path segment, not a name", line=fields.line("slug"),
            hint="use letters or digits in slug:",
        )  # fmt: skip
    post_date = _post_date(fields, source, site)
    notes: list[TermNote] = []
    categories = _terms(
        fields, "categories", "category", "category", site.category_slugs, MAX_CATEGORIES, notes
    )
    tags = _terms(fields, "tags", "tag", "tag", site.tag_slugs, MAX_TAGS, notes)
    redirect_from = _redirects(fields)
    check_headings(front)

    permalink = fields.text("permalink")
    if permalink:
        url = normalize_url_path(permalink, line=fields.line("permalink"))
    else:
        url = expand_permalink(
            site.permalink, date=post_date, slug=slug, categories=jekyll_categories(front.data),
            name=source.stem, path=source.path_below,
        )  # fmt: skip
    _check_not_reserved(url, "permalink" if permalink else "the URL", fields.line("permalink"))

    # Jekyll runs Liquid before Markdown: its common link forms are resolved, the rest
    # stays text (tsuzuri.domain.liquid).
    liquid = render_liquid(front.body, site, first_line=front.body_line)
    rendered = render_markdown(liquid.text, heading_ids=site.heading_ids)
    if len(rendered.headings) > MAX_HEADINGS:  # any the pre-count's approximation missed
        raise _too_many_headings(len(rendered.headings), line=front.body_line)
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
        redirect_from=redirect_from,
        published=fields.boolean("published", default=True),
        layout=fields.text("layout") or "post",
        headings=rendered.headings,
        extra=passthrough_fields(front.data),
        signature=signature_of(f"{title}\n{rendered.text}"),
        term_notes=tuple(notes),
        # What the shard shows already (title, tags, headings) is left out of the body's
        # terms, so their characters go to words found nowhere else.
        search_text=body_terms(
            rendered.text,
            seen=[title, *(t.name for t in tags), *heading_texts(rendered.headings)],
        ),
        liquid_warning=liquid.warning or "",
    )


def check_size(raw: bytes, site: SiteConfig, *, size: int | None = None) -> None:
    """Refuse a file over ``max_post_bytes``, naming its real size.

    ``raw`` may be a prefix of the object (one byte over the limit is enough to refuse
    it), so ``size``, the object's length from S3, wins when it is larger.
    """
    real = max(len(raw), size or 0)
    if real > site.max_post_bytes:
        raise TooLarge(
            f"the file is {real:,} bytes, over the {site.max_post_bytes:,} byte limit",
            hint="split the post or move large content into assets/",
        )


# A pre-count of Markdown headings on the source, before the renderer builds an id, a
# table-of-contents entry and a search entry for each. It follows CommonMark's block
# rules closely enough to bound the work (fenced code is skipped; block quotes and list
# items are looked into); render_markdown's own heading list is checked afterwards for
# the exact count. Raw HTML <h2>s get none of that work, so neither counts them.
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_QUOTE_MARKERS = re.compile(r"(?: {0,3}> ?)+")
_LIST_MARKER = re.compile(r" {0,3}(?:[-+*]|\d{1,9}[.)])[ \t]+")
_ATX = re.compile(r" {0,3}#{1,6}(?:[ \t]|$)")
_SETEXT = re.compile(r" {0,3}(?:=+|-+)[ \t]*$")


def check_headings(front: FrontMatter) -> None:
    """Refuse a body with more than :data:`MAX_HEADINGS` headings, naming the line of the
    first heading over the limit."""
    count = 0
    over_at: int | None = None
    fence: str | None = None
    previous_text = False  # the line above is paragraph text (a setext underline's)
    for index, raw_line in enumerate(front.body.split("\n")):
        quoted = _QUOTE_MARKERS.match(raw_line)
        line = raw_line[quoted.end() :] if quoted else raw_line
        opening = _FENCE.match(line)
        if fence is not None:
            if _closes(fence, opening, line):
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            previous_text = False
            continue
        item = _LIST_MARKER.match(line)
        if _ATX.match(line[item.end() :] if item else line) or (
            previous_text and _SETEXT.match(line)
        ):
            count += 1
            previous_text = False
            if over_at is None and count > MAX_HEADINGS:
                over_at = front.body_line + index
        else:
            previous_text = bool(line.strip()) and not line.startswith("    ")
    if count > MAX_HEADINGS:
        raise _too_many_headings(count, line=over_at)


def _closes(fence: str, opening: re.Match[str] | None, line: str) -> bool:
    """Whether ``line`` closes a code block opened by ``fence`` (CommonMark's rule)."""
    if opening is None:
        return False
    marks = opening.group(1)
    return marks[0] == fence[0] and len(marks) >= len(fence) and not line[opening.end() :].strip()


def _too_many_headings(count: int, *, line: int | None) -> TooLarge:
    return TooLarge(
        f"the post has {count:,} headings, over the limit of {MAX_HEADINGS:,}",
        line=line,
        hint="split it into several posts",
    )


def adopt_known_names(post: Post, known: Mapping[str, str]) -> Post:
    """The post with each tag and category shown under the site's name for its URL.

    ``known`` maps a list id (``tag/aws``) to the display name the site already shows
    for it (the first spelling seen, or ``_config.yml``'s). A post that writes ``AWS``
    for the 20-post tag ``aws`` then joins it as ``aws`` instead of renaming it, and the
    post's :attr:`~tsuzuri.domain.model.Post.term_notes` say so for the report.
    """
    notes = list(post.term_notes)

    def adopt(terms: tuple[Term, ...]) -> tuple[Term, ...]:
        kept: list[Term] = []
        for term in terms:
            name = known.get(term.list_id)
            if name and name != term.name:
                notes.append(TermNote(term.kind, term.name, name, term.slug, _why(name, term.name)))
                term = replace(term, name=name)
            kept.append(term)
        return tuple(kept)

    tags, categories = adopt(post.tags), adopt(post.categories)
    if len(notes) == len(post.term_notes):
        return post
    return replace(post, tags=tags, categories=categories, term_notes=tuple(notes))


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
        if required and is_blank(text):
            # Zero-width spaces, a BOM or fillers alone would publish an invisible link.
            why = " (it has only invisible characters)" if text else ""
            raise self.fail(key, f"must not be blank{why}")
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
    fields: FrontMatterFields,
    plural: str,
    singular: str,
    kind: TermKind,
    slugs: Mapping[str, str],
    limit: int,
    notes: list[TermNote],
) -> tuple[Term, ...]:
    """The post's tags or categories, one per URL, in the order written.

    Names that give one URL are one term, shown as the first of them (or as
    ``_config.yml`` names it); each rename is added to ``notes`` for the report.
    """
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
    # An empty or invisible entry (a zero-width space) names nothing: skipped, as Jekyll
    # skips empty ones.
    names = [name for name in names if not is_blank(name)]
    if len(names) > limit:
        # Each term is one more list page, feed and index entry to rewrite on a render.
        raise fields.fail(
            key,
            f"{len(names):,} entries, over the limit of {limit} per post",
            hint=f"keep the {limit} {plural} that describe the post best",
        )
    configured: dict[str, tuple[str, str]] = {}  # folded name -> (config name, slug)
    for config_name, config_slug in slugs.items():
        configured.setdefault(term_fold(config_name), (config_name, config_slug))
    terms: dict[str, Term] = {}
    for name in names:
        if len(name) > MAX_TERM_CHARS:
            raise fields.fail(key, f"{name[:20]!r}… is longer than {MAX_TERM_CHARS} characters")
        if looks_like_path(name):
            raise fields.fail(
                key,
                f"{name!r} looks like a file path, not a {kind} name",
                hint="remove the ./ and ../ parts and the slashes",
            )
        display, slug, reason = _term_name(name, slugs, configured)
        if slug is None:
            raise fields.fail(key, f"{name!r} has no letters or digits to make a URL from")
        if slug in terms:
            first = terms[slug].name
            if first != name:
                notes.append(TermNote(kind, name, first, slug, _why(first, name)))
            continue
        if reason is not None:
            notes.append(TermNote(kind, name, display, slug, reason))
        terms[slug] = Term(kind=kind, name=display, slug=slug)
    return tuple(terms.values())


def _why(kept: str, written: str) -> TermNoteReason:
    return "case" if term_fold(kept) == term_fold(written) else "same-url"


def _term_name(
    name: str, slugs: Mapping[str, str], configured: Mapping[str, tuple[str, str]]
) -> tuple[str, str | None, Literal["config"] | None]:
    """(display name, slug or None if there is none, "config" if _config.yml renamed it)."""
    if name in slugs:
        return name, slugs[name], None
    entry = configured.get(term_fold(name))
    if entry is not None:  # `aws` for a config entry `AWS: aws`: one tag, config's name
        return entry[0], entry[1], "config"
    try:
        return name, term_slug(name), None
    except ValueError:
        return name, None, None


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
    if len(items) > MAX_REDIRECT_FROM:
        # Each entry is one more page to write and one more URL to claim and invalidate.
        raise fields.fail(
            "redirect_from",
            f"{len(items):,} entries, over the limit of {MAX_REDIRECT_FROM} per post",
            hint="keep the old URLs that are still linked to; the rest can go",
        )
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
