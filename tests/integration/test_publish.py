"""The core publish flow against moto's server over HTTP."""

from __future__ import annotations

import re

import pytest

from tests.support.site import Site, post_text

KEY = "posts/2026-02-11-hello-tsuzuri.md"
URL = "/2026/02/12/hello-tsuzuri/"  # 20:59 UTC on the 11th is the 12th in Tokyo


def test_a_dropped_post_becomes_a_complete_page(site: Site) -> None:
    result = site.publish(KEY, post_text("こんにちは", tags="[AWS, 生成AI]", categories="クラウド"))

    assert [o.status for o in result.outcomes] == ["published"]
    assert result.outcomes[0].url == URL
    page = site.page(URL)
    assert page is not None
    assert "<title>こんにちは" in page
    assert 'datetime="2026-02-12T05:59:09+09:00"' in page
    obj = site.object("2026/02/12/hello-tsuzuri/index.html")
    assert obj is not None
    assert obj["ContentType"] == "text/html; charset=utf-8"
    assert "max-age" in obj["CacheControl"]

    home = site.page("/")
    assert home is not None and URL in home
    tag_page = site.page("/tags/aws/")
    assert tag_page is not None and URL in tag_page
    assert site.page("/tags/生成ai/") is not None
    assert site.page("/category/クラウド/") is not None
    tags = site.json("/tags/index.json")
    assert {(t["slug"], t["count"]) for t in tags["tags"]} == {("aws", 1), ("生成ai", 1)}
    assert [p["url"] for p in site.json("/tags/aws/index.json")["posts"]] == [URL]
    feed = site.page("/feed.xml")
    assert feed is not None and "https://blog.example.com/2026/02/12/hello-tsuzuri/" in feed
    assert "/sitemaps/posts-2026.xml" in (site.page("/sitemap.xml") or "")
    assert "hello-tsuzuri" in (site.page("/sitemaps/posts-2026.xml") or "")
    assert site.object("robots.txt") is not None
    assert site.object("404.html") is not None

    report = site.report(KEY)
    assert report["status"] == "published"
    assert report["url"] == URL


def test_one_invalidation_with_directory_and_index_paths_encoded(site: Site) -> None:
    key = "posts/2025-11-03-生成AIの基礎.md"
    site.publish(key, post_text("基礎", date="2025-11-03 10:00:00 +0900", tags="[AI]"))

    batches = site.invalidations()
    assert len(batches) == 1
    paths = batches[0]
    encoded = "/2025/11/03/%E7%94%9F%E6%88%90AI%E3%81%AE%E5%9F%BA%E7%A4%8E/"
    assert encoded in paths
    assert encoded + "index.html" in paths
    assert "/" in paths and "/index.html" in paths
    assert "/tags/ai/" in paths
    assert all(not re.search(r"[^\x21-\x7e]", p) for p in paths), "paths must be ASCII"
    assert len(paths) == len(set(paths))


def test_republishing_identical_bytes_writes_and_invalidates_nothing(site: Site) -> None:
    text = post_text("同じ", tags="[AWS]")
    site.publish(KEY, text)
    again = site.publish(KEY, text)

    assert again.written == []
    assert again.invalidated == []
    assert len(site.invalidations()) == 1


def test_deleting_a_post_unpublishes_it_everywhere(site: Site) -> None:
    site.publish(KEY, post_text("消える記事", tags="[AWS]", categories="クラウド"))
    other = "posts/2026-01-05-stays.md"
    site.publish(other, post_text("残る記事", date="2026-01-05 09:00:00 +0900", tags="[Python]"))

    result = site.unpublish(KEY)

    assert [o.status for o in result.outcomes] == ["unpublished"]
    assert site.page(URL) is None
    home = site.page("/") or ""
    assert URL not in home and "/2026/01/05/stays/" in home
    assert site.page("/tags/aws/") is None
    assert site.page("/tags/aws/index.json") is None
    assert site.page("/category/クラウド/") is None
    assert [t["slug"] for t in site.json("/tags/index.json")["tags"]] == ["python"]
    assert "hello-tsuzuri" not in (site.page("/feed.xml") or "")
    assert "hello-tsuzuri" not in (site.page("/sitemaps/posts-2026.xml") or "")
    assert "/2026/01/05/stays/" in (site.page("/2026/01/05/stays/") or "")
    assert "消える記事" not in (site.page("/2026/01/05/stays/") or ""), "neighbour link must go"
    assert site.report(KEY)["status"] == "unpublished"


