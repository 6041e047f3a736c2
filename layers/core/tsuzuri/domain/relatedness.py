"""Related posts, the pure part: content sketch, score, candidate rules and top-k.

No AWS here. :mod:`tsuzuri.related.sync` keeps the lists up to date in DynamoDB one
change at a time; :func:`recompute_all` computes every list from scratch with exactly
the same rules, and the two must agree (the differential test checks it).

The score of a candidate ``y`` for a post ``p`` is an integer (so that every process,
on every CPU, ranks the same way)::

    score(p, y) = sum(tag_weight(class(t)) for t in shared tags)
                + category_bonus                    if they share a category
                + recency_max * H // (H + d)        d = days y is older than p (0 if newer)
                + content_weight * m // n           m of the n smallest hashes of the two
                                                    content sketches are in both (bottom-k
                                                    Jaccard estimate)

``class(t)`` is the *rarity class* of a tag: ``floor(log2(df))`` while ``df``, the number
of posts carrying the tag, is at most ``rare_max_df``, and ``COMMON`` above it. Weights
depend on the class only, so they change in rare steps (when ``df`` crosses a power of
two or the threshold), and never with the size of the site.

Candidates (the only posts that may be listed) are bounded and local:

* every post sharing a *rare* tag (``df <= rare_max_df``) with ``p``;
* the ``window`` posts on each side of ``p`` in the chronological list of each of its
  common tags and of each of its categories.

Ties are broken by the newer post, then by the URL. Lists hold up to ``count`` posts.
"""

from __future__ import annotations

import base64
import heapq
import re
import struct
import unicodedata
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

COMMON = -1
"""The rarity class of a tag carried by more than ``rare_max_df`` posts."""

SKETCH_SIZE = 64
_MASK = 0xFFFFFFFF
_DAY = 86_400


@dataclass(frozen=True, slots=True)
class RelatedSettings:
    """The formula's settings. Changing any of them needs a full recomputation."""

    count: int = 6
    # A tag on more posts than this is common: it weighs ``common_tag_weight`` and
    # brings only its ``window`` nearest posts in as candidates, like a category.
    rare_max_df: int = 63
    # Timeline candidates: this many posts on each side in each common tag's and each
    # category's chronological list.
    window: int = 5
    # Only the first tags and categories of a post count (bounds the candidate set).
    max_tags: int = 10
    max_categories: int = 3
    # Weight of a shared rare tag by class floor(log2(df)): df 2-3, 4-7, 8-15, 16-31, 32-63.
    tag_weights: tuple[int, ...] = (0, 60, 52, 44, 36, 28)
    common_tag_weight: int = 20
    category_bonus: int = 15
    # Up to this much for a candidate no older than the post, half of it a year older.
    recency_max: int = 10
    recency_half_life_days: int = 365
    # Times the estimated Jaccard similarity of the two posts' content tokens.
    content_weight: int = 200

    def __post_init__(self) -> None:
        if self.count < 1 or self.rare_max_df < 1 or self.window < 0:
            raise ValueError("count and rare_max_df must be positive, window not negative")
        if len(self.tag_weights) <= self.rare_max_df.bit_length() - 1:
            raise ValueError("tag_weights needs a weight for every rare class")
        if self.max_tags < 1 or self.max_categories < 0 or self.recency_half_life_days < 1:
            raise ValueError("max_tags and recency_half_life_days must be positive")

    def tag_class(self, df: int) -> int:
        """The rarity class of a tag carried by ``df`` posts."""
        if df > self.rare_max_df:
            return COMMON
        return max(df, 1).bit_length() - 1

    def tag_weight(self, tag_class: int) -> int:
        return self.common_tag_weight if tag_class == COMMON else self.tag_weights[tag_class]


DEFAULT_SETTINGS = RelatedSettings()


@dataclass(frozen=True, slots=True)
class Features:
    """What the score needs to know about a post."""

    url: str
    sort_key: str
    timestamp: int  # UTC, seconds
    tags: tuple[str, ...] = ()  # slugs, in front matter order, at most max_tags
    categories: tuple[str, ...] = ()  # slugs, at most max_categories
    sketch: tuple[int, ...] = ()  # ascending 32-bit hashes


