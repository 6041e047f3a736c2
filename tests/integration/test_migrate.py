"""`tsuzuri migrate`: a table of the previous release (memberships only) is brought to
the counters, month and year items and manifest this release reads, and publishing
goes on exactly from there."""

from __future__ import annotations

from typing import Any

from tsuzuri.aws.store import PostStore
from tsuzuri.publishing.migrate import migrate
from tsuzuri_local import cli

from tests.support.site import Site, post_text

DERIVED = ("TERMS", "MONTHS", "YEARS")


def _items(site: Site, pk: str) -> dict[str, dict[str, Any]]:
    store = PostStore(site.clients.dynamodb, site.settings.table_name)
    return {str(i["sk"]): i for i in store.table.query(pk, forward=True)}


def _downgrade(site: Site) -> None:
    """What the previous release left: memberships, LISTS items with name, count and
    version only, and no term, month, year or manifest items."""
    dynamodb, table = site.clients.dynamodb, site.settings.table_name
    scan = dynamodb.get_paginator("scan").paginate(TableName=table)
    for page in scan:
        for item in page["Items"]:
            pk = item["pk"]["S"]
            if pk in DERIVED or pk.startswith("OBJ#"):
                dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
            elif pk == "LISTS":
                kept = {k: v for k, v in item.items() if k in {"pk", "sk", "name", "version"}}
                kept["count"] = {"N": "0"}  # a count a render of the old release left behind
                dynamodb.put_item(TableName=table, Item=kept)


def _without_versions(items: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        k: {a: v for a, v in i.items() if a not in {"version", "built"}} for k, i in items.items()
    }


def test_migrate_rebuilds_what_publishing_keeps(site: Site) -> None:
    posts = {
        "posts/2025-12-31-a.md": post_text("年末", date="2025-12-31 23:30:00 +0900", tags="[AWS]"),
        "posts/2026-01-01-b.md": post_text(
            "元日", date="2026-01-01 00:30:00 +0900", tags="[AWS, AI]"
        ),
        "posts/2026-02-03-c.md": post_text("節分", date="2026-02-03 10:00:00 +0900", tags="[AI]"),
        "posts/2026-02-04-d.md": post_text("翌日", date="2026-02-04 10:00:00 +0900"),
    }
    for key, text in posts.items():
        site.publish(key, text)
    expected = {pk: _without_versions(_items(site, pk)) for pk in ("LISTS", *DERIVED)}
    assert expected["LISTS"]["all"]["count"] == 4
    _downgrade(site)

    store = PostStore(site.clients.dynamodb, site.settings.table_name)
    lines: list[str] = []
    done = migrate(store, site.clients.s3, site.settings.site_bucket, progress=lines.append)

    assert (done.posts, done.lists, done.months) == (4, 3, 3)  # all, tag/aws, tag/ai
    assert done.objects == len(site.keys())
    for pk in ("LISTS", *DERIVED):
        assert _without_versions(_items(site, pk)) == expected[pk], pk
    assert any("lists recounted" in line for line in lines)
    # Running it again changes nothing that publishing reads.
    migrate(store, site.clients.s3, site.settings.site_bucket)
    assert _without_versions(_items(site, "LISTS")) == expected["LISTS"]

    # Publishing goes on from the migrated table: a delete reaches the page written by
    # the previous release (known from the manifest's backfill), counts stay exact.
    site.unpublish("posts/2026-01-01-b.md")
    assert site.page("/2026/01/01/b/") is None
    tags = {t["slug"]: t["count"] for t in site.json("/tags/index.json")["tags"]}
    assert tags == {"aws": 1, "ai": 1}
    assert "/2026/01/01/b/" not in (site.page("/sitemaps/posts-2026.xml") or "")


def test_the_migrate_command_reads_its_options(site: Site, moto_endpoint: str) -> None:
    site.publish("posts/2026-03-01-e.md", post_text("三月", date="2026-03-01 10:00:00 +0900"))
    _downgrade(site)
    code = cli.main(
        ["migrate", "--endpoint-url", moto_endpoint, "--region", "ap-northeast-1",
         "--table", site.settings.table_name, "--site-bucket", site.settings.site_bucket]
    )  # fmt: skip
    assert code == 0
    assert _items(site, "LISTS")["all"]["count"] == 1
    assert cli.main(["migrate", "--table", site.settings.table_name]) == 2  # no bucket given
