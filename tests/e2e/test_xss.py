"""XSS vectors published in every field, loaded in headless Chromium.

Every post of :func:`tests.support.xss.vector_posts` (the OWASP cheat sheet vectors and
markdown-it's XSS fixture as bodies; short vectors in the title, tags, categories,
excerpt, description, author, image, canonical URL, robots, headings, link URLs, IAL
attributes, footnotes, permalinks and a JSON-LD breakout) is uploaded to a stack on
moto's server and published by the publisher in batches, as the render function does.
Then every HTML page of the site bucket (posts, home and archive pages, tag and
category pages, the tag index) and the feed is loaded through the preview server, which
serves the bucket as CloudFront does.

A page passes when, in Chromium with the Content-Security-Policy *bypassed* (the CSP is
a second line of defence, not the one under test): no dialog opens, no function of an
init script that replaces ``alert``/``confirm``/``prompt``/``print``/``open`` is
called, no request leaves the preview server; and its HTML, parsed with html5lib, has
no event-handler attribute, no script URL and no script but JSON-LD that parses.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import pytest

from tests.conftest import SITE
from tests.support.html_safety import html_problems, xml_problems
from tests.support.xss import VectorPost, smoke_posts, vector_posts

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

pytestmark = pytest.mark.e2e
BATCH = 50  # the render function's SQS batch size

# Runs before any script of the page, in every frame: anything a vector could use to
# show that it ran is replaced by a recorder.
TRAP = """
(() => {
  const hits = [];
  Object.defineProperty(window, "__xss", { value: hits });
  for (const name of ["alert", "confirm", "prompt", "print", "open"]) {
    window[name] = (...args) => { hits.push(name + "(" + args.join(",") + ")"); };
  }
  const realWrite = document.write.bind(document);
  document.write = (...args) => { hits.push("document.write"); return realWrite(...args); };
})();
"""


@dataclass
class Published:
    base: str
    posts: list[VectorPost]
    pages: list[str]  # site paths of every HTML page and the feed
    outcomes: dict[str, int] = field(default_factory=dict)


# `make test` publishes one post per placement (and the vectors that once mattered);
# `make test-slow` publishes all of them.
@pytest.fixture(scope="module", params=["smoke", pytest.param("all", marks=pytest.mark.slow)])
def published(request: pytest.FixtureRequest, moto_endpoint: str) -> Iterator[Published]:
    from tsuzuri.aws.clients import make_clients
    from tsuzuri.publishing.publisher import Change
    from tsuzuri.publishing.wiring import build_publisher
    from tsuzuri_local.preview import PreviewServer
    from tsuzuri_local.provision import provision

    clients = make_clients(endpoint_url=moto_endpoint, region="ap-northeast-1")
    settings = provision(clients, prefix=f"x{uuid.uuid4().hex[:12]}").settings
    publisher = build_publisher(settings, clients, site=SITE)
    publisher.invalidator._sleep = lambda _s: None
    posts = smoke_posts() if request.param == "smoke" else vector_posts()
    outcomes: dict[str, int] = {}
    for start in range(0, len(posts), BATCH):
        batch = posts[start : start + BATCH]
        for post in batch:
            clients.s3.put_object(
                Bucket=settings.source_bucket, Key=post.key, Body=post.text.encode()
            )
        result = publisher.process([Change(p.key, removed=False, token=p.key) for p in batch])
        assert not result.failed_tokens
        for outcome in result.outcomes:
            outcomes[outcome.status] = outcomes.get(outcome.status, 0) + 1
    keys = [
        o["Key"]
        for p in clients.s3.get_paginator("list_objects_v2").paginate(Bucket=settings.site_bucket)
        for o in p.get("Contents", [])
    ]
    pages = sorted(
        "/" + k.removesuffix("index.html") for k in keys if k.endswith((".html", "feed.xml"))
    )
    server = PreviewServer(clients.s3, settings.site_bucket, port=0)
    server.start()
    try:
        yield Published(server.url.rstrip("/"), posts, pages, outcomes)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def tab(browser: Browser, published: Published) -> Iterator[tuple[Page, list[str]]]:
    context = browser.new_context(bypass_csp=True, java_script_enabled=True)
    context.add_init_script(TRAP)
    events: list[str] = []
    origin = urlsplit(published.base)[:2]

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url)[:2] == origin:
            route.continue_()
        else:
            events.append(f"request to {route.request.url[:80]}")
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.on("dialog", lambda d: (events.append(f"dialog {d.type}: {d.message}"), d.dismiss()))
    page.on("pageerror", lambda e: events.append(f"page error: {e}"))
    yield page, events
    context.close()


def test_every_vector_post_was_published(published: Published) -> None:
    # A vector that made its post fail would not be on any page to test.
    assert published.outcomes == {"published": len(published.posts)}


def test_no_page_runs_a_vector(published: Published, tab: tuple[Page, list[str]]) -> None:
    page, events = tab
    failures: dict[str, Any] = {}
    html_pages = 0
    for path in published.pages:
        events.clear()
        response = page.goto(published.base + quote(path), wait_until="load")
        assert response is not None and response.status == 200, path
        body = response.text()
        page.mouse.move(5, 5)
        page.mouse.move(600, 400)  # hover handlers, if any survived
        found = list(events)
        if path.endswith(".xml"):
            found += xml_problems(body)
        else:
            html_pages += 1
            found += page.evaluate("window.__xss ? Array.from(window.__xss) : ['no trap']")
            found += html_problems(body)
        if found:
            failures[path] = found
    assert not failures, failures
    assert html_pages > len(published.posts)  # every post page and the list pages
