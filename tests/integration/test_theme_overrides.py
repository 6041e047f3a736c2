"""Theme overrides (theme/*.j2) against moto over HTTP: accepted, rejected, removed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tsuzuri.aws.clients import Clients
from tsuzuri.publishing.rebuild import RebuildRequest, config_requests
from tsuzuri.publishing.wiring import build_publisher
from tsuzuri.settings import Settings

from tests.support.site import post_text

if TYPE_CHECKING:
    from tests.support.site import Site

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
POST_URL = "/2026/02/12/hello/"
CTA_POST = (
    (TEMPLATES / "post.html.j2")
    .read_text(encoding="utf-8")
    .replace("{{ body }}\n</div>", '{{ body }}\n</div>\n{% include "cta.html.j2" %}')
)
CTA = '<aside class="cta"><a href="/contact/">{{ post.title }}: ご相談はこちら</a></aside>\n'
LIST = (TEMPLATES / "list.html.j2").read_text(encoding="utf-8")


def _rebuild(site: Site) -> None:
    """What the render function does with the requests a theme change queues."""
    for request in config_requests(site.publisher, "pages"):
        message = RebuildRequest.from_message(__import__("json").loads(request.message()))
        assert message.theme == site.publisher.theme_fingerprint
        site.publisher.refresh_posts(message.urls, lists=message.lists)


def _seed(site: Site) -> None:
    site.publish("posts/2026-02-12-hello.md", post_text("こんにちは", "2026-02-12 10:00:00 +0900"))
    assert 'class="cta"' not in (site.page(POST_URL) or "")


def test_an_override_and_its_partial_re_render_the_site_and_survive_a_cold_start(
    site: Site, clients: Clients, stack: Settings
) -> None:
    _seed(site)
    first = site.publish("theme/cta.html.j2", CTA)
    # A partial nobody includes yet is a valid set on its own.
    assert [(o.status, o.rebuild) for o in first.outcomes] == [("config", "pages")]
    result = site.publish("theme/post.html.j2", CTA_POST)
    assert [(o.status, o.rebuild) for o in result.outcomes] == [("config", "pages")]
    assert site.report("theme/post.html.j2")["rebuild"] == "pages"
    _rebuild(site)
    html = site.page(POST_URL) or ""
    assert '<aside class="cta"><a href="/contact/">こんにちは: ご相談はこちら</a></aside>' in html
    assert 'class="cta"' not in (site.page("/") or "")  # list pages keep the packaged layout

    # A cold start reads the accepted set from the table.
    cold = build_publisher(stack, clients, site=site.publisher.site)
    assert cold.theme_overrides == {"cta.html.j2": CTA, "post.html.j2": CTA_POST}
    assert cold.theme_fingerprint == site.publisher.theme_fingerprint


def test_a_broken_override_is_reported_and_the_site_keeps_the_last_valid_theme(
    site: Site, clients: Clients, stack: Settings
) -> None:
    _seed(site)
    site.publish("theme/cta.html.j2", CTA)
    site.publish("theme/post.html.j2", CTA_POST)
    _rebuild(site)
    before = site.page(POST_URL)
    fingerprint = site.publisher.theme_fingerprint

    broken = LIST.replace("{% block content %}", "{% block content %}\n{{ posts.nope }}", 1)
    result = site.publish("theme/list.html.j2", broken)
    assert [(o.status, o.code) for o in result.outcomes] == [("rejected", "bad-theme")]
    report = site.report("theme/list.html.j2")
    assert report["status"] == "rejected" and report["code"] == "bad-theme"
    assert report["problem"].startswith("theme/list.html.j2:") and "nope" in report["problem"]
    assert report["line"] == LIST.splitlines().index("{% block content %}") + 2
    assert report["hint"]

    syntax = site.publish("theme/cta.html.j2", "<aside>\n{% if post.title %}\n</aside>\n")
    assert [o.status for o in syntax.outcomes] == ["rejected"]
    assert site.report("theme/cta.html.j2")["line"] is not None

    assert site.publisher.theme_fingerprint == fingerprint
    site.publish("posts/2026-02-13-next.md", post_text("つぎ", "2026-02-13 10:00:00 +0900"))
    assert site.page(POST_URL) != before  # its neighbour link changed, with the CTA kept
    assert 'class="cta"' in (site.page(POST_URL) or "")
    assert 'class="cta"' in (site.page("/2026/02/13/next/") or "")
    cold = build_publisher(stack, clients, site=site.publisher.site)
    assert cold.theme_overrides == {"cta.html.j2": CTA, "post.html.j2": CTA_POST}


def test_deleting_an_override_restores_the_packaged_template(site: Site) -> None:
    _seed(site)
    packaged = site.page(POST_URL)
    site.publish("theme/cta.html.j2", CTA)
    site.publish("theme/post.html.j2", CTA_POST)
    _rebuild(site)
    assert 'class="cta"' in (site.page(POST_URL) or "")

    # Removing the partial first would break the override that includes it: refused.
    refused = site.unpublish("theme/cta.html.j2")
    assert [o.status for o in refused.outcomes] == ["rejected"]
    assert "cta.html.j2" in (refused.outcomes[0].message or "")

    result = site.unpublish("theme/post.html.j2")
    assert [(o.status, o.rebuild) for o in result.outcomes] == [("config", "pages")]
    _rebuild(site)
    assert site.page(POST_URL) == packaged
    # The partial whose delete was refused goes too, now that nothing includes it.
    assert site.publisher.theme_overrides == {}
    # A delete of something that is not in the accepted set changes nothing.
    again = site.unpublish("theme/post.html.j2")
    assert [(o.status, o.rebuild) for o in again.outcomes] == [("config", None)]


def test_a_warm_instance_notices_a_config_or_theme_another_instance_accepted(
    site: Site, stack: Settings
) -> None:
    """Every function instance renders with the accepted _config.yml and theme: one that
    was warm when another accepted newer ones can tell, and a new one loads them."""

    warm = build_publisher(stack, site.clients)
    assert warm.settings_are_current()
    site.upload("_config.yml", "title: 別の名前\n")
    site.publisher.process([site.change("_config.yml")])
    assert not warm.settings_are_current()
    fresh = build_publisher(stack, site.clients)
    assert fresh.settings_are_current()
    assert fresh.site.title == "別の名前"
    # A newer file in the bucket is not the site's config until it has been accepted.
    site.upload("_config.yml", "title: まだ処理していない\n")
    assert build_publisher(stack, site.clients).site.title == "別の名前"

    site.upload("theme/cta.html.j2", CTA)
    site.publisher.process([site.change("theme/cta.html.j2")])
    assert not fresh.settings_are_current()
    assert build_publisher(stack, site.clients).settings_are_current()
