"""A URL claim is a queue of contenders, not a lock: when the file that owns a URL is
deleted or moves, the oldest file waiting for that URL is published in the same batch.
A rename that keeps the URL is a move of the claim, in whichever order the create and
the delete arrive, duplicated or not."""

from __future__ import annotations

import pytest
from tsuzuri.publishing.publisher import Change
from tsuzuri.publishing.rebuild import config_requests

from tests.support.site import Site, post_text

PERMA = "/fixed/perma/"


def _perma(title: str) -> str:
    return post_text(title, date="2026-01-10 10:00:00 +0900", extra=f"permalink: {PERMA}")


def _live_title(site: Site, url: str) -> str | None:
    page = site.page(url)
    if page is None:
        return None
    return page.split("<title>", 1)[1].split("</title>", 1)[0]


@pytest.mark.parametrize("order", ["create-first", "delete-first", "same-batch", "duplicated"])
def test_a_rename_that_keeps_the_url_keeps_the_post_live(site: Site, order: str) -> None:
    old, new = "posts/2026-01-10-perma.md", "posts/2026-01-10-perma-renamed.md"
    site.publish(old, _perma("固定URLの記事"))
    assert "固定URLの記事" in (_live_title(site, PERMA) or "")

    site.upload(new, _perma("固定URLの記事（改名後）"))
    site.remove(old)
    create, delete = site.change(new), site.change(old, removed=True)
    if order == "create-first":
        site.publisher.process([create])
        assert site.report(new)["status"] == "rejected"
        assert "waits in line" in site.report(new)["problem"]
        site.publisher.process([delete])
    elif order == "delete-first":
        site.publisher.process([delete])
        site.publisher.process([create])
    elif order == "same-batch":
        site.publisher.process([create, delete])
    else:
        site.publisher.process([create])
        site.publisher.process([delete, create])
        site.publisher.process([create])
        site.publisher.process([delete])

    assert "改名後" in (_live_title(site, PERMA) or ""), "the URL went dark"
    report = site.report(new)
    assert report["status"] in ("published", "unchanged") and report["url"] == PERMA
    assert site.publisher.store.get_post_owner(PERMA) == new
    assert site.publisher.store.claims(PERMA) == []


@pytest.mark.parametrize("attempt", range(3))
@pytest.mark.parametrize("order", ["keys-in-order", "keys-reversed"])
def test_two_new_posts_on_one_url_in_one_batch_the_first_key_wins(
    site: Site, order: str, attempt: int
) -> None:
    """Indexed in parallel, the two once raced for the URL and either could win."""
    first, second = "posts/2026-01-10-a.md", "posts/2026-01-10-b.md"
    site.upload(
        first, post_text("先のキー", date="2026-01-10 10:00:00 +0900", extra="permalink: /twin/")
    )
    site.upload(
        second, post_text("後のキー", date="2026-01-10 10:00:00 +0900", extra="permalink: /twin/")
    )
    changes = [site.change(first), site.change(second)]
    site.publisher.process(changes if order == "keys-in-order" else changes[::-1])

    assert "先のキー" in (_live_title(site, "/twin/") or "")
    assert site.report(first)["status"] == "published"
    assert "waits in line" in site.report(second)["problem"]
    assert site.publisher.store.claims("/twin/") == [second]


def test_a_refused_twin_is_published_when_the_owner_is_deleted(site: Site) -> None:
    owner, twin = "posts/2026-03-01-same.md", "posts/2026-03-01-same.markdown"
    site.publish(owner, post_text("持ち主", date="2026-03-01 10:00:00 +0900", tags="[AWS]"))
    site.publish(twin, post_text("双子", date="2026-03-01 10:00:00 +0900", tags="[Lambda]"))
    assert site.report(twin)["status"] == "rejected"

    site.unpublish(owner)
    assert "双子" in (_live_title(site, "/2026/03/01/same/") or "")
    report = site.report(twin)
    assert report["status"] == "published"
    assert any("oldest claim" in note for note in report["notes"])
    assert site.tag_posts("/tags/lambda/index.json") == ["/2026/03/01/same/"]
    assert site.page("/tags/aws/") is None or "/2026/03/01/same/" not in site.page("/tags/aws/")