@dataclass(frozen=True, slots=True)
class Ranked:
    """One entry of a related list: a candidate with its score."""

    url: str
    score: int
    timestamp: int

    @property
    def rank_key(self) -> tuple[int, int, str]:
        return rank_key(self.score, self.timestamp, self.url)


def rank_key(score: int, timestamp: int, url: str) -> tuple[int, int, str]:
    """Sort key, best first: higher score, then the newer post, then the URL."""
    return (-score, -timestamp, url)


def make_features(
    *,
    url: str,
    sort_key: str,
    date: datetime,
    tags: Iterable[str],
    categories: Iterable[str],
    signature: str,
    settings: RelatedSettings = DEFAULT_SETTINGS,
) -> Features:
    return Features(
        url=url,
        sort_key=sort_key,
        timestamp=int(date.astimezone(UTC).timestamp()),
        tags=tuple(dict.fromkeys(tags))[: settings.max_tags],
        categories=tuple(dict.fromkeys(categories))[: settings.max_categories],
        sketch=decode_sketch(signature),
    )


# -- content sketch -----------------------------------------------------------------
# Tokens that carry meaning in Japanese and English without a dictionary: overlapping
# pairs of kanji and of katakana (hiragana is mostly grammar), and Latin words.
_KANJI_PAIRS = re.compile(r"(?=([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆ヵヶ]{2}))")
_KATAKANA_PAIRS = re.compile(r"(?=([\u30a1-\u30fa\u30fc-\u30fe\u31f0-\u31ff]{2}))")
_LATIN_WORDS = re.compile(r"[a-z0-9][a-z0-9+#]+")


def content_tokens(text: str) -> set[str]:
    """Kanji pairs, katakana pairs and Latin words of ``text`` (NFKC, lower case)."""
    text = unicodedata.normalize("NFKC", text).lower()
    tokens = set(_KANJI_PAIRS.findall(text))
    tokens.update(_KATAKANA_PAIRS.findall(text))
    tokens.update(_LATIN_WORDS.findall(text))
    return tokens


def _mix(value: int) -> int:
    """A bijective 32-bit finalizer: CRC-32 alone orders similar strings too regularly."""
    value = ((value ^ (value >> 16)) * 0x45D9F3B) & _MASK
    value = ((value ^ (value >> 16)) * 0x45D9F3B) & _MASK
    return value ^ (value >> 16)


def content_sketch(text: str, size: int = SKETCH_SIZE) -> tuple[int, ...]:
    """A bottom-k sketch: the ``size`` smallest hashes of the text's distinct tokens.

    Stable across processes and machines (CRC-32 and integer arithmetic, no ``hash()``).
    About 5 ms for a 42 KB Japanese post.
    """
    crc = zlib.crc32
    hashes = {_mix(crc(token.encode("utf-8"))) for token in content_tokens(text)}
    return tuple(heapq.nsmallest(size, hashes))


def encode_sketch(sketch: Sequence[int]) -> str:
    return base64.b64encode(struct.pack(f">{len(sketch)}I", *sketch)).decode("ascii")


def decode_sketch(signature: str) -> tuple[int, ...]:
    if not signature:
        return ()
    raw = base64.b64decode(signature)
    return struct.unpack(f">{len(raw) // 4}I", raw[: len(raw) - len(raw) % 4])


def signature_of(text: str) -> str:
    """The stored form of a post's content sketch (base64 of big-endian uint32)."""
    return encode_sketch(content_sketch(text))


def sketch_overlap(a: Sequence[int], b: Sequence[int]) -> tuple[int, int]:
    """(matches, n): of the n smallest hashes of both sketches, how many are in both.

    ``matches / n`` estimates the Jaccard similarity of the two token sets.
    """
    if not a or not b:
        return 0, 1
    size = min(max(len(a), len(b)), SKETCH_SIZE)
    set_a = set(a)
    common = set_a.intersection(b)
    if not common:
        return 0, size
    union = sorted(set_a.union(b))[:size]
    cutoff = union[-1]
    return sum(1 for value in common if value <= cutoff), len(union)


# -- the score ------------------------------------------------------------------------


