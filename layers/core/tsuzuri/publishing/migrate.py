"""Bring a table written before the list counters (schema 1) up to schema 2.

Schema 2 keeps, beside the memberships, what a publish reads instead of whole lists:
each list's count and its members per month, the ``TERMS`` item, the ``MONTHS`` and
``YEARS`` summaries and the manifest of the site bucket. A table written by an older
release has the memberships only (and counts taken by renders). :func:`migrate`
derives the rest from the memberships and the bucket listing. It reads every list
once, so it is a one-off (``tsuzuri migrate``), run once after the upgrade's
``sam deploy``, and running it again gives the same result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tsuzuri.aws.lists import (
    ALL,
    LISTS,
    TERM_COUNT,
    TERM_NAME,
    month_counters,
)
from tsuzuri.aws.store import PostStore
from tsuzuri.aws.table import dump_item
from tsuzuri.domain.model import PostSummary
from tsuzuri.publishing.site_builder import summarise_year

SCHEMA = 2


@dataclass(frozen=True, slots=True)
class Migrated:
    lists: int
    posts: int
    months: int
    objects: int


def migrate(
    store: PostStore,
    s3: Any,
    site_bucket: str,
    *,
    progress: Callable[[str], None] = lambda _line: None,
) -> Migrated:
    """Recount every list, rebuild the term, month and year items, and record the
    site bucket's objects in the manifest."""
    list_ids = [
        str(item["sk"]) for item in store.table.query(LISTS, forward=True) if item["sk"] != ALL
    ]
    names: dict[str, str] = {}
    counts: dict[str, int] = {}
    timeline: list[PostSummary] = []
    for number, list_id in enumerate([ALL, *list_ids], start=1):
        members = store.lists.every(list_id)
        if list_id == ALL:
            timeline = members
        current = store.table.get(LISTS, list_id) or {}
        names[list_id] = str(current.get("name", list_id))
        counts[list_id] = len(members)
        _write_counter(store, list_id, names[list_id], members, int(current.get("version", 0)))
        if number % 100 == 0:
            progress(f"[{number}/{len(list_ids) + 1}] lists recounted")
    progress(f"{len(list_ids) + 1} lists recounted")
    terms: dict[str, Any] = {"pk": "TERMS", "sk": "INDEX"}
    for list_id in list_ids:
        terms[TERM_COUNT + list_id] = counts[list_id]
        terms[TERM_NAME + list_id] = names[list_id]
    store.table.call("put_item", TableName=store.table.name, Item=dump_item(terms))

    version = store.lists.counters([ALL])[ALL].version
    by_month: dict[str, list[PostSummary]] = defaultdict(list)
    for member in timeline:  # newest first
        by_month[member.date.strftime("%Y-%m")].append(member)
    for month, members in sorted(by_month.items()):
        store.lists.put_month(month, members, version)
    by_year: dict[int, list[PostSummary]] = defaultdict(list)
    for member in timeline:
        by_year[member.date.year].append(member)
    for year, members in sorted(by_year.items()):
        store.lists.put_year(summarise_year(year, members)[0], version)
    progress(f"{len(by_month)} months and {len(by_year)} years summarised")

    objects = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=site_bucket):
        listing = [(o["Key"], str(o.get("ETag", "")).strip('"')) for o in page.get("Contents", [])]
        objects += store.manifest.record_listing(listing)
    progress(f"{objects} site objects recorded in the manifest")
    store.table.call(
        "put_item",
        TableName=store.table.name,
        Item=dump_item({"pk": "SITE", "sk": "SCHEMA", "version": SCHEMA}),
    )
    return Migrated(len(list_ids) + 1, len(timeline), len(by_month), objects)


def _write_counter(
    store: PostStore, list_id: str, name: str, members: list[PostSummary], version: int
) -> None:
    """The list's counter as its members say, replacing whatever months it held."""
    item: dict[str, Any] = {
        "pk": LISTS,
        "sk": list_id,
        "name": name,
        "count": len(members),
        "version": version + 1,  # a render in flight sees the list move
    }
    for member in members:
        for attribute in month_counters(list_id, member.sort_key, member.date.strftime("%Y-%m")):
            item[attribute] = item.get(attribute, 0) + 1
    store.table.call("put_item", TableName=store.table.name, Item=dump_item(item))
