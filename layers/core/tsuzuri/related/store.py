"""The related function's items in the table, next to the posts it reads.

Items (all written by this module only; none has ``sk = POST``, so the stream filter
of the function never hears its own writes):

=====================  ==================  ============================================
pk                     sk                  holds
=====================  ==================  ============================================
``RX#tag/<slug>``      ``<sort key>``      one post's features (tags, categories, date,
``RX#category/<s>``                        content sketch) in each of its timelines
``POST#<url>``         ``RELATED``         the list shown on the page (``posts``), the
                                           entries' scores, the owner's features and
                                           what the index last recorded of the owner
                                           (``own``), and a revision for compare-and-set
``RBY#<url>``          ``<list owner>``    reverse index: the lists that show ``url``
``RPENDING``           ``<url>``           a page whose list changed and is not rendered
``RWORK``              ``CONTINUE``        rewritten while pages are still pending: its
                                           stream record brings the function back for
                                           the next chunk (the stream filter lets it in)
=====================  ==================  ============================================
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from tsuzuri.aws.calls import back_off, error_code
from tsuzuri.aws.lists import summary_fields
from tsuzuri.aws.store import PostStore, post_from_item
from tsuzuri.aws.table import dump_item
from tsuzuri.domain.relatedness import (
    DEFAULT_SETTINGS,
    Features,
    Ranked,
    RelatedSettings,
    make_features,
)
from tsuzuri.related.records import CONTINUATION

ENTRY = "RX#"
REFERRER = "RBY#"
PENDING = "RPENDING"
FLOOR = "RFL#"
RELATED = "RELATED"
ALL = "all"

# TransactWriteItems' limit; a conflict with a transaction in flight is retried.
TRANSACTION_ITEMS = 100
CONFLICT_ATTEMPTS = 5

Card = dict[str, Any]  # a post summary as stored (tsuzuri.aws.store.summary_fields)


# -- values ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostView:
    """A post as the related lists see it: what scores it, and what its card shows."""

    features: Features
    card: Card


@dataclass(slots=True)
class ListState:
    """A ``POST#<url>``/``RELATED`` item."""

    url: str
    entries: list[Ranked] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)
    features: Features | None = None  # the owner's features, as the index holds them
    # What the owner's own sync last indexed. Only that sync writes it: other posts'
    # syncs may refresh ``features`` but never this, so a sync that stopped half-way
    # is redone in full.
    own: PostView | None = None
    rev: int | None = None  # None: no item yet

    @property
    def urls(self) -> list[str]:
        return [e.url for e in self.entries]

    def own_view(self) -> PostView | None:
        return self.own


@dataclass(slots=True)
class ListWrite:
    """A list to write on the revision it was read with, and what goes with it: the
    posts it now shows that it did not (the reverse index holds every list that shows a
    post before the list does), its page's render mark, and its floor when it went
    down (a floor may be lower than the list's last entry, never higher)."""

    state: ListState
    referrers: Sequence[str] = ()
    pending: bool = False
    lower_floor: bool = False
    floor: Ranked | None = None


def features_to_item(features: Features) -> dict[str, Any]:
    return {
        "url": features.url,
        "sk": features.sort_key,
        "ts": features.timestamp,
        "tags": list(features.tags),
        "cats": list(features.categories),
        "sig": _pack(features.sketch),
    }


def features_from_item(item: Mapping[str, Any]) -> Features:
    return Features(
        url=item["url"],
        sort_key=item["sk"],
        timestamp=int(item["ts"]),
        tags=tuple(item.get("tags", [])),
        categories=tuple(item.get("cats", [])),
        sketch=_unpack(item.get("sig", b"")),
    )


def _pack(sketch: Sequence[int]) -> bytes:
    return b"".join(v.to_bytes(4, "big") for v in sketch)


def _unpack(raw: bytes) -> tuple[int, ...]:
    return tuple(int.from_bytes(raw[i : i + 4], "big") for i in range(0, len(raw) - 3, 4))


