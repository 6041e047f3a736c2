"""Every environment variable the functions read, read and validated once at cold start.

A function that starts with a missing bucket name or a worker count of ``"eight"``
should fail on its first event with one message naming every bad variable, not on
the hundredth event in whatever code path reads it first. So nothing else in the
core reads ``os.environ``: handlers build a :class:`Settings` and pass it down.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from tsuzuri.errors import ConfigError

REQUIRED = ("SOURCE_BUCKET", "SITE_BUCKET", "TABLE_NAME")
SITE_OVERRIDE_PREFIX = "TSUZURI_SITE_"
# Overrides of ``related:`` in _config.yml, by the field of RelatedSettings they set.
RELATED_OVERRIDES = {
    "TSUZURI_RELATED_COUNT": "count",
    "TSUZURI_RELATED_RARE_MAX_DF": "rare_max_df",
    "TSUZURI_RELATED_WINDOW": "window",
}
DEFAULT_INDEX_WORKERS = 8
MAX_INDEX_WORKERS = 64


@dataclass(frozen=True, slots=True)
class Settings:
    """The deployment wiring of one function: where its buckets, table, queue and
    distribution are, and the operator's overrides of the site's own settings."""

    source_bucket: str
    site_bucket: str
    table_name: str
    distribution_id: str | None = None
    # The render queue: a config change queues its rebuild requests here.
    render_queue_url: str | None = None
    # Another AWS endpoint (the local stack's moto server); None on AWS.
    aws_endpoint_url: str | None = None
    region: str | None = None
    # Threads that parse and index the posts of one batch.
    index_workers: int = DEFAULT_INDEX_WORKERS
    # TSUZURI_SITE_* variables, keyed by variable name: they override _config.yml.
    site_overrides: Mapping[str, str] = field(default_factory=dict)
    # TSUZURI_RELATED_* variables, by RelatedSettings field name.
    related_overrides: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        problems = [f"{name} is not set" for name in REQUIRED if not env.get(name)]
        workers = _positive_int(env, "TSUZURI_INDEX_WORKERS", problems, DEFAULT_INDEX_WORKERS)
        if workers > MAX_INDEX_WORKERS:
            problems.append(f"TSUZURI_INDEX_WORKERS must be at most {MAX_INDEX_WORKERS}")
        related = _related_overrides(env, problems)
        if problems:
            raise ConfigError("environment: " + "; ".join(problems))
        return cls(
            source_bucket=env["SOURCE_BUCKET"],
            site_bucket=env["SITE_BUCKET"],
            table_name=env["TABLE_NAME"],
            distribution_id=env.get("DISTRIBUTION_ID") or None,
            render_queue_url=env.get("RENDER_QUEUE_URL") or None,
            aws_endpoint_url=env.get("TSUZURI_AWS_ENDPOINT_URL") or None,
            region=env.get("AWS_REGION") or None,
            index_workers=workers,
            site_overrides={k: v for k, v in env.items() if k.startswith(SITE_OVERRIDE_PREFIX)},
            related_overrides=related,
        )


def related_overrides(environ: Mapping[str, str]) -> dict[str, int]:
    """The ``TSUZURI_RELATED_*`` part of an environment alone (what a test or a tool that
    has no buckets to name needs)."""
    problems: list[str] = []
    overrides = _related_overrides(environ, problems)
    if problems:
        raise ConfigError("environment: " + "; ".join(problems))
    return overrides


def _related_overrides(env: Mapping[str, str], problems: list[str]) -> dict[str, int]:
    return {
        field_name: _positive_int(env, name, problems, 0)
        for name, field_name in RELATED_OVERRIDES.items()
        if env.get(name)
    }


def _positive_int(env: Mapping[str, str], name: str, problems: list[str], default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name} must be a whole number (got {raw!r})")
        return default
    if value < 1:
        problems.append(f"{name} must be at least 1 (got {value})")
        return default
    return value
