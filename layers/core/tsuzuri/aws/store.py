"""DynamoDB access: posts, URL claims, list membership and list versions.

One table, one fact per item, so that no item grows with the site and two renders
never overwrite each other's work:

=================  ===============  ==================================================
pk                 sk               holds
=================  ===============  ==================================================
``SRC#<key>``      ``SRC``          what a source key last became: URL, state, sequencer
``POST#<url>``     ``POST``         a published post's fields; owning it claims the URL
``POST#<url>``     ``BODY``         the rendered body (zlib), so re-renders skip Markdown
``L#<list>``       ``<sort key>``   one membership: a post in ``all``, ``tag/x``, ``category/y``
``LISTS``          ``<list>``       a list's name, member count and version counter
``OUTBOX``         ``<reference>``  CloudFront paths written but not yet invalidated
``PAGE#<url>``     ``PAGE``         a static page (fields and zlib body); owning it claims the URL
``PAGES``          ``<url>``        the page index (title, source key, lastmod) for the sitemap
``SITE``           ``CONFIG``       the site config the pages were last rendered with
=================  ===============  ==================================================

A list's version is bumped after every membership write. A page renderer reads the
versions, renders, writes, and reads them again: if a version moved, another render
raced it and it renders again (see :mod:`tsuzuri.publishing.publisher`). Member counts are
taken by the renders themselves, so no write needs a transaction.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from tsuzuri.aws.calls import error_code
from tsuzuri.aws.dynamo_types import serialize
from tsuzuri.aws.table import Table, dump_item, load_item
from tsuzuri.domain.model import Page, PageEntry, Post, PostSummary, Term
from tsuzuri.domain.site_config import RecordedFingerprint
from tsuzuri.errors import TransientError, UrlCollision
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
class ListInfo:
    list_id: str
    name: str
    count: int
    version: int


@dataclass(frozen=True, slots=True)
class StoredPost:
    """A post as kept in the table: everything needed to re-render its page."""

    post: Post
    related: tuple[PostSummary, ...]


def sequencer_newer(candidate: str, current: str) -> bool:
    """S3 sequencers compare as hex strings once right-padded to the same length."""
    width = max(len(candidate), len(current))
    return candidate.upper().ljust(width, "0") > current.upper().ljust(width, "0")


class PostStore:
    def __init__(self, client: Any, table_name: str):
        self.table = Table(client, table_name)

    # -- source records ---------------------------------------------------------
    def get_source(self, key: str) -> SourceRecord | None:
        item = self.table.get(f"SRC#{key}", "SRC")
        if item is None:
            return None
        return SourceRecord(
            key=key, url=item.get("url"), state=item["state"], sequencer=item.get("sequencer")
        )

    def put_source(
        self, key: str, *, url: str | None, state: SourceState, sequencer: str | None
    ) -> None:
        """Record what ``key`` became, refusing to go back to an older sequencer."""
        item = {
            "pk": f"SRC#{key}",
            "sk": "SRC",
            "url": url,
            "state": state,
            "sequencer": sequencer,
            "updated_at": datetime.now().astimezone().isoformat(),
        }
        kwargs: dict[str, Any] = {}
        if sequencer:
            kwargs = {
                "ConditionExpression": "attribute_not_exists(sequencer) OR sequencer <= :seq",
                "ExpressionAttributeValues": {":seq": {"S": sequencer}},
            }
        try:
            self.table.call("put_item", TableName=self.table.name, Item=dump_item(item), **kwargs)
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

    def claim_and_put_post(self, post: Post) -> None:
        """Write the post, failing with :class:`UrlCollision` if another file owns its URL.

        The related list is kept as it is: it belongs to the related-posts function.
        """
        key = {"pk": {"S": f"POST#{post.url}"}, "sk": {"S": "POST"}}
        fields = _post_fields(post)
        names = {f"#{name}": name for name in fields}
        values = {f":{name}": serialize(v) for name, v in fields.items()}
        values[":key"] = {"S": post.source_key}
        values[":one"] = {"N": "1"}
        values[":zero"] = {"N": "0"}
        update = "SET " + ", ".join(f"#{n} = :{n}" for n in fields)
        update += ", #revision = if_not_exists(#revision, :zero) + :one"
        names["#revision"] = "revision"
        names["#source_key"] = "source_key"
        try:
            self.table.call(
                "update_item",
                TableName=self.table.name,
                Key=key,
                UpdateExpression=update,
                ConditionExpression="attribute_not_exists(pk) OR #source_key = :key",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            owner = self.get_post_owner(post.url) or "another file"
            raise UrlCollision(
                f"{post.url} is already published from {owner}",
                hint="change the slug in the filename, the date, or set a permalink",
            ) from None
        body = zlib.compress(post.body_html.encode("utf-8"), 6)
        self.table.call(
            "put_item",
            TableName=self.table.name,
            Item=dump_item({"pk": f"POST#{post.url}", "sk": "BODY", "html": body}),
        )

    def delete_post(self, url: str, source_key: str) -> None:
        try:
            self.table.call(
                "delete_item",
                TableName=self.table.name,
                Key={"pk": {"S": f"POST#{url}"}, "sk": {"S": "POST"}},
                ConditionExpression="attribute_not_exists(pk) OR source_key = :key",
                ExpressionAttributeValues={":key": {"S": source_key}},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return  # someone else owns that URL now: leave it alone
        self.table.call(
            "delete_item",
            TableName=self.table.name,
            Key={"pk": {"S": f"POST#{url}"}, "sk": {"S": "BODY"}},
        )

    # -- static pages -----------------------------------------------------------
    def get_page_owner(self, url: str) -> str | None:
        item = self.table.get(f"PAGE#{url}", "PAGE", projection="source_key")
        return None if item is None else str(item["source_key"])

    def get_page(self, url: str) -> Page | None:
        item = self.table.get(f"PAGE#{url}", "PAGE")
        return None if item is None else _page_from_item(item)

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

    # -- lists ------------------------------------------------------------------
    def add_member(self, list_id: str, name: str, summary: PostSummary) -> str:
        """Add or refresh a membership: ``added``, ``updated`` or ``unchanged``.

        The membership is written first and the list's version bumped after it, so a
        renderer that read the version before the bump sees it move and renders again,
        and one that read it after sees the membership. No transaction is needed.
        """
        member = _member_item(list_id, summary)
        response = self.table.call(
            "put_item", TableName=self.table.name, Item=member, ReturnValues="ALL_OLD"
        )
        old = response.get("Attributes")
        status = (
            "added"
            if not old
            else "unchanged"
            if load_item(old) == load_item(member)
            else "updated"
        )
        self._bump(list_id, name)  # even when unchanged: a retry must not skip it
        return status

    def add_memberships(self, lists: Mapping[str, str], summary: PostSummary) -> dict[str, str]:
        return {list_id: self.add_member(list_id, name, summary) for list_id, name in lists.items()}

    def remove_member(self, list_id: str, name: str, sort_key: str) -> bool:
        response = self.table.call(
            "delete_item",
            TableName=self.table.name,
            Key={"pk": {"S": f"L#{list_id}"}, "sk": {"S": sort_key}},
            ReturnValues="ALL_OLD",
        )
        self._bump(list_id, name)
        return bool(response.get("Attributes"))

    def _bump(self, list_id: str, name: str) -> None:
        self.table.call(
            "update_item",
            TableName=self.table.name,
            Key={"pk": {"S": "LISTS"}, "sk": {"S": list_id}},
            UpdateExpression="SET #name = :name ADD #version :one",
            ExpressionAttributeNames={"#name": "name", "#version": "version"},
            ExpressionAttributeValues={":name": {"S": name}, ":one": {"N": "1"}},
        )

    def set_count(self, list_id: str, count: int, seen_version: int) -> None:
        """Record a list's size as counted by a render, unless a newer change raced it
        (that change's own render will count again)."""
        try:
            self.table.call(
                "update_item",
                TableName=self.table.name,
                Key={"pk": {"S": "LISTS"}, "sk": {"S": list_id}},
                UpdateExpression="SET #count = :count",
                ConditionExpression="#version = :seen",
                ExpressionAttributeNames={"#count": "count", "#version": "version"},
                ExpressionAttributeValues={
                    ":count": {"N": str(count)},
                    ":seen": {"N": str(seen_version)},
                },
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    def list_members(self, list_id: str) -> list[PostSummary]:
        """Every member, newest first. Consistent, so a render sees its own writes."""
        return [
            _summary_from_item(item) for item in self.table.query(f"L#{list_id}", forward=False)
        ]

    def adjacent(
        self, list_id: str, sort_key: str
    ) -> tuple[PostSummary | None, PostSummary | None] | None:
        """The members just older and just newer than the member at ``sort_key``, read
        with two one-item queries instead of the whole list; None when it is not a member."""
        pk = {":pk": {"S": f"L#{list_id}"}, ":sk": {"S": sort_key}}
        here_and_newer = list(
            self.table.query_raw("pk = :pk AND sk >= :sk", pk, forward=True, limit=2)
        )
        if not here_and_newer or here_and_newer[0]["sk"] != sort_key:
            return None
        older = list(self.table.query_raw("pk = :pk AND sk < :sk", pk, forward=False, limit=1))
        return (
            _summary_from_item(older[0]) if older else None,
            _summary_from_item(here_and_newer[1]) if len(here_and_newer) > 1 else None,
        )

    def list_infos(self, prefix: str = "") -> list[ListInfo]:
        condition = "pk = :pk"
        values: dict[str, Any] = {":pk": {"S": "LISTS"}}
        if prefix:
            condition += " AND begins_with(sk, :prefix)"
            values[":prefix"] = {"S": prefix}
        return [_list_info(item) for item in self.table.query_raw(condition, values, forward=True)]

    def list_versions(self, list_ids: Iterable[str]) -> dict[str, int]:
        ids = sorted(set(list_ids))
        versions = dict.fromkeys(ids, 0)
        for chunk in _chunks(ids, 100):
            request = {
                self.table.name: {
                    "Keys": [{"pk": {"S": "LISTS"}, "sk": {"S": i}} for i in chunk],
                    "ConsistentRead": True,
                    "ProjectionExpression": "sk, #version",
                    "ExpressionAttributeNames": {"#version": "version"},
                }
            }
            while request:
                response = self.table.call("batch_get_item", RequestItems=request)
                for raw in response["Responses"].get(self.table.name, []):
                    item = load_item(raw)
                    versions[item["sk"]] = int(item.get("version", 0))
                request = response.get("UnprocessedKeys") or {}
        return versions

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


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def summary_fields(summary: PostSummary) -> dict[str, Any]:
    return {
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


def _member_item(list_id: str, summary: PostSummary) -> dict[str, Any]:
    # The card is one JSON string, not a DynamoDB map: lists are read whole on the render
    # path, and botocore parses (and DynamoDB bills) every typed node of every item. One
    # string per item reads about five times faster than the ~30 nodes of a map.
    fields = summary_fields(summary)
    url = fields.pop("url")
    present = {k: v for k, v in fields.items() if v is not None}
    card = json.dumps(present, ensure_ascii=False, separators=(",", ":"))
    return dump_item({"pk": f"L#{list_id}", "sk": summary.sort_key, "url": url, "card": card})


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
    related = tuple(_summary_from_item(r) for r in related_items)
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


def _summary_from_item(item: Mapping[str, Any]) -> PostSummary:
    if "card" in item:  # a membership (older ones hold the fields as attributes)
        item = {**json.loads(item["card"]), "url": item["url"]}
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
    )


def _list_info(item: Mapping[str, Any]) -> ListInfo:
    return ListInfo(
        list_id=item["sk"],
        name=item.get("name", item["sk"]),
        count=int(item.get("count", 0)),
        version=int(item.get("version", 0)),
    )
