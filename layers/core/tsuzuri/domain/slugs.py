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

__all__ = ["SPELLED_SYMBOLS", "jekyll_slug", "looks_like_path", "term_fold", "term_slug"]

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


def term_fold(name: str) -> str:
    """The key under which two tag names are the same name written differently.

    ``AWS``, ``aws`` and ``ＡＷＳ`` fold alike (NFKC, then lowercase, as
    :func:`term_slug` does), so they are one tag shown under one display name.
    """
    return unicodedata.normalize("NFKC", name).lower()


_PATH_SEGMENT = re.compile(r"(?:^|[/\\])\.{1,2}(?:[/\\]|$)")


def looks_like_path(name: str) -> bool:
    """Whether a term name has ``.`` or ``..`` path segments (``../../etc``).

    Such a name would otherwise lose its dots and slashes and silently join the ``etc``
    tag; it is an upload mistake or a probe, never a tag, so the post is refused.
    """
    return _PATH_SEGMENT.search(unicodedata.normalize("NFKC", name)) is not None


def term_slug(name: str) -> str:
    """A URL slug for a tag or category that keeps letters of every script.

    NFKC-normalised and lowercased; runs of whitespace and punctuation (all ASCII
    punctuation but ``_``, and Unicode punctuation such as ・ and 、) become one ``-``;
    letters, digits, combining marks, ``-`` and ``_`` are kept; other symbols (emoji,
    ``©``...) are dropped. ``"AWS Lambda"`` -> ``"aws-lambda"``, ``"生成AI"`` ->
    ``"生成ai"``, ``"Node.js"`` -> ``"node-js"``.

    A few symbols carry the meaning of a name and are spelled out instead, so that
    distinct tags keep distinct pages (:data:`SPELLED_SYMBOLS`): ``+`` and ``#`` that
    end a word (``"C++"`` -> ``"c-plus-plus"``, ``"C#"`` -> ``"c-sharp"``, while
    ``"a+b"`` stays ``"a-b"``), and ``.`` that starts one (``".NET"`` -> ``"dot-net"``,
    while ``"ASP.NET"`` stays ``"asp-net"``).

    Raises ``ValueError`` if nothing is left.
    """
    text = unicodedata.normalize("NFKC", name).lower()
    parts: list[str] = []
    for i, char in enumerate(text):
        word = _spelled_out(text, i)
        if word is not None:
            parts.append(f"-{word}-")
            continue
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


#: Symbols that :func:`term_slug` spells out where they carry meaning. Dropping them
#: gave ``C++``, ``C#`` and ``C`` one page. Kept to the symbols that programming and
#: product names end (or start) with, because any change here moves existing tag URLs.
SPELLED_SYMBOLS = {"+": "plus", "#": "sharp", "♯": "sharp", ".": "dot"}  # ♯: C♯


def _is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNM"


def _spelled_out(text: str, i: int) -> str | None:
    """The word for ``text[i]`` if it is a meaningful symbol there, else ``None``."""
    char = text[i]
    word = SPELLED_SYMBOLS.get(char)
    if word is None:
        return None
    before = text[i - 1] if i > 0 else ""
    if char == ".":
        # A leading dot names a thing (.NET, .env); an inner one separates (Node.js).
        starts_word = not before or not (_is_word_char(before) or before in "._")
        return word if starts_word and i + 1 < len(text) and _is_word_char(text[i + 1]) else None
    # A run of + or # right after a word, and not running into another word: C++, C#,
    # F#, Google+. Inside a word (a+b, C++17) it stays a separator.
    start = i
    while start > 0 and text[start - 1] in SPELLED_SYMBOLS and text[start - 1] != ".":
        start -= 1
    end = i
    while end + 1 < len(text) and text[end + 1] in SPELLED_SYMBOLS and text[end + 1] != ".":
        end += 1
    after = text[end + 1] if end + 1 < len(text) else ""
    if start == 0 or not _is_word_char(text[start - 1]):
        return None
    if after and _is_word_char(after):
        return None
    return word
