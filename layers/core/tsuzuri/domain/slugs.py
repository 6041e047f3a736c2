"""The two URL slug rules of the domain, side by side because they differ on purpose.

:func:`jekyll_slug` must equal what Jekyll 4 derives, or post URLs of a migrated site
change. :func:`term_slug` is tsuzuri's own rule for tag and category pages, which folds
case and width so that ``AWS`` and ``ａｗｓ`` share a page. (Heading ids follow a third
rule, in :mod:`tsuzuri.markdown.render`, because the markdown layer is below this one.)
"""

from __future__ import annotations

import re
import string
import unicodedata

__all__ = ["jekyll_slug", "term_slug"]

# Jekyll's "pretty" slugify: anything but letters, marks, decimal digits and these
# punctuation characters becomes a hyphen. Matching it keeps existing URLs identical.
_NOT_PRETTY = re.compile(r"[^\w.~!$&'()+,;=@]+", re.UNICODE)
_ASCII_PUNCTUATION = frozenset(string.punctuation) - {"_"}


def jekyll_slug(text: str) -> str:
    """Jekyll's ``Utils.slugify(text, mode: "pretty", cased: true)``.

    Applied to both a post's file-name slug and a front-matter ``slug:``, as Jekyll does
    when it fills ``:title``, so a migrated post keeps its URL either way.
    """
    return _NOT_PRETTY.sub("-", text).strip("-")


def term_slug(name: str) -> str:
    """A URL slug for a tag or category that keeps letters of every script.

    NFKC-normalised and lowercased; runs of whitespace and punctuation (all ASCII
    punctuation but ``_``, and Unicode punctuation such as ・ and 、) become one ``-``;
    letters, digits, combining marks, ``-`` and ``_`` are kept; other symbols (emoji,
    ``©``...) are dropped. ``"AWS Lambda"`` -> ``"aws-lambda"``, ``"生成AI"`` ->
    ``"生成ai"``, ``"C++"`` -> ``"c"``, ``"Node.js"`` -> ``"node-js"``.

    Raises ``ValueError`` if nothing is left.
    """
    parts: list[str] = []
    for char in unicodedata.normalize("NFKC", name).lower():
        if char == "_":
            parts.append(char)
            continue
        category = unicodedata.category(char)
        if char.isspace() or char in _ASCII_PUNCTUATION or category[0] == "P":
            parts.append("-")
        elif category[0] in "LNM":
            parts.append(char)
        # anything else (symbols, controls, format characters) is dropped
    slug = re.sub(r"-{2,}", "-", "".join(parts)).strip("-")
    if not slug:
        raise ValueError(f"cannot make a URL slug from {name!r}: it has no letters or digits")
    return slug
