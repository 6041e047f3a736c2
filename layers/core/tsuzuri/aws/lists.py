"""List membership, counters and period summaries: every read is bounded.

A list (``all``, ``tag/<slug>``, ``category/<slug>``) is a partition of memberships,
sorted by the post's sort key. What a page needs of it is read by position, never by
reading the whole partition:

=================  ==============  ===================================================
pk                 sk              holds
=================  ==============  ===================================================
``L#<list>``       ``<sort key>``  one membership: the post's card
``LISTS``          ``<list>``      name, ``count``, ``version`` and one counter per
                                   UTC month of sort keys (``r:YYYY-MM``); the ``all``
                                   list also counts posts per local month (``a:YYYY-MM``)
``TERMS``          ``INDEX``       every tag and category: ``c:<list>`` count, ``n:<list>`` name
``MONTHS``         ``YYYY-MM``     a month's cards (zlib JSON), newest first
``YEARS``          ``YYYY``        a year's post count, newest lastmod and search shard version
=================  ==============  ===================================================

Memberships and counters change together, in one transaction per post
(:func:`membership_actions`), so a count is exact and a position is known from the
counters: the rank of a sort key is the sum of the month counters before its month
plus its place inside the month, and the members at ranks ``lo..hi`` are one query
that starts at the month holding ``lo``. A read returns at most a month of one list
plus the page asked for, whatever the size of the site.

``MONTHS`` and ``YEARS`` are derived: the renderer writes them from what it read, tagged
with the ``all`` version it read first, and a write never replaces a newer tag.
"""

from __future__ import annotations

import calendar
import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from tsuzuri.aws.calls import error_code
from tsuzuri.aws.table import Table, dump_item
from tsuzuri.domain.model import PostSummary

ALL = "all"
LISTS = "LISTS"
RANK_MONTH = "r:"  # counter of members per UTC month of the sort key (positions)
ARCHIVE_MONTH = "a:"  # counter of `all` posts per month of the post's own date (archive)
TERM_COUNT = "c:"
TERM_NAME = "n:"