def view_of_post_item(
    item: Mapping[str, Any] | None, settings: RelatedSettings = DEFAULT_SETTINGS
) -> PostView | None:
    """The view of a ``POST`` item (deserialized), or None if it is absent or not public."""
    if item is None or not item.get("public", True):
        return None
    stored = post_from_item(item, "")
    post = stored.post
    features = make_features(
        url=post.url,
        sort_key=post.sort_key,
        date=post.date,
        tags=[t.slug for t in post.tags],
        categories=[c.slug for c in post.categories],
        signature=post.signature,
        settings=settings,
    )
    return PostView(features, summary_fields(post.summary()))


# -- the store --------------------------------------------------------------------------


class RelatedStore:
    """The items only the related function writes. Every call goes through the
    :class:`~tsuzuri.aws.table.Table` of a :class:`~tsuzuri.aws.store.PostStore`, so that
    these calls retry on throttling, read consistently and page as every other call on
    the table does."""

    def __init__(self, client: Any, table_name: str):
        self.posts = PostStore(client, table_name)
        self.table = self.posts.table

    # -- posts
    def post_item(self, url: str) -> dict[str, Any] | None:
        return self.table.get(f"POST#{url}", "POST")

    def post_and_state(self, url: str) -> tuple[dict[str, Any] | None, ListState | None]:
        """The post's item and its list, in one read."""
        post, state = None, None
        for item in self.table.batch_get([(f"POST#{url}", "POST"), (f"POST#{url}", RELATED)]):
            if item["sk"] == "POST":
                post = item
            else:
                state = _state_from_item(item)
        return post, state

    def post_items(self, urls: Iterable[str]) -> list[dict[str, Any]]:
        """The ``POST`` items of these posts (absent ones left out), 100 per request."""
        return list(self.table.batch_get([(f"POST#{u}", "POST") for u in urls]))

    def cards(self, urls: Iterable[str]) -> dict[str, Card]:
        """The cards of these posts as published now; absent posts are left out."""
        found: dict[str, Card] = {}
        for item in self.table.batch_get([(f"POST#{u}", "POST") for u in urls]):
            view = view_of_post_item(item)
            if view is not None:
                found[view.features.url] = view.card
        return found

    # -- list states
    def states(self, urls: Iterable[str]) -> dict[str, ListState]:
        keys = [(f"POST#{u}", RELATED) for u in urls]
        return {s.url: s for s in (_state_from_item(i) for i in self.table.batch_get(keys))}

    def write_lists(self, writes: Sequence[ListWrite]) -> set[str]:
        """Write many lists, each compare-and-set on the revision it was read with and
        together with its reverse-index additions, render mark and lowered floor, in
        transactions of up to 100 items (a list never split across two). Returns the
        owners whose list had moved: nothing of theirs is written, every other list is."""
        moved: set[str] = set()
        chunk: list[ListWrite] = []
        size = 0
        for write in writes:
            actions = len(_list_actions(self.table.name, write))
            if chunk and size + actions > TRANSACTION_ITEMS:
                moved |= self._write_chunk(chunk)
                chunk, size = [], 0
            chunk.append(write)
            size += actions
        if chunk:
            moved |= self._write_chunk(chunk)
        return moved

    def _write_chunk(self, chunk: list[ListWrite]) -> set[str]:
        moved: set[str] = set()
        for attempt in range(CONFLICT_ATTEMPTS):
            if not chunk:
                return moved
            actions = [_list_actions(self.table.name, w) for w in chunk]
            try:
                self.table.call(
                    "transact_write_items", TransactItems=[a for group in actions for a in group]
                )
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                failed: set[int] = set()
                start = 0
                for index, group in enumerate(actions):
                    if "ConditionalCheckFailed" in reasons[start : start + len(group)]:
                        failed.add(index)
                    start += len(group)
                if failed:  # nothing was written: send the others again at once
                    moved |= {chunk[i].state.url for i in failed}
                    chunk = [w for i, w in enumerate(chunk) if i not in failed]
                else:
                    back_off(attempt)  # a conflict with another transaction in flight
                continue
            for write in chunk:
                write.state.rev = (write.state.rev or 0) + 1
            return moved
        # Still conflicting: the caller reads these lists again, as if they had moved.
        return moved | {w.state.url for w in chunk}

    def write_states_guarded(
        self, writes: Sequence[ListState], deletes: Sequence[ListState] = ()
    ) -> bool:
        """Write (and delete) many lists, each on the revision it was read with, 100 to
        a transaction. False once a list is found moved: the lists of earlier
        transactions stay written, and the caller reads again and recomputes."""
        actions: list[dict[str, Any]] = []
        for state in writes:
            put: dict[str, Any] = {
                "TableName": self.table.name,
                "Item": _state_item(state, (state.rev or 0) + 1),
                **_revision_condition(state.rev),
            }
            actions.append({"Put": put})
        for state in deletes:
            if state.rev is not None:
                key = {"pk": {"S": f"POST#{state.url}"}, "sk": {"S": RELATED}}
                delete = {"TableName": self.table.name, "Key": key}
                actions.append({"Delete": {**delete, **_revision_condition(state.rev)}})
        for start in range(0, len(actions), TRANSACTION_ITEMS):
            chunk = actions[start : start + TRANSACTION_ITEMS]
            for attempt in range(CONFLICT_ATTEMPTS):
                try:
                    self.table.call("transact_write_items", TransactItems=chunk)
                    break
                except ClientError as exc:
                    if error_code(exc) != "TransactionCanceledException":
                        raise
                    reasons = exc.response.get("CancellationReasons", [])
                    if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                        return False
                    back_off(attempt)  # a conflict with another transaction in flight
            else:
                return False
        for state in writes:
            state.rev = (state.rev or 0) + 1
        return True

    def put_states(self, states: Iterable[ListState]) -> None:
        """Unconditional writes, for a rebuild: any concurrent merge sees its revision
        move and recomputes."""
        self.table.batch_write(
            {"PutRequest": {"Item": _state_item(state, (state.rev or 0) + 1)}} for state in states
        )

    def delete_state(self, state: ListState) -> bool:
        if state.rev is None:
            return True
        try:
            self.table.call(
                "delete_item",
                TableName=self.table.name,
                Key={"pk": {"S": f"POST#{state.url}"}, "sk": {"S": RELATED}},
                ConditionExpression="#rev = :rev",
                ExpressionAttributeNames={"#rev": "rev"},
                ExpressionAttributeValues={":rev": {"N": str(state.rev)}},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # -- the feature index
    def put_entries(self, features: Features, list_ids: Iterable[str]) -> None:
        body = features_to_item(features)
        self.table.batch_write(
            {"PutRequest": {"Item": dump_item({"pk": ENTRY + list_id, **body})}}
            for list_id in list_ids
        )

    def put_entries_of(self, posts: Iterable[Features]) -> None:
        """Every timeline entry of many posts, in as few batches as possible."""
        self.table.batch_write(
            {"PutRequest": {"Item": dump_item({"pk": ENTRY + list_id, **features_to_item(f)})}}
            for f in posts
            for list_id in _list_ids(f)
        )

    def delete_entries(self, sort_key: str, list_ids: Iterable[str]) -> None:
        self.delete_entries_of([(sort_key, list_ids)])

    def delete_entries_of(self, positions: Iterable[tuple[str, Iterable[str]]]) -> None:
        """The entries at (sort key, list ids) of many posts, in as few batches as can be."""
        self.table.batch_write(
            {"DeleteRequest": {"Key": {"pk": {"S": ENTRY + i}, "sk": {"S": sort_key}}}}
            for sort_key, list_ids in positions
            for i in list_ids
        )

    def timeline(self, list_id: str, limit: int) -> list[Features]:
        """Up to ``limit`` members of a timeline (oldest first)."""
        return self._limited("pk = :pk", {":pk": {"S": ENTRY + list_id}}, limit=limit, forward=True)

    def neighbours(self, list_id: str, sort_key: str, count: int, *, newer: bool) -> list[Features]:
        """The ``count`` members nearest to ``sort_key`` on one side, nearest first."""
        condition = "pk = :pk AND sk " + (">" if newer else "<") + " :sk"
        values = {":pk": {"S": ENTRY + list_id}, ":sk": {"S": sort_key}}
        return self._limited(condition, values, limit=count, forward=newer)

    def _limited(
        self, condition: str, values: dict[str, Any], *, limit: int, forward: bool
    ) -> list[Features]:
        items = self.table.query_raw(condition, values, forward=forward, limit=limit)
        return [features_from_item(item) for item in items]

    def site_size(self) -> int:
        """How many posts are published: the ``all`` list's counter, one small read."""
        return self.posts.lists.counters([ALL])[ALL].count

    def published(self, after: str = "", limit: int | None = None) -> list[tuple[str, str]]:
        """(sort key, URL) of the published posts after ``after`` (all of them, or up to
        ``limit``), oldest first."""
        condition = "pk = :pk AND sk > :after" if after else "pk = :pk"
        values = {":pk": {"S": "L#" + ALL}}
        if after:
            values[":after"] = {"S": after}
        items = self.table.query_raw(condition, values, forward=True, limit=limit)
        return [(item["sk"], item["url"]) for item in items]

    # -- reverse index
    def referrers(self, url: str) -> list[str]:
        return [item["sk"] for item in self.table.query(REFERRER + url, forward=True)]

    def add_referrers(self, owner: str, listed: Iterable[str], *, pending: bool = False) -> None:
        """Record that ``owner``'s list shows ``listed`` (and, with ``pending``, that its
        page must be rendered), in one batch."""
        items = [{"pk": REFERRER + u, "sk": owner} for u in listed]
        if pending:
            items.append({"pk": PENDING, "sk": owner})
        self.table.batch_write({"PutRequest": {"Item": dump_item(item)}} for item in items)

    def add_referrers_of(self, lists: Mapping[str, Iterable[str]]) -> None:
        self.table.batch_write(
            {"PutRequest": {"Item": dump_item({"pk": REFERRER + u, "sk": owner})}}
            for owner, listed in lists.items()
            for u in listed
        )

    def remove_referrers_of(self, lists: Mapping[str, Iterable[str]]) -> None:
        self.table.batch_write(
            {"DeleteRequest": {"Key": {"pk": {"S": REFERRER + u}, "sk": {"S": owner}}}}
            for owner, listed in lists.items()
            for u in sorted(listed)
        )

    def remove_referrers(self, owner: str, listed: Iterable[str]) -> None:
        self.table.batch_write(
            {"DeleteRequest": {"Key": {"pk": {"S": REFERRER + u}, "sk": {"S": owner}}}}
            for u in listed
        )

    # -- floors: the last entry of each full list, read to skip lists a post cannot enter
    def floors(self, urls: Iterable[str]) -> dict[str, Ranked | None]:
        """The floor of each list: its last entry, None if the list is not full (any
        candidate enters). Lists without a floor item are left out."""
        found: dict[str, Ranked | None] = {}
        for item in self.table.batch_get([(FLOOR + u, "F") for u in urls]):
            last = item.get("k")
            found[item["pk"][len(FLOOR) :]] = (
                Ranked(last[2], int(last[0]), int(last[1])) if last else None
            )
        return found

    def write_many(
        self,
        *,
        referrers: Mapping[str, Iterable[str]] = {},
        unreferrers: Mapping[str, Iterable[str]] = {},
        floors: Mapping[str, Ranked | None] = {},
        pending: Iterable[str] = (),
        gone: Iterable[str] = (),
    ) -> None:
        """Reverse-index entries, floors and render marks, in as few batches as can be."""
        requests: list[dict[str, Any]] = []
        for owner, listed in referrers.items():
            requests += [
                {"PutRequest": {"Item": dump_item({"pk": REFERRER + u, "sk": owner})}}
                for u in sorted(listed)
            ]
        for owner, listed in unreferrers.items():
            requests += [
                {"DeleteRequest": {"Key": {"pk": {"S": REFERRER + u}, "sk": {"S": owner}}}}
                for u in sorted(listed)
            ]
        for owner, last in floors.items():
            requests.append({"PutRequest": {"Item": dump_item(_floor_item(owner, last))}})
        for owner in sorted(set(gone)):
            requests.append(
                {"DeleteRequest": {"Key": {"pk": {"S": FLOOR + owner}, "sk": {"S": "F"}}}}
            )
        requests += [
            {"PutRequest": {"Item": dump_item({"pk": PENDING, "sk": u})}}
            for u in sorted(set(pending))
        ]
        self.table.batch_write(requests)

    # -- pages to render
    def mark_pending(self, urls: Iterable[str]) -> None:
        self.table.batch_write(
            {"PutRequest": {"Item": dump_item({"pk": PENDING, "sk": u})}} for u in sorted(set(urls))
        )

    def pending(self, limit: int | None = None) -> list[str]:
        values = {":pk": {"S": PENDING}}
        return [
            item["sk"]
            for item in self.table.query_raw("pk = :pk", values, forward=True, limit=limit)
        ]

    def clear_pending(self, urls: Iterable[str]) -> None:
        self.table.batch_write(
            {"DeleteRequest": {"Key": {"pk": {"S": PENDING}, "sk": {"S": u}}}}
            for u in sorted(set(urls))
        )

    def request_continuation(self) -> None:
        """Bring the function back for the pages still pending: a changed item is a new
        stream record, so each request carries a fresh token."""
        self.table.call(
            "put_item",
            TableName=self.table.name,
            Item={
                "pk": {"S": CONTINUATION[0]},
                "sk": {"S": CONTINUATION[1]},
                "token": {"S": uuid.uuid4().hex},
            },
        )

    def bump_timeline(self) -> None:
        """Move the ``all`` list's version so that a render racing ours renders again
        (the render function re-reads versions after writing; see tsuzuri.publishing.publisher)."""
        self.table.call(
            "update_item",
            TableName=self.table.name,
            Key={"pk": {"S": "LISTS"}, "sk": {"S": ALL}},
            UpdateExpression="ADD #version :one",
            ExpressionAttributeNames={"#version": "version"},
            ExpressionAttributeValues={":one": {"N": "1"}},
        )


def _list_actions(table: str, write: ListWrite) -> list[dict[str, Any]]:
    state = write.state
    put = {
        "TableName": table,
        "Item": _state_item(state, (state.rev or 0) + 1),
        **_revision_condition(state.rev),
    }
    items = [{"pk": REFERRER + u, "sk": state.url} for u in sorted(write.referrers)]
    if write.pending:
        items.append({"pk": PENDING, "sk": state.url})
    if write.lower_floor:
        items.append(_floor_item(state.url, write.floor))
    return [{"Put": put}] + [{"Put": {"TableName": table, "Item": dump_item(i)}} for i in items]


def _floor_item(owner: str, last: Ranked | None) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": FLOOR + owner, "sk": "F"}
    if last is not None:
        item["k"] = [last.score, last.timestamp, last.url]
    return item


def _revision_condition(rev: int | None) -> dict[str, Any]:
    """Compare-and-set on a list's revision: absent when it was read absent."""
    if rev is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {
        "ConditionExpression": "#rev = :rev",
        "ExpressionAttributeNames": {"#rev": "rev"},
        "ExpressionAttributeValues": {":rev": {"N": str(rev)}},
    }


def _state_item(state: ListState, rev: int) -> dict[str, Any]:
    return dump_item(
        {
            "pk": f"POST#{state.url}",
            "sk": RELATED,
            "posts": list(state.cards),
            "scores": [e.score for e in state.entries],
            "ts": [e.timestamp for e in state.entries],
            "f": features_to_item(state.features) if state.features else None,
            "own": (
                {"card": state.own.card, "f": features_to_item(state.own.features)}
                if state.own
                else None
            ),
            "rev": rev,
        }
    )


def _state_from_item(item: Mapping[str, Any]) -> ListState:
    url = item["pk"][len("POST#") :]
    cards = [dict(c) for c in item.get("posts", [])]
    scores = [int(s) for s in item.get("scores", [])]
    stamps = [int(t) for t in item.get("ts", [])]
    if len(scores) != len(cards) or len(stamps) != len(cards):
        # Written by PostStore.put_related (no scores): recomputed on the next change.
        scores = [0] * len(cards)
        stamps = [int(datetime.fromisoformat(c["date"]).timestamp()) for c in cards]
    entries = [Ranked(c["url"], s, t) for c, s, t in zip(cards, scores, stamps, strict=True)]
    features = features_from_item(item["f"]) if item.get("f") else None
    raw = item.get("own")
    own = PostView(features_from_item(raw["f"]), dict(raw["card"])) if raw else None
    return ListState(
        url=url,
        entries=entries,
        cards=cards,
        features=features,
        own=own,
        rev=int(item.get("rev", 0)),
    )


def _list_ids(features: Features | None) -> list[str]:
    if features is None:
        return []
    return [f"tag/{t}" for t in features.tags] + [f"category/{c}" for c in features.categories]
