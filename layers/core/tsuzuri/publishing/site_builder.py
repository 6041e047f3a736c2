"""Phase 2 of a batch: render, write and invalidate the pages that phase 1 changed.

Every page that shows a changed post is rendered from the table: the post and its
neighbours, the affected pages of each list, JSON, feed and sitemaps. Reads are by
position (:mod:`tsuzuri.aws.lists`): a publish reads the pages it renders, not the
lists they come from, so its work does not grow with the site. A batch that renders
most of a list (a theme change, a bulk load) reads that list once instead.

Only objects whose bytes differ from the manifest (:mod:`tsuzuri.aws.manifest`) are
written, concurrently. The list versions read before rendering are read again
afterwards; if another render moved them, the pages are rendered again, so
concurrent renders never leave a stale list behind.

The changed paths are recorded in an outbox before the site is written and
invalidated in one CloudFront request, so a crash between the two is repaired by the
next batch.
"""

from __future__ import annotations

import hashlib
import json
import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from tsuzuri.aws.buckets import ASSET_CACHE, FEED_CACHE, SiteBucket, SiteFile, page_file
from tsuzuri.aws.cdn import Invalidator, caller_reference, collapse_paths, paths_for_keys
from tsuzuri.aws.lists import ALL, ListCounter, ListIndex, YearSummary
from tsuzuri.aws.manifest import ObjectManifest, digest
from tsuzuri.aws.store import PostStore, StoredPost
from tsuzuri.domain.model import PageEntry, PostSummary, Term, page_key
from tsuzuri.errors import TransientError
from tsuzuri.publishing.indexer import Outcome, RenderingContext, RenderPlan
from tsuzuri.rendering.search_index import (
    MANIFEST_PATH,
    SHARD_PATH,
    Shard,
    build_manifest,
    build_shard,
)

RENDER_ATTEMPTS = 5
# From this many post pages on, their neighbours are worth trying in one read.
NEIGHBOUR_READERS = 16
SPAN_READ_FROM = 5


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
class Rendered:
    """The pages of a round that depend on positions: buckets per list, post pages."""

    buckets: dict[str, set[int]] = field(default_factory=dict)
    posts: set[str] = field(default_factory=set)

    def merge(self, other: Rendered) -> None:
        for list_id, numbers in other.buckets.items():
            self.buckets.setdefault(list_id, set()).update(numbers)
        self.posts |= other.posts


