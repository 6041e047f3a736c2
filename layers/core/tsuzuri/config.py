"""Typed configuration, validated once.

:class:`SiteConfig` is the blog's own settings, read from ``_config.yml`` (or
``_config.json``) at the root of the source bucket and overridable by environment
variables. :class:`RuntimeSettings` is the deployment wiring (bucket names, table,
distribution), read from the environment at cold start.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from tsuzuri.errors import ConfigError

CONFIG_KEYS = ("_config.yml", "_config.yaml", "_config.json")
DEFAULT_PERMALINK = "/:year/:month/:day/:title/"
_URL = re.compile(r"^https?://[^/\s]+(/[^\s]*)?$")


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
    # Site-specific keys pass through to templates as ``site.extra``.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def base_url(self) -> str:
        return self.url.rstrip("/")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> SiteConfig:
        known = {f.name for f in fields(cls)} - {"extra"}
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in raw.items():
            if key in known:
                values[key] = value
            else:
                extra[str(key)] = value
        config = cls(**values, extra=extra)
        config.validate()
        return config

    @classmethod
    def from_bytes(cls, data: bytes, *, name: str = "_config.yml") -> SiteConfig:
        try:
            text = data.decode("utf-8-sig")
            raw = json.loads(text) if name.endswith(".json") else yaml.load(text, Loader=_loader())  # noqa: S506 - a safe loader
        except (UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
            raise ConfigError(f"{name}: cannot be parsed: {exc}") from exc
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{name}: must be a mapping of keys to values")
        return cls.from_mapping(raw)

    def with_env_overrides(self, environ: Mapping[str, str]) -> SiteConfig:
        """Apply ``TSUZURI_SITE_<KEY>`` overrides, e.g. ``TSUZURI_SITE_URL``."""
        changes: dict[str, Any] = {}
        for f in fields(self):
            env_value = environ.get(f"TSUZURI_SITE_{f.name.upper()}")
            if env_value is None or f.name in {"category_slugs", "tag_slugs", "extra"}:
                continue
            current = getattr(self, f.name)
            if isinstance(current, bool):
                changes[f.name] = env_value.strip().lower() in {"1", "true", "yes", "on"}
            elif isinstance(current, int):
                try:
                    changes[f.name] = int(env_value)
                except ValueError as exc:
                    raise ConfigError(f"TSUZURI_SITE_{f.name.upper()} must be an integer") from exc
            else:
                changes[f.name] = env_value
        config = replace(self, **changes)
        config.validate()
        return config

    def validate(self) -> None:
        problems: list[str] = []
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
        if isinstance(self.url, str) and not _URL.match(self.url):
            problems.append("url must be an absolute http(s) URL, e.g. https://blog.example.com")
        if isinstance(self.timezone, str):
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                problems.append(f"timezone {self.timezone!r} is not an IANA zone name")
        if isinstance(self.permalink, str) and (
            not self.permalink.startswith("/") or ".." in self.permalink
        ):
            problems.append("permalink must start with / and must not contain ..")
        if problems:
            raise ConfigError("site config: " + "; ".join(problems))


def _loader() -> type[yaml.SafeLoader]:
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """Deployment wiring for the functions. Read from the environment at cold start."""

    source_bucket: str
    site_bucket: str
    table_name: str
    distribution_id: str | None
    # Defaults used when the source bucket holds no _config.yml.
    site_defaults: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RuntimeSettings:
        env = os.environ if environ is None else environ
        missing = [
            name for name in ("SOURCE_BUCKET", "SITE_BUCKET", "TABLE_NAME") if not env.get(name)
        ]
        if missing:
            raise ConfigError("missing environment variables: " + ", ".join(missing))
        return cls(
            source_bucket=env["SOURCE_BUCKET"],
            site_bucket=env["SITE_BUCKET"],
            table_name=env["TABLE_NAME"],
            distribution_id=env.get("DISTRIBUTION_ID") or None,
            site_defaults={k: v for k, v in env.items() if k.startswith("TSUZURI_SITE_")},
        )
