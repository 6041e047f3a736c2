"""Exact incremental updates of the related lists, one post at a time.

The related-posts function hears every change of a ``POST#<url>``/``POST`` item on the
table stream and calls :meth:`RelatedIndex.sync` with the URL. ``sync`` does not trust
the stream image: it reads the post as it is *now* and compares it with what the index
last recorded for it, so duplicated, replayed or reordered records converge, and a
replay of a record that was already applied writes nothing.

Why the incremental result equals :func:`tsuzuri.domain.relatedness.recompute_all`
-----------------------------------------------------------------------
A post's list is the top ``count`` of its candidates by score. When post ``x``
changes, the score of a pair ``(p, y)`` can change only if ``y`` is ``x`` (or ``p`` is
``x``), or if they share a tag whose rarity class changed; and ``y`` can enter or leave
the candidates of ``p`` only if ``y`` is ``x``, if a shared tag changed class, or if
``x`` took or gave up a slot within ``window`` of ``p`` in a timeline (a common tag or
a category), which pushes one post out of, or pulls one into, ``p``'s window. So:

1. ``x``'s own list is recomputed from its candidates.
2. A tag of ``x`` that changed class: every post carrying it (at most
   ``rare_max_df + 1`` of them) is looked at. If the tag got heavier, or brings more
   candidates, the post's list is recomputed; if it only got lighter, the listed posts
   carrying it move down by the difference (see 6).
3. The lists showing ``x`` (reverse index): recomputed if ``x`` is gone or is no longer
   a candidate; otherwise ``x`` is re-scored in place (see 6).
4. Every candidate ``p`` of the new ``x`` gets ``x`` merged: the new list is the top of
   (old list + ``x``). This is exact because no other candidate of ``p`` moved up.
5. Window shifts: the post pulled into ``p``'s window is merged; if the post pushed out
   is listed by ``p``, ``p`` is recomputed.
6. Every candidate outside a full list ranks below its last entry (the floor) and none
   moved up, so a listed post that moved down but still ranks at or above the old floor
   keeps its place; if one fell below it, the list is recomputed. (A list that is not
   full already holds every candidate.)

Lists are written with a revision check (compare-and-set); a list whose revision moved
under a merge is recomputed from scratch instead. Records of one post always come from
one stream shard, in order, and Lambda processes a shard one batch at a time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from tsuzuri.domain.relatedness import (
    COMMON,
    DEFAULT_SETTINGS,
    Features,
    Ranked,
    RelatedSettings,
    rank_key,
    recompute_all,
    score,
    timelines_of,
    top_k,
)
from tsuzuri.errors import TransientError
from tsuzuri.related.store import (
    Card,
    ListState,
    ListWrite,
    PostView,
    RelatedStore,
    _list_ids,
    view_of_post_item,
)

CAS_ATTEMPTS = 5
TIMELINE_READERS = 8  # a sync's first reads are independent small queries: run together


@dataclass(slots=True)
class SyncStats:
    """What one :meth:`RelatedIndex.sync` did, for logs, metrics and benchmarks."""

    changed: set[str] = field(default_factory=set)  # pages whose related section changed
    recomputed: int = 0
    merged: int = 0
    skipped_lists: int = 0  # candidate lists ruled out by their floor, unread
    lists_written: int = 0
    skipped: bool = False

    def add(self, other: SyncStats) -> None:
        self.changed |= other.changed
        self.recomputed += other.recomputed
        self.merged += other.merged
        self.skipped_lists += other.skipped_lists
        self.lists_written += other.lists_written


# -- one sync ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Work:
    """What a change of ``x`` asks of one other post's list."""

    merge: dict[str, Features] = field(default_factory=dict)  # candidates to (re)score
    pushed_out: set[str] = field(default_factory=set)  # left p's window in a timeline
    recompute: bool = False
    lists_x: bool = False  # the reverse index says p's list shows x
    crossed: set[str] = field(default_factory=set)  # tags of p whose class changed
    entry: Features | None = None  # p's features as found in the index