@dataclass(frozen=True, slots=True)
class ListCounter:
    """A list's size and version, with its members counted by month."""

    list_id: str
    name: str = ""
    count: int = 0
    version: int = 0
    rank_months: Mapping[str, int] = field(default_factory=dict)
    archive_months: Mapping[str, int] = field(default_factory=dict)

    def members_before(self, month: str) -> int:
        """How many members sort before UTC month ``month`` (``YYYY-MM``)."""
        return sum(n for m, n in self.rank_months.items() if m < month)

    def month_at(self, rank: int) -> tuple[str, int]:
        """The UTC month holding the member at ascending ``rank``, and how many sort
        before that month."""
        before = 0
        for month in sorted(self.rank_months):
            count = self.rank_months[month]
            if rank < before + count:
                return month, before
            before += count
        return "9999-99", before


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a post sits in the lists: what one side of a publish transaction is."""

    sort_key: str
    local_month: str  # YYYY-MM of the post's own date: its archive month
    lists: Mapping[str, str]  # list id -> display name
    card: PostSummary


def rank_month(sort_key: str) -> str:
    return sort_key[:7]


def month_counters(list_id: str, sort_key: str, local_month: str) -> list[str]:
    """The month counters of a list that one member counts in."""
    counters = [RANK_MONTH + rank_month(sort_key)]
    if list_id == ALL:
        counters.append(ARCHIVE_MONTH + local_month)
    return counters


@dataclass(slots=True)
class MembershipChange:
    """The transaction items of one move, and what each one expects."""

    actions: list[dict[str, Any]] = field(default_factory=list)
    # Per action: the (list, sort key) whose existence its condition asserts, if any.
    expects: list[tuple[str, str] | None] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # list id -> members added (< 0: removed)

    def add(self, action: dict[str, Any], expects: tuple[str, str] | None = None) -> None:
        self.actions.append(action)
        self.expects.append(expects)


def membership_actions(
    table: str,
    old: Placement | None,
    new: Placement | None,
    *,
    present: Mapping[tuple[str, str], bool] | None = None,
) -> MembershipChange:
    """The transaction items that move a post from ``old`` to ``new`` in every list, and
    keep the counters equal to the memberships.

    Each membership write is conditioned on what the caller believes exists (``present``
    overrides that belief per (list, sort key) after a cancelled attempt), so a
    wrong belief cancels the transaction instead of counting a member twice.
    """
    present = present or {}
    change = MembershipChange()
    count = change.counts
    months: dict[str, dict[str, int]] = {}
    names: dict[str, str] = {}

    def delta(list_id: str, attribute: str, by: int) -> None:
        months.setdefault(list_id, {})
        months[list_id][attribute] = months[list_id].get(attribute, 0) + by

    def exists(list_id: str, sort_key: str, default: bool) -> bool:
        return present.get((list_id, sort_key), default)

    old_lists = dict(old.lists) if old else {}
    new_lists = dict(new.lists) if new else {}
    if old is not None:
        for list_id, name in old_lists.items():
            names.setdefault(list_id, name)
            if new is not None and list_id in new_lists and new.sort_key == old.sort_key:
                continue
            if not exists(list_id, old.sort_key, True):
                continue  # already gone: nothing to count
            change.add(_delete_member(table, list_id, old.sort_key), (list_id, old.sort_key))
            count[list_id] = count.get(list_id, 0) - 1
            for attribute in month_counters(list_id, old.sort_key, old.local_month):
                delta(list_id, attribute, -1)
    if new is not None:
        for list_id, name in new_lists.items():
            names[list_id] = name
            kept = old is not None and list_id in old_lists and old.sort_key == new.sort_key
            expect = (list_id, new.sort_key)
            if exists(list_id, new.sort_key, kept):
                change.add(_put_member(table, list_id, new.card, must_exist=True), expect)
                continue
            change.add(_put_member(table, list_id, new.card, must_exist=False), expect)
            count[list_id] = count.get(list_id, 0) + 1
            for attribute in month_counters(list_id, new.sort_key, new.local_month):
                delta(list_id, attribute, 1)
    for list_id in sorted(names):
        adds = {"count": count.get(list_id, 0), **months.get(list_id, {})}
        change.add(_counter_update(table, list_id, names[list_id], adds))
    terms = {i: n for i, n in names.items() if i != ALL}
    if terms:
        change.add(_terms_update(table, terms, {i: count.get(i, 0) for i in terms}))
    return change


def believed_present(action: Mapping[str, Any]) -> bool:
    """What a membership action's condition assumed: that its item exists, or not."""
    if "Delete" in action:
        return True
    return str(action["Put"]["ConditionExpression"]).startswith("attribute_exists")


def _put_member(table: str, list_id: str, card: PostSummary, *, must_exist: bool) -> dict[str, Any]:
    condition = "attribute_exists(sk)" if must_exist else "attribute_not_exists(sk)"
    return {
        "Put": {
            "TableName": table,
            "Item": member_item(list_id, card),
            "ConditionExpression": condition,
        }
    }


def _delete_member(table: str, list_id: str, sort_key: str) -> dict[str, Any]:
    return {
        "Delete": {
            "TableName": table,
            "Key": {"pk": {"S": f"L#{list_id}"}, "sk": {"S": sort_key}},
            "ConditionExpression": "attribute_exists(sk)",
        }
    }