class ListView:
    """The members of one list that a render asked for, by ascending position.

    Reads happen on demand and each position is read once: the newest end in one
    query (on first use, so a batch of pages or assets reads nothing), anything older
    from the month its first position falls in. ``whole`` reads the list in one go
    instead, for a render that shows most of it.
    """

    def __init__(self, lists: ListIndex, counter: ListCounter, *, whole: bool, window: int):
        self.lists = lists
        self.counter = counter
        self.count = counter.count
        self._by_rank: dict[int, PostSummary] = {}
        self._run: tuple[int, list[str]] | None = None
        self._first_read: int | None = None if whole else min(self.count, window)
        if whole:
            self._keep(0, lists.every(counter.list_id)[::-1])

    def _read_window(self) -> None:
        if self._first_read:
            newest = self.lists.newest(self.counter.list_id, self._first_read)
            self._keep(self.count - len(newest), newest[::-1])
        self._first_read = None

    def _keep(self, lo: int, ascending: Sequence[PostSummary]) -> None:
        for offset, member in enumerate(ascending):
            self._by_rank[lo + offset] = member
        self._run = None  # recomputed on the next rank_of

    def _contiguous_run(self) -> tuple[int, list[str]] | None:
        """(first rank, sort keys) of what was read, when it is one unbroken run."""
        if self._run is None and self._by_rank:
            ranks = sorted(self._by_rank)
            if ranks[-1] - ranks[0] + 1 == len(ranks):
                self._run = (ranks[0], [self._by_rank[r].sort_key for r in ranks])
        return self._run

    def slice(self, lo: int, hi: int) -> list[PostSummary]:
        """Members at positions ``lo`` to ``hi - 1`` (clipped to the list), oldest first."""
        self._read_window()
        lo, hi = max(0, lo), min(hi, self.count)
        missing = [r for r in range(lo, hi) if r not in self._by_rank]
        if missing:
            self._keep(missing[0], self.lists.ranks(self.counter, missing[0], missing[-1] + 1))
        return [self._by_rank[r] for r in range(lo, hi) if r in self._by_rank]

    def newest(self, count: int) -> list[PostSummary]:
        return self.slice(self.count - count, self.count)[::-1]

    def rank_of(self, sort_key: str) -> int:
        """Where ``sort_key`` is (or would be inserted) among the members."""
        self._read_window()
        run = self._contiguous_run()
        if run is not None:
            first_rank, keys = run
            if sort_key >= keys[0] or first_rank == 0:
                return first_rank + bisect_left(keys, sort_key)
        return self.lists.rank_of(self.counter, sort_key)


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteBuilder:
    """Phase 2 for one rendering context, on the publisher's thread.

    Why the context is fixed: every page of a render then shows the same config and
    theme, even when another batch of this publisher accepts a settings change meanwhile.
    """

    context: RenderingContext
    store: PostStore
    output: SiteBucket
    invalidator: Invalidator
    clock: Callable[[], datetime]

    @property
    def manifest(self) -> ObjectManifest:
        return self.store.manifest

    def render(self, plan: RenderPlan, result: BatchResult) -> None:
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
            self._render_refreshed(set(plan.refresh), result, rewrite=plan.rewrite)
            return
        if plan.assets_changed:
            # Copied by phase 1: known to the manifest so that a later delete reaches them.
            self.manifest.record_listing((key, "copied") for key in sorted(plan.assets_changed))
        # Pages and assets alone show no list: nothing to watch, no counters to read.
        shows_lists = bool(plan.lists or plan.anchors or plan.refresh)
        watched = set(plan.lists) | ({ALL} if shows_lists else set())
        written: set[str] = set(plan.assets_changed)
        deleted: set[str] = set()
        mine: dict[str, str] = {}
        again = Rendered()
        for _attempt in range(RENDER_ATTEMPTS):
            counters = self.store.lists.counters(watched)
            before = {list_id: c.version for list_id, c in counters.items()}
            rendered = Rendered()
            files, obsolete = self._build(plan, counters, again, rendered)
            if self.store.lists.versions(watched) != before:
                continue  # a publish landed while the lists were read: read them again
            changed = self._to_write(files, mine, rewrite=plan.rewrite)
            doomed = self.manifest.present(obsolete - {f.key for f in files})
            self._write(changed, doomed, written, result)
            written |= {f.key for f in changed}
            deleted |= set(doomed)
            if self.store.lists.versions(watched) == before:
                break
            # What this round wrote may be stale: the next round renders it again too.
            again.merge(rendered)
        else:
            raise TransientError("pages kept changing under concurrent renders; will retry")
        result.written = sorted(written)
        result.deleted = sorted(deleted)

    def _to_write(
        self, files: Sequence[SiteFile], mine: dict[str, str], *, rewrite: bool
    ) -> list[SiteFile]:
        """What to write of ``files``: what the manifest does not already hold, and what
        this render wrote itself in an earlier round with other bytes.

        Why the second part: two renders of one page can interleave their PUTs and
        manifest entries (A writes, B writes, B records, A records), leaving the
        manifest naming bytes the bucket does not hold. The render that wrote stale
        bytes always sees its versions move and renders again, and then writes its
        page whatever the manifest says, so the last bytes written are current.
        """
        chosen = {f.key: f for f in (files if rewrite else self.manifest.changed(files))}
        for file in files:
            if file.key in mine and mine[file.key] != digest(file):
                chosen[file.key] = file
        for file in chosen.values():
            mine[file.key] = digest(file)
        return list(chosen.values())

    def flush_outbox(self, result: BatchResult) -> None:
        if not self.invalidator.enabled:
            return
        for reference, paths in self.store.pending_outbox():
            self._invalidate(reference, paths, result)

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
        if changed or doomed:
            self.manifest.record(changed, doomed)
        if reference:
            self._invalidate(reference, paths_for_keys(keys), result)

    def _render_refreshed(
        self, urls: set[str], result: BatchResult, *, rewrite: bool = False
    ) -> None:
        """Re-render post pages whose inputs changed elsewhere (their related lists).

        Watching the ``all`` version, as list renders do, never settles under a steady
        stream of publishes: every publish moves it. A post page depends only on its
        post, its related list and its two neighbours, so after writing, those are read
        again and only the pages whose inputs moved are rendered once more. Whichever
        render writes last has checked that what it wrote was current.

        Every change of a timeline membership moves the ``all`` version in the same
        transaction, so when the version read before the neighbours is still the
        version after the writes, no neighbour moved: the check then reads the posts and
        their lists only (one batch read instead of two queries a page).
        """
        written: set[str] = set()
        version = self.store.lists.versions([ALL])[ALL]
        shown = self._post_page_inputs(sorted(urls))
        mine: dict[str, str] = {}
        for _attempt in range(RENDER_ATTEMPTS):
            files = [self._post_page(url, inputs) for url, inputs in shown.items() if inputs]
            changed = self._to_write(files, mine, rewrite=rewrite)
            rewrite = False  # a second round writes what moved meanwhile only
            self._write(changed, [], set(), result)
            written |= {f.key for f in changed}
            # The check's read is the next attempt's input: each page is read once a round.
            rendered = {url: inputs for url, inputs in shown.items() if inputs}
            version, before = self.store.lists.versions([ALL])[ALL], version
            if version == before:
                current = self._same_neighbours(rendered)
            else:
                current = self._post_page_inputs(list(rendered))
            shown = {url: now for url, now in current.items() if now != shown[url]}
            if not shown:
                break
        else:
            raise TransientError("post pages kept changing under concurrent renders; will retry")
        result.written = sorted(written)

    def _same_neighbours(
        self, rendered: Mapping[str, _PageInputs]
    ) -> dict[str, _PageInputs | None]:
        """The pages' inputs now, when no timeline membership moved since they were read:
        the posts and their related lists read again, the neighbours kept."""
        stored = self.store.get_posts(list(rendered))
        return {
            url: (stored[url], previous, following) if url in stored else None
            for url, (_post, previous, following) in rendered.items()
        }

    def _post_page_inputs(self, urls: Sequence[str]) -> dict[str, _PageInputs | None]:
        """What each post page shows: the stored post, its related list and neighbours;
        None when the post is gone or off the timeline (its page is not rendered).

        Neighbours come from one read of the timeline between the oldest and newest of
        the posts when they lie close together (a rebuild's chunk is consecutive
        posts), else from two small queries a post (the related function's pages lie
        anywhere)."""
        stored = self.store.get_posts(urls)
        keys = sorted(p.post.sort_key for p in stored.values())
        span = None
        if len(keys) >= SPAN_READ_FROM:
            span = self.store.lists.span(ALL, keys[0], keys[-1], 3 * len(keys))
        arounds: dict[str, list[PostSummary]] = {}
        if span is None and stored:
            # Independent small reads: at the same time, as the page writes are.
            wanted = [url for url in urls if url in stored]
            with ThreadPoolExecutor(min(NEIGHBOUR_READERS, len(wanted))) as pool:
                found = pool.map(
                    lambda url: self.store.lists.around(ALL, stored[url].post.sort_key, 1, 2),
                    wanted,
                )
                arounds = dict(zip(wanted, found, strict=True))
        inputs: dict[str, _PageInputs | None] = {}
        for url in urls:
            post = stored.get(url)
            if post is None:
                inputs[url] = None
                continue
            key = post.post.sort_key
            around = span if span is not None else arounds[url]
            i = bisect_left([m.sort_key for m in around], key) if span is not None else None
            if i is None:
                here = [n for n, m in enumerate(around) if m.sort_key == key]
                i = here[0] if here else None
            if i is None or i >= len(around) or around[i].sort_key != key:
                inputs[url] = None
                continue
            inputs[url] = (
                post,
                around[i - 1] if i > 0 else None,
                around[i + 1] if i + 1 < len(around) else None,
            )
        return inputs

    def _post_page(self, url: str, inputs: _PageInputs) -> SiteFile:
        stored, previous, following = inputs
        html = self.context.theme.render_post(
            stored.post, previous=previous, next=following, related=stored.related
        )
        return page_file(page_key(url), html)

    def _invalidate(self, reference: str, paths: list[str], result: BatchResult) -> None:
        result.invalidation_id = self.invalidator.invalidate(paths, reference)
        result.invalidated = sorted(set(result.invalidated) | set(paths))
        self.store.clear_outbox(reference)

    # -- one render of everything the plan touched ---------------------------------
    def _build(
        self,
        plan: RenderPlan,
        counters: Mapping[str, ListCounter],
        again: Rendered,
        rendered: Rendered,
    ) -> tuple[list[SiteFile], set[str]]:
        """Every file the plan changes, read as of the counters' versions. ``again``
        names the buckets and post pages an earlier round wrote, rendered (or deleted)
        again whatever this round would choose; ``rendered`` collects this round's."""
        files: list[SiteFile] = list(plan.extra_files)
        obsolete: set[str] = set(plan.delete_keys)
        per_page = self.context.site.paginate
        window = max(2 * per_page, self.context.site.feed_size) + 2
        views: dict[str, ListView] = {}
        for list_id in sorted(set(plan.lists) | {ALL}):
            counter = counters.get(list_id, ListCounter(list_id))
            whole = plan.all_pages or _renders_most(list_id, counter, plan, per_page)
            views[list_id] = ListView(self.store.lists, counter, whole=whole, window=window)
        for list_id, name in sorted(plan.lists.items()):
            pages, gone = self._list_pages(list_id, name, views[list_id], plan, again, rendered)
            files += pages
            obsolete |= gone
        post_pages, gone = self._post_pages(views[ALL], plan, again, rendered)
        files += post_pages
        obsolete |= gone
        # The page index, read once for both of its uses.
        page_index = self.store.list_pages() if plan.pages_changed or plan.all_pages else []
        files += self._static_pages(plan, page_index)
        if plan.lists:
            feeds, gone = self._feeds_and_periods(views[ALL], counters[ALL], plan)
            files += feeds
            obsolete |= gone
            if plan.all_pages or counters[ALL].count == plan.added.get(ALL, 0):
                files += self._static_files()  # first post, or a new theme or config
        if plan.pages_changed or plan.all_pages:
            files += self._pages_sitemap(page_index)
            if not plan.lists:
                files += self._sitemap_index(self.store.lists.years())
        return files, obsolete

    def _static_pages(self, plan: RenderPlan, page_index: Sequence[PageEntry]) -> list[SiteFile]:
        pages = dict(plan.fresh_pages)
        if plan.all_pages:
            pages = self.store.get_pages([e.url for e in page_index if e.url not in pages]) | pages
        return [
            page_file(page_key(url), self.context.theme.render_page(page))
            for url, page in sorted(pages.items())
        ]

    def _pages_sitemap(self, page_index: Sequence[PageEntry]) -> list[SiteFile]:
        """``sitemaps/pages.xml``: the static pages."""
        entries = [(p.url, p.lastmod) for p in page_index if p.in_sitemap]
        return [
            page_file("sitemaps/pages.xml", self.context.theme.render_sitemap(entries), FEED_CACHE)
        ]

    def _sitemap_index(self, years: Sequence[YearSummary]) -> list[SiteFile]:
        entries: list[tuple[str, datetime | None]] = [
            ("/sitemaps/lists.xml", None),
            ("/sitemaps/pages.xml", None),
        ]
        entries += [(f"/sitemaps/posts-{y.year}.xml", y.lastmod) for y in years]
        return [
            page_file("sitemap.xml", self.context.theme.render_sitemap_index(entries), FEED_CACHE)
        ]

    def _list_pages(
        self,
        list_id: str,
        name: str,
        view: ListView,
        plan: RenderPlan,
        again: Rendered,
        rendered: Rendered,
    ) -> tuple[list[SiteFile], set[str]]:
        kind, _, slug = list_id.partition("/")
        base = "/" if list_id == ALL else ("/tags/" if kind == "tag" else "/category/") + slug + "/"
        per_page = self.context.site.paginate
        count = view.count
        old_count = count - plan.added.get(list_id, 0) + plan.removed.get(list_id, 0)
        new_buckets, old_buckets = (
            _bucket_count(count, per_page),
            _bucket_count(old_count, per_page),
        )
        is_tag = kind == "tag"
        obsolete: set[str] = set()
        if count == 0 and list_id != ALL:
            obsolete.add(page_key(base))
            obsolete.add(_json_key(base))
            for b in range(1, old_buckets + 1):
                obsolete.add(page_key(f"{base}page{b}/"))
                obsolete.add(_json_key(f"{base}page{b}/"))
            return [], obsolete
        term = None if list_id == ALL else Term("tag" if is_tag else "category", name, slug)
        title = self.context.site.title if term is None else name

        def bucket_url(number: int) -> str:
            return f"{base}page{number}/"

        front = view.newest(per_page)
        older_from_front = bucket_url(new_buckets) if new_buckets else None
        pages = [
            page_file(
                page_key(base),
                self.context.theme.render_list(
                    title=title, url=base, posts=front, term=term,
                    older_url=older_from_front,
                    description=self.context.site.description if term is None else None,
                ),
            )
        ]  # fmt: skip
        if term is not None and is_tag:
            older_json = _json_key(bucket_url(new_buckets)) if new_buckets else None
            pages.append(
                page_file(
                    _json_key(base),
                    _term_json(term, count, front, older=older_json and "/" + older_json),
                    FEED_CACHE,
                )
            )
        numbers = self._buckets_to_render(view, plan, list_id, old_buckets)
        numbers |= again.buckets.get(list_id, set())
        rendered.buckets.setdefault(list_id, set()).update(numbers)
        for number in sorted(numbers):
            if number > new_buckets:
                obsolete.add(page_key(bucket_url(number)))
                obsolete.add(_json_key(bucket_url(number)))
                continue
            chunk = view.slice((number - 1) * per_page, number * per_page)[::-1]
            newer = bucket_url(number + 1) if number < new_buckets else base
            older = bucket_url(number - 1) if number > 1 else None
            pages.append(
                page_file(
                    page_key(bucket_url(number)),
                    self.context.theme.render_list(
                        title=f"{title} ({number})", url=bucket_url(number), posts=chunk,
                        term=term, newer_url=newer, older_url=older,
                    ),
                )
            )  # fmt: skip
            if term is not None and is_tag:
                pages.append(
                    page_file(
                        _json_key(bucket_url(number)),
                        _term_json(
                            term, count, chunk,
                            newer="/" + _json_key(newer) if number < new_buckets else None,
                            older="/" + _json_key(older) if older else None,
                        ),
                        FEED_CACHE,
                    )
                )  # fmt: skip
        for b in range(new_buckets + 1, old_buckets + 1):
            obsolete.add(page_key(bucket_url(b)))
            obsolete.add(_json_key(bucket_url(b)))
        return pages, obsolete

    def _buckets_to_render(
        self, view: ListView, plan: RenderPlan, list_id: str, old_buckets: int
    ) -> set[int]:
        """Archive buckets are counted from the oldest post, so a new post changes the
        newest one or two. A post added or removed further back shifts every bucket
        after it; an edit in place changes its own bucket only."""
        per_page = self.context.site.paginate
        new_buckets = _bucket_count(view.count, per_page)
        if not new_buckets:
            return set()
        if plan.all_pages:
            return set(range(1, new_buckets + 1))
        anchors = plan.anchors.get(list_id)
        if not anchors:
            return set()
        ranks = [view.rank_of(k) for k in anchors]
        anchored = {min(r // per_page + 1, new_buckets) for r in ranks}
        shifted = plan.added.get(list_id, 0) or plan.removed.get(list_id, 0)
        if not shifted:
            return anchored
        first = max(1, min(min(ranks) // per_page + 1, max(old_buckets, 1), new_buckets))
        return set(range(first, new_buckets + 1))

    def _post_pages(
        self, timeline: ListView, plan: RenderPlan, again: Rendered, rendered: Rendered
    ) -> tuple[list[SiteFile], set[str]]:
        """The pages of the changed posts and of their neighbours, whose links moved."""
        wanted: dict[str, tuple[PostSummary | None, PostSummary | None]] = {}
        for anchor in sorted(plan.anchors.get(ALL, ())):
            rank = timeline.rank_of(anchor)
            first = max(0, rank - 2)
            around = timeline.slice(first, rank + 3)
            for i, member in enumerate(around):
                if abs(first + i - rank) <= 1:
                    wanted[member.url] = (
                        around[i - 1] if i > 0 else None,
                        around[i + 1] if i + 1 < len(around) else None,
                    )
        files: list[SiteFile] = []
        obsolete: set[str] = set()
        elsewhere = sorted((set(plan.refresh) | again.posts) - set(wanted))
        rendered.posts.update(wanted, elsewhere)
        if elsewhere:
            for url, inputs in self._post_page_inputs(elsewhere).items():
                if inputs is not None:
                    files.append(self._post_page(url, inputs))
                elif url in again.posts:
                    obsolete.add(page_key(url))  # written by an earlier round, gone since
        stored = self.store.get_posts(sorted(wanted))
        for url, (previous, following) in sorted(wanted.items()):
            kept = stored.get(url)
            if kept is None:
                continue
            post = plan.fresh_posts.get(url, kept.post)
            html = self.context.theme.render_post(
                post, previous=previous, next=following, related=kept.related
            )
            files.append(page_file(page_key(url), html))
        return files, obsolete

    def _feeds_and_periods(
        self, timeline: ListView, counter: ListCounter, plan: RenderPlan
    ) -> tuple[list[SiteFile], set[str]]:
        """The feed, the changed months' sitemaps, search shards and archive pages, and
        the indexes over them: read from the months and years, never the timeline."""
        now = self.clock()
        latest = timeline.newest(self.context.site.feed_size)
        updated = max((p.lastmod or p.date for p in latest), default=now)
        files = [
            page_file(
                "feed.xml", self.context.theme.render_feed(latest, updated=updated), FEED_CACHE
            )
        ]
        obsolete: set[str] = set()
        months = set(plan.months)
        if plan.all_pages:
            months |= set(counter.archive_months)
        for month in sorted(months):
            self.store.lists.put_month(month, self.store.lists.local_month(month), counter.version)
        for year in sorted({int(m[:4]) for m in months}):
            year_files, gone = self._year(year, counter.version)
            files += year_files
            obsolete |= gone
        years = self.store.lists.years()
        files += self._sitemap_index(years)
        files.append(
            page_file(
                MANIFEST_PATH,
                build_manifest((y.year, y.searchable, y.shard_version) for y in years),
                FEED_CACHE,
            )
        )
        by_month: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for month, n in sorted(counter.archive_months.items(), reverse=True):
            by_month[int(month[:4])].append((int(month[5:7]), n))
        files.append(
            page_file(
                "archive/index.html",
                self.context.theme.render_archive_index(sorted(by_month.items(), reverse=True)),
            )
        )
        files += self._term_indexes(timeline, sorted(by_month))
        return files, obsolete

    def _year(self, year: int, version: int) -> tuple[list[SiteFile], set[str]]:
        """A year's sitemap, search shard and archive page, from its months (12 items)."""
        members = sorted(
            (m for cards in self.store.lists.year_months(year).values() for m in cards),
            key=lambda m: m.sort_key,
            reverse=True,
        )
        sitemap_key = f"sitemaps/posts-{year}.xml"
        shard_key = SHARD_PATH.format(year=year)
        archive_key = f"archive/{year}/index.html"
        if not members:
            self.store.lists.put_year(YearSummary(year, 0, 0, None, ""), version)
            return [], {sitemap_key, shard_key, archive_key}
        entries = [(m.url, m.lastmod or m.date) for m in members if m.in_sitemap]
        summary, shard = summarise_year(year, members)
        grouped: dict[int, list[PostSummary]] = defaultdict(list)
        for member in members:  # newest first
            grouped[member.date.month].append(member)
        self.store.lists.put_year(summary, version)
        theme = self.context.theme
        return [
            page_file(sitemap_key, theme.render_sitemap(entries), FEED_CACHE),
            page_file(shard_key, shard.body, FEED_CACHE),
            page_file(
                archive_key, theme.render_archive_year(year, sorted(grouped.items(), reverse=True))
            ),
        ], set()

    def _term_indexes(self, timeline: ListView, years: Sequence[int]) -> list[SiteFile]:
        """``/tags/``, ``tags/index.json`` and ``sitemaps/lists.xml``: from the one item
        that counts every tag and category."""
        terms = sorted(self.store.lists.terms().items())
        newest = timeline.newest(1)
        list_entries: list[tuple[str, datetime | None]] = [
            ("/", newest[0].date if newest else None)
        ]
        for list_id, _ in terms:
            kind, _, slug = list_id.partition("/")
            list_entries.append(
                ((f"/tags/{slug}/" if kind == "tag" else f"/category/{slug}/"), None)
            )
        list_entries += [("/archive/", None)]
        list_entries += [(f"/archive/{year}/", None) for year in years]
        tags = [
            {"name": name, "slug": list_id[4:], "url": f"/tags/{list_id[4:]}/", "count": count}
            for list_id, (name, count) in terms
            if list_id.startswith("tag/")
        ]
        tag_terms = [
            (Term("tag", str(t["name"]), str(t["slug"])), int(str(t["count"]))) for t in tags
        ]
        tags.sort(key=lambda t: (-int(str(t["count"])), str(t["slug"])))
        theme = self.context.theme
        return [
            page_file("sitemaps/lists.xml", theme.render_sitemap(list_entries), FEED_CACHE),
            page_file("tags/index.json", _json({"tags": tags}), FEED_CACHE),
            page_file(
                "tags/index.html",
                theme.render_term_index(url="/tags/", terms=tag_terms),
            ),
        ]

    def _static_files(self) -> list[SiteFile]:
        files = [
            page_file("robots.txt", self.context.theme.render_robots(), FEED_CACHE),
            page_file("404.html", self.context.theme.render_not_found()),
            page_file("search/index.html", self.context.theme.render_search()),
        ]
        for key, (body, content_type) in self.context.theme.static_files().items():
            files.append(SiteFile(key, body, content_type, ASSET_CACHE))
        return files


def summarise_year(year: int, members: Sequence[PostSummary]) -> tuple[YearSummary, Shard]:
    """A year's summary item and search shard, from its posts newest first."""
    shard = build_shard(year, members)
    stamp = max((m.lastmod or m.date for m in members), default=None)
    return YearSummary(year, len(members), shard.count, stamp, shard.version), shard


def _renders_most(list_id: str, counter: ListCounter, plan: RenderPlan, per_page: int) -> bool:
    """Whether reading the whole list beats reading it by position: when the batch's
    anchors would touch most of its buckets anyway (a bulk load)."""
    anchors = len(plan.anchors.get(list_id, ()))
    return counter.count > 0 and anchors * per_page * 2 >= counter.count


def _refresh_only(plan: RenderPlan) -> bool:
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
        or plan.months
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


def _json_key(url: str) -> str:
    return url.lstrip("/") + "index.json"


def _term_json(
    term: Term,
    count: int,
    members: Sequence[PostSummary],
    *,
    newer: str | None = None,
    older: str | None = None,
) -> str:
    """A tag's posts as JSON, one file per page of the tag: ``posts`` is this page's,
    ``older``/``newer`` link the next files, so no file grows with the tag."""
    data: dict[str, object] = {
        "name": term.name,
        "slug": term.slug,
        "url": term.url,
        "count": count,
        "posts": [
            {"title": m.title, "url": m.url, "date": m.date.isoformat(), "excerpt": m.excerpt}
            for m in members
        ],
    }
    if newer:
        data["newer"] = newer
    if older:
        data["older"] = older
    return _json(data)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"
