"""The theme's interface text in the site's language, and how a site changes it.

The templates never hold interface text: they ask for a string by key (``t("home")``,
``t("reading_time", minutes=5)``). :func:`ui_strings` picks the table for the site's
``lang`` (``ja``, ``en``; ``en-US`` is ``en``; any other language gets the English
table, the likelier second language of a reader than Japanese) and applies the
site's own wording from ``_config.yml``::

    lang: en
    ui:
      related: You may also like
      date: "{day} {month_name} {year}"

``ui:`` reaches the theme as ``site.extra["ui"]`` (site config passes unknown keys
through). An override whose key the theme does not know, that is not text, or that
uses a placeholder the default string does not offer is ignored when rendering (a
typo must not take the site down) and reported by :func:`check_ui`, which
``tsuzuri check`` calls.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tsuzuri.domain.site_config import SiteConfig

__all__ = [
    "LANGUAGES",
    "MONTH_NAMES",
    "STRINGS",
    "check_ui",
    "format_date",
    "missing_description_warning",
    "ui_language",
    "ui_strings",
]

MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

# Placeholders: {minutes}, {year}, {month}, {month_name}, {day}, {query}, {count},
# {title}, {name}; {archive}, {tags} and {link} are links the template fills in.
STRINGS: Mapping[str, Mapping[str, str]] = {
    "ja": {
        "skip_link": "本文へスキップ",
        "nav_site": "サイト",
        "nav_footer": "フッター",
        "breadcrumbs": "パンくずリスト",
        "social": "ソーシャル",
        "home": "ホーム",
        "archive": "アーカイブ",
        "tags": "タグ一覧",
        "search": "検索",
        "feed": "Atom フィード",
        "tag": "タグ",
        "category": "カテゴリー",
        "toc": "目次",
        "updated": "更新:",
        "reading_time": "約{minutes}分で読めます",
        "share": "この記事をシェアする",
        "hatena_bookmark": "はてなブックマーク",
        "hatena": "はてな",
        "post_nav": "前後の記事",
        "previous_post": "← 前の記事",
        "next_post": "次の記事 →",
        "related": "関連記事",
        "no_related": "関連記事はまだありません。",
        "no_posts": "記事はまだありません。",
        "no_terms": "まだありません。",
        "pagination": "ページ送り",
        "newer": "← 新しい記事",
        "older": "過去の記事 →",
        "date": "{year}年{month}月{day}日",
        "year": "{year}年",
        "month": "{month}月",
        "year_month": "{year}年{month}月",
        "day": "{day}日",
        "archive_year_title": "{year}年の記事",
        "search_title": "サイト内検索",
        "search_label": "検索キーワード",
        "search_placeholder": "キーワード（例: サーバーレス RAG）",
        "search_button": "検索",
        "search_no_js": (
            "検索にはJavaScriptを使います。使えない場合は{archive}か{tags}から記事を探せます。"
        ),
        "search_prompt": "キーワードを入力してください。",
        "search_searching": "検索しています…",
        "search_results": "「{query}」の検索結果: {count}件",
        "search_error": (
            "検索インデックスを読み込めませんでした。アーカイブかタグ一覧からお探しください。"
        ),
        "not_found_title": "ページが見つかりません",
        "not_found_text": "お探しのページは移動または削除された可能性があります。",
        "back_home": "ホームへ戻る",
        "moved_title": "ページを移動しました",
        "moved_text": "{link} へ移動します。自動的に移動しない場合はリンクを開いてください。",
        "home_description": "{title}の最新記事の一覧です。",
        "tag_description": "「{name}」タグの記事の一覧です。",
        "category_description": "{name}の記事の一覧です。",
    },
    "en": {
        "skip_link": "Skip to content",
        "nav_site": "Site",
        "nav_footer": "Footer",
        "breadcrumbs": "Breadcrumb",
        "social": "Social",
        "home": "Home",
        "archive": "Archive",
        "tags": "Tags",
        "search": "Search",
        "feed": "Atom feed",
        "tag": "Tag",
        "category": "Category",
        "toc": "Contents",
        "updated": "Updated:",
        "reading_time": "{minutes} min read",
        "share": "Share this post",
        "hatena_bookmark": "Hatena Bookmark",
        "hatena": "Hatena",
        "post_nav": "More posts",
        "previous_post": "← Previous post",
        "next_post": "Next post →",
        "related": "Related posts",
        "no_related": "No related posts yet.",
        "no_posts": "No posts yet.",
        "no_terms": "Nothing here yet.",
        "pagination": "Pagination",
        "newer": "← Newer posts",
        "older": "Older posts →",
        "date": "{month_name} {day}, {year}",
        "year": "{year}",
        "month": "{month_name}",
        "year_month": "{month_name} {year}",
        "day": "{day}",
        "archive_year_title": "Posts from {year}",
        "search_title": "Search this site",
        "search_label": "Search terms",
        "search_placeholder": "Keywords (e.g. serverless RAG)",
        "search_button": "Search",
        "search_no_js": (
            "Search needs JavaScript. Without it, browse the {archive} or the {tags} instead."
        ),
        "search_prompt": "Type a keyword.",
        "search_searching": "Searching…",
        "search_results": "{count} results for “{query}”",
        "search_error": "The search index could not be loaded. Try the archive or the tags.",
        "not_found_title": "Page not found",
        "not_found_text": "The page you are looking for may have moved or been deleted.",
        "back_home": "Back to the home page",
        "moved_title": "This page has moved",
        "moved_text": "Taking you to {link}. If nothing happens, follow the link.",
        "home_description": "The latest posts on {title}.",
        "tag_description": "Posts tagged “{name}”.",
        "category_description": "Posts in {name}.",
    },
}
LANGUAGES = tuple(STRINGS)


def ui_language(lang: str) -> str:
    """The string table for a site ``lang``: ``ja-JP`` is ``ja``, unknown is ``en``."""
    base = lang.replace("_", "-").split("-", 1)[0].lower()
    return base if base in STRINGS else "en"


def _fields(text: str) -> set[str] | None:
    """The placeholders of ``text``; ``None`` if it is no valid format string."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:  # a lone "{" or "}"
        return None


