"""Phase 2 of a batch: render, write and invalidate the pages that phase 1 changed.

Every page that shows a changed post is rendered from the table: the post and its
neighbours, the affected pages of each list, JSON, feed and sitemaps. Only objects whose
bytes differ are written. The list versions read before rendering are read again
afterwards; if another render moved them, the pages are rendered again, so concurrent
renders never leave a stale list behind.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tsuzuri.aws.buckets import ASSET_CACHE, FEED_CACHE, SiteBucket, SiteFile, page_file
from tsuzuri.aws.cdn import Invalidator, caller_reference, collapse_paths, paths_for_keys
from tsuzuri.aws.store import PostStore, StoredPost
from tsuzuri.domain.model import PostSummary, Term, page_key
from tsuzuri.errors import TransientError
from tsuzuri.publishing.indexer import ALL, Outcome, RenderingContext, RenderPlan
from tsuzuri.rendering.search_index import MANIFEST_PATH, SHARD_PATH, build_manifest, build_shard

RENDER_ATTEMPTS = 5


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
        html = self.context.theme.render_post(
            stored.post, previous=previous, next=following, related=stored.related
        )
        return page_file(page_key(url), html)

    def _invalidate(self, reference: str, paths: list[str], result: BatchResult) -> None:
        result.invalidation_id = self.invalidator.invalidate(paths, reference)
        result.invalidated = sorted(set(result.invalidated) | set(paths))
        self.store.clear_outbox(reference)

    def _build(self, plan: RenderPlan, versions: dict[str, int]) -> tuple[list[SiteFile], set[str]]:
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

    def _static_pages(self, plan: RenderPlan) -> list[SiteFile]:
        pages = dict(plan.fresh_pages)
        if plan.all_pages:
            for entry in self.store.list_pages():
                if entry.url not in pages:
                    stored = self.store.get_page(entry.url)
                    if stored is not None:
                        pages[entry.url] = stored
        return [
            page_file(page_key(url), self.context.theme.render_page(page))
            for url, page in sorted(pages.items())
        ]

    def _pages_sitemap(self, timeline: Sequence[PostSummary]) -> list[SiteFile]:
        """``sitemaps/pages.xml`` (static pages) and the sitemap index that lists it."""
        entries = [(p.url, p.lastmod) for p in self.store.list_pages() if p.in_sitemap]
        files = [
            page_file("sitemaps/pages.xml", self.context.theme.render_sitemap(entries), FEED_CACHE)
        ]
        files.append(
            page_file(
                "sitemap.xml",
                self.context.theme.render_sitemap_index(_sitemap_index(timeline)),
                FEED_CACHE,
            )
        )
        return files

    def _list_pages(
        self, list_id: str, name: str, members: Sequence[PostSummary], plan: RenderPlan
    ) -> tuple[list[SiteFile], set[str]]:
        kind, _, slug = list_id.partition("/")
        base = "/" if list_id == ALL else ("/tags/" if kind == "tag" else "/category/") + slug + "/"
        per_page = self.context.site.paginate
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
        title = self.context.site.title if term is None else name
        ascending = list(reversed(members))
        keys = [m.sort_key for m in ascending]
        lowest_rank = min((bisect_left(keys, k) for k in plan.anchors.get(list_id, ())), default=0)

        def bucket_url(number: int) -> str:
            return f"{base}page{number}/"

        older_from_front = bucket_url(new_buckets) if new_buckets else None
        pages = [
            page_file(
                page_key(base),
                self.context.theme.render_list(
                    title=title, url=base, posts=members[:per_page], term=term,
                    older_url=older_from_front,
                    description=self.context.site.description if term is None else None,
                ),
            )
        ]  # fmt: skip
        first = max(1, min(lowest_rank // per_page + 1, max(old_buckets, 1), max(new_buckets, 1)))
        for number in range(first, new_buckets + 1):
            chunk = ascending[(number - 1) * per_page : number * per_page]
            pages.append(
                page_file(
                    page_key(bucket_url(number)),
                    self.context.theme.render_list(
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

    def _post_pages(self, timeline: Sequence[PostSummary], plan: RenderPlan) -> list[SiteFile]:
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
            html = self.context.theme.render_post(
                post, previous=previous, next=following, related=stored.related
            )
            files.append(page_file(page_key(url), html))
        return files

    def _feeds_and_sitemaps(
        self, timeline: Sequence[PostSummary], plan: RenderPlan
    ) -> tuple[list[SiteFile], set[str]]:
        now = self.clock()
        latest = timeline[: self.context.site.feed_size]
        updated = max((p.lastmod or p.date for p in latest), default=now)
        files = [
            page_file(
                "feed.xml", self.context.theme.render_feed(latest, updated=updated), FEED_CACHE
            )
        ]
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
            files.append(page_file(key, self.context.theme.render_sitemap(entries), FEED_CACHE))
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
            page_file(
                "sitemaps/lists.xml", self.context.theme.render_sitemap(list_entries), FEED_CACHE
            )
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
                self.context.theme.render_term_index(
                    title="タグ一覧", url="/tags/", terms=tag_terms
                ),
            )
        )
        return files, obsolete

    def _search_index(
        self, by_year: dict[int, list[PostSummary]], plan: RenderPlan
    ) -> list[SiteFile]:
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
        self, by_year: dict[int, list[PostSummary]], plan: RenderPlan
    ) -> tuple[list[SiteFile], set[str]]:
        """``/archive/`` (every year and month with its count) and ``/archive/<year>/``
        (that year's posts by month) for the years this batch touched."""
        months: list[tuple[int, list[tuple[int, int]]]] = []
        for year in sorted(by_year, reverse=True):
            counts: dict[int, int] = defaultdict(int)
            for member in by_year[year]:
                counts[member.date.month] += 1
            months.append((year, sorted(counts.items(), reverse=True)))
        files = [page_file("archive/index.html", self.context.theme.render_archive_index(months))]
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
                    self.context.theme.render_archive_year(
                        year, sorted(grouped.items(), reverse=True)
                    ),
                )
            )
        return files, obsolete

    def _static_files(self) -> list[SiteFile]:
        files = [
            page_file("robots.txt", self.context.theme.render_robots(), FEED_CACHE),
            page_file("404.html", self.context.theme.render_not_found()),
            page_file("search/index.html", self.context.theme.render_search()),
        ]
        for key, (body, content_type) in self.context.theme.static_files().items():
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
        or plan.years
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
