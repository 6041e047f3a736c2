"""Apply source-bucket changes to the site: the heart of tsuzuri.

A batch of changes is handled in two phases:

1. **Index** (:mod:`tsuzuri.publishing.indexer`). Each change reconciles one source key
   with the table; bad input is rejected here, before anything public changes.
2. **Pages** (:mod:`tsuzuri.publishing.site_builder`). Every page that shows a changed
   post is rendered from the table, written when its bytes differ, and invalidated.

The :class:`Publisher` holds what outlives a batch (the clients, the rendering context)
and runs the two phases in turn.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tsuzuri.aws.buckets import SiteBucket, SourceBucket
from tsuzuri.aws.cdn import Invalidator
from tsuzuri.aws.lists import ALL
from tsuzuri.aws.store import PostStore, SourceRecord, sequencer_newer
from tsuzuri.domain.keys import classify_key
from tsuzuri.domain.model import Post
from tsuzuri.domain.site_config import RecordedFingerprint, SiteConfig
from tsuzuri.errors import KeyRejected
from tsuzuri.publishing.indexer import (
    Change,
    Indexer,
    Outcome,
    RenderingContext,
    RenderPlan,
    Status,
)
from tsuzuri.publishing.site_builder import BatchResult, SiteBuilder

if TYPE_CHECKING:
    from tsuzuri.rendering.theme import Theme

__all__ = ["BatchResult", "Change", "Outcome", "Publisher", "Status", "classify_safe"]

# Kinds of source file that change the rendering context rather than the index.
SETTINGS_KINDS = frozenset({"config", "theme"})
# Reports written at once, as many as the site bucket's page writers.
REPORT_WORKERS = 16


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
        site_overrides: Mapping[str, str] | None = None,
        theme_overrides: Mapping[str, str] | None = None,
    ):
        self.store = store
        self.source = source
        self.output = output
        self.invalidator = invalidator
        self.clock = clock
        self.workers = workers
        # TSUZURI_SITE_* (Settings.site_overrides): re-applied to every accepted _config.yml.
        self.site_overrides: Mapping[str, str] = site_overrides or {}
        # The accepted theme/ overrides are the table's copy, read at cold start.
        self._context = RenderingContext(site, theme_overrides or {}, built_theme=theme)

    @property
    def site(self) -> SiteConfig:
        return self._context.site

    @property
    def theme(self) -> Theme:
        return self._context.theme

    @theme.setter
    def theme(self, value: Theme) -> None:
        context = self._context
        self._context = RenderingContext(context.site, context.theme_overrides, built_theme=value)

    @property
    def theme_overrides(self) -> dict[str, str]:
        return dict(self._context.theme_overrides)

    @property
    def theme_fingerprint(self) -> str:
        return self._context.theme_fingerprint

    def settings_are_current(self) -> bool:
        """Whether this instance renders with the ``_config.yml`` and ``theme/`` set the
        table records as accepted. Another instance may have accepted newer ones; a
        handler that finds this false builds its publisher again (one small read)."""
        config, theme = self.store.site_fingerprints()
        context = self._context
        if config is not None and config.full != context.site.fingerprint():
            return False
        return theme is None or theme == context.theme_fingerprint

    def process(self, changes: Sequence[Change]) -> BatchResult:
        result = BatchResult()
        self._site_builder().flush_outbox(result)
        plan = RenderPlan()
        latest = _latest_per_key(changes)
        applied: list[tuple[Change, Outcome]] = []
        for change, (outcome, change_plan) in zip(latest, self._index(latest), strict=True):
            plan.merge(change_plan)
            applied.append((change, outcome))
        self._promote(plan, applied, changes, result)

        started = time.perf_counter()
        self._site_builder().render(plan, result)
        render_ms = (time.perf_counter() - started) * 1000
        reports: list[Outcome] = []
        for change, outcome in applied:
            if outcome.status in {"published", "unpublished", "hidden", "unchanged", "asset"}:
                outcome.ms += render_ms
            if outcome.status == "failed":
                result.failed_tokens.extend(t for t in _tokens_for(change, changes))
            elif outcome.status != "stale" and classify_safe(change.key) != "asset":
                reports.append(outcome)
            result.outcomes.append(outcome)
        # One PUT each, independent of each other: at the same time, as the pages are.
        with ThreadPoolExecutor(max(1, min(REPORT_WORKERS, len(reports)))) as pool:
            list(pool.map(self._report, reports))
        return result

    def _promote(
        self,
        plan: RenderPlan,
        applied: list[tuple[Change, Outcome]],
        changes: Sequence[Change],
        result: BatchResult,
    ) -> None:
        """A URL claim is a queue, not a lock: for each post URL the batch left, the
        oldest file waiting for it is published in this batch (a rename that keeps the
        URL, a refused twin whose owner went away). A waiting file that no longer maps
        there leaves the line, and the next one is tried."""
        by_key = {change.key: change for change in changes}
        freed = dict(plan.freed)
        while freed:
            url, left_by = freed.popitem()
            for key in self.store.claims(url):
                owner = self.store.get_post_owner(url)
                if owner == key:  # it got there on its own (an event redelivered)
                    self.store.remove_claim(url, key)
                    continue
                if owner is not None:
                    break  # taken again in the meantime: the line waits for it
                outcome, promoted = self._indexer().index(Change(key=key, removed=False))
                if outcome.status == "failed":
                    # The claim stays: the event that freed the URL is retried, and so is this.
                    leaver = by_key.get(left_by)
                    if leaver is not None:
                        result.failed_tokens.extend(_tokens_for(leaver, changes))
                    break
                if outcome.code == "url-collision":
                    break  # it wants a URL that is taken: it waits in that line
                self.store.remove_claim(url, key)
                plan.merge(promoted)
                freed.update(promoted.freed)
                if outcome.status in {"published", "unchanged"} and outcome.url == url:
                    outcome.notes += (
                        f"published at {url}: {left_by} left it, and this file had the "
                        "oldest claim waiting for it",
                    )
                    applied.append((Change(key=key, removed=False), outcome))
                    break
                applied.append((Change(key=key, removed=False), outcome))

    def _index(self, latest: Sequence[Change]) -> list[tuple[Outcome, RenderPlan]]:
        """Phase 1, in batch order: a ``_config.yml`` or ``theme/`` change is applied here,
        on this thread, once the changes before it are indexed, and its context is
        installed before the changes after it start.

        Why here and not in the pool: such a change replaces the context the other
        changes read. Applied between runs of the pool, no worker is running while the
        context is replaced, and each run reads one context, the one its indexer was
        made with. The calls are those of an order the pool could run them in anyway.
        """
        indexed: list[tuple[Outcome, RenderPlan]] = []
        run: list[Change] = []
        prefetched = self._prefetch(latest)
        terms = self.store.lists.terms() if prefetched else None  # once for many posts
        # Keys are independent in phase 1 (each list update is its own transaction),
        # so a batch is indexed in parallel; phase 2 then renders once for all of them.
        with ThreadPoolExecutor(max(1, min(self.workers, len(latest)))) as pool:
            for change in latest:
                if classify_safe(change.key) not in SETTINGS_KINDS:
                    run.append(change)
                    continue
                indexed += self._index_run(pool, run, self._indexer(prefetched, terms))
                run = []
                outcome, plan = self._indexer().index(change)
                self._context = plan.context or self._context
                if outcome.status == "rejected" and classify_safe(change.key) == "config":
                    self._record_defaults_in_use(change.key)
                indexed.append((outcome, plan))
            indexed += self._index_run(pool, run, self._indexer(prefetched, terms))
        return indexed

    @staticmethod
    def _index_run(
        pool: ThreadPoolExecutor, run: Sequence[Change], indexer: Indexer
    ) -> list[tuple[Outcome, RenderPlan]]:
        """Index a run of changes in parallel, except posts that map to one URL: those
        go one after another, in key order, so the first key takes the URL and the
        others wait in line behind it, whatever thread is quicker (a site-wide
        permalink change that makes two posts collide decides the same way every time).

        The posts are read and parsed first, in the pool, to learn their URLs.
        """
        if len(run) < 2:
            return list(pool.map(indexer.index, run))
        read = dict(zip((c.key for c in run), pool.map(indexer.read_post, run), strict=True))
        indexer = replace(indexer, read={k: v for k, v in read.items() if v is not None})
        by_url: dict[str, list[int]] = {}
        for position, change in enumerate(run):
            ahead = read[change.key]
            by_url.setdefault(ahead[1].url if ahead else f"key:{change.key}", []).append(position)
        groups = [sorted(g, key=lambda i: run[i].key) for g in by_url.values()]

        def index_group(group: list[int]) -> list[tuple[int, tuple[Outcome, RenderPlan]]]:
            return [(position, indexer.index(run[position])) for position in group]

        results: dict[int, tuple[Outcome, RenderPlan]] = {}
        for done in pool.map(index_group, groups):
            results.update(done)
        return [results[position] for position in range(len(run))]

    def _record_defaults_in_use(self, key: str) -> None:
        """A broken ``_config.yml`` arrived and none was ever accepted: the posts go on
        publishing with the defaults, so record the defaults as the accepted config.

        Why: an instance that starts later reads a config from the bucket only when the
        table records none. Once the file is fixed it would load the fixed one, compare
        it with itself, find it "unchanged", and never re-publish the posts that went
        out with the defaults' URLs. Recorded, the fix is a change like any other.
        """
        defaults = SiteConfig().with_env_overrides(self.site_overrides)
        if self.site.fingerprint() != defaults.fingerprint():
            return  # this instance renders with a valid file it loaded at cold start
        if self.store.get_site_config() is None:
            # An empty body is read back as the defaults (wiring.build_publisher).
            self.store.put_site_config(key, b"", RecordedFingerprint.of(self.site))

    def _prefetch(
        self, changes: Sequence[Change]
    ) -> dict[str, tuple[SourceRecord | None, Post | None]]:
        """The source records of a batch's posts and the posts they last published: two
        batch reads for the whole batch instead of two reads a post. A batch of one
        reads them on its own, as before."""
        keys: list[str] = []
        for change in changes:
            try:
                source = classify_key(change.key)
            except KeyRejected:
                continue
            if source.kind == "post":
                keys.append(source.key)
        if len(keys) < 2:
            return {}
        records = self.store.get_sources(keys)
        urls = sorted({r.url for r in records.values() if r.url})
        posts = self.store.get_posts_fields(urls) if urls else {}
        found: dict[str, tuple[SourceRecord | None, Post | None]] = {}
        for key in keys:
            record = records.get(key)
            found[key] = (record, posts.get(record.url) if record and record.url else None)
        return found

    def refresh_posts(
        self, urls: Iterable[str], *, lists: bool = False, rewrite: bool = False
    ) -> BatchResult:
        """Re-render the pages of these posts (e.g. after their related lists changed,
        or after a theme change), and with ``lists`` every list page, feed and sitemap.
        Bodies come from the table, so Markdown is not parsed again. Only changed bytes
        are written, and invalidated in one request; with ``rewrite`` every page is
        written whatever the manifest says (a rebuild repairs a damaged bucket)."""
        plan = RenderPlan(rewrite=rewrite)
        plan.refresh.update(urls)
        if lists:
            plan.lists[ALL] = self.site.title
            for list_id, (name, _count) in self.store.lists.terms().items():
                plan.lists[list_id] = name
            plan.all_pages = True
        result = BatchResult()
        builder = self._site_builder()
        builder.flush_outbox(result)
        builder.render(plan, result)
        return result

    def _report(self, outcome: Outcome) -> None:
        try:
            if outcome.waits_for and self.store.get_post_owner(outcome.waits_for) == outcome.key:
                # Promoted since it was refused, by the batch that freed the URL (another
                # invocation, in parallel): that batch reports it published. Read just
                # before the PUT, which that batch's render phase could not fit between.
                return
            self.source.put_report(outcome.key, outcome.report(self.clock()))
        except Exception:
            outcome.message = outcome.message or "report could not be written"

    # Made afresh for each phase: each takes the context (and the clock) as they are when
    # the phase starts, and keeps them to its end.
    def _indexer(
        self,
        prefetched: Mapping[str, tuple[SourceRecord | None, Post | None]] | None = None,
        terms: Mapping[str, tuple[str, int]] | None = None,
    ) -> Indexer:
        return Indexer(
            context=self._context, store=self.store, source=self.source, output=self.output,
            clock=self.clock, site_overrides=self.site_overrides, prefetched=prefetched or {},
            terms=terms,
        )  # fmt: skip

    def _site_builder(self) -> SiteBuilder:
        return SiteBuilder(
            context=self._context, store=self.store, output=self.output,
            invalidator=self.invalidator, clock=self.clock,
        )  # fmt: skip


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