def _counter_update(table: str, list_id: str, name: str, adds: Mapping[str, int]) -> dict[str, Any]:
    names = {"#name": "name", "#version": "version"}
    values: dict[str, Any] = {":name": {"S": name}, ":one": {"N": "1"}}
    terms = ["#version :one"]
    for i, (attribute, by) in enumerate(sorted(adds.items())):
        if by == 0 and attribute != "count":
            continue
        names[f"#a{i}"] = attribute
        values[f":d{i}"] = {"N": str(by)}
        terms.append(f"#a{i} :d{i}")
    return {
        "Update": {
            "TableName": table,
            "Key": {"pk": {"S": LISTS}, "sk": {"S": list_id}},
            "UpdateExpression": "SET #name = :name ADD " + ", ".join(terms),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def _terms_update(
    table: str, names_by_list: Mapping[str, str], counts: Mapping[str, int]
) -> dict[str, Any]:
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    sets: list[str] = []
    adds: list[str] = []
    for i, list_id in enumerate(sorted(names_by_list)):
        names[f"#n{i}"] = TERM_NAME + list_id
        values[f":n{i}"] = {"S": names_by_list[list_id]}
        sets.append(f"#n{i} = :n{i}")
        names[f"#c{i}"] = TERM_COUNT + list_id
        values[f":c{i}"] = {"N": str(counts.get(list_id, 0))}
        adds.append(f"#c{i} :c{i}")
    return {
        "Update": {
            "TableName": table,
            "Key": {"pk": {"S": "TERMS"}, "sk": {"S": "INDEX"}},
            "UpdateExpression": "SET " + ", ".join(sets) + " ADD " + ", ".join(adds),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


# A MONTHS item's compressed cards, kept well inside DynamoDB's 400 KB item limit.
MONTH_BYTES = 300_000


class ListIndex:
    """Bounded reads of the lists: counters, windows by position, months and terms."""

    def __init__(self, table: Table):
        self.table = table

    # -- counters ---------------------------------------------------------------
    def counters(self, list_ids: Iterable[str]) -> dict[str, ListCounter]:
        """Every list's counter as of one instant (:meth:`Table.snapshot`); absent lists
        count 0."""
        ids = sorted(set(list_ids))
        found = {i: ListCounter(i) for i in ids}
        for item in self.table.snapshot([(LISTS, i) for i in ids]):
            found[item["sk"]] = _counter(item)
        return found

    def versions(self, list_ids: Iterable[str]) -> dict[str, int]:
        return {list_id: c.version for list_id, c in self.counters(list_ids).items()}

    def terms(self) -> dict[str, tuple[str, int]]:
        """Every tag and category with members: list id -> (name, count). One item."""
        item = self.table.get("TERMS", "INDEX") or {}
        terms: dict[str, tuple[str, int]] = {}
        for attribute, value in item.items():
            if attribute.startswith(TERM_COUNT) and int(value) > 0:
                list_id = attribute.removeprefix(TERM_COUNT)
                terms[list_id] = (str(item.get(TERM_NAME + list_id, list_id)), int(value))
        return terms

    # -- members by position ----------------------------------------------------
    def newest(self, list_id: str, limit: int) -> list[PostSummary]:
        """The newest ``limit`` members, newest first."""
        if limit <= 0:
            return []
        items = self.table.query_raw(
            "pk = :pk", {":pk": {"S": f"L#{list_id}"}}, forward=False, limit=limit
        )
        return [summary_from_member(i) for i in items]

    def every(self, list_id: str) -> list[PostSummary]:
        """The whole list, newest first: for a batch that renders all of it anyway."""
        return [summary_from_member(i) for i in self.table.query(f"L#{list_id}", forward=False)]

    def rank_of(self, counter: ListCounter, sort_key: str) -> int:
        """The ascending position ``sort_key`` has (or would have) in the list: the
        month counters before its month plus a key-only read of that month."""
        month = rank_month(sort_key)
        items = self.table.query_raw(
            "pk = :pk AND sk BETWEEN :lo AND :hi",
            {":pk": {"S": f"L#{counter.list_id}"}, ":lo": {"S": month}, ":hi": {"S": sort_key}},
            forward=True,
            projection="sk",
        )
        inside = sum(1 for item in items if item["sk"] < sort_key)
        return counter.members_before(month) + inside

    def ranks(self, counter: ListCounter, lo: int, hi: int) -> list[PostSummary]:
        """Members at ascending positions ``lo`` to ``hi - 1``, oldest first."""
        lo, hi = max(0, lo), min(hi, counter.count)
        if hi <= lo:
            return []
        if counter.count - lo <= hi - lo + _NEWEST_SLACK:
            # Near the newest end: read back from the top instead of from a month.
            newest = self.newest(counter.list_id, counter.count - lo)
            ascending = newest[::-1]
            return ascending[: hi - lo]
        month, before = counter.month_at(lo)
        skip = lo - before
        items = self.table.query_raw(
            "pk = :pk AND sk >= :month",
            {":pk": {"S": f"L#{counter.list_id}"}, ":month": {"S": month}},
            forward=True,
            limit=skip + (hi - lo),
        )
        members = [summary_from_member(i) for i in items]
        return members[skip:]

    def around(self, list_id: str, sort_key: str, older: int, newer: int) -> list[PostSummary]:
        """Up to ``older`` members before ``sort_key`` and ``newer`` from it on, oldest
        first: two small queries."""
        values = {":pk": {"S": f"L#{list_id}"}, ":sk": {"S": sort_key}}
        before = self.table.query_raw("pk = :pk AND sk < :sk", values, forward=False, limit=older)
        after = self.table.query_raw("pk = :pk AND sk >= :sk", values, forward=True, limit=newer)
        return [summary_from_member(i) for i in reversed(list(before))] + [
            summary_from_member(i) for i in after
        ]

    def span(self, list_id: str, first: str, last: str, limit: int) -> list[PostSummary] | None:
        """The members from the one before ``first`` to the one after ``last``, oldest
        first, if at most ``limit`` lie between; None when more do (the caller reads
        around each key instead). Three queries whatever the span."""
        values = {":pk": {"S": f"L#{list_id}"}, ":lo": {"S": first}, ":hi": {"S": last}}
        inside = [
            summary_from_member(i)
            for i in self.table.query_raw(
                "pk = :pk AND sk BETWEEN :lo AND :hi", values, forward=True, limit=limit + 1
            )
        ]
        if len(inside) > limit:
            return None
        before = self.table.query_raw(
            "pk = :pk AND sk < :sk", {":pk": values[":pk"], ":sk": values[":lo"]},
            forward=False, limit=1,
        )  # fmt: skip
        after = self.table.query_raw(
            "pk = :pk AND sk > :sk", {":pk": values[":pk"], ":sk": values[":hi"]},
            forward=True, limit=1,
        )  # fmt: skip
        return (
            [summary_from_member(i) for i in before]
            + inside
            + [summary_from_member(i) for i in after]
        )

    def local_month(self, month: str) -> list[PostSummary]:
        """The ``all`` members whose own date falls in ``month`` (``YYYY-MM``), newest
        first. A post's own offset can put it up to 14 hours either side of the UTC
        month, so the read takes a day more on each side and keeps the month's own."""
        year, number = int(month[:4]), int(month[5:7])
        last_day = calendar.monthrange(year, number)[1]
        values = {
            ":pk": {"S": f"L#{ALL}"},
            ":lo": {"S": _utc_key(datetime(year, number, 1) - _OFFSET_MARGIN)},
            ":hi": {"S": _utc_key(datetime(year, number, last_day, 23, 59, 59) + _OFFSET_MARGIN)},
        }
        items = self.table.query_raw("pk = :pk AND sk BETWEEN :lo AND :hi", values, forward=False)
        members = (summary_from_member(i) for i in items)
        return [m for m in members if m.date.strftime("%Y-%m") == month]

    # -- months and years (derived, written by the renderer) ------------------------
    def put_month(self, month: str, members: Sequence[PostSummary], version: int) -> None:
        cards = [summary_fields(m, search_text=True) for m in members]
        body = zlib.compress(json.dumps(cards, ensure_ascii=False).encode("utf-8"), 6)
        if len(body) > MONTH_BYTES:
            # A month of many long posts: its search terms go before the item would
            # outgrow DynamoDB's 400 KB (titles, tags, excerpts and headings stay).
            cards = [summary_fields(m) for m in members]
            body = zlib.compress(json.dumps(cards, ensure_ascii=False).encode("utf-8"), 6)
        item = {"pk": "MONTHS", "sk": month, "cards": body, "count": len(cards), "built": version}
        self._put_derived(item, version)

    def year_months(self, year: int) -> dict[str, list[PostSummary]]:
        """The year's months (``YYYY-MM`` -> cards newest first): at most 12 items."""
        values = {":pk": {"S": "MONTHS"}, ":year": {"S": f"{year:04d}-"}}
        months: dict[str, list[PostSummary]] = {}
        for item in self.table.query_raw(
            "pk = :pk AND begins_with(sk, :year)", values, forward=True
        ):
            cards = json.loads(zlib.decompress(bytes(item["cards"])).decode("utf-8"))
            if cards:
                months[item["sk"]] = [summary_from_fields(c) for c in cards]
        return months

    def put_year(self, summary: YearSummary, version: int) -> None:
        item = {
            "pk": "YEARS",
            "sk": f"{summary.year:04d}",
            "count": summary.count,
            "searchable": summary.searchable,
            "lastmod": summary.lastmod.isoformat() if summary.lastmod else None,
            "shard": summary.shard_version,
            "built": version,
        }
        self._put_derived(item, version)

    def years(self) -> list[YearSummary]:
        """Every year with posts, oldest first: one item per year."""
        return [
            YearSummary(
                year=int(item["sk"]),
                count=int(item.get("count", 0)),
                searchable=int(item.get("searchable", 0)),
                lastmod=datetime.fromisoformat(item["lastmod"]) if item.get("lastmod") else None,
                shard_version=str(item.get("shard", "")),
            )
            for item in self.table.query("YEARS", forward=True)
            if int(item.get("count", 0)) > 0
        ]

    def _put_derived(self, item: dict[str, Any], version: int) -> None:
        try:
            self.table.call(
                "put_item",
                TableName=self.table.name,
                Item=dump_item(item),
                ConditionExpression="attribute_not_exists(built) OR built <= :v",
                ExpressionAttributeValues={":v": {"N": str(version)}},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            # A render that read a newer version wrote it: its copy is the current one.


@dataclass(frozen=True, slots=True)
class YearSummary:
    year: int
    count: int
    searchable: int  # posts in the search shard (those in the sitemap)
    lastmod: datetime | None
    shard_version: str


_OFFSET_MARGIN = timedelta(hours=15)  # UTC offsets reach 14 hours either way


def _utc_key(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


_NEWEST_SLACK = 20  # a few more items from the top beat a second query from a month


def _counter(item: Mapping[str, Any]) -> ListCounter:
    return ListCounter(
        list_id=item["sk"],
        name=str(item.get("name", item["sk"])),
        count=int(item.get("count", 0)),
        version=int(item.get("version", 0)),
        rank_months={
            k.removeprefix(RANK_MONTH): int(v)
            for k, v in item.items()
            if k.startswith(RANK_MONTH) and int(v) > 0
        },
        archive_months={
            k.removeprefix(ARCHIVE_MONTH): int(v)
            for k, v in item.items()
            if k.startswith(ARCHIVE_MONTH) and int(v) > 0
        },
    )


def summary_fields(summary: PostSummary, *, search_text: bool = False) -> dict[str, Any]:
    """A card's fields. ``search_text`` adds the body's search terms, for the cards the
    search shards are built from only: on every tag and category membership they would
    multiply the stored bytes and the read units of every list read."""
    fields = {
        "url": summary.url,
        "title": summary.title,
        "date": summary.date.isoformat(),
        "excerpt": summary.excerpt,
        "image": summary.image,
        "tags": list(summary.tags),
        "lastmod": summary.lastmod.isoformat() if summary.lastmod else None,
        "in_sitemap": summary.in_sitemap,
        "headings": list(summary.headings) or None,
    }
    if search_text:
        fields["search_text"] = summary.search_text or None
    return fields


def summary_from_fields(item: Mapping[str, Any]) -> PostSummary:
    return PostSummary(
        url=item["url"],
        title=item["title"],
        date=datetime.fromisoformat(item["date"]),
        excerpt=item.get("excerpt", ""),
        image=item.get("image") or None,
        tags=tuple(item.get("tags", [])),
        lastmod=datetime.fromisoformat(item["lastmod"]) if item.get("lastmod") else None,
        in_sitemap=bool(item.get("in_sitemap", True)),
        headings=tuple(item.get("headings") or ()),
        # Only the cards written with it hold one (summary_fields); older ones have none.
        search_text=str(item.get("search_text") or ""),
    )


def member_item(list_id: str, summary: PostSummary) -> dict[str, Any]:
    # The card is one JSON string, not a DynamoDB map: botocore parses (and DynamoDB
    # bills) every typed node of every item, and one string reads about five times
    # faster than the ~30 nodes of a map.
    # The timeline's members carry the body's search terms: a month's cards are rebuilt
    # from them (local_month, migrate). Tag and category members leave them out.
    fields = summary_fields(summary, search_text=list_id == ALL)
    url = fields.pop("url")
    present = {k: v for k, v in fields.items() if v is not None}
    card = json.dumps(present, ensure_ascii=False, separators=(",", ":"))
    return dump_item({"pk": f"L#{list_id}", "sk": summary.sort_key, "url": url, "card": card})


def summary_from_member(item: Mapping[str, Any]) -> PostSummary:
    if "card" in item:  # a membership (older ones hold the fields as attributes)
        item = {**json.loads(item["card"]), "url": item["url"]}
    return summary_from_fields(item)