def _fits(value: object, default: str) -> bool:
    """Whether ``value`` can stand in for ``default``: text with no other placeholder
    (so ``{title.__class__}`` or ``{0}`` never reach ``str.format``)."""
    if not isinstance(value, str):
        return False
    fields, offered = _fields(value), _fields(default)
    return fields is not None and offered is not None and fields <= offered


def _overrides(site: SiteConfig) -> Mapping[str, Any]:
    raw = site.extra.get("ui")
    return raw if isinstance(raw, Mapping) else {}


def ui_strings(site: SiteConfig) -> dict[str, str]:
    """Every interface string for the site: its language's table, then ``ui:``."""
    table = dict(STRINGS[ui_language(site.lang)])
    for key, value in _overrides(site).items():
        default = table.get(str(key))
        if default is not None and _fits(value, default):
            table[str(key)] = value
    return table


def check_ui(site: SiteConfig) -> list[str]:
    """Plain-words problems with the site's ``ui:`` overrides (each is ignored)."""
    raw = site.extra.get("ui")
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        return ["ui: must map interface text keys to text, e.g. `ui: {related: See also}`"]
    table = STRINGS[ui_language(site.lang)]
    problems: list[str] = []
    for key, value in raw.items():
        default = table.get(str(key))
        if default is None:
            problems.append(f"ui: unknown key {key!r} (known: {', '.join(sorted(table))})")
        elif not isinstance(value, str):
            problems.append(f"ui: {key} must be text")
        elif not _fits(value, default):
            offered = ", ".join("{" + f + "}" for f in sorted(_fields(default) or ())) or "none"
            problems.append(
                f"ui: {key}: {value!r} is not used: its placeholders must be among "
                f"{offered}, and a literal brace is written {{{{ or }}}}"
            )
    return problems


def missing_description_warning(site: SiteConfig) -> str | None:
    """For ``tsuzuri check``: the home page then says only the default description."""
    if isinstance(site.description, str) and site.description.strip():
        return None
    default = ui_strings(site)["home_description"].format(title=site.title)
    return (
        "_config.yml has no description: the home page and lists fall back to "
        f"{default!r}; add `description: ...` to say what the blog is about"
    )


def format_date(template: str, value: datetime) -> str:
    """``value`` (already in the site timezone) by a ``date``-style template."""
    return template.format(
        year=value.year,
        month=value.month,
        day=value.day,
        month_name=MONTH_NAMES[value.month - 1],
    )
