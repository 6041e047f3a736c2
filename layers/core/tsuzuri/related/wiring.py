"""The related service built from the runtime settings and clients, in one place: it
decides which ``related:`` settings the lists are computed with."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tsuzuri.domain.relatedness import DEFAULT_SETTINGS, RelatedSettings
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.errors import ConfigError
from tsuzuri.related.service import RelatedService
from tsuzuri.related.store import RelatedStore
from tsuzuri.related.sync import RelatedIndex

if TYPE_CHECKING:
    from tsuzuri.aws.clients import Clients
    from tsuzuri.domain.site_config import RuntimeSettings


def settings_from_env(
    environ: Mapping[str, str] | None = None, configured: Mapping[str, int] | None = None
) -> RelatedSettings:
    """``related:`` in ``_config.yml``, then ``TSUZURI_RELATED_COUNT`` / ``_RARE_MAX_DF`` /
    ``_WINDOW`` override the defaults. Changing them needs every list recomputed
    (``RelatedIndex.sync_all``)."""
    env = os.environ if environ is None else environ
    base = dataclasses.replace(DEFAULT_SETTINGS, **dict(configured or {}))  # type: ignore[arg-type]

    def number(name: str, default: int) -> int:
        raw = env.get(f"TSUZURI_RELATED_{name}")
        return int(raw) if raw else default

    try:
        return dataclasses.replace(
            base,
            count=number("COUNT", base.count),
            rare_max_df=number("RARE_MAX_DF", base.rare_max_df),
            window=number("WINDOW", base.window),
        )
    except ValueError as exc:
        raise ConfigError(f"related settings: {exc}") from exc


def build_related(
    settings: RuntimeSettings,
    clients: Clients,
    *,
    environ: Mapping[str, str] | None = None,
    site: SiteConfig | None = None,
    related: RelatedSettings | None = None,
) -> RelatedService:
    from tsuzuri.publishing.wiring import build_publisher

    publisher = build_publisher(settings, clients, environ=environ, site=site)
    store = RelatedStore(clients.dynamodb, settings.table_name)
    chosen = related or settings_from_env(environ, publisher.site.related)
    return RelatedService(RelatedIndex(store, chosen), publisher)
