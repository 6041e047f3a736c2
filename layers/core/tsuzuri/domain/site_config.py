"""Typed configuration, validated once.

:class:`SiteConfig` is the blog's own settings, read from ``_config.yml`` (or
``_config.json``) at the root of the source bucket and overridable by ``TSUZURI_SITE_*``
variables (:attr:`tsuzuri.settings.Settings.site_overrides`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from tsuzuri.domain.permalink import (
    PERMALINK_STYLES,
    expand_permalink,
    permalink_pattern,
    reserved_path,
    unknown_placeholders,
)
from tsuzuri.errors import PermalinkError, SiteConfigRejected
from tsuzuri.markdown.render import HEADING_ID_STYLES

CONFIG_KEYS = ("_config.yml", "_config.yaml", "_config.json")
DEFAULT_PERMALINK = "/:year/:month/:day/:title/"
_URL = re.compile(r"^https?://[^/\s]+(/[^\s]*)?$")
_HANDLE = re.compile(r"^@?[A-Za-z0-9_.\-]{1,64}$")
# Social services the theme links to, and the URL of a handle on each.
SOCIAL_SERVICES = {
    "x": "https://x.com/{}",
    "github": "https://github.com/{}",
    "facebook": "https://www.facebook.com/{}",
    "linkedin": "https://www.linkedin.com/in/{}",
    "hatena": "https://profile.hatena.ne.jp/{}/",
    "qiita": "https://qiita.com/{}",
    "zenn": "https://zenn.dev/{}",
    "youtube": "https://www.youtube.com/@{}",
    "instagram": "https://www.instagram.com/{}/",
}
# Jekyll (minima, jekyll-seo-tag) spellings of the same handles.
_SOCIAL_ALIASES = {
    "twitter": "x",
    "twitter_username": "x",
    "x_username": "x",
    "github_username": "github",
    "facebook_username": "facebook",
    "linkedin_username": "linkedin",
    "hatena_username": "hatena",
    "qiita_username": "qiita",
    "zenn_username": "zenn",
    "youtube_username": "youtube",
    "instagram_username": "instagram",
}
RELATED_KEYS = frozenset({"count", "rare_max_df", "window", "common_tag_weight",
                          "category_bonus", "recency_max", "content_weight"})  # fmt: skip
# Keys whose change alters what a post parses to (its URL, terms, excerpt or visibility):
# a change to one of them re-indexes every source file, not only re-renders pages.
REINDEX_KEYS = ("timezone", "permalink", "future", "excerpt_chars", "category_slugs",
                "tag_slugs", "max_post_bytes", "heading_ids")  # fmt: skip


@dataclass(frozen=True, slots=True)
class NavLink:
    """One entry of the site navigation (``navigation:`` in ``_config.yml``)."""

    title: str
    url: str


@dataclass(frozen=True, slots=True)
class RecordedFingerprint:
    """What the table records of an accepted ``_config.yml``: one digest per kind of
    effect a change can have, so that the next change tells whether posts must be parsed
    again (``reindex``), pages rendered again (``full``) or related lists recomputed
    (``related``, read by the related function from the stream).

    Stored as ``full:reindex:related`` (:meth:`encode`, :meth:`parse`); the digests are
    hex, so the separator never occurs inside one.
    """

    full: str
    reindex: str
    related: str  # "" in configs recorded before the related part was added

    @classmethod
    def of(cls, site: SiteConfig) -> RecordedFingerprint:
        return cls(
            site.fingerprint(), site.fingerprint(REINDEX_KEYS), site.fingerprint(("related",))
        )

    @classmethod
    def parse(cls, recorded: str) -> RecordedFingerprint:
        full, reindex, related = [*recorded.split(":"), "", ""][:3]
        return cls(full, reindex, related)

    def encode(self) -> str:
        return f"{self.full}:{self.reindex}:{self.related}"

    def __str__(self) -> str:
        return self.encode()


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """What a Jekyll user would put in ``_config.yml``, plus tsuzuri's own keys."""

    title: str = "tsuzuri"
    description: str = ""
    url: str = "http://127.0.0.1:8080"
    author: str = ""
    lang: str = "ja"
    timezone: str = "Asia/Tokyo"
    permalink: str = DEFAULT_PERMALINK
    paginate: int = 10
    future: bool = False
    feed_size: int = 20
    max_post_bytes: int = 1_000_000
    excerpt_chars: int = 120
    # Category and tag display names mapped to URL slugs, e.g. {"AI最新ニュース": "latest"}.
    category_slugs: Mapping[str, str] = field(default_factory=dict)
    tag_slugs: Mapping[str, str] = field(default_factory=dict)
    # Jekyll's (kramdown GFM) heading ids by default, so that inbound #anchors survive
    # a move; "tsuzuri" keeps the ids of tsuzuri before 0.2.
    heading_ids: str = "kramdown"
    # Shown on the category or tag page, by display name.
    category_descriptions: Mapping[str, str] = field(default_factory=dict)
    tag_descriptions: Mapping[str, str] = field(default_factory=dict)
    # Header navigation: [{title: 私たちについて, url: /about/}, ...]
    navigation: tuple[NavLink, ...] = ()
    # Social handles by service (x, github, facebook, linkedin, hatena, ...).
    social: Mapping[str, str] = field(default_factory=dict)
    # Related-posts settings (tsuzuri.domain.relatedness.RelatedSettings field names).
    related: Mapping[str, int] = field(default_factory=dict)
    # Site-specific keys pass through to templates as ``site.extra``.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def base_url(self) -> str:
        return self.url.rstrip("/")

    @property
    def social_links(self) -> tuple[tuple[str, str, str], ...]:
        """(service, handle, profile URL) for every configured handle, in a fixed order."""
        return tuple(
            (service, self.social[service], template.format(self.social[service]))
            for service, template in SOCIAL_SERVICES.items()
            if self.social.get(service)
        )

    def fingerprint(self, keys: tuple[str, ...] | None = None) -> str:
        """A stable digest of the settings (or of ``keys`` only), to tell what changed."""
        data = {
            f.name: getattr(self, f.name) for f in fields(self) if keys is None or f.name in keys
        }
        return hashlib.sha256(
            json.dumps(data, sort_keys=True, default=_jsonable, ensure_ascii=False).encode()
        ).hexdigest()[:16]

    @classmethod
    def from_mapping(
        cls, raw: Mapping[str, Any], *, lines: Mapping[str, int] | None = None
    ) -> SiteConfig:
        """Read settings from a parsed file; ``lines`` (key -> line in the file) lets an
        error name the line of the offending key."""
        known = {f.name for f in fields(cls)} - {"extra", "navigation", "social"}
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        problems: list[str] = []
        social: dict[str, Any] = {}
        for key, value in raw.items():
            if key in known:
                values[key] = value
            elif key == "navigation":
                values["navigation"] = _navigation(value, problems)
            elif key == "social":
                if isinstance(value, Mapping) and "links" not in value:
                    social.update({str(k): v for k, v in value.items() if k != "name"})
                extra[str(key)] = value  # jekyll-seo-tag's form stays visible to templates
            elif key in _SOCIAL_ALIASES:
                handle = value.get("username") if isinstance(value, Mapping) else value
                social.setdefault(_SOCIAL_ALIASES[key], handle)
                extra[str(key)] = value
            else:
                extra[str(key)] = value
        for service in list(social):
            if service in _SOCIAL_ALIASES:
                social[_SOCIAL_ALIASES[service]] = social.pop(service)
        values["social"] = social
        if problems:
            raise _rejected(problems, lines)
        config = cls(**values, extra=extra)
        config.validate(lines=lines)
        return config

    @classmethod
    def from_bytes(cls, data: bytes, *, name: str = "_config.yml") -> SiteConfig:
        lines: dict[str, int] = {}
        try:
            text = data.decode("utf-8-sig")
            if name.endswith(".json"):
                raw = json.loads(text)
            else:
                raw, lines = _load_yaml(text)
        except (UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
            raise SiteConfigRejected(
                f"{name}: cannot be parsed: {exc}", line=_error_line(exc), hint=_PARSE_HINT
            ) from exc
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise SiteConfigRejected(
                f"{name}: must be a mapping of keys to values", line=1,
                hint="write one key: value per line, e.g. title: My blog",
            )  # fmt: skip
        return cls.from_mapping(raw, lines=lines)

    def with_env_overrides(self, environ: Mapping[str, str]) -> SiteConfig:
        """Apply ``TSUZURI_SITE_<KEY>`` overrides, e.g. ``TSUZURI_SITE_URL``."""
        changes: dict[str, Any] = {}
        for f in fields(self):
            env_value = environ.get(f"TSUZURI_SITE_{f.name.upper()}")
            if env_value is None or f.name in _NOT_FROM_ENV:
                continue
            current = getattr(self, f.name)
            if isinstance(current, bool):
                changes[f.name] = env_value.strip().lower() in {"1", "true", "yes", "on"}
            elif isinstance(current, int):
                try:
                    changes[f.name] = int(env_value)
                except ValueError as exc:
                    raise SiteConfigRejected(
                        f"TSUZURI_SITE_{f.name.upper()} must be an integer"
                    ) from exc
            else:
                changes[f.name] = env_value
        config = replace(self, **changes)
        config.validate()
        return config

    def validate(self, *, lines: Mapping[str, int] | None = None) -> None:
        """Raise :class:`~tsuzuri.errors.SiteConfigRejected` naming every problem, at the
        line (from ``lines``) of the first one's key."""
        problems: list[str] = []
        if self.heading_ids not in HEADING_ID_STYLES:
            styles = " or ".join(HEADING_ID_STYLES)
            problems.append(f"heading_ids must be {styles} (kramdown: Jekyll's ids)")
        for name in ("title", "description", "url", "author", "lang", "timezone", "permalink"):
            if not isinstance(getattr(self, name), str):
                problems.append(f"{name} must be a string")
        for name in ("paginate", "feed_size", "max_post_bytes", "excerpt_chars"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"{name} must be a positive integer")
        if not isinstance(self.future, bool):
            problems.append("future must be true or false")
        for name in ("category_slugs", "tag_slugs"):
            value = getattr(self, name)
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                problems.append(f"{name} must map names to slugs")
            else:
                for term, slug in value.items():
                    if not _SLUG.match(slug):
                        problems.append(
                            f"{name}: {term}: {slug!r} is not a URL slug "
                            "(letters, digits, - and _, e.g. latest)"
                        )
        for name in ("category_descriptions", "tag_descriptions"):
            value = getattr(self, name)
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                problems.append(f"{name} must map names to descriptions")
        if not isinstance(self.social, Mapping):
            problems.append("social must map services to handles")
        else:
            for service, handle in self.social.items():
                if service not in SOCIAL_SERVICES:
                    known = ", ".join(SOCIAL_SERVICES)
                    problems.append(f"social: unknown service {service!r} (known: {known})")
                elif not isinstance(handle, str) or not _HANDLE.match(handle):
                    problems.append(f"social: {service}: {handle!r} is not a user name")
        if not isinstance(self.related, Mapping):
            problems.append("related must map settings to whole numbers")
        else:
            for key, number in self.related.items():
                if key not in RELATED_KEYS:
                    known = ", ".join(sorted(RELATED_KEYS))
                    problems.append(f"related: unknown setting {key!r} (known: {known})")
                elif isinstance(number, bool) or not isinstance(number, int) or number < 0:
                    problems.append(f"related: {key} must be a whole number, not {number!r}")
        if isinstance(self.url, str) and not _URL.match(self.url):
            problems.append("url must be an absolute http(s) URL, e.g. https://blog.example.com")
        if isinstance(self.timezone, str):
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                problems.append(f"timezone {self.timezone!r} is not an IANA zone name")
        if isinstance(self.permalink, str):
            problems.extend(_permalink_problems(self.permalink))
        if problems:
            raise _rejected(problems, lines)

    @property
    def permalink_pattern(self) -> str:
        """The permalink as a pattern: Jekyll's for a style name such as ``pretty``."""
        return permalink_pattern(self.permalink)


_SLUG = re.compile(r"^[\w\-.~]+$")
_PARSE_HINT = (
    "check the indentation and quoting at that line; the site keeps its last valid settings"
)
_STYLES = ", ".join(PERMALINK_STYLES)


def _permalink_problems(permalink: str) -> list[str]:
    """What is wrong with a ``permalink`` setting, as Jekyll would find it when building,
    plus the checks tsuzuri makes of every URL (inside the site, not a generated page)."""
    unknown = unknown_placeholders(permalink)
    if unknown:
        return [
            f"permalink {permalink!r}: {', '.join(unknown)} is not a Jekyll placeholder "
            f"(use :year, :month, :day, :title, :categories... or a style: {_STYLES})"
        ]
    if ".." in permalink_pattern(permalink):
        return [f"permalink {permalink!r} must not contain .."]
    try:
        sample = expand_permalink(
            permalink, date=_SAMPLE_DATE, slug="sample", categories=["sample"]
        )
    except PermalinkError as exc:
        return [f"permalink {permalink!r}: {exc.message}"]
    why = reserved_path(sample)
    if why is not None:
        return [f"permalink {permalink!r} puts posts at {sample}, but {why}"]
    return []


_SAMPLE_DATE = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _rejected(problems: list[str], lines: Mapping[str, int] | None) -> SiteConfigRejected:
    """One error for all the problems, at the line of the first one's key. Every problem
    message starts with the name of its key (``permalink ...``, ``social: x: ...``)."""
    line = None
    if lines:
        first = problems[0]
        keys = [k for k in lines if first.startswith(k) and first[len(k) : len(k) + 1] in " :"]
        line = lines[max(keys, key=len)] if keys else None
    return SiteConfigRejected(
        "site config: " + "; ".join(problems),
        line=line,
        hint="fix it and upload the file again; the site keeps its last valid settings",
    )


def _load_yaml(text: str) -> tuple[Any, dict[str, int]]:
    """The document and the line of each top-level key, from one parse."""
    loader = _loader()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, _value in node.value:
            if isinstance(key, yaml.ScalarNode):
                lines.setdefault(str(key.value), key.start_mark.line + 1)
    return data, lines


def _error_line(exc: Exception) -> int | None:
    if isinstance(exc, yaml.MarkedYAMLError):
        # The context ("while parsing a flow sequence" at line 2) is where the editor
        # made the mistake; the problem mark is often only where the parser gave up.
        mark = exc.context_mark or exc.problem_mark
        return None if mark is None else int(mark.line) + 1
    if isinstance(exc, json.JSONDecodeError):
        return exc.lineno
    return None


def _navigation(value: Any, problems: list[str]) -> tuple[NavLink, ...]:
    """``navigation:`` as a list of ``{title, url}`` (or ``{title: url}``) entries."""
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append("navigation must be a list of {title: ..., url: ...} entries")
        return ()
    links: list[NavLink] = []
    for number, entry in enumerate(value, start=1):
        if isinstance(entry, Mapping) and len(entry) == 1 and not {"title", "url"} & set(entry):
            ((title, url),) = entry.items()
        elif isinstance(entry, Mapping):
            title, url = entry.get("title"), entry.get("url")
        else:
            title = url = None
        if not isinstance(title, str) or not title.strip():
            problems.append(f"navigation entry {number} needs a title")
            continue
        if not isinstance(url, str) or not (
            (url.startswith("/") and not url.startswith("//")) or _URL.match(url)
        ):
            problems.append(
                f"navigation entry {number} ({title}): url must be a site path such as /about/ "
                "or an http(s) URL"
            )
            continue
        links.append(NavLink(title.strip(), url.strip()))
    return tuple(links)


def _jsonable(value: Any) -> Any:
    if isinstance(value, NavLink):
        return [value.title, value.url]
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)


_NOT_FROM_ENV = frozenset(
    {"category_slugs", "tag_slugs", "category_descriptions", "tag_descriptions",
     "navigation", "social", "related", "extra"}
)  # fmt: skip


def _loader() -> type[yaml.SafeLoader]:
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)
