"""Theme overrides: the site owner's ``theme/*.j2`` files from the source bucket.

They replace the packaged templates by name (overrides first, packaged second), and a
new name adds a partial. An override is trusted site-owner code, like a Jekyll layout,
but it runs under the theme's escaping policy: the ``safe`` filter does not exist and
``{% autoescape false %}`` is refused, so an override cannot mark a value safe that the
packaged theme escapes. :func:`validate_overrides` compiles them and renders sample
pages before they are used, so that a broken upload is rejected and the site keeps
rendering with its last valid set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

import jinja2

from tsuzuri.domain.model import Page, Post, PostSummary, Term
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.errors import ThemeRejected
from tsuzuri.markdown.render import Heading
from tsuzuri.rendering.loader import OVERRIDE_PREFIX
from tsuzuri.rendering.theme import Theme, default_templates_dir

# One template, and all of them together (they are kept in one DynamoDB item, < 400 KB).
MAX_OVERRIDE_BYTES = 64 * 1024
MAX_OVERRIDES_BYTES = 256 * 1024


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