def test_editing_tags_and_date_moves_the_post(site: Site) -> None:
    site.publish(KEY, post_text("移動", tags="[AWS]"))
    result = site.publish(KEY, post_text("移動", date="2026-03-01 10:00:00 +0900", tags="[Python]"))

    assert result.outcomes[0].url == "/2026/03/01/hello-tsuzuri/"
    assert site.page(URL) is None
    assert site.page("/2026/03/01/hello-tsuzuri/") is not None
    assert site.page("/tags/aws/") is None
    assert "/2026/03/01/hello-tsuzuri/" in (site.page("/tags/python/") or "")
    assert (site.page("/") or "").count("hello-tsuzuri") >= 1
    assert URL not in (site.page("/") or "")


def test_a_second_file_with_the_same_url_is_refused_and_the_first_stays(site: Site) -> None:
    site.publish(KEY, post_text("最初", date="2026-02-11 20:59:09 +0000"))
    twin = "posts/2026-02-12-hello-tsuzuri.md"
    result = site.publish(twin, post_text("二番目", date="2026-02-12 08:00:00 +0900"))

    assert [o.status for o in result.outcomes] == ["rejected"]
    assert result.outcomes[0].code == "url-collision"
    assert KEY in result.outcomes[0].message
    assert "最初" in (site.page(URL) or "")
    report = site.report(twin)
    assert report["status"] == "rejected" and URL in report["problem"]


def test_bad_input_leaves_the_site_unchanged_and_reports(site: Site) -> None:
    site.publish(KEY, post_text("良い記事", tags="[AWS]"))
    before = {k: (site.object(k) or {}).get("ETag") for k in site.keys()}

    broken = "posts/2026-02-20-broken.md"
    result = site.publish(broken, "---\ntitle: [unclosed\ndate: 2026-02-20\n---\n本文\n")

    assert [o.status for o in result.outcomes] == ["rejected"]
    assert {k: (site.object(k) or {}).get("ETag") for k in site.keys()} == before
    report = site.report(broken)
    assert report["status"] == "rejected"
    assert report["line"] is not None and report["line"] >= 2
    assert report["problem"]


def test_a_broken_edit_keeps_the_live_version(site: Site) -> None:
    site.publish(KEY, post_text("生きている"))
    result = site.publish(KEY, "---\ndate: 2026-02-11\n---\nタイトルなし\n")

    assert result.outcomes[0].status == "rejected"
    assert "title" in result.outcomes[0].message
    assert "生きている" in (site.page(URL) or "")


def test_an_older_event_never_overwrites_a_newer_one(site: Site) -> None:
    site.upload(KEY, post_text("新しい版"))
    newer = site.change(KEY)
    site.publisher.process([newer])
    older = type(newer)(key=KEY, removed=True, sequencer="0000000000000000", token="x")

    result = site.publisher.process([older])

    assert [o.status for o in result.outcomes] == ["stale"]
    assert "新しい版" in (site.page(URL) or "")


def test_redelivered_delete_before_create_converges_on_current_object(site: Site) -> None:
    # The delete's event arrives first, but the object exists: the current state wins.
    site.upload(KEY, post_text("存在する"))
    site.publisher.process([site.change(KEY, removed=True), site.change(KEY)])
    site.publisher.process([site.change(KEY)])
    assert "存在する" in (site.page(URL) or "")


def test_neighbours_link_to_each_other(site: Site) -> None:
    site.publish("posts/2026-01-01-first.md", post_text("一番目", date="2026-01-01 10:00:00 +0900"))
    site.publish("posts/2026-01-03-third.md", post_text("三番目", date="2026-01-03 10:00:00 +0900"))
    site.publish(
        "posts/2026-01-02-second.md", post_text("二番目", date="2026-01-02 10:00:00 +0900")
    )

    first = site.page("/2026/01/01/first/") or ""
    third = site.page("/2026/01/03/third/") or ""
    assert "/2026/01/02/second/" in first and "/2026/01/03/third/" not in first
    assert "/2026/01/02/second/" in third and "/2026/01/01/first/" not in third


def test_archive_pages_are_stable_when_a_new_post_arrives(site: Site) -> None:
    # paginate is 3 in the test site config
    for day in range(1, 9):
        key = f"posts/2026-01-{day:02d}-post-{day}.md"
        site.publish(key, post_text(f"記事{day}", date=f"2026-01-{day:02d} 10:00:00 +0900"))
    oldest = site.page("/page1/") or ""
    assert "/2026/01/01/post-1/" in oldest and "/2026/01/03/post-3/" in oldest

    result = site.publish(
        "posts/2026-01-09-post-9.md", post_text("記事9", date="2026-01-09 10:00:00 +0900")
    )

    assert "page1/index.html" not in result.written
    assert "index.html" in result.written
    home = site.page("/") or ""
    assert all(f"/2026/01/0{d}/post-{d}/" in home for d in (7, 8, 9))
    assert "/2026/01/06/post-6/" not in home
    assert "/page2/" in home  # older posts link


