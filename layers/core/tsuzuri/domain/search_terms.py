"""A post's body boiled down for the client-side search index, at parse time.

Each distinct Latin word once and, of the Japanese text, only the pieces that hold a
character bigram not seen before, in the order they first occur: a query matches a
post whose body says it at a fraction of the text's size. Pure text work, so it lives
in the domain; :mod:`tsuzuri.rendering.search_index` builds the shards from it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["BODY_CHARS", "body_terms", "is_cjk_char", "normalize"]

BODY_CHARS = 800
"""At most this many characters of a post's body terms (:func:`body_terms`)."""


def body_terms(text: str, *, seen: Iterable[str] = (), limit: int = BODY_CHARS) -> str:
    """A post's plain text boiled down for the search index: what :func:`matches` can
    find in ``text`` and not in ``seen`` (the title, tags, excerpt, headings), at most
    ``limit`` characters, in the order it first occurs.

    Latin words (runs between spaces, punctuation trimmed) are kept once each; of each
    Japanese run only the stretches that bring a character bigram (or a lone
    character) not met before. Pieces are separated by one space.
    """
    words: set[str] = set()
    grams: set[str] = set()
    for known in seen:
        for piece in _pieces(normalize(known)):
            if is_cjk_char(piece[0]):
                grams.update(_run_grams(piece))
            else:
                words.add(piece)
    out: list[str] = []
    used = 0
    for piece in _pieces(normalize(text)):
        if is_cjk_char(piece[0]):
            kept = _new_stretches(piece, grams)
        elif len(piece) > 1 and piece not in words:
            words.add(piece)
            kept = [piece]
        else:
            kept = []
        for stretch in kept:
            if used + len(stretch) + (1 if out else 0) > limit:
                return " ".join(out)
            used += len(stretch) + (1 if out else 0)
            out.append(stretch)
    return " ".join(out)


def _pieces(text: str) -> Iterable[str]:
    """Japanese runs and Latin words of normalised ``text``, in order."""
    for chunk in _CJK_PUNCTUATION.sub(" ", text).split():
        run = ""
        latin = ""
        for char in chunk:
            if is_cjk_char(char):
                if latin:
                    yield from _word(latin)
                    latin = ""
                run += char
            else:
                if run:
                    yield run
                    run = ""
                latin += char
        if run:
            yield run
        if latin:
            yield from _word(latin)


def _word(chunk: str) -> Iterable[str]:
    # Punctuation around a word is no part of it ("lambda," "(cold)"); inside it is
    # ("node.js", "ci/cd"). Quotes and backslashes go, so a JSON string needs no escapes.
    word = _WORD_EDGES.sub("", chunk).replace('"', "").replace("\\", "")
    word = "".join(c for c in word if c.isprintable())
    if word:
        yield word


# 、。「」…: they end a word as a space would ("lambda、cold" is two words).
_CJK_PUNCTUATION = re.compile("[\u3000-\u303f]")
_WORD_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


def _run_grams(run: str) -> set[str]:
    return {run} if len(run) == 1 else {run[i : i + 2] for i in range(len(run) - 1)}


def _new_stretches(run: str, grams: set[str]) -> list[str]:
    """The stretches of a Japanese run that hold a bigram not in ``grams`` (added)."""
    if len(run) == 1:
        if run in grams:
            return []
        grams.add(run)
        return [run]
    stretches: list[str] = []
    start = -1  # start of the current stretch of new bigrams
    for i in range(len(run) - 1):
        gram = run[i : i + 2]
        if gram not in grams:
            grams.add(gram)
            grams.update(gram)  # a lone-character query then matches as well
            if start < 0:
                start = i
        elif start >= 0:
            stretches.append(run[start : i + 1])
            start = -1
    if start >= 0:
        stretches.append(run[start:])
    return stretches


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def is_cjk_char(char: str) -> bool:
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF
        or 0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xF900 <= code <= 0xFAFF
        or 0xFF66 <= code <= 0xFF9F
    )
