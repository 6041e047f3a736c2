"""Reading time, excerpts and slugs for Japanese and Latin text."""

from __future__ import annotations

import unicodedata

import pytest
from tsuzuri.domain.slugs import term_slug
from tsuzuri.domain.text import collapse_whitespace, is_cjk, reading_time_minutes, truncate

# 300 Japanese characters with no spaces and no sentence end.
KANA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほ"
JAPANESE_300 = (KANA * 10)[:300]
SENTENCE = "今日はとても良い天気でした。"  # 14 characters


# --------------------------------------------------------------------------- whitespace


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("   ", ""),
        ("a  b", "a b"),
        ("  a\n\nb\t c  ", "a b c"),
        ("日本語\u3000の\u3000文", "日本語 の 文"),
        ("a\r\nb\u00a0c\u2028d", "a b c d"),
        ("no-change", "no-change"),
    ],
)
def test_collapse_whitespace(text: str, expected: str) -> None:
    assert collapse_whitespace(text) == expected


# --------------------------------------------------------------------------- CJK


@pytest.mark.parametrize(
    ("char", "expected"),
    [
        ("漢", True),
        ("あ", True),
        ("ア", True),
        ("ｱ", True),  # halfwidth katakana
        ("ー", True),
        ("々", True),
        ("。", True),
        ("「", True),
        ("Ａ", True),  # fullwidth Latin
        ("！", True),
        ("한", True),
        ("𠮷", True),  # outside the BMP (Extension B)
        ("㈱", True),
        ("\u3000", False),  # ideographic space is whitespace
        ("a", False),
        ("1", False),
        ("é", False),
        ("😀", False),
        (" ", False),
    ],
)
def test_is_cjk(char: str, expected: bool) -> None:
    assert is_cjk(char) is expected


# --------------------------------------------------------------------------- reading time


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("", 1),
        ("短い", 1),
        ("あ" * 500, 1),
        ("あ" * 501, 2),
        ("あ" * 1500, 3),
        ("漢字とひらがなとカタカナ。" * 100, 3),  # 1,300 characters
        ("한국어" * 500, 3),
        ("word " * 220, 1),
        ("word " * 221, 2),
        ("word " * 2200, 10),
        ("あ" * 500 + " word" * 220, 2),
        ("あ" * 250 + " word" * 110, 1),
        ("AWS の Lambda で 生成AI を使う" * 100, 3),  # 700 CJK (1.4) + 300 words (1.4)
        ("don't stop 3.14 node.js e-mail", 1),
        ("   \n\n  ", 1),
    ],
)
def test_reading_time_minutes(text: str, minutes: int) -> None:
    assert reading_time_minutes(text) == minutes


def test_reading_time_counts_words_and_characters_separately() -> None:
    # 1,000 CJK at 500/min = 2 min, 440 words at 220/min = 2 min.
    text = "あ" * 1000 + " " + "word " * 440
    assert reading_time_minutes(text) == 4
    assert reading_time_minutes(text, cjk_per_minute=1000) == 3
    assert reading_time_minutes(text, words_per_minute=440) == 3


def test_reading_time_punctuation_is_not_a_word() -> None:
    assert reading_time_minutes("— , . ! ? ... " * 1000) == 1


def test_reading_time_rejects_bad_speeds() -> None:
    with pytest.raises(ValueError, match="positive"):
        reading_time_minutes("x", cjk_per_minute=0)
    with pytest.raises(ValueError, match="positive"):
        reading_time_minutes("x", words_per_minute=-1)


# --------------------------------------------------------------------------- truncate


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("  spaced   out  ", 10, "spaced out"),  # collapsed first, then it fits
        ("日本語の文章です。", 9, "日本語の文章です。"),
        ("", 5, ""),
    ],
)
def test_truncate_leaves_text_that_fits(text: str, limit: int, expected: str) -> None:
    assert truncate(text, limit) == expected


def test_truncate_japanese_paragraph_without_spaces() -> None:
    result = truncate(JAPANESE_300, 120)
    assert result == JAPANESE_300[:119] + "…"
    assert len(result) == 120


def test_truncate_japanese_prefers_a_sentence_end_in_the_last_30_percent() -> None:
    text = SENTENCE * 20  # 280 characters
    result = truncate(text, 120)
    # budget 119; the last 。 in text[:119] is at index 111 (>= 70%), it ends sentence 8
    assert result == SENTENCE * 7 + SENTENCE[:-1] + "…"
    assert len(result) <= 120


def test_truncate_japanese_ignores_an_early_sentence_end() -> None:
    text = "はじめに。" + "あ" * 200
    result = truncate(text, 100)
    assert result == text[:99] + "…"


@pytest.mark.parametrize("mark", ["！", "？"])
def test_truncate_japanese_other_sentence_ends(mark: str) -> None:
    text = "あ" * 90 + mark + "い" * 100
    assert truncate(text, 100) == "あ" * 90 + "…"


def test_truncate_latin_prefers_the_last_space_in_the_last_20_percent() -> None:
    text = "The quick brown fox jumps over the lazy dog " * 5
    result = truncate(text, 30)
    assert result == "The quick brown fox jumps…"
    assert len(result) <= 30


def test_truncate_latin_without_a_nearby_space_cuts_the_word() -> None:
    text = "a " + "b" * 100
    result = truncate(text, 50)
    assert result == "a " + "b" * 47 + "…"
    assert len(result) == 50


