"""Wiring: build a :class:`~tsuzuri.publisher.Publisher` from settings and injected clients.

The Lambda handlers, the local stack and the CLI all come through here, so the
three run the same code against AWS, moto's server, or anything boto3 can reach.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tsuzuri.buckets import SiteBucket, SourceBucket
from tsuzuri.cdn import Invalidator
from tsuzuri.config import CONFIG_KEYS, RuntimeSettings, SiteConfig
from tsuzuri.publisher import Publisher
from tsuzuri.store import PostStore


@dataclass(frozen=True, slots=True)
class Clients:
    s3: Any
    dynamodb: Any
    cloudfront: Any


def make_clients(*, endpoint_url: str | None = None, region: str | None = None) -> Clients:
    """botocore clients (the same clients boto3 hands out, without importing boto3:
    ~100 ms of every cold start) with standard retries. ``endpoint_url`` points them
    at moto."""
    import botocore.session
    from botocore.config import Config

    config = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32)
    session = botocore.session.get_session()
    options = {
        "region_name": region or os.environ.get("AWS_REGION"),
        "endpoint_url": endpoint_url,
        "config": config,
    }
    return Clients(
        s3=session.create_client("s3", **options),
        dynamodb=session.create_client("dynamodb", **options),
        cloudfront=session.create_client("cloudfront", **options),
    )


def load_site_config(source: SourceBucket, environ: Mapping[str, str]) -> SiteConfig:
    """The blog's ``_config.yml`` from the source bucket, then ``TSUZURI_SITE_*`` overrides."""
    site = SiteConfig()
    present = source.list_names("_config.")
    for name in CONFIG_KEYS:
        obj = source.get(name) if name in present else None
        if obj is not None:
            site = SiteConfig.from_bytes(obj.body, name=name)
            break
    return site.with_env_overrides(environ)


def build_publisher(
    settings: RuntimeSettings,
    clients: Clients,
    *,
    environ: Mapping[str, str] | None = None,
    site: SiteConfig | None = None,
) -> Publisher:
    env = os.environ if environ is None else environ
    source = SourceBucket(clients.s3, settings.source_bucket)
    store = PostStore(clients.dynamodb, settings.table_name)
    if site is not None:
        site_config = site
    elif (stored := store.get_site_config()) is not None:
        # The accepted _config.yml, the same for every instance: the bucket's file may
        # be newer and not processed yet, or broken (it was reported when uploaded).
        name, body, _ = stored
        parsed = SiteConfig.from_bytes(body, name=name) if body else SiteConfig()
        site_config = parsed.with_env_overrides(env)
    else:
        site_config = load_site_config(source, env)
    return Publisher(
        site=site_config,
        store=store,
        source=source,
        output=SiteBucket(clients.s3, settings.site_bucket),
        invalidator=Invalidator(clients.cloudfront, settings.distribution_id),
        workers=int(env.get("TSUZURI_INDEX_WORKERS", "8")),
        environ=env,
        # The last valid theme/ overrides: validated when uploaded, kept in the table.
        theme_overrides=store.get_theme()[0],
    )
