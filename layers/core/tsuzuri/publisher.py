"""Apply source-bucket changes to the site: the heart of tsuzuri.

A batch of changes is handled in two phases:

1. **Index.** Each change reconciles one source key with the table: the current
   object is read (so duplicated and reordered events converge on the latest version),
   parsed, and its URL claim, body and list memberships are written. Bad input is
   rejected here, before anything public changes.
2. **Pages.** Every page that shows a changed post is rendered from the table:
   the post and its neighbours, the affected pages of each list, JSON, feed and
   sitemaps. Only objects whose bytes differ are written. The list versions read
   before rendering are read again afterwards; if another render moved them, the
   pages are rendered again, so concurrent renders never leave a stale list behind.

The changed paths are recorded in an outbox before the site is written and
invalidated in one CloudFront request, so a crash between the two is repaired by the
next batch.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from tsuzuri.buckets import (
    ASSET_CACHE,
    FEED_CACHE,
    SiteBucket,
    SiteFile,
    SourceBucket,
    page_file,
)
from tsuzuri.cdn import Invalidator, caller_reference, collapse_paths, paths_for_keys
from tsuzuri.config import REINDEX_KEYS, SiteConfig, fingerprint_parts
from tsuzuri.errors import (
    ConfigError,
    KeyRejected,
    PostRejected,
    ThemeRejected,
    TransientError,
    TsuzuriError,
    UrlCollision,
)
from tsuzuri.keys import SourceKey, classify_key
from tsuzuri.model import Page, Post, PostSummary, Term, page_key
from tsuzuri.page import parse_page
from tsuzuri.post import parse_post
from tsuzuri.search import MANIFEST_PATH, SHARD_PATH, build_manifest, build_shard
from tsuzuri.store import PostStore, SourceRecord, StoredPost, sequencer_newer

if TYPE_CHECKING:
    from tsuzuri.theme import Theme

ALL = "all"
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
RENDER_ATTEMPTS = 5


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
    # For a site config change: what must be re-done through the rebuild path,
    # "pages" (re-render) or "reindex" (parse every source again); None for nothing.
    rebuild: str | None = None

    def report(self, now: datetime) -> dict[str, object]:
        return {
            "key": self.key,
            "status": self.status,
            "url": self.url,
            "problem": self.message or None,
            "line": self.line,
            "hint": self.hint,
            "code": self.code,
            **({"rebuild": self.rebuild} if self.rebuild else {}),
            "at": now.astimezone(UTC).isoformat(),
        }


@dataclass(slots=True)
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)
    failed_tokens: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    invalidated: list[str] = field(default_factory=list)
    invalidation_id: str | None = None


# What a post page shows besides the theme: the stored post with its related list, and
# its older and newer neighbours on the timeline.
_PageInputs = tuple[StoredPost, PostSummary | None, PostSummary | None]


@dataclass(slots=True)
class _Plan:
    """What phase 1 changed, for phase 2 to render."""

    lists: dict[str, str] = field(default_factory=dict)  # list id -> display name
    anchors: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    removed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    added: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fresh_posts: dict[str, Post] = field(default_factory=dict)
    delete_keys: set[str] = field(default_factory=set)
    extra_files: list[SiteFile] = field(default_factory=list)
    years: set[int] = field(default_factory=set)
    assets_changed: set[str] = field(default_factory=set)
    refresh: set[str] = field(default_factory=set)  # post pages to re-render as they are
    fresh_pages: dict[str, Page] = field(default_factory=dict)  # static pages to render
    pages_changed: bool = False  # the page index changed: re-render the pages sitemap
    all_pages: bool = False  # re-render every static page (theme or config change)

    def touch(self, list_id: str, name: str, sort_key: str) -> None:
        self.lists[list_id] = name
        self.anchors[list_id].add(sort_key)

    def merge(self, other: _Plan) -> None:
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
        self.years |= other.years
        self.assets_changed |= other.assets_changed
        self.refresh |= other.refresh
        self.fresh_pages.update(other.fresh_pages)
        self.pages_changed |= other.pages_changed
        self.all_pages |= other.all_pages


class Publisher:
    def __init__(
        self,
        *,
        site: SiteConfig,
        store: PostStore,
        source: SourceBucket,
        output: SiteBucket,
        invalidator: Invalidator,
        theme: Theme | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        workers: int = 8,
        environ: Mapping[str, str] | None = None,
        theme_overrides: Mapping[str, str] | None = None,
    ):
        self.site = site
        self.store = store
        self.source = source
        self.output = output
        self.invalidator = invalidator
        self._theme = theme
        self.clock = clock
        self.workers = workers
        self.environ: Mapping[str, str] = environ or {}
        # The accepted theme/ overrides (the table's copy, read at cold start).
        self.theme_overrides: dict[str, str] = dict(theme_overrides or {})

    @property
    def theme(self) -> Theme:
        # Built on first use: Jinja2's import stays out of the cold start.
        if self._theme is None:
            from tsuzuri.theme import Theme

            self._theme = Theme(self.site, overrides=self.theme_overrides)
        return self._theme

    @theme.setter
    def theme(self, value: Theme) -> None:
        self._theme = value

    @property
    def theme_fingerprint(self) -> str:
        from tsuzuri.theme import overrides_fingerprint

        return overrides_fingerprint(self.theme_overrides)

    def settings_are_current(self) -> bool:
        """Whether this instance renders with the ``_config.yml`` and ``theme/`` set the
        table records as accepted. Another instance may have accepted newer ones; a
        handler that finds this false builds its publisher again (one small read)."""
        config, theme = self.store.site_fingerprints()
        if config is not None and fingerprint_parts(config)[0] != self.site.fingerprint():
            return False
        return theme is None or theme == self.theme_fingerprint

    # -- phase 0: the batch -----------------------------------------------------
    def process(self, changes: Sequence[Change]) -> BatchResult:
        result = BatchResult()
        self._flush_outbox(result)
        plan = _Plan()
        # Keys are independent in phase 1 (each list update is its own transaction),
        # so a batch is indexed in parallel; phase 2 then renders once for all of them.
        latest = _latest_per_key(changes)
        with ThreadPoolExecutor(max(1, min(self.workers, len(latest)))) as pool:
            indexed = list(pool.map(self._apply_one, latest))
        applied: list[tuple[Change, Outcome]] = []
        for change, (outcome, change_plan) in zip(latest, indexed, strict=True):
            plan.merge(change_plan)
            applied.append((change, outcome))

        started = time.perf_counter()
        self._render(plan, result)
        render_ms = (time.perf_counter() - started) * 1000
        for change, outcome in applied:
            if outcome.status in {"published", "unpublished", "hidden", "unchanged", "asset"}:
                outcome.ms += render_ms
            if outcome.status == "failed":
                result.failed_tokens.extend(t for t in _tokens_for(change, changes))
            elif outcome.status != "stale" and classify_safe(change.key) != "asset":
                self._report(outcome)
            result.outcomes.append(outcome)
        return result

    def _apply_one(self, change: Change) -> tuple[Outcome, _Plan]:
        plan = _Plan()
        started = time.perf_counter()
        try:
            outcome = self._apply(change, plan)
        except PostRejected as exc:
            plan = _Plan()  # nothing of a rejected change reaches the site
            outcome = Outcome(
                change.key, "rejected", message=exc.message, line=exc.line,
                hint=exc.hint, code=exc.code,
            )  # fmt: skip
        except (TransientError, TsuzuriError, OSError) as exc:
            outcome = Outcome(change.key, "failed", message=str(exc), code="transient")
        except Exception as exc:
            outcome = Outcome(change.key, "failed", message=f"{type(exc).__name__}: {exc}")
        outcome.ms = (time.perf_counter() - started) * 1000
        return outcome, plan

    def refresh_posts(self, urls: Iterable[str], *, lists: bool = False) -> BatchResult:
        """Re-render the pages of these posts (e.g. after their related lists changed,
        or after a theme change), and with ``lists`` every list page, feed and sitemap.
        Bodies come from the table, so Markdown is not parsed again. Only changed bytes
        are written, and invalidated in one request."""
        plan = _Plan()
        plan.refresh.update(urls)
        if lists:
            for info in self.store.list_infos():
                # An anchor below every sort key renders all archive pages of the list.
                plan.touch(info.list_id, info.name, "")
            plan.years.update(m.date.year for m in self.store.list_members(ALL))
            plan.all_pages = True
        result = BatchResult()
        self._flush_outbox(result)
        self._render(plan, result)
        return result

    def _report(self, outcome: Outcome) -> None:
        try:
            self.source.put_report(outcome.key, outcome.report(self.clock()))
        except Exception:
            outcome.message = outcome.message or "report could not be written"

    # -- phase 1: index -----------------------------------------------------------
    def _apply(self, change: Change, plan: _Plan) -> Outcome:
        source = classify_key(change.key)
        if source.kind == "asset":
            return self._apply_asset(change, source, plan)
        if source.kind == "config":
            return self._apply_config(change, source)
        if source.kind == "theme":
            return self._apply_theme(change, source)
        record = self.store.get_source(source.key)
        if _stale(change, record):
            assert record is not None
            return Outcome(change.key, "stale", url=record.url, message="a newer event was applied")
        if source.kind == "page":
            return self._apply_page(change, source, record, plan)

        previous: StoredPost | None = None
        if record is not None and record.url:
            previous = self.store.get_post(record.url)
            if previous is not None and previous.post.source_key != source.key:
                previous = None

        # The object as uploaded: a Jekyll checkout's _posts/x.md is read from _posts/.
        obj = self.source.get(change.key, max_bytes=self.site.max_post_bytes)
        if obj is None:
            if previous is not None:
                self._retract(previous.post, plan)
            self.store.put_source(
                source.key, url=None, state="unpublished", sequencer=change.sequencer
            )
            url = previous.post.url if previous else None
            return Outcome(change.key, "unpublished", url=url)

        post = parse_post(source, obj.body, self.site)
        now = self.clock()
        if not post.published or (post.date > now and not self.site.future):
            if previous is not None:
                self._retract(previous.post, plan)
            self.store.put_source(source.key, url=None, state="hidden", sequencer=change.sequencer)
            why = (
                "published: false" if not post.published else "dated in the future (future: false)"
            )
            return Outcome(change.key, "hidden", url=post.url, message=f"not public: {why}")

        self._check_redirects(post)
        page_owner = self.store.get_page_owner(post.url)
        if page_owner is not None:
            raise UrlCollision(
                f"{post.url} is already the URL of the page {page_owner}",
                hint="change the slug in the filename, the date, or set a permalink",
            )
        self.store.claim_and_put_post(post)
        if previous is not None and previous.post.url != post.url:
            self._retract(previous.post, plan)
            old = None
        else:
            old = previous.post if previous else None

        old_lists = {ALL: self.site.title} | {t.list_id: t.name for t in old.terms} if old else {}
        new_lists = {ALL: self.site.title} | {t.list_id: t.name for t in post.terms}
        changed = old is None or _listing_changed(old, post)
        for list_id, name in old_lists.items():
            moved = list_id not in new_lists or (old is not None and old.sort_key != post.sort_key)
            if old is not None and moved:
                # Touched even when already removed: a retry after a crash must still render.
                if self.store.remove_member(list_id, name, old.sort_key):
                    plan.removed[list_id] += 1
                plan.touch(list_id, name, old.sort_key)
        summary = post.summary()
        memberships = self.store.add_memberships(new_lists, summary)
        for list_id, name in new_lists.items():
            if memberships[list_id] == "added":
                plan.added[list_id] += 1
            # Touched even when unchanged: a redelivered event after a crash between
            # the index and the pages must still render them. Unchanged bytes are
            # not written, so a plain duplicate costs reads only.
            plan.touch(list_id, name, post.sort_key)
        if old is not None:
            plan.years.add(old.date.year)
            for path in set(old.redirect_from) - set(post.redirect_from):
                plan.delete_keys.add(page_key(path))
        plan.years.add(post.date.year)
        plan.fresh_posts[post.url] = post
        plan.anchors[ALL].add(post.sort_key)
        for path in post.redirect_from:
            plan.extra_files.append(page_file(page_key(path), self.theme.render_redirect(post.url)))
        self.store.put_source(
            source.key, url=post.url, state="published", sequencer=change.sequencer
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
        if self.source.etag(change.key) != obj.etag:
            raise TransientError(f"{change.key} changed while it was published; will retry")
        status: Status = "published" if changed else "unchanged"
        return Outcome(change.key, status, url=post.url)

    def _apply_config(self, change: Change, source: SourceKey) -> Outcome:
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
            new = parsed.with_env_overrides(self.environ)
        except ConfigError as exc:
            return Outcome(
                change.key, "rejected", message=str(exc), code="bad-config",
                hint="fix the file and upload it again; the site keeps its last valid settings",
            )  # fmt: skip
        stored = self.store.get_site_config()
        if stored is not None:
            old_full, old_reindex, old_related = fingerprint_parts(stored[2])
        else:
            # None recorded yet: the pages so far were rendered with what this instance
            # loaded at cold start (the bucket's config then, or the defaults).
            old_full, old_reindex, old_related = (
                self.site.fingerprint(), self.site.fingerprint(REINDEX_KEYS),
                self.site.fingerprint(("related",)),
            )  # fmt: skip
        full, reindex = new.fingerprint(), new.fingerprint(REINDEX_KEYS)
        related = new.fingerprint(("related",))
        self.store.put_site_config(source.key, body, f"{full}:{reindex}:{related}")
        self.site = new
        self._theme = None  # rebuilt with the new settings on first use
        # Related lists are the related function's: it hears this item on the stream and
        # recomputes every list when the related part of the fingerprint moves.
        lists = (
            "; related: changed: the related function recomputes every list"
            if related != old_related
            else ""
        )
        if reindex != old_reindex:
            return Outcome(
                change.key, "config", rebuild="reindex",
                message="site config changed how posts parse: every post is re-published" + lists,
            )  # fmt: skip
        if full != old_full:
            return Outcome(
                change.key, "config", rebuild="pages",
                message="site config changed: every page is re-rendered" + lists,
            )  # fmt: skip
        return Outcome(change.key, "config", message="site config unchanged")

    def _apply_theme(self, change: Change, source: SourceKey) -> Outcome:
        """Validate the override set this upload (or delete) makes, and say what it changes.

        The table holds the last valid set, the one single source of truth: a broken
        override is rejected (reported like a post) and the set in use stays as it was.
        A valid set is recorded, used by this instance from now on, and the handler
        re-renders every page through the rebuild path, as for a config change.
        """
        from tsuzuri.theme import (
            MAX_OVERRIDE_BYTES,
            OVERRIDE_PREFIX,
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
                theme = validate_overrides(self.site, pruned)
                candidate = pruned
            except ThemeRejected:
                pass  # still included by another override: kept
        if candidate == current:
            if self.theme_overrides != current:  # another instance recorded it
                self.theme_overrides = current
                self._theme = None
            return Outcome(change.key, "config", message="theme unchanged")
        if theme is None:
            theme = validate_overrides(self.site, candidate)
        self.store.put_theme(candidate, overrides_fingerprint(candidate), version=version)
        self.theme_overrides = candidate
        self._theme = theme
        what = "removed: the packaged template is back" if obj is None else "accepted"
        return Outcome(
            change.key, "config", rebuild="pages",
            message=f"theme override {what}; every page is re-rendered",
        )  # fmt: skip

    def _check_redirects(self, post: Post) -> None:
        for path in post.redirect_from:
            if path == post.url:
                raise UrlCollision(f"redirect_from {path} points at the post itself")
            owner = self.store.get_post_owner(path)
            if owner is not None:
                raise UrlCollision(
                    f"redirect_from {path} is the URL of {owner}",
                    hint="remove that entry from redirect_from",
                )

    def _retract(self, post: Post, plan: _Plan) -> None:
        """Take a published post off the site: page, redirects and list memberships."""
        for term_id, name in {
            ALL: self.site.title,
            **{t.list_id: t.name for t in post.terms},
        }.items():
            if self.store.remove_member(term_id, name, post.sort_key):
                plan.removed[term_id] += 1
            plan.touch(term_id, name, post.sort_key)
        self.store.delete_post(post.url, post.source_key)
        plan.delete_keys.add(page_key(post.url))
        plan.delete_keys.update(page_key(p) for p in post.redirect_from)
        plan.years.add(post.date.year)

    def _apply_page(
        self, change: Change, source: SourceKey, record: SourceRecord | None, plan: _Plan
    ) -> Outcome:
        """A static page: claim its URL, render it with the theme, keep the page index."""
        previous = record.url if record is not None and record.state == "published" else None
        obj = self.source.get(source.key, max_bytes=self.site.max_post_bytes)
        if obj is None:
            if previous:
                self._retract_page(previous, source.key, plan)
            self.store.put_source(
                source.key, url=None, state="unpublished", sequencer=change.sequencer
            )
            return Outcome(change.key, "unpublished", url=previous)
        page = parse_page(source, obj.body, self.site)
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
        return Outcome(change.key, "published", url=page.url)

    def _retract_page(self, url: str, source_key: str, plan: _Plan) -> None:
        if self.store.delete_page(url, source_key):
            plan.delete_keys.add(page_key(url))
        plan.pages_changed = True

    def _apply_asset(self, change: Change, source: SourceKey, plan: _Plan) -> Outcome:
        if change.removed or not self.source.exists(source.key):
            plan.delete_keys.add(source.key)
            return Outcome(change.key, "asset", url="/" + source.key, message="removed")
        if self.output.copy_asset(self.source.name, source.key, source.key):
            plan.assets_changed.add(source.key)
        return Outcome(change.key, "asset", url="/" + source.key)

    # -- phase 2: pages -------------------------------------------------------------
    def _render(self, plan: _Plan, result: BatchResult) -> None:
        if (
            not plan.lists
            and not plan.delete_keys
            and not plan.assets_changed
            and not plan.fresh_posts
            and not plan.refresh
            and not plan.pages_changed
            and not plan.all_pages
        ):
            return
        if _refresh_only(plan):
            self._render_refreshed(set(plan.refresh), result)
            return
        watched = set(plan.lists) | {ALL}
        written: set[str] = set(plan.assets_changed)
        deleted: set[str] = set()
        for _attempt in range(RENDER_ATTEMPTS):
            before = self.store.list_versions(watched)
            files, obsolete = self._build(plan, before)
            changed = self.output.diff(files)
            doomed = self.output.existing(obsolete - {f.key for f in files})
            self._write(changed, doomed, written, result)
            written |= {f.key for f in changed}
            deleted |= set(doomed)
            if self.store.list_versions(watched) == before:
                break
        else:
            raise TransientError("pages kept changing under concurrent renders; will retry")
        result.written = sorted(written)
        result.deleted = sorted(deleted)

    def _write(
        self,
        changed: Sequence[SiteFile],
        doomed: Sequence[str],
        also_invalidate: set[str],
        result: BatchResult,
    ) -> None:
        """Write and delete site objects, then invalidate them (and ``also_invalidate``)
        in one request. The paths go to the outbox first: a crash before the
        invalidation leaves them for the next batch to send."""
        keys = sorted({f.key for f in changed} | set(doomed) | also_invalidate)
        reference = ""
        if keys and self.invalidator.enabled:
            digest = hashlib.sha256(b"".join(hashlib.md5(f.body).digest() for f in changed))  # noqa: S324
            reference = caller_reference(paths_for_keys(keys), digest.hexdigest())
            self.store.save_outbox(reference, collapse_paths(paths_for_keys(keys)))
        self.output.put(changed)
        self.output.delete(doomed)
        if reference:
            self._invalidate(reference, paths_for_keys(keys), result)

    def _render_refreshed(self, urls: set[str], result: BatchResult) -> None:
        """Re-render post pages whose inputs changed elsewhere (their related lists).

        Watching the ``all`` version, as list renders do, never settles under a steady
        stream of publishes: every publish moves it. A post page depends only on its
        post, its related list and its two neighbours, so after writing, those are read
        again and only the pages whose inputs moved are rendered once more. Whichever
        render writes last has checked that what it wrote was current.
        """
        written: set[str] = set()
        shown = {url: self._post_page_inputs(url) for url in sorted(urls)}
        for _attempt in range(RENDER_ATTEMPTS):
            files = [self._post_page(url, inputs) for url, inputs in shown.items() if inputs]
            changed = self.output.diff(files)
            self._write(changed, [], set(), result)
            written |= {f.key for f in changed}
            # The check's read is the next attempt's input: each page is read once a round.
            current = {url: self._post_page_inputs(url) for url, inputs in shown.items() if inputs}
            shown = {url: now for url, now in current.items() if now != shown[url]}
            if not shown:
                break
        else:
            raise TransientError("post pages kept changing under concurrent renders; will retry")
        result.written = sorted(written)

    def _post_page_inputs(self, url: str) -> _PageInputs | None:
        """What a post page shows: the stored post, its related list and neighbours;
        None when the post is gone or off the timeline (its page is not rendered)."""
        stored = self.store.get_post(url)
        if stored is None:
            return None
        around = self.store.adjacent(ALL, stored.post.sort_key)
        if around is None:
            return None
        return (stored, *around)

    def _post_page(self, url: str, inputs: _PageInputs) -> SiteFile:
        stored, previous, following = inputs
        html = self.theme.render_post(
            stored.post, previous=previous, next=following, related=stored.related
        )
        return page_file(page_key(url), html)

    def _invalidate(self, reference: str, paths: list[str], result: BatchResult) -> None:
        result.invalidation_id = self.invalidator.invalidate(paths, reference)
        result.invalidated = sorted(set(result.invalidated) | set(paths))
        self.store.clear_outbox(reference)

    def _flush_outbox(self, result: BatchResult) -> None:
        if not self.invalidator.enabled:
            return
        for reference, paths in self.store.pending_outbox():
            self._invalidate(reference, paths, result)

    def _build(self, plan: _Plan, versions: dict[str, int]) -> tuple[list[SiteFile], set[str]]:
        files: list[SiteFile] = list(plan.extra_files)
        obsolete: set[str] = set(plan.delete_keys)
        timeline = self.store.list_members(ALL)  # newest first
        for list_id, name in sorted(plan.lists.items()):
            members = timeline if list_id == ALL else self.store.list_members(list_id)
            self.store.set_count(list_id, len(members), versions.get(list_id, 0))
            pages, gone = self._list_pages(list_id, name, members, plan)
            files += pages
            obsolete |= gone
        files += self._post_pages(timeline, plan)
        files += self._static_pages(plan)
        if plan.lists:
            feeds, gone = self._feeds_and_sitemaps(timeline, plan)
            files += feeds
            obsolete |= gone
            files += self._static_files()
        elif plan.pages_changed:
            files += self._pages_sitemap(timeline)
        return files, obsolete

    def _static_pages(self, plan: _Plan) -> list[SiteFile]:
        pages = dict(plan.fresh_pages)
        if plan.all_pages:
            for entry in self.store.list_pages():
                if entry.url not in pages:
                    stored = self.store.get_page(entry.url)
                    if stored is not None:
                        pages[entry.url] = stored
        return [
            page_file(page_key(url), self.theme.render_page(page))
            for url, page in sorted(pages.items())
        ]

    def _pages_sitemap(self, timeline: Sequence[PostSummary]) -> list[SiteFile]:
        """``sitemaps/pages.xml`` (static pages) and the sitemap index that lists it."""
        entries = [(p.url, p.lastmod) for p in self.store.list_pages() if p.in_sitemap]
        files = [page_file("sitemaps/pages.xml", self.theme.render_sitemap(entries), FEED_CACHE)]
        files.append(
            page_file(
                "sitemap.xml",
                self.theme.render_sitemap_index(_sitemap_index(timeline)),
                FEED_CACHE,
            )
        )
        return files

    def _list_pages(
        self, list_id: str, name: str, members: Sequence[PostSummary], plan: _Plan
    ) -> tuple[list[SiteFile], set[str]]:
        kind, _, slug = list_id.partition("/")
        base = "/" if list_id == ALL else ("/tags/" if kind == "tag" else "/category/") + slug + "/"
        per_page = self.site.paginate
        count = len(members)
        old_count = count - plan.added.get(list_id, 0) + plan.removed.get(list_id, 0)
        new_buckets, old_buckets = (
            _bucket_count(count, per_page),
            _bucket_count(old_count, per_page),
        )
        obsolete: set[str] = set()
        if count == 0 and list_id != ALL:
            obsolete.add(page_key(base))
            obsolete.add(page_key(base).replace("index.html", "index.json"))
            obsolete |= {page_key(f"{base}page{b}/") for b in range(1, old_buckets + 1)}
            return [], obsolete
        term = None if list_id == ALL else Term("tag" if kind == "tag" else "category", name, slug)
        title = self.site.title if term is None else name
        ascending = list(reversed(members))
        keys = [m.sort_key for m in ascending]
        lowest_rank = min((bisect_left(keys, k) for k in plan.anchors.get(list_id, ())), default=0)

        def bucket_url(number: int) -> str:
            return f"{base}page{number}/"

        older_from_front = bucket_url(new_buckets) if new_buckets else None
        pages = [
            page_file(
                page_key(base),
                self.theme.render_list(
                    title=title, url=base, posts=members[:per_page], term=term,
                    older_url=older_from_front,
                    description=self.site.description if term is None else None,
                ),
            )
        ]  # fmt: skip
        first = max(1, min(lowest_rank // per_page + 1, max(old_buckets, 1), max(new_buckets, 1)))
        for number in range(first, new_buckets + 1):
            chunk = ascending[(number - 1) * per_page : number * per_page]
            pages.append(
                page_file(
                    page_key(bucket_url(number)),
                    self.theme.render_list(
                        title=f"{title} ({number})", url=bucket_url(number), posts=chunk[::-1],
                        term=term,
                        newer_url=bucket_url(number + 1) if number < new_buckets else base,
                        older_url=bucket_url(number - 1) if number > 1 else None,
                    ),
                )
            )  # fmt: skip
        obsolete |= {page_key(bucket_url(b)) for b in range(new_buckets + 1, old_buckets + 1)}
        if term is not None and term.kind == "tag":
            pages.append(
                page_file(f"{base.lstrip('/')}index.json", _term_json(term, members), FEED_CACHE)
            )
        return pages, obsolete

    def _post_pages(self, timeline: Sequence[PostSummary], plan: _Plan) -> list[SiteFile]:
        ascending = list(reversed(timeline))
        keys = [m.sort_key for m in ascending]
        urls: set[str] = set(plan.refresh)
        for anchor in plan.anchors.get(ALL, ()):
            index = bisect_left(keys, anchor)
            for neighbour in range(index - 1, index + 2):
                if 0 <= neighbour < len(ascending):
                    urls.add(ascending[neighbour].url)
        position = {m.url: i for i, m in enumerate(ascending)}
        files: list[SiteFile] = []
        for url in sorted(urls):
            if url not in position:
                continue
            index = position[url]
            stored = self.store.get_post(url)
            if stored is None:
                continue
            post = plan.fresh_posts.get(url, stored.post)
            previous = ascending[index - 1] if index > 0 else None
            following = ascending[index + 1] if index + 1 < len(ascending) else None
            html = self.theme.render_post(
                post, previous=previous, next=following, related=stored.related
            )
            files.append(page_file(page_key(url), html))
        return files

    def _feeds_and_sitemaps(
        self, timeline: Sequence[PostSummary], plan: _Plan
    ) -> tuple[list[SiteFile], set[str]]:
        now = self.clock()
        latest = timeline[: self.site.feed_size]
        updated = max((p.lastmod or p.date for p in latest), default=now)
        files = [page_file("feed.xml", self.theme.render_feed(latest, updated=updated), FEED_CACHE)]
        by_year: dict[int, list[PostSummary]] = defaultdict(list)
        for member in timeline:
            by_year[member.date.year].append(member)
        obsolete: set[str] = set()
        for year in sorted(plan.years):
            key = f"sitemaps/posts-{year}.xml"
            if not by_year.get(year):
                obsolete.add(key)
                obsolete.add(SHARD_PATH.format(year=year))
                continue
            entries = [(m.url, m.lastmod or m.date) for m in by_year[year] if m.in_sitemap]
            files.append(page_file(key, self.theme.render_sitemap(entries), FEED_CACHE))
        lists = self.store.list_infos()
        list_entries: list[tuple[str, datetime | None]] = [
            ("/", timeline[0].date if timeline else None)
        ]
        for info in lists:
            if info.count > 0 and info.list_id != ALL:
                kind, _, slug = info.list_id.partition("/")
                list_entries.append(
                    ((f"/tags/{slug}/" if kind == "tag" else f"/category/{slug}/"), None)
                )
        list_entries += [("/archive/", None)]
        list_entries += [(f"/archive/{year}/", None) for year in sorted(by_year)]
        files.append(
            page_file("sitemaps/lists.xml", self.theme.render_sitemap(list_entries), FEED_CACHE)
        )
        files += self._pages_sitemap(timeline)
        files += self._search_index(by_year, plan)
        archive, gone = self._archive_pages(by_year, plan)
        files += archive
        obsolete |= gone
        tags = [
            {
                "name": i.name,
                "slug": i.list_id[4:],
                "url": f"/tags/{i.list_id[4:]}/",
                "count": i.count,
            }
            for i in lists
            if i.list_id.startswith("tag/") and i.count > 0
        ]
        tags.sort(key=lambda t: (-int(str(t["count"])), str(t["slug"])))
        files.append(page_file("tags/index.json", _json({"tags": tags}), FEED_CACHE))
        tag_terms = [
            (Term("tag", i.name, i.list_id[4:]), i.count)
            for i in lists
            if i.list_id.startswith("tag/") and i.count > 0
        ]
        files.append(
            page_file(
                "tags/index.html",
                self.theme.render_term_index(title="タグ一覧", url="/tags/", terms=tag_terms),
            )
        )
        return files, obsolete

    def _search_index(self, by_year: dict[int, list[PostSummary]], plan: _Plan) -> list[SiteFile]:
        """The search shards of the years this batch touched, and the manifest.

        Every shard is built in memory (for the manifest's versions; a few ms for
        2,500 posts) but only the touched years are written.
        """
        shards = {year: build_shard(year, members) for year, members in by_year.items()}
        files = [
            page_file(SHARD_PATH.format(year=year), shards[year].body, FEED_CACHE)
            for year in sorted(plan.years)
            if year in shards
        ]
        files.append(page_file(MANIFEST_PATH, build_manifest(shards), FEED_CACHE))
        return files

    def _archive_pages(
        self, by_year: dict[int, list[PostSummary]], plan: _Plan
    ) -> tuple[list[SiteFile], set[str]]:
        """``/archive/`` (every year and month with its count) and ``/archive/<year>/``
        (that year's posts by month) for the years this batch touched."""
        months: list[tuple[int, list[tuple[int, int]]]] = []
        for year in sorted(by_year, reverse=True):
            counts: dict[int, int] = defaultdict(int)
            for member in by_year[year]:
                counts[member.date.month] += 1
            months.append((year, sorted(counts.items(), reverse=True)))
        files = [page_file("archive/index.html", self.theme.render_archive_index(months))]
        obsolete: set[str] = set()
        for year in sorted(plan.years):
            key = f"archive/{year}/index.html"
            members = by_year.get(year)
            if not members:
                obsolete.add(key)
                continue
            grouped: dict[int, list[PostSummary]] = defaultdict(list)
            for member in members:  # newest first
                grouped[member.date.month].append(member)
            files.append(
                page_file(
                    key,
                    self.theme.render_archive_year(year, sorted(grouped.items(), reverse=True)),
                )
            )
        return files, obsolete

    def _static_files(self) -> list[SiteFile]:
        files = [
            page_file("robots.txt", self.theme.render_robots(), FEED_CACHE),
            page_file("404.html", self.theme.render_not_found()),
            page_file("search/index.html", self.theme.render_search()),
        ]
        for key, (body, content_type) in self.theme.static_files().items():
            files.append(SiteFile(key, body, content_type, ASSET_CACHE))
        return files


def _sitemap_index(timeline: Sequence[PostSummary]) -> list[tuple[str, datetime | None]]:
    by_year: dict[int, datetime] = {}
    for member in timeline:
        stamp = member.lastmod or member.date
        if member.date.year not in by_year or stamp > by_year[member.date.year]:
            by_year[member.date.year] = stamp
    return [("/sitemaps/lists.xml", None), ("/sitemaps/pages.xml", None)] + [
        (f"/sitemaps/posts-{year}.xml", stamp) for year, stamp in sorted(by_year.items())
    ]


def _refresh_only(plan: _Plan) -> bool:
    """Only existing post pages to render again: no list, page, asset or post changed."""
    return bool(plan.refresh) and not (
        plan.lists
        or plan.delete_keys
        or plan.assets_changed
        or plan.fresh_posts
        or plan.pages_changed
        or plan.all_pages
        or plan.fresh_pages
        or plan.extra_files
        or plan.years
    )


def _stale(change: Change, record: SourceRecord | None) -> bool:
    """An event older than the one already applied to this key."""
    return bool(
        change.sequencer
        and record is not None
        and record.sequencer
        and change.sequencer != record.sequencer
        and not sequencer_newer(change.sequencer, record.sequencer)
    )


def _bucket_count(count: int, per_page: int) -> int:
    """Archive pages hold fixed buckets counted from the oldest post.

    ``/page1/`` is the oldest ``per_page`` posts and never changes when a new post
    arrives, so a publish rewrites the front page and the newest bucket only, not
    every page of the archive as newest-first pagination would.
    Buckets whose posts all show on the front page are not written.
    """
    if count <= per_page:
        return 0
    return math.ceil((count - per_page) / per_page)


def _listing_changed(old: Post, new: Post) -> bool:
    return old.summary() != new.summary() or old.terms != new.terms


def _term_json(term: Term, members: Sequence[PostSummary]) -> str:
    return _json(
        {
            "name": term.name,
            "slug": term.slug,
            "url": term.url,
            "count": len(members),
            "posts": [
                {"title": m.title, "url": m.url, "date": m.date.isoformat(), "excerpt": m.excerpt}
                for m in members
            ],
        }
    )


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


def _latest_per_key(changes: Iterable[Change]) -> list[Change]:
    """One change per key: the state is read from S3 anyway, so the newest event wins."""
    latest: dict[str, Change] = {}
    for change in changes:
        current = latest.get(change.key)
        if current is None or (
            change.sequencer
            and current.sequencer
            and sequencer_newer(change.sequencer, current.sequencer)
        ):
            latest[change.key] = change
    return list(latest.values())


def _tokens_for(change: Change, changes: Sequence[Change]) -> list[str]:
    return sorted({c.token for c in changes if c.key == change.key and c.token})


def classify_safe(key: str) -> str | None:
    try:
        return classify_key(key).kind
    except KeyRejected:
        return None