def score(
    post: Features,
    other: Features,
    classes: Mapping[str, int],
    settings: RelatedSettings = DEFAULT_SETTINGS,
) -> int:
    """How related ``other`` is to ``post``; ``classes`` maps each shared tag to its class."""
    total = 0
    if post.tags and other.tags:
        shared = set(post.tags).intersection(other.tags)
        total += sum(settings.tag_weight(classes[t]) for t in shared)
    if post.categories and not set(post.categories).isdisjoint(other.categories):
        total += settings.category_bonus
    older_days = max(0, (post.timestamp - other.timestamp) // _DAY)
    half = settings.recency_half_life_days
    total += settings.recency_max * half // (half + older_days)
    if settings.content_weight:
        matches, size = sketch_overlap(post.sketch, other.sketch)
        total += settings.content_weight * matches // size
    return total


def top_k(entries: Iterable[Ranked], count: int) -> list[Ranked]:
    """The best ``count`` entries, best first, one per URL (the last score seen wins)."""
    unique = {entry.url: entry for entry in entries}
    return heapq.nsmallest(count, unique.values(), key=lambda e: e.rank_key)


def rank(
    post: Features,
    candidates: Iterable[Features],
    classes: Mapping[str, int],
    settings: RelatedSettings = DEFAULT_SETTINGS,
) -> list[Ranked]:
    """The related list of ``post`` among ``candidates`` (``post`` itself is skipped)."""
    entries = (
        Ranked(other.url, score(post, other, classes, settings), other.timestamp)
        for other in candidates
        if other.url != post.url
    )
    return top_k(entries, settings.count)


# -- the full recomputation -----------------------------------------------------------


def window_around(timeline: Sequence[Features], index: int, width: int) -> list[Features]:
    """The ``width`` posts on each side of ``timeline[index]`` (sorted by sort key)."""
    return [
        *timeline[max(0, index - width) : index],
        *timeline[index + 1 : index + 1 + width],
    ]


def tag_classes(
    posts: Iterable[Features], settings: RelatedSettings = DEFAULT_SETTINGS
) -> dict[str, int]:
    df: dict[str, int] = defaultdict(int)
    for post in posts:
        for tag in post.tags:
            df[tag] += 1
    return {tag: settings.tag_class(count) for tag, count in df.items()}


def timelines_of(post: Features, classes: Mapping[str, int]) -> list[str]:
    """The timelines (list ids) whose windows bring candidates to ``post``."""
    common = [f"tag/{t}" for t in post.tags if classes.get(t, COMMON) == COMMON]
    return common + [f"category/{c}" for c in post.categories]


def candidates_of(
    post: Features,
    by_tag: Mapping[str, Sequence[Features]],
    classes: Mapping[str, int],
    windows: Iterable[Sequence[Features]],
) -> dict[str, Features]:
    """The posts that may be listed for ``post``: every mate of its rare tags, and the
    ``windows`` around it in its timelines (see :func:`timelines_of`)."""
    found: dict[str, Features] = {}
    for tag in post.tags:
        if classes.get(tag, COMMON) != COMMON:
            for other in by_tag.get(tag, ()):
                found[other.url] = other
    for window in windows:
        for other in window:
            found[other.url] = other
    found.pop(post.url, None)
    return found


def recompute_all(
    posts: Iterable[Features], settings: RelatedSettings = DEFAULT_SETTINGS
) -> dict[str, list[Ranked]]:
    """Every post's related list from scratch: the reference the incremental updates
    must equal."""
    everyone = {post.url: post for post in posts}
    classes = tag_classes(everyone.values(), settings)
    by_tag: dict[str, list[Features]] = defaultdict(list)
    timelines: dict[str, list[Features]] = defaultdict(list)
    for post in everyone.values():
        for tag in post.tags:
            by_tag[tag].append(post)
            timelines[f"tag/{tag}"].append(post)
        for category in post.categories:
            timelines[f"category/{category}"].append(post)
    position: dict[tuple[str, str], int] = {}
    for list_id, members in timelines.items():
        members.sort(key=lambda p: p.sort_key)
        for index, member in enumerate(members):
            position[(list_id, member.url)] = index
    lists: dict[str, list[Ranked]] = {}
    for post in everyone.values():
        windows = [
            window_around(timelines[t], position[(t, post.url)], settings.window)
            for t in timelines_of(post, classes)
        ]
        found = candidates_of(post, by_tag, classes, windows)
        lists[post.url] = rank(post, found.values(), classes, settings)
    return lists
