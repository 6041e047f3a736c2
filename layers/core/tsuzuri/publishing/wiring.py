"""Wiring: a :class:`~tsuzuri.publishing.publisher.Publisher` from settings and clients.

The Lambda handlers, the local stack and the CLI all come through here, so the
three run the same code against AWS, moto's server, or anything boto3 can reach.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from tsuzuri.aws.buckets import SiteBucket, SourceBucket
from tsuzuri.aws.cdn import Invalidator
from tsuzuri.aws.clients import Clients
from tsuzuri.aws.store import PostStore
from tsuzuri.domain.site_config import CONFIG_KEYS, SiteConfig
from tsuzuri.errors import ConfigError
from tsuzuri.publishing.batch import RenderService
from tsuzuri.publishing.publisher import Publisher
from tsuzuri.settings import Settings


def load_site_config(source: SourceBucket, overrides: Mapping[str, str]) -> SiteConfig:
    """The blog's ``_config.yml`` from the source bucket, then ``TSUZURI_SITE_*`` overrides."""
    site = SiteConfig()
    present = source.list_names("_config.")
    for name in CONFIG_KEYS:
        obj = source.get(name) if name in present else None
        if obj is not None:
            # A broken file is reported when its own event is processed: the posts never
            # wait on it, they publish with the defaults meanwhile.
            with contextlib.suppress(ConfigError):
                site = SiteConfig.from_bytes(obj.body, name=name)
            break
    return site.with_env_overrides(overrides)


def build_publisher(
    settings: Settings,
    clients: Clients,
    *,
    site: SiteConfig | None = None,
) -> Publisher:
    source = SourceBucket(clients.s3, settings.source_bucket)
    store = PostStore(clients.dynamodb, settings.table_name)
    if site is not None:
        site_config = site
    elif (stored := store.get_site_config()) is not None:
        # The accepted _config.yml, the same for every instance: the bucket's file may
        # be newer and not processed yet, or broken (it was reported when uploaded).
        name, body, _ = stored
        parsed = SiteConfig.from_bytes(body, name=name) if body else SiteConfig()
        site_config = parsed.with_env_overrides(settings.site_overrides)
    else:
        site_config = load_site_config(source, settings.site_overrides)
    return Publisher(
        site=site_config,
        store=store,
        source=source,
        output=SiteBucket(clients.s3, settings.site_bucket),
        invalidator=Invalidator(clients.cloudfront, settings.distribution_id),
        workers=settings.index_workers,
        site_overrides=settings.site_overrides,
        # The last valid theme/ overrides: validated when uploaded, kept in the table.
        theme_overrides=store.get_theme()[0],
    )


def build_render_service(settings: Settings, clients: Clients) -> RenderService:
    """The render function's core: a publisher built now and again whenever another
    instance accepts a newer config or theme, and the queue its rebuilds go to."""
    return RenderService(
        lambda: build_publisher(settings, clients),
        clients=clients,
        queue_url=settings.render_queue_url,
    )
