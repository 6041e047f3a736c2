"""Every bound on what one uploaded post may ask of a render, in one place.

Each input here multiplies the work of a render: a tag or a category is one more list
page, feed and index entry to rewrite; a ``redirect_from`` entry is one more page and
one more URL claim; a heading is one more id, table-of-contents entry and search entry.
Unbounded, one post with 1,000 tags took 93 s against the render function's 60 s
timeout and held up every upload behind it.

The limits are far above what a real blog writes on one post (a handful of tags, one
or two categories, a few dozen headings) and low enough that a post at every limit
still renders in well under a second. A post over a limit is refused with a report
that names the limit, the count found and the line.

Tags, categories and ``redirect_from`` also share one DynamoDB transaction when a post
is published (tsuzuri.aws.store.publish_post): per list (``all``, each tag, each
category) a membership and a counter, one terms-index update, the post, its body, its
source record, a page guard and one guard per redirect, at most 100 items in all.
:data:`TRANSACTION_ITEMS` counts them for a post at every limit (a test keeps it at
most 100), which is why these three are lower than a render alone would allow.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "MAX_ALIASES",
    "MAX_CATEGORIES",
    "MAX_DEPTH",
    "MAX_EXPANDED_NODES",
    "MAX_FRONT_MATTER_BYTES",
    "MAX_HEADINGS",
    "MAX_REDIRECT_FROM",
    "MAX_TAGS",
    "MAX_TERM_CHARS",
    "TRANSACTION_ITEMS",
]

# The whole file is bounded by ``max_post_bytes`` of ``_config.yml`` (1,000,000 bytes
# by default, tsuzuri.domain.site_config), checked before anything is decoded: that is
# the body-size limit. The front matter inside it has a bound of its own.

#: Largest front matter block accepted, in UTF-8 bytes.
MAX_FRONT_MATTER_BYTES: Final = 64 * 1024
#: Deepest nesting of lists and mappings accepted (the top-level mapping is level 1).
MAX_DEPTH: Final = 20
#: Most ``*alias`` references accepted in one front matter block.
MAX_ALIASES: Final = 100
#: Most nodes the document may have once every alias is expanded ("billion laughs").
MAX_EXPANDED_NODES: Final = 100_000

#: Most tags on one post (entries of ``tags:``/``tag:``, duplicates included).
MAX_TAGS: Final = 30
#: Most categories on one post (entries of ``categories:``/``category:``).
MAX_CATEGORIES: Final = 6
#: Most ``redirect_from`` entries on one post.
MAX_REDIRECT_FROM: Final = 15
#: Most headings (ATX ``#`` lines and setext underlines) in one post's body.
MAX_HEADINGS: Final = 500
#: Longest tag or category name, in characters.
MAX_TERM_CHARS: Final = 100

#: Items of the publish transaction of a post at every limit: memberships and counters
#: of ``all`` and every term, the terms index, post, body, source record, page guard
#: and the redirect guards. DynamoDB takes at most 100.
TRANSACTION_ITEMS: Final = 2 * (1 + MAX_TAGS + MAX_CATEGORIES) + 1 + 4 + MAX_REDIRECT_FROM
