"""Plain-text helpers that know Japanese: reading time and excerpts.

URL slugs are in :mod:`tsuzuri.domain.slugs`.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["collapse_whitespace", "is_blank", "is_cjk", "reading_time_minutes", "truncate"]

# Characters read one at a time rather than as space-separated words: Han (with
# radicals, strokes and compatibility forms), kana, CJK punctuation (。、「」々ー),
# enclosed and squared CJK (㈱ ㍉), fullwidth and halfwidth forms, and Hangul.
_CJK_CLASS = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u2e80-\u2fdf"  # CJK Radicals Supplement, Kangxi Radicals
    "\u3001-\u303f"  # CJK Symbols and Punctuation (not U+3000, a space)
    "\u3040-\u309f"  # Hiragana
    "\u30a0-\u30ff"  # Katakana
    "\u3100-\u312f"  # Bopomofo
    "\u3130-\u318f"  # Hangul Compatibility Jamo
    "\u31c0-\u31ff"  # CJK Strokes, Katakana Phonetic Extensions
    "\u3200-\u33ff"  # Enclosed CJK Letters and Months, CJK Compatibility
    "\u3400-\u4dbf"  # CJK Unified Ideographs Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\ua960-\ua97f"  # Hangul Jamo Extended-A
    "\uac00-\ud7ff"  # Hangul Syllables, Hangul Jamo Extended-B
    "\uf900-\ufaff"  # CJK Compatibility Ideographs
    "\ufe30-\ufe4f"  # CJK Compatibility Forms
    "\uff01-\uffef"  # Halfwidth and Fullwidth Forms
    "\U00020000-\U0003134f"  # Extensions B-G and the Compatibility Supplement
)
_CJK = re.compile(f"[{_CJK_CLASS}]")
_WORD = re.compile(r"[^\W_]+(?:['’.][^\W_]+)*")
_SENTENCE_ENDS = "。！？"
_ELLIPSIS = "…"


def is_cjk(char: str) -> bool:
    """Whether a single character is read as a CJK character (Han, kana, Hangul...)."""
    return _CJK.fullmatch(char) is not None


# Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt): characters
# that render as nothing, such as U+200B ZERO WIDTH SPACE, U+FEFF (BOM), U+2060 WORD
# JOINER, U+3164 HANGUL FILLER, variation selectors and tag characters. Python's
# unicodedata has no such property, and a title made only of them is an invisible link.
_IGNORABLE = re.compile(
    "["
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
    "]"
)
# Blank glyphs that are not ignorable but still show nothing.
_BLANK_GLYPHS = frozenset("\u2800")  # BRAILLE PATTERN BLANK


def is_blank(text: str) -> bool:
    """Whether ``text`` would show nothing: only whitespace and invisible characters.

    Invisible means default-ignorable (zero-width spaces and joiners, BOM, bidi marks,
    fillers, variation selectors), any other format or control character, and the
    blank braille pattern.
    """
    for char in text:
        if char.isspace() or char in _BLANK_GLYPHS or _IGNORABLE.match(char):
            continue
        if unicodedata.category(char) in ("Cc", "Cf"):
            continue
        return False
    return True


def collapse_whitespace(text: str) -> str:
    """Turn every run of whitespace (including U+3000 and newlines) into one space, trimmed."""
    return " ".join(text.split())


def reading_time_minutes(
    text: str, *, cjk_per_minute: int = 500, words_per_minute: int = 220
) -> int:
    """Minutes to read ``text``, rounded up, at least 1.

    CJK characters count one by one at ``cjk_per_minute``; everything else counts as
    words at ``words_per_minute``. 1,500 Japanese characters take 3 minutes.
    """
    if cjk_per_minute <= 0 or words_per_minute <= 0:
        raise ValueError("reading speeds must be positive")
    text = unicodedata.normalize("NFC", text)
    cjk = len(_CJK.findall(text))
    words = len(_WORD.findall(_CJK.sub(" ", text)))
    # ceil(cjk / cjk_per_minute + words / words_per_minute) without floating point.
    numerator = cjk * words_per_minute + words * cjk_per_minute
    minutes = -(-numerator // (cjk_per_minute * words_per_minute))
    return max(1, minutes)


def truncate(text: str, limit: int, *, ellipsis: str = _ELLIPSIS) -> str:
    """Shorten ``text`` to at most ``limit`` characters, ellipsis included.

    Whitespace is collapsed first; text that then fits is returned without an ellipsis.
    The cut never splits a character from its combining marks, an emoji sequence or a
    flag. Japanese text is cut at the limit, or at the last 。！？ if one falls in the
    last 30%; a cut inside a Latin word moves back to the last space (or CJK character)
    in the last 20%. Trailing spaces and punctuation are removed before the ellipsis.
    """
    if limit < len(ellipsis) + 1:
        raise ValueError(f"limit {limit} leaves no room for text before {ellipsis!r}")
    text = collapse_whitespace(text)
    if len(text) <= limit:
        return text

    cut = _boundary_at_or_before(text, limit - len(ellipsis))
    head = text[:cut]
    if _mostly_cjk(head):
        end = max(head.rfind(mark) for mark in _SENTENCE_ENDS)
        if end >= 0 and end + 1 >= int(cut * 0.7):
            return _finish(head[: end + 1], head, ellipsis)
    if _inside_word(text, cut):
        floor = int(cut * 0.8)
        for i in range(cut - 1, max(floor, 1) - 1, -1):
            if head[i] == " ":
                return _finish(head[:i], head, ellipsis)
            if is_cjk(head[i]):
                return _finish(head[: i + 1], head, ellipsis)
    return _finish(head, head, ellipsis)


# --------------------------------------------------------------------------- helpers


def _extends_previous(char: str) -> bool:
    """Whether ``char`` belongs to the same user-perceived character as the one before."""
    code = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me")
        or code == 0x200D  # zero width joiner
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0x1F3FB <= code <= 0x1F3FF  # emoji skin tone modifiers
        or 0xE0020 <= code <= 0xE007F  # emoji tag sequences (subdivision flags)
        or 0xE0100 <= code <= 0xE01EF  # variation selectors supplement
        or 0x1160 <= code <= 0x11FF  # conjoining Hangul vowels and final consonants
        or 0xDC00 <= code <= 0xDFFF  # low surrogate (text decoded with surrogateescape)
    )


def _is_regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _boundary_at_or_before(text: str, pos: int) -> int:
    """The largest cut position <= ``pos`` that does not split a grapheme cluster."""
    while 0 < pos < len(text):
        char, before = text[pos], text[pos - 1]
        if _extends_previous(char) or before == "\u200d":
            pos -= 1
            continue
        if _is_regional_indicator(char) and _is_regional_indicator(before):
            run = 0
            while pos - run - 1 >= 0 and _is_regional_indicator(text[pos - run - 1]):
                run += 1
            if run % 2:  # the flag pair straddles the cut
                pos -= 1
                continue
        break
    return pos


def _mostly_cjk(text: str) -> bool:
    letters = sum(1 for char in text if not char.isspace())
    return letters > 0 and len(_CJK.findall(text)) * 2 >= letters


def _inside_word(text: str, cut: int) -> bool:
    if not 0 < cut < len(text):
        return False
    before, after = text[cut - 1], text[cut]
    return not (before.isspace() or after.isspace() or is_cjk(before) or is_cjk(after))


def _finish(head: str, fallback: str, ellipsis: str) -> str:
    trimmed = _strip_trailing_punctuation(head) or _strip_trailing_punctuation(fallback)
    return (trimmed or fallback.rstrip()) + ellipsis


def _strip_trailing_punctuation(text: str) -> str:
    end = len(text)
    while end > 0:
        char = text[end - 1]
        category = unicodedata.category(char)
        # Keep closing brackets and quotes (」 ） ” ') so a quotation stays balanced.
        if char.isspace() or (category[0] == "P" and category not in ("Pe", "Pf")):
            end -= 1
        else:
            break
    return text[:end]