@dataclass(slots=True)
class _Staged:
    """A list computed by this sync and not yet written."""

    read: ListState  # as read: takes the written contents once the write succeeds
    write: ListWrite
    removed: list[str]
    floor_moved: bool


class _Pass:
    """Reads for one sync, cached: a sync writes its entries before it reads anything,
    so the cache never hides the sync's own writes."""

    def __init__(self, store: RelatedStore, settings: RelatedSettings):
        self.store = store
        self.settings = settings
        self._members: dict[str, list[Features]] = {}
        self._windows: dict[tuple[str, str, bool], list[Features]] = {}
        self.classes: dict[str, int] = {}

    def members(self, tag: str) -> list[Features]:
        """Every post with ``tag`` if it is rare; else ``rare_max_df + 2`` of them."""
        if tag not in self._members:
            found = self.store.timeline(f"tag/{tag}", self.settings.rare_max_df + 2)
            self._members[tag] = found
            self.classes[tag] = self.settings.tag_class(len(found))
        return self._members[tag]

    def df(self, tag: str) -> int:
        """The tag's post count, exact up to ``rare_max_df + 1``."""
        return len(self.members(tag))

    def class_of(self, tag: str) -> int:
        self.members(tag)
        return self.classes[tag]

    def side(self, list_id: str, sort_key: str, *, newer: bool, exclude: str) -> list[Features]:
        """The ``window`` nearest members on one side of ``sort_key``, without ``exclude``."""
        key = (list_id, sort_key, newer)
        if key not in self._windows:
            self._windows[key] = self.store.neighbours(
                list_id, sort_key, self.settings.window + 1, newer=newer
            )
        return [f for f in self._windows[key] if f.url != exclude][: self.settings.window]

    def prefetch(self, tags: Iterable[str], sides: Iterable[tuple[str, str]]) -> None:
        """Read these tags' members and the windows on both sides of these (timeline, sort
        key) positions at once, so that the sync's later reads come from the cache."""
        tags = [t for t in dict.fromkeys(tags) if t not in self._members]
        windows = [
            (list_id, sort_key, newer)
            for list_id, sort_key in dict.fromkeys(sides)
            for newer in (False, True)
            if (list_id, sort_key, newer) not in self._windows
        ]
        if len(tags) + len(windows) < 2:
            return
        width = self.settings.window + 1
        with ThreadPoolExecutor(min(TIMELINE_READERS, len(tags) + len(windows))) as pool:
            found = pool.map(
                lambda tag: self.store.timeline(f"tag/{tag}", self.settings.rare_max_df + 2), tags
            )
            near = pool.map(lambda w: self.store.neighbours(w[0], w[1], width, newer=w[2]), windows)
            for tag, members in zip(tags, found, strict=True):
                self._members[tag] = members
                self.classes[tag] = self.settings.tag_class(len(members))
            self._windows.update(zip(windows, near, strict=True))

    def candidates(self, post: Features) -> dict[str, Features]:
        found: dict[str, Features] = {}
        for tag in post.tags:
            members = self.members(tag)
            if self.classes[tag] != COMMON:
                found.update((m.url, m) for m in members)
        for list_id in timelines_of(post, self.classes):
            for newer in (False, True):
                side = self.side(list_id, post.sort_key, newer=newer, exclude=post.url)
                found.update((m.url, m) for m in side)
        found.pop(post.url, None)
        return found

    def score(self, post: Features, other: Features) -> int:
        for tag in set(post.tags).intersection(other.tags):
            self.class_of(tag)
        return score(post, other, self.classes, self.settings)