def test_a_refused_twin_is_published_when_the_owner_moves(site: Site) -> None:
    owner, twin = "posts/2026-03-01-same.md", "posts/2026-03-01-same.markdown"
    site.publish(owner, post_text("持ち主", date="2026-03-01 10:00:00 +0900"))
    site.publish(twin, post_text("双子", date="2026-03-01 10:00:00 +0900"))
    # The owner's date moves it to another day's URL.
    site.publish(owner, post_text("持ち主", date="2026-03-05 10:00:00 +0900"))
    assert "持ち主" in (_live_title(site, "/2026/03/05/same/") or "")
    assert "双子" in (_live_title(site, "/2026/03/01/same/") or "")


def test_the_oldest_claim_wins_and_a_claim_that_moved_away_is_dropped(site: Site) -> None:
    day = "date: 2026-04-01 10:00:00 +0900"
    owner = "posts/2026-04-01-x.md"
    first, second = "posts/2026-04-01-x.markdown", "posts/a/2026-04-01-x.md"
    site.publish(owner, post_text("持ち主", date="2026-04-01 10:00:00 +0900"))
    site.publish(first, post_text("一番目", date="2026-04-01 10:00:00 +0900"))
    site.publish(second, post_text("二番目", date="2026-04-01 10:00:00 +0900"))
    assert site.publisher.store.claims("/2026/04/01/x/") == [first, second]
    # The first in line moves to its own URL before the owner leaves.
    site.publish(first, post_text("一番目", extra="permalink: /elsewhere/", date=day[6:]))
    site.unpublish(owner)
    assert "二番目" in (_live_title(site, "/2026/04/01/x/") or "")
    assert "一番目" in (_live_title(site, "/elsewhere/") or "")
    assert site.publisher.store.claims("/2026/04/01/x/") == []


def _reindex(site: Site) -> None:
    """What the render function does with the requests a ``reindex`` config queues."""
    for request in config_requests(site.publisher, "reindex"):
        site.publisher.process([Change(key=k, removed=False) for k in request.keys])
        site.publisher.refresh_posts(request.urls, lists=request.lists, rewrite=True)


def _assert_pages_agree_with_report(site: Site, key: str, title: str) -> str:
    """The refused file's report names the URL its live version is at, and it is there."""
    report = site.report(key)
    assert report["status"] == "rejected" and report["code"] == "url-collision", report
    live = report["url"]
    assert live is not None, f"the report says nothing is live, yet the post was: {report}"
    assert title in (_live_title(site, live) or ""), f"{live} does not show {title}"
    assert f"stays live at {live}" in report["problem"], report["problem"]
    return str(live)


def test_after_a_site_permalink_change_a_colliding_post_agrees_with_its_report(
    site: Site,
) -> None:
    owner, other = "posts/2026-03-01-same.md", "posts/2026-03-02-same.md"
    site.publish(owner, post_text("一日目", date="2026-03-01 10:00:00 +0900"))
    site.publish(other, post_text("二日目", date="2026-03-02 10:00:00 +0900"))
    (outcome,) = site.publish("_config.yml", "permalink: /:title/\n").outcomes
    assert outcome.rebuild == "reindex"
    _reindex(site)

    assert "一日目" in (_live_title(site, "/same/") or "")
    live = _assert_pages_agree_with_report(site, other, "二日目")
    assert live == "/2026/03/02/same/"
    assert "waits in line" in site.report(other)["problem"]
    assert live in site.page("/") and "/2026/03/01/same/" not in site.page("/")

    # The owner leaves: the waiting post moves to the contested URL, its old page goes.
    site.unpublish(owner)
    assert "二日目" in (_live_title(site, "/same/") or "")
    assert site.page(live) is None
    assert site.report(other)["url"] == "/same/"


def test_an_edit_that_moves_a_post_onto_a_taken_url_keeps_it_where_it_was(site: Site) -> None:
    owner, mover = "posts/2026-03-01-same.md", "posts/2026-03-05-mover.md"
    site.publish(owner, post_text("持ち主", date="2026-03-01 10:00:00 +0900"))
    site.publish(mover, post_text("移る記事", date="2026-03-05 10:00:00 +0900"))
    moved = "permalink: /2026/03/01/same/"
    site.publish(mover, post_text("移る記事", date="2026-03-05 10:00:00 +0900", extra=moved))

    assert "持ち主" in (_live_title(site, "/2026/03/01/same/") or "")
    assert _assert_pages_agree_with_report(site, mover, "移る記事") == "/2026/03/05/mover/"
