"""The related service built from the runtime settings and clients, in one place: it
decides which ``related:`` settings the lists are computed with."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tsuzuri.domain.relatedness import DEFAULT_SETTINGS, RelatedSettings
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.errors import ConfigError
from tsuzuri.related.invocation import RelatedFunction
from tsuzuri.related.service import RelatedService
from tsuzuri.related.store import RelatedStore
from tsuzuri.related.sync import RelatedIndex

if TYPE_CHECKING:
    from tsuzuri.aws.clients import Clients
    from tsuzuri.settings import Settings


def related_settings(
    configured: Mapping[str, int] | None, overrides: Mapping[str, int] | None = None
) -> RelatedSettings:
    """``related:`` in ``_config.yml``, then the operator's ``TSUZURI_RELATED_COUNT`` /
    ``_RARE_MAX_DF`` / ``_WINDOW`` (:attr:`Settings.related_overrides`) over the
    defaults. Changing them needs every list recomputed (``RelatedIndex.sync_all``)."""
    try:
        base = dataclasses.replace(DEFAULT_SETTINGS, **dict(configured or {}))  # type: ignore[arg-type]
        return dataclasses.replace(base, **dict(overrides or {}))  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigError(f"related settings: {exc}") from exc


def build_related(
    settings: Settings,
    clients: Clients,
    *,
    site: SiteConfig | None = None,
    related: RelatedSettings | None = None,
) -> RelatedService:
    from tsuzuri.publishing.wiring import build_publisher

    publisher = build_publisher(settings, clients, site=site)
    store = RelatedStore(clients.dynamodb, settings.table_name)
    chosen = related or related_settings(publisher.site.related, settings.related_overrides)
    return RelatedService(RelatedIndex(store, chosen), publisher)


def build_related_function(settings: Settings, clients: Clients) -> RelatedFunction:
    """The related function's core: its service built now, and again whenever another
    instance accepts a newer config or theme."""
    return RelatedFunction(lambda: build_related(settings, clients))