class RelatedIndex:
    """Keeps every ``RELATED`` list equal to a full recomputation, one post at a time."""

    def __init__(self, store: RelatedStore, settings: RelatedSettings = DEFAULT_SETTINGS):
        self.store = store
        self.settings = settings
        self._unlisted: dict[str, set[str]] = defaultdict(set)  # owner -> posts it dropped
        self._floors: dict[str, Ranked | None] = {}  # floors to write once lists are written
        self._staged: list[_Staged] = []  # lists to write in the next flush

    # -- entry point
    def sync(self, url: str) -> SyncStats:
        """Bring the index and every affected list in line with ``POST#<url>`` as it is now."""
        stats = SyncStats()
        for attempt in range(CAS_ATTEMPTS):
            item, found = self.store.post_and_state(url)
            new = view_of_post_item(item, self.settings)
            state = found or ListState(url)
            old = state.own_view()
            if old == new:
                stats.skipped = attempt == 0
                return stats
            self._unlisted = defaultdict(set)
            self._floors = {}
            self._staged = []
            if old is not None and new is not None and old.features == new.features:
                self._card_changed(url, new.card, stats)
                run = None
            else:
                run = self._features_changed(url, old, new, stats)
            done = self._write_own(run, state, new, stats)
            # After the lists were written, in one batch: reverse-index entries of posts
            # that left lists, and raised floors. A crash before it leaves extra entries
            # and floors lower than they could be: both only cost reads later.
            self.store.write_many(unreferrers=self._unlisted, floors=self._floors)
            if done:
                return stats
        raise TransientError(f"related list of {url} kept changing under concurrent updates")

    # -- a change of what the card shows only: re-label it in the lists that show it
    def _card_changed(self, url: str, card: Card, stats: SyncStats) -> None:
        owners = [u for u in self.store.referrers(url) if u != url]
        states = self.store.states(owners)
        for _attempt in range(CAS_ATTEMPTS):
            for state in states.values():
                if url in state.urls:
                    cards = [card if c["url"] == url else c for c in state.cards]
                    self._save(state, state.entries, cards, state.features)
            moved = self._flush(stats)
            if not moved:
                return
            states = self.store.states(moved)
        raise TransientError(f"related lists showing {url} kept changing")

    # -- a change of what scores the post (or its arrival or departure)
    def _features_changed(
        self, url: str, old: PostView | None, new: PostView | None, stats: SyncStats
    ) -> _Pass:
        settings = self.settings
        before = old.features if old else None
        after = new.features if new else None
        # 1. The index first: everything read below sees this post as it is now.
        old_lists = _list_ids(before)
        new_lists = _list_ids(after)
        if after is not None:
            self.store.put_entries(after, new_lists)
        if before is not None:
            moved = after is None or after.sort_key != before.sort_key
            self.store.delete_entries(
                before.sort_key, [i for i in old_lists if moved or i not in new_lists]
            )
        run = _Pass(self.store, settings)
        work: dict[str, _Work] = defaultdict(_Work)
        old_tags = set(before.tags) if before else set()
        new_tags = set(after.tags) if after else set()
        run.prefetch(sorted(old_tags | new_tags), [])
        class_before: dict[str, int] = {}
        for tag in sorted(old_tags | new_tags):
            df_after = run.df(tag)
            df_before = df_after - (tag in new_tags) + (tag in old_tags)
            if df_after > settings.rare_max_df + 1:
                df_before = df_after  # common before and after
            class_before[tag] = settings.tag_class(df_before)
            # 2. A tag that changed class changes the weight (and maybe the candidacy)
            # of every pair that shares it: every post carrying it is looked at.
            if class_before[tag] != run.classes[tag]:
                for member in run.members(tag):
                    work[member.url].crossed.add(tag)
                    work[member.url].entry = member

        # 3. Lists that show x.
        for owner in self.store.referrers(url):
            work[owner].lists_x = True

        # 4. Candidates of the new x get x merged: every mate of a rare tag ...
        if after is not None:
            for tag in after.tags:
                if run.classes[tag] != COMMON:
                    for member in run.members(tag):
                        work[member.url].merge[url] = after
                        work[member.url].entry = member
        # ... and its neighbours in each timeline with windows (common tags, categories);
        # 5. moving in a timeline pulls one post into, or pushes one out of, the window
        # of each neighbour. (A tag that changed class has all its posts looked at in 2.)
        timelines = []
        for list_id in sorted(set(old_lists) | set(new_lists)):
            timeline_tag = list_id[4:] if list_id.startswith("tag/") else None
            windowed_before = timeline_tag is None or class_before[timeline_tag] == COMMON
            windowed_after = timeline_tag is None or run.classes[timeline_tag] == COMMON
            was = before is not None and list_id in old_lists
            now = after is not None and list_id in new_lists
            moved = was != now or (
                was and now and before is not None and after is not None
                and before.sort_key != after.sort_key
            )  # fmt: skip
            shifts = moved and windowed_before and windowed_after
            timelines.append((list_id, was and shifts, now and windowed_after, shifts))
        run.prefetch(
            [],
            [(i, before.sort_key) for i, left, _, _ in timelines if left and before is not None]
            + [(i, after.sort_key) for i, _, near, _ in timelines if near and after is not None],
        )
        for list_id, left, near, shifts in timelines:
            if left and before is not None:
                self._shift(run, work, list_id, before.sort_key, url, pulled=True)
            if near and after is not None:
                older = run.side(list_id, after.sort_key, newer=False, exclude=url)
                newer = run.side(list_id, after.sort_key, newer=True, exclude=url)
                for member in older + newer:
                    work[member.url].merge[url] = after
                    work[member.url].entry = member
                if shifts:
                    self._shift(run, work, list_id, after.sort_key, url, pulled=False)

        work.pop(url, None)
        self._apply(run, url, after, new.card if new else None, class_before, work, stats)
        return run

    def _shift(
        self, run: _Pass, work: dict[str, _Work], list_id: str, sort_key: str, url: str,
        *, pulled: bool,
    ) -> None:  # fmt: skip
        """x left (``pulled``) or took the slot at ``sort_key`` of a timeline: each
        neighbour within ``window`` gains, or loses, the post at its window's far edge."""
        width = self.settings.window
        older = run.side(list_id, sort_key, newer=False, exclude=url)
        newer = run.side(list_id, sort_key, newer=True, exclude=url)
        for near, far in ((older, newer), (newer, older)):
            for distance, member in enumerate(near, start=1):
                edge = width - distance  # index of the far-edge post on the other side
                if edge >= len(far):
                    continue
                if pulled:
                    work[member.url].merge[far[edge].url] = far[edge]
                else:
                    work[member.url].pushed_out.add(far[edge].url)
                work[member.url].entry = member

    def _floor(self, entries: Sequence[Ranked]) -> Ranked | None:
        return entries[-1] if len(entries) >= self.settings.count else None

    def _apply(
        self, run: _Pass, url: str, after: Features | None, card: Card | None,
        class_before: Mapping[str, int], work: dict[str, _Work], stats: SyncStats,
    ) -> None:  # fmt: skip
        # A list that only has x to consider and whose floor x does not beat keeps as
        # it is: skip reading it (most candidates of a new post are such lists).
        if after is not None:
            only_x = {
                owner: todo.entry
                for owner, todo in work.items()
                if todo.entry is not None
                and set(todo.merge) == {url}
                and not (todo.recompute or todo.lists_x or todo.crossed or todo.pushed_out)
            }
            floors = self.store.floors(only_x) if only_x else {}
            for owner, entry in only_x.items():
                last = floors.get(owner)  # None: no floor item, or the list is not full
                if last is not None:
                    key = rank_key(run.score(entry, after), after.timestamp, url)
                    if key > last.rank_key:
                        del work[owner]
                        stats.skipped_lists += 1
        states = self.store.states(work)
        for _attempt in range(CAS_ATTEMPTS):
            for owner in sorted(work):
                todo = work[owner]
                state = states.get(owner)
                if state is None and todo.entry is None:
                    continue  # a stale reverse-index entry of a post that is gone
                self._update(run, url, after, card, class_before, todo, state, owner, stats)
            moved = self._flush(stats)
            if not moved:
                return
            # Other writers moved these lists: start them from scratch with fresh reads.
            run = _Pass(self.store, self.settings)
            states = self.store.states(moved)
            work = {o: _Work(recompute=True, entry=work[o].entry) for o in moved}
        raise TransientError(f"related lists of {sorted(work)} kept changing")

    def _update(
        self, run: _Pass, url: str, after: Features | None, card: Card | None,
        class_before: Mapping[str, int], todo: _Work, state: ListState | None, owner: str,
        stats: SyncStats,
    ) -> None:  # fmt: skip
        features = todo.entry or (state.features if state else None)
        if features is None:
            return
        if state is None:
            state = ListState(owner)
        recompute = (
            todo.recompute
            or state.rev is None
            or state.features != features
            or bool(todo.pushed_out & (set(state.urls) | set(todo.merge)))
        )
        # Every candidate outside a full list ranks below its last entry (the floor), and
        # no change below can raise one: a listed entry whose score went down but still
        # ranks at or above the floor keeps its place; one that went below it may be
        # overtaken, and the list is recomputed.
        full = len(state.entries) >= self.settings.count
        floor = state.entries[-1].rank_key if full else None
        scores = {e.url: e.score for e in state.entries}
        for tag in todo.crossed:
            weight_before = self.settings.tag_weight(class_before[tag])
            weight_after = self.settings.tag_weight(run.classes[tag])
            widened = class_before[tag] == COMMON and run.classes[tag] != COMMON
            narrowed = run.classes[tag] == COMMON and class_before[tag] != COMMON
            carriers = {m.url for m in run.members(tag)}  # all of them: df <= rare_max_df + 1
            listed_carriers = carriers.intersection(scores)
            if weight_after > weight_before or widened:
                recompute = True  # posts outside may move up
            elif listed_carriers and narrowed:
                recompute = True  # a listed post may be a candidate no more
            else:
                # Only lighter: listed carriers go down by the difference; posts outside
                # go down too, or stay.
                for other in listed_carriers:
                    scores[other] += weight_after - weight_before
        if todo.lists_x and url in scores:
            if after is None or url not in todo.merge:
                recompute = True  # x is gone, or no longer a candidate of this post
            else:
                scores[url] = run.score(features, after)
        moved = [
            Ranked(e.url, scores[e.url], after.timestamp if after and e.url == url else e.timestamp)
            for e in state.entries
        ]
        if floor is not None and any(e.rank_key > floor for e in moved):
            recompute = True
        if recompute:
            stats.recomputed += 1
            self._recompute(run, features, state, {url: card} if card else {})
            return
        stats.merged += 1
        merged = [e for e in moved if e.url not in todo.merge]
        merged += [Ranked(m.url, run.score(features, m), m.timestamp) for m in todo.merge.values()]
        self._finish(features, state, merged, {url: card} if card else {})

    def _recompute(
        self, run: _Pass, features: Features, state: ListState,
        fresh_cards: Mapping[str, Card], own: PostView | None = None,
    ) -> None:  # fmt: skip
        candidates = run.candidates(features)
        entries = [Ranked(c.url, run.score(features, c), c.timestamp) for c in candidates.values()]
        self._finish(features, state, entries, fresh_cards, own=own)

    def _finish(
        self, features: Features, state: ListState, entries: list[Ranked],
        fresh_cards: Mapping[str, Card], *, own: PostView | None = None,
    ) -> None:  # fmt: skip
        """Take the top of ``entries`` (dropping posts that are no longer published),
        and stage the list for the next flush if anything changed."""
        known = {u: c for u, c in zip(state.urls, state.cards, strict=True)}
        known.update(fresh_cards)
        pool = {e.url: e for e in entries}
        while True:
            best = top_k(pool.values(), self.settings.count)
            missing = [e.url for e in best if e.url not in known]
            if not missing:
                break
            found = self.store.cards(missing)
            known.update(found)
            for gone in set(missing) - set(found):
                del pool[gone]  # deleted; its own sync will follow
        cards = [known[e.url] for e in best]
        keep_own = own if own is not None else state.own
        if (
            state.rev is not None
            and best == state.entries
            and cards == state.cards
            and features == state.features
            and keep_own == state.own
        ):
            return
        self._save(state, best, cards, features, own=keep_own)

    def _save(
        self, state: ListState, entries: list[Ranked], cards: list[Card],
        features: Features | None, *, own: PostView | None = None,
    ) -> None:  # fmt: skip
        """Stage a list for the next :meth:`_flush`, with its reverse-index additions,
        its page's render mark and its floor if it goes down (see
        :meth:`RelatedStore.write_lists`)."""
        shown = {e.url for e in entries}
        old_floor, new_floor = self._floor(state.entries), self._floor(entries)
        write = ListWrite(
            ListState(
                state.url, entries, cards, features, state.own if own is None else own, state.rev
            ),
            referrers=[e.url for e in entries if e.url not in state.urls],
            pending=cards != state.cards,
            lower_floor=new_floor != old_floor and _admits_more(new_floor, old_floor),
            floor=new_floor,
        )
        removed = [u for u in state.urls if u not in shown]
        floor_moved = new_floor != old_floor or state.rev is None
        self._staged.append(_Staged(state, write, removed, floor_moved))

    def _flush(self, stats: SyncStats) -> set[str]:
        """Write the staged lists, in as few transactions as fit. Returns the owners whose
        list another writer had moved (nothing of theirs written); the written lists'
        states take their new contents, and what must follow them (reverse-index entries
        of posts that left, raised floors) waits for the end of the sync."""
        staged, self._staged = self._staged, []
        if not staged:
            return set()
        moved = self.store.write_lists([s.write for s in staged])
        for done in staged:
            new = done.write.state
            if new.url in moved:
                continue
            read = done.read
            read.entries, read.cards, read.features = new.entries, new.cards, new.features
            read.own, read.rev = new.own, new.rev
            self._unlisted[new.url].difference_update(done.write.referrers)
            self._unlisted[new.url].update(done.removed)
            if done.floor_moved:
                self._floors[new.url] = done.write.floor
            stats.lists_written += 1
            if done.write.pending:
                stats.changed.add(new.url)
        return moved

    # -- the post's own list, written last: it records what the index now holds of it
    def _write_own(
        self, run: _Pass | None, state: ListState, new: PostView | None, stats: SyncStats
    ) -> bool:
        if new is None:
            if state.rev is None:
                return True
            self.store.write_many(unreferrers={state.url: state.urls}, gone=[state.url])
            self._floors.pop(state.url, None)
            return self.store.delete_state(state)
        if run is None:  # only the card changed: the list itself stays
            self._finish(new.features, state, list(state.entries), {}, own=new)
        else:
            stats.recomputed += 1
            self._recompute(run, new.features, state, {}, own=new)
        return not self._flush(stats)

    # -- maintenance
    def sync_all(self, urls: Iterable[str]) -> SyncStats:
        total = SyncStats()
        for url in urls:
            total.add(self.sync(url))
        return total

    def sync_many(self, urls: Sequence[str]) -> SyncStats:
        """Bring the index and every list in line with many changed posts at once (a
        load, a folder publish, a redelivered backlog): one recomputation of every list
        in memory from one read of the site, then only what differs is written.

        Reads are a page of 100 items a call; writes are batches, and the lists are
        compare-and-set in transactions of 100, so a list another shard moved meanwhile
        is seen and the whole pass runs again on fresh reads."""
        for _attempt in range(CAS_ATTEMPTS):
            stats = self._sync_many_once(urls)
            if stats is not None:
                return stats
        raise TransientError("related lists kept changing under a bulk sync")

    def _sync_many_once(self, urls: Sequence[str]) -> SyncStats | None:
        site = [url for _key, url in self.store.published()]
        asked = set(urls)
        wanted = site + sorted(asked.difference(site))
        views: dict[str, PostView] = {}
        for item in self.store.post_items(wanted):
            view = view_of_post_item(item, self.settings)
            if view is not None:
                views[view.features.url] = view
        existing = self.store.states(set(views) | asked)
        lists = recompute_all([v.features for v in views.values()], self.settings)

        stats = SyncStats()
        writes: list[ListState] = []
        added: dict[str, list[str]] = {}
        removed: dict[str, set[str]] = {}
        lowered: dict[str, Ranked | None] = {}
        floors: dict[str, Ranked | None] = {}
        pending: list[str] = []
        new_entries: list[Features] = []
        stale_entries: list[tuple[str, list[str]]] = []  # (sort key, list ids)
        for url, view in views.items():
            entries = lists[url]
            cards = [views[e.url].card for e in entries]
            old = existing.get(url) or ListState(url)
            unchanged = (
                old.rev is not None
                and old.entries == entries
                and old.cards == cards
                and old.features == view.features
                and old.own == view
            )
            if unchanged:
                continue
            before = {e.url for e in old.entries}
            added[url] = [e.url for e in entries if e.url not in before]
            removed[url] = before - {e.url for e in entries}
            old_floor, new_floor = self._floor(old.entries), self._floor(entries)
            if old.rev is None or new_floor != old_floor:
                floors[url] = new_floor
                if _admits_more(new_floor, old_floor):
                    lowered[url] = new_floor
            if cards != old.cards:
                pending.append(url)
                stats.changed.add(url)
            indexed = old.own.features if old.own else None
            if indexed != view.features:
                new_entries.append(view.features)
                stale_entries.append(_stale_entries(indexed, view.features))
            writes.append(ListState(url, entries, cards, view.features, view, old.rev))
        gone = [existing[url] for url in sorted(asked) if url not in views and url in existing]
        for state in gone:
            removed[state.url] = set(state.urls)
            stale_entries.append(_stale_entries(state.own.features if state.own else None, None))

        # Before the lists: the reverse index gains the new entries, floors that go down
        # go down, the pages are marked and the index holds every post as it is now, so
        # a crash after any list is written leaves nothing a later sync cannot repair.
        self.store.write_many(referrers=added, floors=lowered, pending=pending)
        self.store.put_entries_of(new_entries)
        if not self.store.write_states_guarded(writes, gone):
            return None
        # After them: entries of posts that left lists, raised floors, old positions.
        self.store.write_many(
            unreferrers=removed, floors=floors, gone=[state.url for state in gone]
        )
        self.store.delete_entries_of(stale_entries)
        stats.recomputed = len(views)
        stats.lists_written = len(writes) + len(gone)
        return stats

    def rebuild(self, views: Iterable[PostView]) -> SyncStats:
        """Write the index and every list from a full recomputation over ``views`` (every
        published post), in batches: the first deployment on a large existing site.
        Leaves the items of posts not in ``views`` alone: pass the whole site."""
        posts = {v.features.url: v for v in views}
        lists = recompute_all([v.features for v in posts.values()], self.settings)
        existing = self.store.states(posts)
        states = []
        for url, view in posts.items():
            entries = lists[url]
            old = existing.get(url)
            cards = [posts[e.url].card for e in entries]
            rev = old.rev if old else None
            states.append(ListState(url, entries, cards, view.features, view, rev))
            if old is not None:
                self.store.remove_referrers(url, set(old.urls) - {e.url for e in entries})
        self.store.put_entries_of([v.features for v in posts.values()])
        self.store.write_many(
            referrers={url: [e.url for e in lists[url]] for url in posts},
            floors={url: self._floor(lists[url]) for url in posts},
        )
        self.store.mark_pending(posts)
        self.store.put_states(states)
        return SyncStats(changed=set(posts), recomputed=len(posts), lists_written=len(posts))


def _stale_entries(before: Features | None, after: Features | None) -> tuple[str, list[str]]:
    """The timeline entries of ``before`` that ``after`` no longer has at that position."""
    if before is None:
        return "", []
    moved = after is None or after.sort_key != before.sort_key
    keep = set(_list_ids(after))
    return before.sort_key, [i for i in _list_ids(before) if moved or i not in keep]


def _admits_more(floor: Ranked | None, than: Ranked | None) -> bool:
    """Whether ``floor`` lets in every post ``than`` lets in, and more."""
    if floor is None:
        return True
    return than is not None and floor.rank_key > than.rank_key
