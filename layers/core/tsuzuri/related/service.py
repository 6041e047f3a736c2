"""What one invocation of the related function does with its records and pages.

Besides posts, the function hears the site config item (``SITE``/``CONFIG``): when the
``related:`` part of its fingerprint moves, every list is recomputed with the new
settings (:meth:`RelatedService.rebuild_all`) and the pages follow, a chunk per
invocation, through ``RWORK``/``CONTINUE``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from tsuzuri.domain.site_config import RecordedFingerprint, SiteConfig
from tsuzuri.related.records import (
    CONTINUATION,
    SITE_CONFIG,
    keys_of_record,
    record_needs_sync,
    related_settings_changed,
    url_of_record,
)
from tsuzuri.related.store import RelatedStore, view_of_post_item
from tsuzuri.related.sync import RelatedIndex, SyncStats

if TYPE_CHECKING:
    from tsuzuri.publishing.publisher import Publisher

# Pages a batch renders before it hands the rest to the next invocation: a few seconds
# of work, far inside the function's timeout.
PAGES_PER_BATCH = 100

T = TypeVar("T")


# A batch syncs its posts in one pass over the whole site (RelatedIndex.sync_many) when
# it holds at least one post in BULK_SHARE of the site, and at least BULK_MIN posts:
# one sync costs about 70 calls, the pass about 3 calls and 3 ms of CPU per 100 posts of
# the site (measured at 2,500 posts, docs/benchmarks.md).
BULK_MIN = 10
BULK_SHARE = 50


def syncs_in_bulk(changed: int, site_size: int) -> bool:
    return changed >= BULK_MIN and changed * BULK_SHARE >= site_size


class _RecordFailed(Exception):
    """Raised once a record's work failed and the outcome says so: stop the batch."""


# -- the service the Lambda handler and the local stack drive -----------------------------


@dataclass(slots=True)
class BatchOutcome:
    failed: str | None = None  # SequenceNumber of the first record that failed
    error: str = ""
    records: int = 0
    synced: int = 0
    skipped: int = 0
    rebuilt: int = 0  # posts whose lists a related: change recomputed
    continued: bool = False  # pages were left pending for the next invocation
    stats: SyncStats = field(default_factory=SyncStats)
    rendered: list[str] = field(default_factory=list)
    invalidated: list[str] = field(default_factory=list)


class RelatedService:
    """One batch of stream records: sync each post in order, stop at the first failure
    (Lambda retries from there), then render every page whose list changed, once."""

    def __init__(
        self, index: RelatedIndex, publisher: Publisher,
        on_error: Callable[[Mapping[str, Any], Exception], None] = lambda _r, _e: None,
        *, pages_per_batch: int | None = None,
    ):  # fmt: skip
        self.index = index
        self.publisher = publisher
        self.on_error = on_error
        self.pages_per_batch = pages_per_batch or PAGES_PER_BATCH

    @property
    def store(self) -> RelatedStore:
        return self.index.store

    def process(self, records: Sequence[Mapping[str, Any]]) -> BatchOutcome:
        outcome = BatchOutcome(records=len(records))
        group: list[Mapping[str, Any]] = []  # post records since the last config record
        try:
            for record in records:
                keys = keys_of_record(record)
                if keys == SITE_CONFIG and related_settings_changed(record, self._unset()):
                    self._sync_group(group, outcome)
                    group = []
                    outcome.rebuilt += self._guarded(record, outcome, self.rebuild_all)
                elif keys in (SITE_CONFIG, CONTINUATION) or not record_needs_sync(record):
                    outcome.skipped += 1
                else:
                    group.append(record)
            self._sync_group(group, outcome)
        except _RecordFailed:
            pass  # outcome.failed names the record Lambda retries from
        rendered = self.render_pending(outcome, limit=self.pages_per_batch)
        if len(rendered) == self.pages_per_batch and self.store.pending(1):
            self.store.request_continuation()
            outcome.continued = True
        return outcome

    def _sync_group(self, group: Sequence[Mapping[str, Any]], outcome: BatchOutcome) -> None:
        """Sync the posts of these records: one at a time, or all at once when that is
        cheaper (see :func:`syncs_in_bulk`)."""
        urls = list(dict.fromkeys(url_of_record(record) for record in group))
        if not urls:
            return
        if syncs_in_bulk(len(urls), self.store.site_size()):
            stats = self._guarded(group[0], outcome, partial(self.index.sync_many, urls))
            outcome.stats.add(stats)
            outcome.synced += len(group)
            return
        done: set[str] = set()
        for record in group:
            url = url_of_record(record)
            if url not in done:
                outcome.stats.add(self._guarded(record, outcome, partial(self.index.sync, url)))
                done.add(url)
            outcome.synced += 1

    def _guarded(
        self, record: Mapping[str, Any], outcome: BatchOutcome, work: Callable[[], T]
    ) -> T:
        try:
            return work()
        except Exception as exc:
            outcome.failed = str(record.get("dynamodb", {}).get("SequenceNumber", ""))
            outcome.error = f"{type(exc).__name__}: {exc}"
            self.on_error(record, exc)
            raise _RecordFailed from exc

    def _unset(self) -> str:
        # The related part of a site without _config.yml: what lists were computed with
        # before the first config was recorded.
        unset = SiteConfig().with_env_overrides(self.publisher.site_overrides)
        return RecordedFingerprint.of(unset).related

    def sync_published(self, after: str = "", limit: int = 100) -> tuple[int, str | None]:
        """Sync up to ``limit`` published posts after the sort key ``after`` (oldest
        first) and render what changed: builds the index of a site that existed before
        this function, or after the settings changed. Returns (posts synced, the sort
        key to continue from, or None when done)."""
        posts = self.store.published(after, limit)
        for _key, url in posts:
            self.index.sync(url)
        self.render_pending()
        if len(posts) < limit:
            return len(posts), None
        return len(posts), posts[-1][0]

    def rebuild_all(self) -> int:
        """Recompute every related list from scratch with this service's settings and
        mark every post's page for rendering; returns the number of posts.

        For a change of ``related:`` in ``_config.yml``: the incremental index is exact
        only for the settings its lists were computed with, and a sync skips posts that
        did not change. Pages are left to :meth:`render_pending`, a chunk at a time.
        """
        urls = [url for _key, url in self.store.published()]
        items = self.store.post_items(urls)
        views = [view_of_post_item(item, self.index.settings) for item in items]
        self.index.rebuild(view for view in views if view is not None)
        return len(urls)

    def render_pending(
        self, outcome: BatchOutcome | None = None, *, limit: int | None = None
    ) -> list[str]:
        """Render the pages of every list marked as changed (by this batch, or by one
        that stopped before its pages were written), then clear the marks; at most
        ``limit`` pages when given (the rest stay marked)."""
        pending = self.store.pending(limit)
        if not pending:
            return []
        self.store.bump_timeline()
        result = self.publisher.refresh_posts(pending)
        self.store.clear_pending(pending)
        if outcome is not None:
            outcome.rendered = result.written
            outcome.invalidated = result.invalidated
        return pending
