"""DynamoDB access: posts, URL claims, list membership and list versions.

One table, one fact per item, so that no item grows with the site and two renders
never overwrite each other's work:

=================  ===============  ==================================================
pk                 sk               holds
=================  ===============  ==================================================
``SRC#<key>``      ``SRC``          what a source key last became: URL, state, sequencer
``POST#<url>``     ``POST``         a published post's fields; owning it claims the URL
``POST#<url>``     ``BODY``         the rendered body (zlib), so re-renders skip Markdown
``L#<list>``, ``LISTS``, ``TERMS``, ``MONTHS``, ``YEARS``: the lists (:mod:`tsuzuri.aws.lists`)
``OBJ#<key>``      ``OBJ``          the hash of a site object as last written (manifest)
``OUTBOX``         ``<reference>``  CloudFront paths written but not yet invalidated
``CLAIM#<url>``    ``<key>``        a file that maps to a URL another post owns: it waits in line
``PAGE#<url>``     ``PAGE``         a static page (fields and zlib body); owning it claims the URL
``PAGES``          ``<url>``        the page index (title, source key, lastmod) for the sitemap
``SITE``           ``CONFIG``       the site config the pages were last rendered with
``SCHEDULED``      ``<utc>#<key>``  a post hidden until its date: the tick publishes it
=================  ===============  ==================================================

A post's item, its body, its memberships and the list counters change in one
transaction (:meth:`PostStore.publish_post`), which also bumps each list's version. A
page renderer reads the versions, renders, writes, and reads them again: if a version
moved, another render raced it and it renders again (see
:mod:`tsuzuri.publishing.site_builder`).
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from tsuzuri.aws.calls import back_off, error_code
from tsuzuri.aws.dynamo_types import serialize
from tsuzuri.aws.lists import (
    ALL,
    ListIndex,
    Placement,
    believed_present,
    membership_actions,
    summary_fields,
    summary_from_member,
)
from tsuzuri.aws.manifest import ObjectManifest
from tsuzuri.aws.table import Table, dump_item, load_item
from tsuzuri.domain.model import Page, PageEntry, Post, PostSummary, Term
from tsuzuri.domain.site_config import RecordedFingerprint
from tsuzuri.errors import StaleEvent, TransientError, UrlCollision, UrlTaken
from tsuzuri.markdown.render import Heading

# What a source key last became. A rejected file records nothing: the key keeps what
# its last good version became, and the site keeps showing that.
SourceState = Literal["published", "unpublished", "hidden"]


@dataclass(frozen=True, slots=True)
class SourceRecord:
    key: str
    url: str | None
    state: SourceState
    sequencer: str | None


@dataclass(frozen=True, slots=True)
class StoredPost:
    """A post as kept in the table: everything needed to re-render its page."""

    post: Post
    related: tuple[PostSummary, ...]


@dataclass(frozen=True, slots=True)
class ScheduledPost:
    """A post hidden because it is dated in the future: ``key`` is the object as
    uploaded (``_posts/...`` stays so), ``token`` tells this write from a later one."""

    key: str
    at: str
    token: str


def sequencer_newer(candidate: str, current: str) -> bool:
    """S3 sequencers compare as hex strings once right-padded to the same length."""
    width = max(len(candidate), len(current))
    return candidate.upper().ljust(width, "0") > current.upper().ljust(width, "0")


class PostStore:
    def __init__(self, client: Any, table_name: str):
        self.table = Table(client, table_name)
        self.lists = ListIndex(self.table)
        self.manifest = ObjectManifest(self.table)

    # -- source records ---------------------------------------------------------
    def get_source(self, key: str) -> SourceRecord | None:
        item = self.table.get(f"SRC#{key}", "SRC")
        if item is None:
            return None
        return SourceRecord(
            key=key, url=item.get("url"), state=item["state"], sequencer=item.get("sequencer")
        )

    def get_sources(self, keys: Sequence[str]) -> dict[str, SourceRecord]:
        """The records of several source keys in one batch read (absent keys left out)."""
        found: dict[str, SourceRecord] = {}
        for item in self.table.batch_get([(f"SRC#{k}", "SRC") for k in keys]):
            key = str(item["pk"]).removeprefix("SRC#")
            found[key] = SourceRecord(
                key=key, url=item.get("url"), state=item["state"], sequencer=item.get("sequencer")
            )
        return found

    def put_source(
        self, key: str, *, url: str | None, state: SourceState, sequencer: str | None
    ) -> None:
        """Record what ``key`` became, refusing to go back to an older sequencer."""
        put = _source_put(self.table.name, SourceRecord(key, url, state, sequencer))
        try:
            self.table.call("put_item", **put)
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            # A newer event for this key has already been recorded; it owns the outcome.

    # -- posts ------------------------------------------------------------------
    def get_post(self, url: str) -> StoredPost | None:
        """The post, its body and its related list: one query over the post's partition."""
        items = {item["sk"]: item for item in self.table.query(f"POST#{url}", forward=True)}
        post_item = items.get("POST")
        if post_item is None:
            return None
        body = ""
        if "BODY" in items:
            body = zlib.decompress(bytes(items["BODY"]["html"])).decode("utf-8")
        related = items.get("RELATED", {}).get("posts", [])
        return post_from_item(post_item, body, related)

    def get_posts(self, urls: Sequence[str]) -> dict[str, StoredPost]:
        """Several posts with bodies and related lists, in one batch read."""
        keys = [(f"POST#{u}", sk) for u in urls for sk in ("POST", "BODY", "RELATED")]
        parts: dict[str, dict[str, Mapping[str, Any]]] = {}
        for item in self.table.batch_get(keys):
            parts.setdefault(str(item["pk"]).removeprefix("POST#"), {})[item["sk"]] = item
        found: dict[str, StoredPost] = {}
        for url, items in parts.items():
            if "POST" not in items:
                continue
            body = ""
            if "BODY" in items:
                body = zlib.decompress(bytes(items["BODY"]["html"])).decode("utf-8")
            found[url] = post_from_item(
                items["POST"], body, items.get("RELATED", {}).get("posts", [])
            )
        return found

    def get_posts_fields(self, urls: Sequence[str]) -> dict[str, Post]:
        """Several posts' fields (no bodies) in one batch read."""
        return {
            str(item["url"]): post_from_item(item, "").post
            for item in self.table.batch_get([(f"POST#{u}", "POST") for u in urls])
        }

    def get_post_fields(self, url: str) -> Post | None:
        """The post's fields without its body or related list: what a re-publish
        compares with."""
        item = self.table.get(f"POST#{url}", "POST")
        return None if item is None else post_from_item(item, "").post

    def put_related(self, url: str, related: Sequence[PostSummary]) -> bool:
        """Store a post's related list (kept out of the POST item so that the stream
        filter on ``sk = POST`` never hears the related-posts function's own writes).
        Returns False when the list was already exactly this."""
        item = dump_item(
            {
                "pk": f"POST#{url}",
                "sk": "RELATED",
                "posts": [summary_fields(r) for r in related],
            }
        )
        response = self.table.call(
            "put_item", TableName=self.table.name, Item=item, ReturnValues="ALL_OLD"
        )
        old = response.get("Attributes")
        return not old or load_item(old) != load_item(item)

    def get_post_owner(self, url: str) -> str | None:
        item = self.table.get(f"POST#{url}", "POST", projection="source_key")
        return None if item is None else str(item["source_key"])

    # -- URL claims: a queue of contenders, oldest claim first ----------------------
    def add_claim(self, url: str, key: str, at: str) -> None:
        """``key`` maps to ``url``, which another post owns: put it in line, keeping the
        time of its first claim (a redelivery or a restart keeps its place)."""
        self.table.call(
            "update_item",
            TableName=self.table.name,
            Key={"pk": {"S": f"CLAIM#{url}"}, "sk": {"S": key}},
            UpdateExpression="SET #at = if_not_exists(#at, :at)",
            ExpressionAttributeNames={"#at": "at"},
            ExpressionAttributeValues={":at": {"S": at}},
        )

    def claims(self, url: str) -> list[str]:
        """The files waiting for ``url``, oldest claim first (then by key)."""
        items = self.table.query_raw(
            "pk = :pk", {":pk": {"S": f"CLAIM#{url}"}}, forward=True, limit=CLAIMS_READ
        )
        return [str(i["sk"]) for i in sorted(items, key=lambda i: (str(i["at"]), str(i["sk"])))]

    def remove_claim(self, url: str, key: str) -> None:
        self.table.call(
            "delete_item",
            TableName=self.table.name,
            Key={"pk": {"S": f"CLAIM#{url}"}, "sk": {"S": key}},
        )

    def publish_post(
        self,
        post: Post,
        new: Placement,
        *,
        replaces: Placement | None = None,
        record: SourceRecord | None = None,
    ) -> dict[str, int]:
        """Claim the post's URL, write it and its body, record what its source key
        became (``record``), and move its memberships from ``replaces`` (its last
        published version at this URL) to ``new``: one transaction, so the list
        counters never disagree with the members.

        Fails with :class:`UrlCollision` if another file owns the URL, a static page
        has it, or a ``redirect_from`` path is another post's; with
        :class:`StaleEvent` if a newer event of the same key was recorded first.
        Returns the members added (negative: removed) per list. The related list is
        kept as it is: it belongs to the related-posts function.
        """
        fields = _post_fields(post)
        names = {f"#{name}": name for name in fields}
        values = {f":{name}": serialize(v) for name, v in fields.items()}
        values.update({":key": {"S": post.source_key}, ":one": {"N": "1"}, ":zero": {"N": "0"}})
        update = "SET " + ", ".join(f"#{n} = :{n}" for n in fields)
        update += ", #revision = if_not_exists(#revision, :zero) + :one"
        names["#revision"] = "revision"
        body = zlib.compress(post.body_html.encode("utf-8"), 6)
        own = [
            {
                "Update": {
                    "TableName": self.table.name,
                    "Key": {"pk": {"S": f"POST#{post.url}"}, "sk": {"S": "POST"}},
                    "UpdateExpression": update,
                    "ConditionExpression": "attribute_not_exists(pk) OR #source_key = :key",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            },
            {
                "Put": {
                    "TableName": self.table.name,
                    "Item": dump_item({"pk": f"POST#{post.url}", "sk": "BODY", "html": body}),
                }
            },
        ]
        guards = {"PAGE": _absent(self.table.name, f"PAGE#{post.url}", "PAGE")}
        for path in post.redirect_from:
            guards[path] = _absent(self.table.name, f"POST#{path}", "POST")
        if record is not None:
            own.append({"Put": _source_put(self.table.name, record)})
        own += guards.values()
        try:
            if replaces is not None and _too_big(len(own), replaces, new):
                # Too many terms change for one transaction: leave the old lists first
                # (a transaction of its own, exact counts), then join the new ones.
                counts = self._move(replaces, None, [])
                for list_id, by in self._move(None, new, own).items():
                    counts[list_id] = counts.get(list_id, 0) + by
                return counts
            return self._move(replaces, new, own)
        except _OwnCancelled as cancelled:
            raise self._refusal(post, cancelled.index, list(guards), record) from None

    def _refusal(
        self, post: Post, index: int, guards: list[str], record: SourceRecord | None
    ) -> Exception:
        """What the own item at ``index`` of a cancelled publish means."""
        if index == 0:
            owner = self.get_post_owner(post.url) or "another file"
            return UrlTaken(
                f"{post.url} is already published from {owner}",
                url=post.url, owner=owner,
                hint="change the slug in the filename, the date, or set a permalink",
            )  # fmt: skip
        if record is not None and index == 2:
            return StaleEvent(f"a newer event of {record.key} was applied")
        guard = guards[index - (3 if record is not None else 2)]
        if guard == "PAGE":
            page = self.get_page_owner(post.url) or "another file"
            return UrlCollision(
                f"{post.url} is already the URL of the page {page}",
                hint="change the slug in the filename, the date, or set a permalink",
            )
        owner = self.get_post_owner(guard) or "another file"
        return UrlCollision(
            f"redirect_from {guard} is the URL of {owner}",
            hint="remove that entry from redirect_from",
        )

    def retract_post(
        self, post: Post, placement: Placement, *, record: SourceRecord | None = None
    ) -> dict[str, int]:
        """Take the post out of every list and delete it, if ``post.source_key`` still
        owns its URL (else leave the URL to its new owner), and record what its source
        key became (``record``). One transaction; :class:`StaleEvent` if a newer event
        of the key was recorded first."""
        key = {"pk": {"S": f"POST#{post.url}"}}
        own: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self.table.name,
                    "Key": {**key, "sk": {"S": "POST"}},
                    "ConditionExpression": "source_key = :key",
                    "ExpressionAttributeValues": {":key": {"S": post.source_key}},
                }
            },
            {"Delete": {"TableName": self.table.name, "Key": {**key, "sk": {"S": "BODY"}}}},
        ]
        if record is not None:
            own.append({"Put": _source_put(self.table.name, record)})
        try:
            return self._move(placement, None, own)
        except _OwnCancelled as cancelled:
            if cancelled.index == 2:
                raise StaleEvent(f"a newer event of {post.source_key} was applied") from None
        # Someone else owns that URL now: leave it alone, and still record the key.
        if record is not None:
            self.put_source(
                record.key, url=record.url, state=record.state, sequencer=record.sequencer
            )
        return {}

    def _move(
        self, old: Placement | None, new: Placement | None, own: list[dict[str, Any]]
    ) -> dict[str, int]:
        """Run ``own`` with the membership moves in one transaction. A cancelled
        membership condition means the table holds what the caller did not expect
        (a retry after a crash, or a race): the belief is corrected and the
        transaction built again, so no member is ever counted twice."""
        present: dict[tuple[str, str], bool] = {}
        for attempt in range(TRANSACT_ATTEMPTS):
            change = membership_actions(self.table.name, old, new, present=present)
            try:
                self.table.call("transact_write_items", TransactItems=own + change.actions)
                return change.counts
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                reasons = [
                    str(r.get("Code", "None")) for r in exc.response.get("CancellationReasons", [])
                ]
            for index, code in enumerate(reasons[: len(own)]):
                if code == "ConditionalCheckFailed":
                    raise _OwnCancelled(index)
            for action, code, expects in zip(
                change.actions, reasons[len(own) :], change.expects, strict=False
            ):
                if code == "ConditionalCheckFailed" and expects is not None:
                    present[expects] = not believed_present(action)
            if "ConditionalCheckFailed" not in reasons:  # a conflict with another write
                back_off(attempt)
        raise TransientError("the lists kept changing under this publish; will retry")

    # -- static pages -----------------------------------------------------------
    def get_page_owner(self, url: str) -> str | None:
        item = self.table.get(f"PAGE#{url}", "PAGE", projection="source_key")
        return None if item is None else str(item["source_key"])

    def get_pages(self, urls: Sequence[str]) -> dict[str, Page]:
        """Several static pages in one batch read."""
        items = self.table.batch_get([(f"PAGE#{u}", "PAGE") for u in urls])
        return {str(item["url"]): _page_from_item(item) for item in items}

    def claim_and_put_page(self, page: Page) -> None:
        """Write the page and its index entry; :class:`UrlCollision` if another file owns it."""
        owner = self.get_post_owner(page.url)
        if owner is not None:
            raise UrlCollision(
                f"{page.url} is already the URL of the post {owner}",
                hint="set another permalink in the page's front matter",
            )
        item = dump_item({"pk": f"PAGE#{page.url}", "sk": "PAGE", **_page_fields(page)})
        try:
            self.table.call(
                "put_item",
                TableName=self.table.name,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR source_key = :key",
                ExpressionAttributeValues={":key": {"S": page.source_key}},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            other = self.get_page_owner(page.url) or "another file"
            raise UrlCollision(
                f"{page.url} is already published from {other}",
                hint="set another permalink in the page's front matter",
            ) from None
        entry = {
            "pk": "PAGES",
            "sk": page.url,
            "title": page.title,
            "source_key": page.source_key,
            "lastmod": page.last_modified_at.isoformat() if page.last_modified_at else None,
            "in_sitemap": page.in_sitemap,
        }
        self.table.call("put_item", TableName=self.table.name, Item=dump_item(entry))

    def delete_page(self, url: str, source_key: str) -> bool:
        """Remove the page if ``source_key`` still owns it; False when it did not."""
        try:
            self.table.call(
                "delete_item",
                TableName=self.table.name,
                Key={"pk": {"S": f"PAGE#{url}"}, "sk": {"S": "PAGE"}},
                ConditionExpression="source_key = :key",
                ExpressionAttributeValues={":key": {"S": source_key}},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return False
        self.table.call(
            "delete_item", TableName=self.table.name, Key={"pk": {"S": "PAGES"}, "sk": {"S": url}}
        )
        return True

    def list_pages(self) -> list[PageEntry]:
        return [
            PageEntry(
                url=item["sk"],
                title=item.get("title", ""),
                source_key=item.get("source_key", ""),
                lastmod=datetime.fromisoformat(item["lastmod"]) if item.get("lastmod") else None,
                in_sitemap=bool(item.get("in_sitemap", True)),
            )
            for item in self.table.query("PAGES", forward=True)
        ]

    # -- the site config the site was last rendered with -------------------------
    def get_site_config(self) -> tuple[str, bytes, RecordedFingerprint] | None:
        """(source name, bytes, fingerprint) of the last valid ``_config.yml``."""
        item = self.table.get("SITE", "CONFIG")
        if item is None:
            return None
        fingerprint = RecordedFingerprint.parse(str(item["fingerprint"]))
        return str(item["name"]), bytes(item["body"]), fingerprint

    def put_site_config(self, name: str, body: bytes, fingerprint: RecordedFingerprint) -> None:
        item = {"pk": "SITE", "sk": "CONFIG", "name": name, "body": body}
        item["fingerprint"] = fingerprint.encode()
        self.table.call("put_item", TableName=self.table.name, Item=dump_item(item))

    def site_fingerprints(self) -> tuple[RecordedFingerprint | None, str | None]:
        """The recorded (config, theme) fingerprints, in one small read: how a warm
        function tells that another instance has accepted a newer ``_config.yml`` or
        ``theme/`` set since it loaded its own."""
        response = self.table.call(
            "query",
            TableName=self.table.name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "SITE"}},
            ProjectionExpression="sk, fingerprint",
            ConsistentRead=True,
        )
        found = {
            item["sk"]["S"]: item["fingerprint"]["S"]
            for item in response.get("Items", [])
            if "fingerprint" in item
        }
        config = found.get("CONFIG")
        return (
            None if config is None else RecordedFingerprint.parse(config),
            found.get("THEME"),
        )

    # -- the accepted theme overrides (theme/*.j2) ---------------------------------
    def get_theme(self) -> tuple[dict[str, str], int]:
        """(template name -> source, version) of the last valid override set."""
        item = self.table.get("SITE", "THEME")
        if item is None:
            return {}, 0
        templates = item.get("templates") or {}
        return {str(k): str(v) for k, v in templates.items()}, int(item.get("version", 0))

    def put_theme(self, templates: Mapping[str, str], fingerprint: str, *, version: int) -> None:
        """Record a validated override set, if nobody else recorded one since ``version``."""
        item = {
            "pk": "SITE",
            "sk": "THEME",
            "templates": dict(templates),
            "fingerprint": fingerprint,
            "version": version + 1,
        }
        try:
            self.table.call(
                "put_item",
                TableName=self.table.name,
                Item=dump_item(item),
                ConditionExpression="attribute_not_exists(pk) OR version = :v",
                ExpressionAttributeValues={":v": serialize(version)},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            raise TransientError("another theme change was recorded meanwhile") from exc

    # -- invalidation outbox ----------------------------------------------------
    def save_outbox(self, reference: str, paths: Sequence[str]) -> None:
        self.table.call(
            "put_item",
            TableName=self.table.name,
            Item=dump_item({"pk": "OUTBOX", "sk": reference, "paths": json.dumps(list(paths))}),
        )

    def pending_outbox(self) -> list[tuple[str, list[str]]]:
        return [
            (item["sk"], json.loads(item["paths"]))
            for item in self.table.query("OUTBOX", forward=True)
        ]

    def clear_outbox(self, reference: str) -> None:
        self.table.call(
            "delete_item",
            TableName=self.table.name,
            Key={"pk": {"S": "OUTBOX"}, "sk": {"S": reference}},
        )

    # -- scheduled posts: one item per (date, key), due ones found by one Query -----
    def schedule_post(self, key: str, at: datetime) -> None:
        """Record that ``key`` is hidden until ``at``. A later date is a new item: the
        old one comes due first, and its re-index finds the post still in the future."""
        stamp = utc_stamp(at)
        item = {"pk": "SCHEDULED", "sk": f"{stamp}#{key}", "key": key, "at": stamp}
        # A fresh token on every write: a tick deletes the item only if it is still the
        # one it read, never a rewrite by a render that ran in between.
        item["token"] = uuid.uuid4().hex
        self.table.call("put_item", TableName=self.table.name, Item=dump_item(item))

    def due_posts(self, now: datetime, *, limit: int) -> list[ScheduledPost]:
        """The scheduled posts dated ``now`` or earlier, oldest first, at most ``limit``:
        one bounded Query of the partition, never a scan."""
        # "$" sorts right after "#": every stamp up to and including now's, whatever key.
        bound = utc_stamp(now) + "$"
        items = self.table.query_raw(
            "pk = :pk AND sk < :bound",
            {":pk": {"S": "SCHEDULED"}, ":bound": {"S": bound}},
            forward=True,
            limit=limit,
        )
        return [ScheduledPost(str(i["key"]), str(i["at"]), str(i["token"])) for i in items]

    def unschedule_post(self, entry: ScheduledPost) -> bool:
        """Delete the item if it is still the write ``entry`` was read from; False when
        it was written again meanwhile (the newer write stays)."""
        try:
            self.table.call(
                "delete_item",
                TableName=self.table.name,
                Key={"pk": {"S": "SCHEDULED"}, "sk": {"S": f"{entry.at}#{entry.key}"}},
                ConditionExpression="#token = :token",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":token": {"S": entry.token}},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return False
        return True


def utc_stamp(moment: datetime) -> str:
    """A sortable UTC time: fixed width with microseconds, so that the string order of
    scheduled items is their time order and a post dated within a second is not due
    before its date."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _post_fields(post: Post) -> dict[str, Any]:
    return {
        "source_key": post.source_key,
        "slug": post.slug,
        "url": post.url,
        "title": post.title,
        "date": post.date.isoformat(),
        "sort_key": post.sort_key,
        "excerpt": post.excerpt,
        "description": post.description,
        "tags": [{"name": t.name, "slug": t.slug} for t in post.tags],
        "categories": [{"name": t.name, "slug": t.slug} for t in post.categories],
        "author": post.author or "",
        "image": post.image or "",
        "last_modified_at": post.last_modified_at.isoformat() if post.last_modified_at else "",
        "canonical_url": post.canonical_url or "",
        "robots": post.robots or "",
        "sitemap": post.sitemap,
        "reading_time": post.reading_time,
        "redirect_from": list(post.redirect_from),
        "public": post.published,
        "layout": post.layout,
        "headings": json.dumps(
            [[h.level, h.id, h.text] for h in post.headings], ensure_ascii=False
        ),
        "extra": json.dumps(dict(post.extra), ensure_ascii=False),
        "signature": post.signature,
    }


def post_from_item(
    item: Mapping[str, Any], body: str, related_items: Sequence[Mapping[str, Any]] = ()
) -> StoredPost:
    post = Post(
        source_key=item["source_key"],
        slug=item["slug"],
        url=item["url"],
        title=item["title"],
        date=datetime.fromisoformat(item["date"]),
        body_html=body,
        excerpt=item["excerpt"],
        description=item["description"],
        tags=tuple(Term("tag", t["name"], t["slug"]) for t in item.get("tags", [])),
        categories=tuple(
            Term("category", t["name"], t["slug"]) for t in item.get("categories", [])
        ),
        author=item.get("author") or None,
        image=item.get("image") or None,
        last_modified_at=(
            datetime.fromisoformat(item["last_modified_at"])
            if item.get("last_modified_at")
            else None
        ),
        canonical_url=item.get("canonical_url") or None,
        robots=item.get("robots") or None,
        sitemap=bool(item.get("sitemap", True)),
        reading_time=int(item.get("reading_time", 1)),
        redirect_from=tuple(item.get("redirect_from", [])),
        published=bool(item.get("public", True)),
        layout=item.get("layout", "post"),
        headings=tuple(Heading(int(h[0]), h[1], h[2]) for h in json.loads(item["headings"])),
        extra=json.loads(item.get("extra") or "{}"),
        signature=item.get("signature", ""),
    )
    related = tuple(summary_from_member(r) for r in related_items)
    return StoredPost(post=post, related=related)


def _page_fields(page: Page) -> dict[str, Any]:
    return {
        "source_key": page.source_key,
        "url": page.url,
        "title": page.title,
        "html": zlib.compress(page.body_html.encode("utf-8"), 6),
        "description": page.description,
        "headings": json.dumps(
            [[h.level, h.id, h.text] for h in page.headings], ensure_ascii=False
        ),
        "last_modified_at": page.last_modified_at.isoformat() if page.last_modified_at else "",
        "robots": page.robots or "",
        "sitemap": page.sitemap,
        "layout": page.layout,
        "extra": json.dumps(dict(page.extra), ensure_ascii=False),
    }


def _page_from_item(item: Mapping[str, Any]) -> Page:
    return Page(
        source_key=item["source_key"],
        url=item["url"],
        title=item["title"],
        body_html=zlib.decompress(bytes(item["html"])).decode("utf-8"),
        description=item.get("description", ""),
        headings=tuple(Heading(int(h[0]), h[1], h[2]) for h in json.loads(item["headings"])),
        last_modified_at=(
            datetime.fromisoformat(item["last_modified_at"])
            if item.get("last_modified_at")
            else None
        ),
        robots=item.get("robots") or None,
        sitemap=bool(item.get("sitemap", True)),
        layout=item.get("layout", "page"),
        extra=json.loads(item.get("extra") or "{}"),
    )


# A transaction holds at most 100 items; a post's own items take a few of them.
TRANSACT_LIMIT = 100
# Files waiting for one URL read at once: more than two is already rare.
CLAIMS_READ = 25
TRANSACT_ATTEMPTS = 6


class _OwnCancelled(Exception):
    """One of the post's own items refused the transaction (its ``index`` says which)."""

    def __init__(self, index: int):
        super().__init__(index)
        self.index = index


def _source_put(table: str, record: SourceRecord) -> dict[str, Any]:
    """The source record's put, refusing to go back to an older sequencer."""
    item = {
        "pk": f"SRC#{record.key}",
        "sk": "SRC",
        "url": record.url,
        "state": record.state,
        "sequencer": record.sequencer,
        "updated_at": datetime.now().astimezone().isoformat(),
    }
    put: dict[str, Any] = {"TableName": table, "Item": dump_item(item)}
    if record.sequencer:
        put["ConditionExpression"] = "attribute_not_exists(sequencer) OR sequencer <= :seq"
        put["ExpressionAttributeValues"] = {":seq": {"S": record.sequencer}}
    return put


def _absent(table: str, pk: str, sk: str) -> dict[str, Any]:
    """A transaction check that no item holds this key (a URL nobody else has)."""
    return {
        "ConditionCheck": {
            "TableName": table,
            "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _too_big(own: int, old: Placement, new: Placement) -> bool:
    lists = set(old.lists) | set(new.lists)
    moved = old.sort_key != new.sort_key
    members = len(new.lists) + (len(old.lists) if moved else len(set(old.lists) - set(new.lists)))
    return own + members + len(lists) + 1 > TRANSACT_LIMIT


def placement_of(post: Post, site_title: str) -> Placement:
    """Where a published post belongs: the ``all`` list and one per tag and category."""
    return Placement(
        sort_key=post.sort_key,
        local_month=post.date.strftime("%Y-%m"),
        lists={ALL: site_title} | {t.list_id: t.name for t in post.terms},
        card=post.summary(),
    )
