"""Phase 1 of a batch: bring the table in line with the changed source files.

Each change reconciles one source key with the table: the current object is read (so
duplicated and reordered events converge on the latest version), parsed, and its URL
claim, body and list memberships are written. Bad input is rejected here, before
anything public changes. What was changed is collected in a :class:`RenderPlan`, which
phase 2 (:mod:`tsuzuri.publishing.site_builder`) renders.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from tsuzuri.aws.buckets import SiteBucket, SiteFile, SourceBucket, SourceObject, page_file
from tsuzuri.aws.lists import ALL
from tsuzuri.aws.store import (
    PostStore,
    SourceRecord,
    placement_of,
    sequencer_newer,
)
from tsuzuri.domain.keys import SourceKey, classify_key
from tsuzuri.domain.model import Page, Post, page_key
from tsuzuri.domain.page import parse_page
from tsuzuri.domain.post import adopt_known_names, parse_post
from tsuzuri.domain.site_config import RecordedFingerprint, SiteConfig
from tsuzuri.errors import (
    ConfigError,
    InputRejected,
    StaleEvent,
    ThemeRejected,
    TransientError,
    TsuzuriError,
    UrlCollision,
    UrlTaken,
)

if TYPE_CHECKING:
    from tsuzuri.rendering.theme import Theme

Status = Literal[
    "published",
    "unchanged",
    "unpublished",
    "hidden",
    "rejected",
    "stale",
    "asset",
    "config",
    "failed",
]
# What a site config or theme change leaves to the rebuild path
# (:func:`tsuzuri.publishing.rebuild.config_requests`): "pages" re-renders every page,
# "reindex" parses every source file again (URLs, terms or visibility may move).
RebuildEffect = Literal["pages", "reindex"]


@dataclass(frozen=True, slots=True)
class Change:
    """One source-bucket event, already decoded from its AWS envelope."""

    key: str
    removed: bool
    sequencer: str | None = None
    token: str = ""  # the SQS message id, to report a partial batch failure


@dataclass(slots=True)
class Outcome:
    key: str
    status: Status
    url: str | None = None
    message: str = ""
    line: int | None = None
    hint: str | None = None
    code: str | None = None
    ms: float = 0.0
    # For a site config or theme change: what the rebuild path must re-do; None for nothing.
    rebuild: RebuildEffect | None = None
    notes: tuple[str, ...] = ()  # what was published otherwise than written (tag names)
    waits_for: str | None = None  # refused as taken: the URL this file waits in line for

    def report(self, now: datetime) -> dict[str, object]:
        return {
            "key": self.key,
            "status": self.status,
            "url": self.url,
            "problem": self.message or None,
            "line": self.line,
            "hint": self.hint,
            "code": self.code,
            "ms": round(self.ms),
            **({"rebuild": self.rebuild} if self.rebuild else {}),
            **({"notes": list(self.notes)} if self.notes else {}),
            "at": now.astimezone(UTC).isoformat(),
        }


@dataclass(frozen=True, eq=False)
class RenderingContext:
    """The site config and the theme that a batch indexes and renders with, as one value.

    Why one immutable value: phase 1 runs in a thread pool, and a ``_config.yml`` or
    ``theme/`` change replaces the config, the overrides and the theme together. Kept as
    separate attributes that a worker reads one by one, a swap could show it the new
    config with the old theme, or a theme built for neither. A context never changes: an
    accepted change makes a new one, the publisher installs it with one assignment while
    no worker runs, and each indexer and site builder takes the publisher's context
    once, when it is made, and uses only that one.
    """

    site: SiteConfig
    theme_overrides: Mapping[str, str]  # the accepted theme/ overrides
    built_theme: InitVar[Theme | None] = None  # already built (and validated) by the caller
    _theme: list[Theme] = field(init=False, default_factory=list, repr=False)
    _theme_lock: threading.Lock = field(init=False, default_factory=threading.Lock, repr=False)

    def __post_init__(self, built_theme: Theme | None) -> None:
        # A read-only copy: the caller's dict cannot change the context after the fact.
        object.__setattr__(self, "theme_overrides", MappingProxyType(dict(self.theme_overrides)))
        if built_theme is not None:
            self._theme.append(built_theme)

    @property
    def theme(self) -> Theme:
        # Built on first use: Jinja2's import stays out of the cold start. The lock builds
        # it once when workers of the pool ask for it at the same time.
        with self._theme_lock:
            if not self._theme:
                from tsuzuri.rendering.theme import Theme

                self._theme.append(Theme(self.site, overrides=self.theme_overrides))
            return self._theme[0]

    @cached_property
    def theme_fingerprint(self) -> str:
        # Once per context: a warm instance compares it with the table's on every batch.
        from tsuzuri.rendering.overrides import overrides_fingerprint

        return overrides_fingerprint(self.theme_overrides)


@dataclass(slots=True)
class RenderPlan:
    """What phase 1 changed, for phase 2 to render."""

    lists: dict[str, str] = field(default_factory=dict)  # list id -> display name
    anchors: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    removed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    added: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fresh_posts: dict[str, Post] = field(default_factory=dict)
    delete_keys: set[str] = field(default_factory=set)
    extra_files: list[SiteFile] = field(default_factory=list)
    months: set[str] = field(default_factory=set)  # YYYY-MM of the posts' own dates
    assets_changed: set[str] = field(default_factory=set)
    refresh: set[str] = field(default_factory=set)  # post pages to re-render as they are
    fresh_pages: dict[str, Page] = field(default_factory=dict)  # static pages to render
    pages_changed: bool = False  # the page index changed: re-render the pages sitemap
    all_pages: bool = False  # re-render every static page (theme or config change)
    rewrite: bool = False  # write every rendered page, changed or not (a rebuild)
    # Post URLs this batch left (URL -> the key that left it): files may wait for them.
    freed: dict[str, str] = field(default_factory=dict)
    # A _config.yml or theme/ change accepted: what the rest of the batch is indexed and
    # rendered with. The publisher installs it as soon as the change is applied, so it
    # is not merged.
    context: RenderingContext | None = None

    def touch(self, list_id: str, name: str, sort_key: str) -> None:
        self.lists[list_id] = name
        self.anchors[list_id].add(sort_key)

    def merge(self, other: RenderPlan) -> None:
        self.lists.update(other.lists)
        for list_id, keys in other.anchors.items():
            self.anchors[list_id] |= keys
        for list_id, count in other.removed.items():
            self.removed[list_id] += count
        for list_id, count in other.added.items():
            self.added[list_id] += count
        self.fresh_posts.update(other.fresh_posts)
        self.delete_keys |= other.delete_keys
        self.extra_files += other.extra_files
        self.months |= other.months
        self.assets_changed |= other.assets_changed
        self.refresh |= other.refresh
        self.fresh_pages.update(other.fresh_pages)
        self.pages_changed |= other.pages_changed
        self.all_pages |= other.all_pages
        self.rewrite |= other.rewrite
        self.freed.update(other.freed)


@dataclass(frozen=True, slots=True, kw_only=True)
class Indexer:
    """Phase 1 for one rendering context: :meth:`index` runs in several threads at once.

    Why frozen: the workers of a run share this object, so nothing on it may change.
    Each of them parses and renders with the one context it was made with. An accepted
    ``_config.yml`` or ``theme/`` change leaves it alone and returns the new context in
    its plan, for the publisher to install before it makes the next indexer.
    """

    context: RenderingContext
    store: PostStore
    source: SourceBucket
    output: SiteBucket
    clock: Callable[[], datetime]
    site_overrides: Mapping[str, str]
    # Read for the whole batch at once (:meth:`Publisher._prefetch`): source key ->
    # its record and the post it last published, each None when there is none.
    prefetched: Mapping[str, tuple[SourceRecord | None, Post | None]] = field(default_factory=dict)
    # The site's terms as the batch began (read once for a batch of posts), or None to
    # read them for each post that has tags or categories.
    terms: Mapping[str, tuple[str, int]] | None = None
    # Posts already read and parsed for the batch (:meth:`read_post`), by the key as
    # uploaded: the publisher learns their URLs before any of them claims one.
    read: Mapping[str, tuple[SourceObject, Post]] = field(default_factory=dict)

    def read_post(self, change: Change) -> tuple[SourceObject, Post] | None:
        """The change's object and the post parsed from it, or None when it is not a
        post that parses (``index`` then reads it again and reports why)."""
        try:
            source = classify_key(change.key)
            if source.kind != "post" or change.removed:
                return None  # a delete's GET is index()'s own: one call, as before
            obj = self.source.get(change.key, max_bytes=self.context.site.max_post_bytes)
            if obj is None:
                return None
            return obj, parse_post(source, obj.body, self.context.site, size=obj.size)
        except Exception:  # index() reads it again and reports it, per file
            return None

    def index(self, change: Change) -> tuple[Outcome, RenderPlan]:
        plan = RenderPlan()
        started = time.perf_counter()
        try:
            outcome = self._apply(change, plan)
        except StaleEvent as exc:
            plan = RenderPlan()  # the transaction that lost wrote nothing
            outcome = Outcome(change.key, "stale", message=str(exc))
        except InputRejected as exc:
            plan = RenderPlan()  # nothing of a rejected change reaches the site
            kept = f"; its last accepted version stays live at {exc.live_url}"
            outcome = Outcome(
                change.key, "rejected", url=exc.live_url,
                message=exc.message + (kept if exc.live_url else ""),
                line=exc.line, hint=exc.hint, code=exc.code,
                waits_for=exc.url if isinstance(exc, UrlTaken) else None,
            )  # fmt: skip
        except (TransientError, TsuzuriError, OSError) as exc:
            outcome = Outcome(change.key, "failed", message=str(exc), code="transient")
        except Exception as exc:
            outcome = Outcome(change.key, "failed", message=f"{type(exc).__name__}: {exc}")
        outcome.ms = (time.perf_counter() - started) * 1000
        return outcome, plan

    def _apply(self, change: Change, plan: RenderPlan) -> Outcome:
        source = classify_key(change.key)
        if source.kind == "asset":
            return self._apply_asset(change, source, plan)
        if source.kind == "config":
            return self._apply_config(change, source, plan)
        if source.kind == "theme":
            return self._apply_theme(change, source, plan)
        known = self.prefetched.get(source.key)
        record = known[0] if known is not None else self.store.get_source(source.key)
        if _stale(change, record):
            assert record is not None
            return Outcome(change.key, "stale", url=record.url, message="a newer event was applied")
        if source.kind == "page":
            return self._apply_page(change, source, record, plan)

        previous: Post | None = None
        if known is not None:
            previous = known[1]
        elif record is not None and record.url:
            previous = self.store.get_post_fields(record.url)
        if previous is not None and previous.source_key != source.key:
            previous = None
        try:
            return self._apply_post(change, source, previous, plan)
        except InputRejected as exc:
            # Nothing was written: the file's live version, if any, stays where it is.
            exc.live_url = previous.url if previous is not None else None
            raise

    def _apply_post(
        self, change: Change, source: SourceKey, previous: Post | None, plan: RenderPlan
    ) -> Outcome:
        # The object as uploaded: a Jekyll checkout's _posts/x.md is read from _posts/.
        ahead = self.read.get(change.key)
        if ahead is not None:
            obj, post = ahead
        else:
            read = self.source.get(change.key, max_bytes=self.context.site.max_post_bytes)
            if read is None:
                gone = SourceRecord(source.key, None, "unpublished", change.sequencer)
                self._retract_or_record(previous, gone, plan)
                url = previous.url if previous else None
                return Outcome(change.key, "unpublished", url=url)
            obj = read
            post = parse_post(source, obj.body, self.context.site, size=obj.size)
        # One spelling per tag: a post that writes ``AWS`` for the site's ``aws`` joins
        # it under the name the site shows (names _config.yml sets were applied above).
        post = adopt_known_names(post, self._known_names(post))
        now = self.clock()
        if not post.published or (post.date > now and not self.context.site.future):
            hidden = SourceRecord(source.key, None, "hidden", change.sequencer)
            self._retract_or_record(previous, hidden, plan)
            if post.published:
                # Due at its date, the scheduler's tick re-publishes the key through the
                # render queue (tsuzuri.publishing.schedule). Written after the record,
                # so a crash between the two fails the event and its retry writes both.
                # The key as uploaded: the tick reads the object by it.
                self.store.schedule_post(change.key, post.date)
            why = (
                "published: false" if not post.published else "dated in the future (future: false)"
            )
            return Outcome(change.key, "hidden", url=post.url, message=f"not public: {why}")

        for path in post.redirect_from:
            if path == post.url:
                raise UrlCollision(f"redirect_from {path} points at the post itself")
        site_title = self.context.site.title
        same_url = previous is not None and previous.url == post.url
        new_place = placement_of(post, site_title)
        old = previous if previous is not None and same_url else None
        # The source record is written in the same transaction, conditioned on the
        # event's sequencer: an older event that lost the race writes nothing at all.
        try:
            counts = self.store.publish_post(
                post, new_place, replaces=placement_of(old, site_title) if old else None,
                record=SourceRecord(source.key, post.url, "published", change.sequencer),
            )  # fmt: skip
        except UrlTaken as taken:
            raise self._wait_in_line(taken, source.key) from None
        if previous is not None and not same_url:
            self._retract(previous, plan)
        changed = old is None or _listing_changed(old, post)
        self._count(counts, plan)
        if old is not None:
            for list_id, name in placement_of(old, site_title).lists.items():
                # Touched even when nothing moved: a retry after a crash must still render.
                plan.touch(list_id, name, old.sort_key)
        for list_id, name in new_place.lists.items():
            # Touched even when unchanged: a redelivered event after a crash between
            # the index and the pages must still render them. Unchanged bytes are
            # not written, so a plain duplicate costs reads only.
            plan.touch(list_id, name, post.sort_key)
        if old is not None:
            plan.months.add(old.date.strftime("%Y-%m"))
            for path in set(old.redirect_from) - set(post.redirect_from):
                plan.delete_keys.add(page_key(path))
        plan.months.add(post.date.strftime("%Y-%m"))
        plan.fresh_posts[post.url] = post
        plan.anchors[ALL].add(post.sort_key)
        for path in post.redirect_from:
            plan.extra_files.append(
                page_file(page_key(path), self.context.theme.render_redirect(post.url))
            )
        # Another render of the same file may have run meanwhile (an edit arrived while
        # this one ran; renders run concurrently). If it recorded another URL, this post
        # is an orphan: take it back. If the file changed since it was read, what was
        # written is stale: fail, and the redelivered event renders the current version
        # (and retracts this URL, which the table now records as the file's).
        current = self.store.get_source(source.key)
        if current is not None and current.url != post.url:
            owner = self.store.get_post_owner(post.url)
            if owner == post.source_key:
                self._retract(post, plan)
            plan.fresh_posts.pop(post.url, None)
            redirects = {page_key(p) for p in post.redirect_from}
            plan.extra_files = [f for f in plan.extra_files if f.key not in redirects]
            return Outcome(change.key, "stale", url=post.url, message="a newer version won")
        # Without a sequencer (a rebuild), a newer upload during this publish would not
        # have refused it: check that the object is still the one that was read.
        if change.sequencer is None and self.source.etag(change.key) != obj.etag:
            raise TransientError(f"{change.key} changed while it was published; will retry")
        status: Status = "published" if changed else "unchanged"
        notes = tuple(note.message for note in post.term_notes)
        if post.liquid_warning:  # published, with that Liquid shown as text
            notes += (post.liquid_warning,)
        return Outcome(change.key, status, url=post.url, notes=notes)

    def _known_names(self, post: Post) -> dict[str, str]:
        """The names the site shows for this post's tags and categories, where a list
        of that URL has members (one read of the terms item; none for a post without)."""
        if not post.terms:
            return {}
        configured = {f"tag/{s}" for s in self.context.site.tag_slugs.values()} | {
            f"category/{s}" for s in self.context.site.category_slugs.values()
        }
        terms = self.terms if self.terms is not None else self.store.lists.terms()
        return {
            list_id: name
            for list_id, (name, count) in terms.items()
            if count > 0 and list_id not in configured
        }

    def _apply_config(self, change: Change, source: SourceKey, plan: RenderPlan) -> Outcome:
        """Validate a new ``_config.yml`` and say what it changes.

        A broken config is rejected (reported like a post) and the site keeps the last
        valid one, which the table holds. A valid one is recorded, used by this
        instance from now on, and its effect is returned for the handler to queue
        through the rebuild path: ``reindex`` when posts parse differently (permalink,
        timezone, slugs, future...), ``pages`` when only what pages show changed.
        """
        obj = self.source.get(source.key)
        body = obj.body if obj is not None else b""
        try:
            parsed = SiteConfig.from_bytes(body, name=source.key) if body else SiteConfig()
            new = parsed.with_env_overrides(self.site_overrides)
        except ConfigError as exc:
            return Outcome(
                change.key, "rejected", message=str(exc), code="bad-config",
                line=getattr(exc, "line", None),
                hint="fix the file and upload it again; the site keeps its last valid settings",
            )  # fmt: skip
        stored = self.store.get_site_config()
        # None recorded yet: the pages so far were rendered with what this instance
        # loaded at cold start (the bucket's config then, or the defaults).
        old = stored[2] if stored is not None else RecordedFingerprint.of(self.context.site)
        recorded = RecordedFingerprint.of(new)
        self.store.put_site_config(source.key, body, recorded)
        # Its theme is built with the new settings on first use.
        plan.context = RenderingContext(new, self.context.theme_overrides)
        # Related lists are the related function's: it hears this item on the stream and
        # recomputes every list when the related part of the fingerprint moves.
        lists = (
            "; related: changed: the related function recomputes every list"
            if recorded.related != old.related
            else ""
        )
        if recorded.reindex != old.reindex:
            return Outcome(
                change.key, "config", rebuild="reindex",
                message="site config changed how posts parse: every post is re-published" + lists,
            )  # fmt: skip
        if recorded.full != old.full:
            return Outcome(
                change.key, "config", rebuild="pages",
                message="site config changed: every page is re-rendered" + lists,
            )  # fmt: skip
        return Outcome(change.key, "config", message="site config unchanged")

    def _apply_theme(self, change: Change, source: SourceKey, plan: RenderPlan) -> Outcome:
        """Validate the override set this upload (or delete) makes, and say what it changes.

        The table holds the last valid set, the one single source of truth: a broken
        override is rejected (reported like a post) and the set in use stays as it was.
        A valid set is recorded, used by this instance from now on, and the handler
        re-renders every page through the rebuild path, as for a config change.
        """
        from tsuzuri.rendering.loader import OVERRIDE_PREFIX
        from tsuzuri.rendering.overrides import (
            MAX_OVERRIDE_BYTES,
            overrides_fingerprint,
            validate_overrides,
        )

        name = source.slug
        current, version = self.store.get_theme()
        candidate = dict(current)
        obj = self.source.get(source.key, max_bytes=MAX_OVERRIDE_BYTES)
        if obj is None:
            candidate.pop(name, None)
        else:
            try:
                candidate[name] = obj.body.decode("utf-8").lstrip("\ufeff")
            except UnicodeDecodeError:
                raise ThemeRejected(
                    f"{source.key} is not UTF-8 text", hint="save the template as UTF-8"
                ) from None
        # Overrides kept because something needed them when their file was deleted
        # (that delete was refused) go as soon as nothing needs them any more.
        present = {k.removeprefix(OVERRIDE_PREFIX) for k in self.source.list_keys(OVERRIDE_PREFIX)}
        pruned = {n: text for n, text in candidate.items() if n == name or n in present}
        theme = None
        if pruned != candidate:
            try:
                theme = validate_overrides(self.context.site, pruned)
                candidate = pruned
            except ThemeRejected:
                pass  # still included by another override: kept
        if candidate == current:
            if self.context.theme_overrides != current:  # another instance recorded it
                plan.context = RenderingContext(self.context.site, current)
            return Outcome(change.key, "config", message="theme unchanged")
        if theme is None:
            theme = validate_overrides(self.context.site, candidate)
        self.store.put_theme(candidate, overrides_fingerprint(candidate), version=version)
        plan.context = RenderingContext(self.context.site, candidate, built_theme=theme)
        what = "removed: the packaged template is back" if obj is None else "accepted"
        return Outcome(
            change.key, "config", rebuild="pages",
            message=f"theme override {what}; every page is re-rendered",
        )  # fmt: skip

    def _wait_in_line(self, taken: UrlTaken, key: str) -> Exception:
        """Put ``key`` in line for the URL another post owns. The claim is written
        before the owner is looked at again, so an owner leaving meanwhile either sees
        the claim (and promotes it) or is seen gone here (and this event is retried)."""
        self.store.add_claim(taken.url, key, self.clock().astimezone(UTC).isoformat())
        if self.store.get_post_owner(taken.url) is None:
            return TransientError(f"{taken.url} was freed while {key} was refused; will retry")
        taken.message = (
            f"{taken.url} is already published from {taken.owner}; {key} waits in line "
            "and is published there when that file is deleted or moves"
        )
        return taken

    def _retract_or_record(
        self, previous: Post | None, record: SourceRecord, plan: RenderPlan
    ) -> None:
        """Take the key's published post off the site and record what the key is now,
        in one transaction; or only record it when nothing was published."""
        if previous is None:
            self.store.put_source(
                record.key, url=record.url, state=record.state, sequencer=record.sequencer
            )
            return
        self._retract(previous, plan, record=record)

    def _retract(self, post: Post, plan: RenderPlan, *, record: SourceRecord | None = None) -> None:
        """Take a published post off the site: page, redirects and list memberships."""
        place = placement_of(post, self.context.site.title)
        self._count(self.store.retract_post(post, place, record=record), plan)
        for list_id, name in place.lists.items():
            plan.touch(list_id, name, post.sort_key)
        plan.delete_keys.add(page_key(post.url))
        plan.delete_keys.update(page_key(p) for p in post.redirect_from)
        plan.freed[post.url] = post.source_key
        plan.months.add(post.date.strftime("%Y-%m"))

    @staticmethod
    def _count(counts: Mapping[str, int], plan: RenderPlan) -> None:
        for list_id, by in counts.items():
            if by > 0:
                plan.added[list_id] += by
            elif by < 0:
                plan.removed[list_id] -= by

    def _apply_page(
        self, change: Change, source: SourceKey, record: SourceRecord | None, plan: RenderPlan
    ) -> Outcome:
        """A static page: claim its URL, render it with the theme, keep the page index."""
        previous = record.url if record is not None and record.state == "published" else None
        obj = self.source.get(source.key, max_bytes=self.context.site.max_post_bytes)
        if obj is None:
            if previous:
                self._retract_page(previous, source.key, plan)
            self.store.put_source(
                source.key, url=None, state="unpublished", sequencer=change.sequencer
            )
            return Outcome(change.key, "unpublished", url=previous)
        page = parse_page(source, obj.body, self.context.site)
        if not page.published:
            if previous:
                self._retract_page(previous, source.key, plan)
            self.store.put_source(source.key, url=None, state="hidden", sequencer=change.sequencer)
            return Outcome(
                change.key, "hidden", url=page.url, message="not public: published: false"
            )
        self.store.claim_and_put_page(page)
        if previous and previous != page.url:
            self._retract_page(previous, source.key, plan)
        plan.fresh_pages[page.url] = page
        plan.pages_changed = True
        self.store.put_source(
            source.key, url=page.url, state="published", sequencer=change.sequencer
        )
        notes = (page.liquid_warning,) if page.liquid_warning else ()
        return Outcome(change.key, "published", url=page.url, notes=notes)

    def _retract_page(self, url: str, source_key: str, plan: RenderPlan) -> None:
        if self.store.delete_page(url, source_key):
            plan.delete_keys.add(page_key(url))
        plan.pages_changed = True

    def _apply_asset(self, change: Change, source: SourceKey, plan: RenderPlan) -> Outcome:
        if change.removed or not self.source.exists(source.key):
            plan.delete_keys.add(source.key)
            return Outcome(change.key, "asset", url="/" + source.key, message="removed")
        if self.output.copy_asset(self.source.name, source.key, source.key):
            plan.assets_changed.add(source.key)
        return Outcome(change.key, "asset", url="/" + source.key)


def _stale(change: Change, record: SourceRecord | None) -> bool:
    """An event older than the one already applied to this key."""
    return bool(
        change.sequencer
        and record is not None
        and record.sequencer
        and change.sequencer != record.sequencer
        and not sequencer_newer(change.sequencer, record.sequencer)
    )


def _listing_changed(old: Post, new: Post) -> bool:
    return old.summary() != new.summary() or old.terms != new.terms
