"""The sample corpus in examples/ publishes completely, with Jekyll's URLs."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import unquote

import pytest
from tsuzuri.aws.clients import make_clients
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.publishing.publisher import Change
from tsuzuri.publishing.wiring import build_publisher
from tsuzuri_local.devstack.mirror import content_files
from tsuzuri_local.provision import provision

from tests.support.site import Site

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def published(moto_endpoint: str) -> Site:
    """The corpus is published once for the module: it is the slow part."""
    clients = make_clients(endpoint_url=moto_endpoint, region="ap-northeast-1")
    stack = provision(clients, prefix=f"ex{uuid.uuid4().hex[:10]}").settings
    config = SiteConfig.from_bytes((EXAMPLES / "_config.yml").read_bytes())
    site = Site(clients, stack, build_publisher(stack, clients, site=config))
    changes = []
    for path, key in content_files(EXAMPLES):
        site.upload(key, path.read_bytes())
        changes.append(Change(key=key, removed=False, token=key))
    for start in range(0, len(changes), 10):
        result = site.publisher.process(changes[start : start + 10])
        bad = [o for o in result.outcomes if o.status in {"rejected", "failed"}]
        assert not bad, bad
    return site


def test_every_public_example_is_live_at_its_jekyll_url(published: Site) -> None:
    posts = sorted((EXAMPLES / "posts").glob("*.m*"))
    assert len(posts) >= 30
    # 20:59 UTC on the 11th is the 12th in Tokyo, exactly as Jekyll builds it
    assert published.page("/2026/02/12/bedrock-vs-direct-api/") is not None
    assert published.page("/2026/02/11/bedrock-vs-direct-api/") is None
    assert published.page("/2025/11/03/生成AIの基礎/") is not None
    assert published.page("/about-consulting/") is not None
    assert published.page("/2025/11/20/mcp-server-notes/") is None  # published: false
    assert published.page("/2027/06/15/service-expansion-2027/") is None  # future: false
    assert published.page("/old-url/") is not None  # redirect_from
    assert published.page("/category/latest/") is not None  # category_slugs from _config.yml
    assert published.object("assets/images/tsuzuri-mark.png")["ContentType"] == "image/png"


def test_kramdown_ial_and_gfm_survive_into_pages(published: Site) -> None:
    pages = [published.page(u) or "" for u in _post_urls(published)]
    assert any('class="consulting-cta-link"' in p for p in pages)
    assert any("<table" in p for p in pages)
    assert any('class="footnote' in p or "footnote" in p for p in pages)
    assert any('loading="lazy"' in p for p in pages)
    assert not any("{: ." in p for p in pages), "IAL lines must not leak into output"


def test_the_tag_index_counts_every_public_post(published: Site) -> None:
    tags = published.json("/tags/index.json")["tags"]
    for tag in tags:
        detail = published.json(tag["url"] + "index.json")
        posts = published.tag_posts(tag["url"] + "index.json")
        assert detail["count"] == tag["count"] == len(posts)
        assert len(detail["posts"]) == min(len(posts), 10)  # the sample site's paginate
    home = published.page("/") or ""
    assert "/2026/03/27/ai-code-review-practice/" in home  # the newest public post leads


def _post_urls(site: Site) -> list[str]:
    sitemap = "".join(site.page(f"/sitemaps/posts-{y}.xml") or "" for y in (2024, 2025, 2026))
    locs = re.findall(r"<loc>([^<]+)</loc>", sitemap)
    return [unquote(u.replace("https://blog.example.com", "")) for u in locs]
