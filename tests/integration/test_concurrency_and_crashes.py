"""Two renders at once lose nothing; a crash between index and pages heals on retry."""

from __future__ import annotations

import threading

import pytest
from tsuzuri.aws.clients import make_clients
from tsuzuri.publishing.publisher import Change
from tsuzuri.publishing.wiring import build_publisher

from tests.conftest import SITE
from tests.support.site import Site, post_text


def test_concurrent_renders_never_lose_each_others_posts(site: Site, moto_endpoint: str) -> None:
    # A second, independent publisher: another Lambda execution environment.
    other_clients = make_clients(endpoint_url=moto_endpoint, region="ap-northeast-1")
    other = build_publisher(site.settings, other_clients, site=SITE)
    other.clock = site.publisher.clock
    keys = [f"posts/2026-01-{day:02d}-race-{day}.md" for day in range(1, 9)]
    for day, key in enumerate(keys, start=1):
        site.upload(
            key, post_text(f"競合{day}", date=f"2026-01-{day:02d} 10:00:00 +0900", tags="[AWS]")
        )

    def run(publisher: object, mine: list[str]) -> None:
        for key in mine:
            publisher.process([Change(key, removed=False, token=key)])  # type: ignore[attr-defined]

    threads = [
        threading.Thread(target=run, args=(site.publisher, keys[0::2])),
        threading.Thread(target=run, args=(other, keys[1::2])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    tag = site.json("/tags/aws/index.json")
    assert tag["count"] == 8
    assert set(site.tag_posts("/tags/aws/index.json")) == {
        f"/2026/01/{d:02d}/race-{d}/" for d in range(1, 9)
    }
    home = site.page("/") or ""
    assert all(f"/2026/01/0{d}/race-{d}/" in home for d in (6, 7, 8))  # newest 3 (paginate 3)
    for day in range(2, 8):  # every neighbour link is right despite the interleaving
        page = site.page(f"/2026/01/{day:02d}/race-{day}/") or ""
        assert f"/2026/01/{day - 1:02d}/race-{day - 1}/" in page
        assert f"/2026/01/{day + 1:02d}/race-{day + 1}/" in page


def test_a_render_that_read_a_stale_list_renders_again(
    site: Site, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reads the tag list, then B publishes and renders, then A writes its stale pages:
    A must notice the list version moved and render again."""
    other = build_publisher(
        site.settings, make_clients(endpoint_url=moto_endpoint, region="ap-northeast-1"),
        site=SITE,
    )  # fmt: skip
    other.clock = site.publisher.clock
    first, second = "posts/2026-01-01-slow.md", "posts/2026-01-02-fast.md"
    site.upload(first, post_text("遅い", date="2026-01-01 10:00:00 +0900", tags="[AWS]"))
    site.upload(second, post_text("速い", date="2026-01-02 10:00:00 +0900", tags="[AWS]"))
    a_has_rendered, b_is_done = threading.Event(), threading.Event()
    real_diff = site.publisher.store.manifest.changed

    def diff_then_wait(files: object) -> object:
        if not a_has_rendered.is_set():
            a_has_rendered.set()
            assert b_is_done.wait(30)
        return real_diff(files)  # type: ignore[arg-type]

    monkeypatch.setattr(site.publisher.store.manifest, "changed", diff_then_wait)
    slow = threading.Thread(
        target=site.publisher.process, args=([Change(first, False, token="a")],)
    )
    slow.start()
    assert a_has_rendered.wait(30)
    other.process([Change(second, False, token="b")])
    b_is_done.set()
    slow.join(30)

    tag = site.page("/tags/aws/") or ""
    assert "/2026/01/01/slow/" in tag
    assert "/2026/01/02/fast/" in tag, "the slow render must not overwrite the newer list"
    assert site.json("/tags/aws/index.json")["count"] == 2


def test_a_crash_after_the_index_is_healed_by_the_redelivered_event(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "posts/2026-02-11-crash.md"
    site.upload(key, post_text("落ちても戻る", tags="[AWS]"))
    output = site.publisher.output
    real_put = output.put

    def crash(files: object) -> list[str]:
        raise OSError("the execution environment died")

    monkeypatch.setattr(output, "put", crash)
    with pytest.raises(OSError, match="died"):
        site.publisher.process([site.change(key)])
    assert site.page("/2026/02/12/crash/") is None
    assert site.publisher.store.pending_outbox(), "the paths wait in the outbox"

    monkeypatch.setattr(output, "put", real_put)
    site.publisher.process([site.change(key)])  # Lambda redelivers the message

    assert "落ちても戻る" in (site.page("/2026/02/12/crash/") or "")
    assert "/2026/02/12/crash/" in (site.page("/tags/aws/") or "")
    assert site.publisher.store.pending_outbox() == []
    invalidated = [p for batch in site.invalidations() for p in batch]
    assert "/2026/02/12/crash/" in invalidated


def test_an_edit_that_moves_the_url_during_a_render_leaves_one_post(
    site: Site, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Render A reads version 1 of a file; the editor changes its date (a new URL) and
    render B (another execution environment) publishes version 2; then A finishes.
    Exactly one post must be live: version 2, at its URL."""
    other = build_publisher(
        site.settings, make_clients(endpoint_url=moto_endpoint, region="ap-northeast-1"),
        site=SITE,
    )  # fmt: skip
    other.clock = site.publisher.clock
    key = "posts/2026-01-05-moved.md"
    site.upload(key, post_text("前の版", date="2026-01-05 10:00:00 +0900", tags="[AWS]"))
    a_has_read, b_is_done = threading.Event(), threading.Event()
    real_get = site.publisher.source.get

    def get_then_wait(*args: object, **kwargs: object) -> object:
        obj = real_get(*args, **kwargs)  # type: ignore[arg-type]
        if not a_has_read.is_set():
            a_has_read.set()
            assert b_is_done.wait(30)
        return obj

    monkeypatch.setattr(site.publisher.source, "get", get_then_wait)
    results = []
    slow = threading.Thread(
        target=lambda: results.append(site.publisher.process([Change(key, False, token="a")]))
    )
    slow.start()
    assert a_has_read.wait(30)
    site.upload(key, post_text("新しい版", date="2026-01-07 10:00:00 +0900", tags="[AWS]"))
    other.process([Change(key, False, token="b")])
    b_is_done.set()
    slow.join(30)
    monkeypatch.setattr(site.publisher.source, "get", real_get)
    if results[0].failed_tokens:  # Lambda redelivers what A reported as failed
        site.publisher.process([Change(key, False, token="a")])

    assert site.page("/2026/01/05/moved/") is None, "the old version stays live at its old URL"
    assert "新しい版" in (site.page("/2026/01/07/moved/") or "")
    tag = site.json("/tags/aws/index.json")
    assert [p["url"] for p in tag["posts"]] == ["/2026/01/07/moved/"]


def _second_publisher(site: Site, moto_endpoint: str) -> object:
    other = build_publisher(
        site.settings, make_clients(endpoint_url=moto_endpoint, region="ap-northeast-1"),
        site=SITE,
    )  # fmt: skip
    other.clock = site.publisher.clock
    return other


def test_a_post_page_refresh_that_raced_a_new_neighbour_renders_again(
    site: Site, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The related function re-renders a page (its list changed) while a publish puts a
    new post next to it: the refresh read the old neighbours, wrote after the publish,
    and must notice and render the page again."""
    other = _second_publisher(site, moto_endpoint)
    site.publish("posts/2026-02-01-old.md", post_text("古い", date="2026-02-01 10:00:00 +0900"))
    newer = "posts/2026-02-02-new.md"
    site.upload(newer, post_text("新しい", date="2026-02-02 10:00:00 +0900"))
    refreshed_once, neighbour_published = threading.Event(), threading.Event()
    real_diff = site.publisher.store.manifest.changed

    def diff_then_wait(files: object) -> object:
        if not refreshed_once.is_set():
            refreshed_once.set()
            assert neighbour_published.wait(30)
        return real_diff(files)  # type: ignore[arg-type]

    monkeypatch.setattr(site.publisher.store.manifest, "changed", diff_then_wait)
    refresh = threading.Thread(target=site.publisher.refresh_posts, args=(["/2026/02/01/old/"],))
    refresh.start()
    assert refreshed_once.wait(30)
    other.process([Change(newer, False, token="b")])  # type: ignore[attr-defined]
    neighbour_published.set()
    refresh.join(30)

    assert "/2026/02/02/new/" in (site.page("/2026/02/01/old/") or ""), (
        "the refresh must not leave the page without its new neighbour link"
    )


def test_a_post_page_refresh_finishes_while_other_posts_keep_publishing(
    site: Site, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Publishes elsewhere on the timeline move the ``all`` list on every attempt; a
    refresh of one page does not depend on them and must not give up."""
    other = _second_publisher(site, moto_endpoint)
    site.publish("posts/2026-03-01-prev.md", post_text("前", date="2026-03-01 10:00:00 +0900"))
    site.publish("posts/2026-03-10-kept.md", post_text("本命", date="2026-03-10 10:00:00 +0900"))
    site.publish("posts/2026-03-20-next.md", post_text("次", date="2026-03-20 10:00:00 +0900"))
    elsewhere = [f"posts/2025-0{m}-01-elsewhere-{m}.md" for m in range(1, 9)]
    for month, key in enumerate(elsewhere, start=1):
        site.upload(key, post_text(f"別{month}", date=f"2025-0{month}-01 10:00:00 +0900"))
    real_diff = site.publisher.store.manifest.changed

    def diff_while_publishing(files: object) -> object:
        if elsewhere:
            key = elsewhere.pop(0)
            other.process([Change(key, False, token=key)])  # type: ignore[attr-defined]
        return real_diff(files)  # type: ignore[arg-type]

    monkeypatch.setattr(site.publisher.store.manifest, "changed", diff_while_publishing)
    result = site.publisher.refresh_posts(["/2026/03/10/kept/"])

    assert len(elsewhere) >= 6, "the refresh finished without re-rendering for each publish"
    page = site.page("/2026/03/10/kept/") or ""
    assert "/2026/03/20/next/" in page
    assert "/2026/03/01/prev/" in page
    assert result.written == [] or result.written == ["2026/03/10/kept/index.html"]