def test_truncate_mixed_text_backs_off_to_the_japanese_before_a_word() -> None:
    text = "あ" * 95 + "Lambda関数の設定" + "い" * 50
    result = truncate(text, 100)
    assert result == "あ" * 95 + "…"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Hello, world, again and again", 14, "Hello, world…"),
        ("one two. three four five six", 10, "one two…"),
        ("あいうえお、かきくけこ", 7, "あいうえお…"),
        ("「引用」のあとに続く長い長い文章", 5, "「引用」…"),
        ("(括弧) が閉じる前に切れる長い文", 4, "(括弧…"),
        ("dash - dash - dash - dash", 8, "dash…"),
    ],
)
def test_truncate_strips_trailing_punctuation_before_the_ellipsis(
    text: str, limit: int, expected: str
) -> None:
    assert truncate(text, limit) == expected


def test_truncate_collapses_whitespace_first() -> None:
    text = "line one\n\nline   two\tline three " * 10
    result = truncate(text, 40)
    assert "\n" not in result
    assert "  " not in result
    assert result.endswith("…")


@pytest.mark.parametrize(
    ("unit", "limit"),
    [
        ("👨\u200d👩\u200d👧", 8),  # ZWJ family: 5 code points
        ("👍🏽", 8),  # skin tone modifier
        ("🇯🇵", 8),  # flag: a pair of regional indicators
        ("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", 10),  # tag sequence
        ("1\ufe0f\u20e3", 8),  # keycap
        ("e\u0301", 6),  # combining acute
        ("か\u3099", 6),  # combining dakuten
        ("\u1100\u1161\u11a8", 8),  # conjoining Hangul jamo
        ("❤\ufe0f", 6),  # variation selector
    ],
)
def test_truncate_never_splits_a_grapheme(unit: str, limit: int) -> None:
    text = unit * 20
    result = truncate(text, limit)
    assert result.endswith("…")
    assert len(result) <= limit
    body = result[:-1]
    assert body, result
    assert body == unit * (len(body) // len(unit))


def test_truncate_flags_keep_their_pairs_at_odd_offsets() -> None:
    text = "x" + "🇯🇵" * 10
    for limit in range(3, 12):
        body = truncate(text, limit)[:-1]
        assert (len(body) - 1) % 2 == 0


def test_truncate_with_other_ellipsis() -> None:
    assert truncate("abcdefghij klmnop", 8, ellipsis="...") == "abcde..."
    assert truncate("あいうえおかきくけこ", 5, ellipsis="") == "あいうえお"


def test_truncate_rejects_a_limit_without_room() -> None:
    with pytest.raises(ValueError, match="no room"):
        truncate("abc", 1)
    with pytest.raises(ValueError, match="no room"):
        truncate("abc", 0, ellipsis="")


def test_truncate_all_punctuation_still_shortens() -> None:
    result = truncate("!!!!!!!!!!!!!!!!!!!!", 5)
    assert len(result) <= 5
    assert result.endswith("…")


# --------------------------------------------------------------------------- term_slug


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("AWS Lambda", "aws-lambda"),
        ("生成AI", "生成ai"),
        ("C++", "c-plus-plus"),
        ("Node.js", "node-js"),
        ("Python", "python"),
        ("AI最新ニュース", "ai最新ニュース"),
        ("クラウド", "クラウド"),
        ("  padded  ", "padded"),
        ("snake_case_name", "snake_case_name"),
        ("kebab-case-name", "kebab-case-name"),
        ("a -- b", "a-b"),
        ("a+b", "a-b"),
        ("what?!", "what"),
        ("Q&A", "q-a"),
        ("東京/大阪", "東京-大阪"),
        ("ビッグ・データ", "ビッグ-データ"),  # Unicode punctuation separates too
        ("機械学習、深層学習", "機械学習-深層学習"),
        ("Ｐｙｔｈｏｎ\u3000３", "python-3"),  # NFKC: fullwidth -> ASCII
        ("ﾃｽﾄ", "テスト"),  # NFKC: halfwidth katakana
        ("ガ", "ガ"),  # NFKC composes dakuten (か + U+3099)
        ("Ⅻ章", "xii章"),
        ("①", "1"),
        ("Café", "café"),
        ("Déjà Vu", "déjà-vu"),
        ("한국어 공부", "한국어-공부"),
        ("Русский язык", "русский-язык"),
        ("AI✨", "ai"),  # symbols are dropped
        ("I ❤ Python", "i-python"),
        ("©2026 Tsuzuri™", "2026-tsuzuritm"),
        ("a\u200db", "ab"),  # format characters are dropped
        (".NET", "dot-net"),
        ("C#", "c-sharp"),
        ("100%", "100"),
        ("v1.2.3", "v1-2-3"),
    ],
)
def test_term_slug(name: str, slug: str) -> None:
    assert term_slug(name) == slug


def test_term_slug_is_idempotent_and_normalised() -> None:
    for name in ["AWS Lambda", "生成AI", "ビッグ・データ", "Ｐｙｔｈｏｎ\u3000３"]:
        slug = term_slug(name)
        assert term_slug(slug) == slug
        assert unicodedata.is_normalized("NFKC", slug)


@pytest.mark.parametrize("name", ["", "   ", "---", "+++", "!?", "✨🎉", "・・・", "\u200b"])
def test_term_slug_rejects_names_without_letters(name: str) -> None:
    with pytest.raises(ValueError, match="cannot make a URL slug"):
        term_slug(name)