def test_redirect_from_writes_redirect_pages(site: Site) -> None:
    site.publish(KEY, post_text("移転", extra="redirect_from: [/old-url/]"))
    redirect = site.page("/old-url/") or ""
    assert "https://blog.example.com" + URL in redirect or URL in redirect
    site.publish(KEY, post_text("移転"))
    assert site.page("/old-url/") is None


def test_drafts_and_future_posts_are_not_public(site: Site) -> None:
    draft = site.publish("posts/2026-02-01-draft.md", post_text("下書き", extra="published: false"))
    future = site.publish(
        "posts/2027-06-01-future.md", post_text("未来", date="2027-06-01 10:00:00 +0900")
    )

    assert draft.outcomes[0].status == "hidden"
    assert future.outcomes[0].status == "hidden"
    assert site.page("/2026/02/01/draft/") is None
    assert site.page("/2027/06/01/future/") is None


def test_assets_are_copied_with_their_content_type(site: Site) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>'
    site.publish("assets/images/dot.svg", svg)
    obj = site.object("assets/images/dot.svg")
    assert obj is not None
    assert obj["ContentType"].startswith("image/svg+xml")
    site.unpublish("assets/images/dot.svg")
    assert site.object("assets/images/dot.svg") is None


def test_keys_outside_the_allowed_folders_are_reported_not_published(site: Site) -> None:
    result = site.publish("drafts/2026-01-01-x.md", post_text("場所違い"))
    assert [o.code for o in result.outcomes] == ["bad-key"]
    assert site.report("drafts/2026-01-01-x.md")["status"] == "rejected"
    assert site.keys() == set()


def test_a_traversal_key_cannot_choose_where_its_report_lands(site: Site) -> None:
    from tsuzuri.aws.buckets import report_key

    result = site.publish("posts/../2026-01-01-x.md", post_text("脱出"))
    assert [o.code for o in result.outcomes] == ["bad-key"]
    assert report_key("posts/../2026-01-01-x.md").startswith("reports/invalid-keys/")
    listing = site.clients.s3.list_objects_v2(Bucket=site.settings.source_bucket, Prefix="reports/")
    assert [o["Key"] for o in listing["Contents"]] == [report_key("posts/../2026-01-01-x.md")]


def test_related_lists_are_shown_after_a_refresh(site: Site) -> None:
    site.publish(KEY, post_text("元記事", tags="[AWS]"))
    site.publish(
        "posts/2026-01-05-other.md", post_text("関連する記事", date="2026-01-05 09:00:00 +0900")
    )
    before = site.page(URL) or ""
    assert (
        'class="related-posts"' in before
        and "関連する記事" not in before.split('class="related-posts"')[1]
    )

    other = site.publisher.store.get_post("/2026/01/05/other/")
    assert other is not None
    assert site.publisher.store.put_related(URL, [other.post.summary()])
    assert not site.publisher.store.put_related(URL, [other.post.summary()]), "same list: no write"
    result = site.publisher.refresh_posts([URL])

    assert result.written == ["2026/02/12/hello-tsuzuri/index.html"]
    after = site.page(URL) or ""
    assert "関連する記事" in after.split('class="related-posts"')[1]


def test_a_post_uploaded_under_jekylls_posts_folder_is_published(site: Site) -> None:
    # The key is treated as posts/...; the object must still be read where it was put.
    key = "_posts/2026-02-11-jekyll-checkout.md"
    result = site.publish(key, post_text("Jekyllのまま", tags="[AWS]"))

    assert [o.status for o in result.outcomes] == ["published"]
    assert "Jekyllのまま" in (site.page("/2026/02/12/jekyll-checkout/") or "")
    assert site.report(key)["status"] == "published"
    site.unpublish(key)
    assert site.page("/2026/02/12/jekyll-checkout/") is None


def test_a_render_past_the_wildcard_threshold_keeps_one_path_in_the_outbox(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full rebuild of a big site changes tens of thousands of paths: the outbox item
    must stay under DynamoDB's 400 KB limit, so it holds what the invalidation asks for."""
    import tsuzuri.aws.cdn

    monkeypatch.setattr(tsuzuri.aws.cdn, "WILDCARD_THRESHOLD", 3)
    saved: list[list[str]] = []
    real_save = site.publisher.store.save_outbox

    def save(reference: str, paths: list[str]) -> None:
        saved.append(list(paths))
        real_save(reference, paths)

    monkeypatch.setattr(site.publisher.store, "save_outbox", save)
    result = site.publish("posts/2026-02-01-wide.md", post_text("広い"))
    assert len(result.invalidated) > 3
    assert saved == [["/*"]]
    assert site.invalidations()[-1] == ["/*"]
    assert site.publisher.store.pending_outbox() == []
