"""Decoding source files and splitting / parsing their YAML front matter."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from tsuzuri.domain.frontmatter import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_FRONT_MATTER_BYTES,
    FrontMatter,
    decode_source,
    key_line,
    split_front_matter,
)
from tsuzuri.errors import EncodingRejected, FrontMatterError, InputRejected, PostRejected

POST = (
    "---\n"
    "title: こんにちは\n"
    "date: 2026-02-21 10:48:10 +0900\n"
    "tags: [AWS, 生成AI]\n"
    "---\n"
    "本文です。\n"
)


# --------------------------------------------------------------------------- decode_source


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"---\na: 1\n---\n", "---\na: 1\n---\n"),
        (b"\xef\xbb\xbf---\na: 1\n", "---\na: 1\n"),
        (b"---\r\na: 1\r\n---\r\nbody\r\n", "---\na: 1\n---\nbody\n"),
        (b"---\ra: 1\r---\r", "---\na: 1\n---\n"),
        (b"a\r\n\rb\n\r\n", "a\n\nb\n\n"),
        ("---\ntitle: 日本語\n".encode(), "---\ntitle: 日本語\n"),
        (b"no trailing newline", "no trailing newline"),
    ],
)
def test_decode_source_accepts_utf8_and_normalises(raw: bytes, expected: str) -> None:
    assert decode_source(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [b"", b"   ", b"\n\n\r\n\t ", b"\xef\xbb\xbf", b"\xef\xbb\xbf \n", "\u3000\n".encode()],
)
def test_decode_source_rejects_empty_files(raw: bytes) -> None:
    with pytest.raises(EncodingRejected, match="the file is empty"):
        decode_source(raw)


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        (b"\xff---\n", 1),
        (b"---\ntitle: ok\n\xc3(\n---\n", 3),
        (b"---\r\ntitle: ok\r\n\r\nx: \xe3\x81\n", 4),  # truncated multi-byte sequence
        (b"a\rb\rc\xff", 3),  # old Mac line endings still count lines
        (b"a\n\xed\xa0\x80\n", 2),  # an encoded surrogate is not UTF-8
        (b"a\n\xc0\xaf\n", 2),  # overlong encoding
    ],
)
def test_decode_source_rejects_invalid_utf8_naming_the_line(raw: bytes, line: int) -> None:
    with pytest.raises(EncodingRejected) as caught:
        decode_source(raw)
    error = caught.value
    assert error.line == line
    assert f"line {line}" in error.message
    assert "not valid UTF-8" in error.message
    assert error.hint is not None
    assert "save the file as UTF-8" in error.hint
    assert str(error).startswith(f"line {line}: ")


def test_decode_source_recognises_shift_jis() -> None:
    raw = "---\ntitle: 日本語のタイトル\n---\n本文\n".encode("cp932")
    with pytest.raises(EncodingRejected) as caught:
        decode_source(raw)
    assert caught.value.line == 2
    assert caught.value.hint is not None
    assert "Shift_JIS" in caught.value.hint
    assert "save the file as UTF-8" in caught.value.hint


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_decode_source_rejects_utf16_and_utf32_with_bom(encoding: str) -> None:
    raw = "\ufeff---\ntitle: x\n---\n".encode(encoding)
    with pytest.raises(EncodingRejected, match="not UTF-8") as caught:
        decode_source(raw)
    assert caught.value.line == 1


@pytest.mark.parametrize(
    ("raw", "line"),
    [(b"\x00", 1), (b"---\ntitle: a\x00b\n---\n", 2), (b"a\r\nb\r\nc\x00", 3)],
)
def test_decode_source_rejects_nul_bytes(raw: bytes, line: int) -> None:
    with pytest.raises(EncodingRejected, match="NUL") as caught:
        decode_source(raw)
    assert caught.value.line == line
    assert caught.value.code == "bad-encoding"


def test_encoding_errors_are_input_rejections_not_post_rejections() -> None:
    # Any uploaded file can be badly encoded: the error is the input's, not a post's.
    with pytest.raises(InputRejected) as caught:
        decode_source(b"")
    assert not isinstance(caught.value, PostRejected)


# --------------------------------------------------------------------------- splitting


def test_split_front_matter_basic() -> None:
    front = split_front_matter(POST)
    assert front.data == {
        "title": "こんにちは",
        "date": "2026-02-21 10:48:10 +0900",
        "tags": ["AWS", "生成AI"],
    }
    assert front.body == "本文です。\n"
    assert front.body_line == 6
    assert front.lines == {"title": 2, "date": 3, "tags": 4}


def test_front_matter_is_frozen() -> None:
    front = split_front_matter(POST)
    with pytest.raises(dataclasses.FrozenInstanceError):
        front.body = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "data", "body", "body_line"),
    [
        ("---\n---\n", {}, "", 3),
        ("---\n---", {}, "", 3),
        ("---\n\n\n---\nbody", {}, "body", 5),
        ("---\n# only a comment\n---\nbody\n", {}, "body\n", 4),
        ("---\ntitle: x\n...\nbody\n", {"title": "x"}, "body\n", 4),
        ("---  \ntitle: x\n---\t\nbody\n", {"title": "x"}, "body\n", 4),
        ("---\ntitle: x\n---\n\n# Heading\n", {"title": "x"}, "\n# Heading\n", 4),
        # only the first fence closes; later --- lines belong to the body
        ("---\na: 1\n---\nabove\n---\nbelow\n", {"a": 1}, "above\n---\nbelow\n", 4),
        # an indented --- or ---- is not a fence
        ("---\na: |\n  ---\n----: 2\n---\n", {"a": "---\n", "----": 2}, "", 6),
        ("---\r\ntitle: x\r\n---\r\nbody\r\n", {"title": "x"}, "body\n", 4),
        ("\ufeff---\ntitle: x\n---\n", {"title": "x"}, "", 4),
    ],
)
def test_split_front_matter_shapes(
    text: str, data: dict[str, object], body: str, body_line: int
) -> None:
    front = split_front_matter(text)
    assert front == FrontMatter(data=data, body=body, body_line=body_line, lines=front.lines)


@pytest.mark.parametrize(
    "text",
    [
        "# Just markdown\n",
        "\n---\ntitle: x\n---\n",  # Jekyll needs --- on the very first line
        " ---\ntitle: x\n---\n",
        "----\ntitle: x\n---\n",
        "--- title: x\n---\n",
        "title: x\n---\n",
        "+++\ntitle = 'x'\n+++\n",
    ],
)
def test_missing_front_matter_is_reported(text: str) -> None:
    with pytest.raises(FrontMatterError) as caught:
        split_front_matter(text)
    error = caught.value
    assert error.message == "no front matter: a post must start with a --- line"
    assert error.line == 1
    assert error.hint


@pytest.mark.parametrize("text", ["---\n", "---", "---\ntitle: x\n", "---\ntitle: x\n--\nbody"])
def test_unclosed_front_matter_names_line_1(text: str) -> None:
    with pytest.raises(FrontMatterError, match="never closed") as caught:
        split_front_matter(text)
    assert caught.value.line == 1


def test_key_lines_follow_the_original_file() -> None:
    text = (
        "---\n"
        "# comment\n"
        "title: x\n"
        "\n"
        "tags:\n"
        "  - a\n"
        "  - b\n"
        "description: >\n"
        "  folded\n"
        "  text\n"
        '"quoted key": 1\n'
        "date: 2026-02-21\n"
        "---\n"
    )
    front = split_front_matter(text)
    assert front.lines == {"title": 3, "tags": 5, "description": 8, "quoted key": 11, "date": 12}
    assert key_line(front, "date") == 12
    assert key_line(front, "missing") is None


def test_key_lines_ignore_yaml_only_line_breaks() -> None:
    # U+0085 and U+2028 are line breaks for YAML but not for the file or the editor.
    text = '---\ntitle: "a\u0085b"\nnote: "c\u2028d"\ndate: 2026-02-21\n---\n'
    front = split_front_matter(text)
    assert front.lines == {"title": 2, "note": 3, "date": 4}


def test_merge_keys_are_flattened_and_located() -> None:
    text = (
        "---\nbase: &base\n  layout: post\n  author: 綴\ntitle: x\n<<: *base\nauthor: 花子\n---\n"
    )
    front = split_front_matter(text)
    assert front.data == {
        "base": {"layout": "post", "author": "綴"},
        "title": "x",
        "layout": "post",
        "author": "花子",
    }
    assert front.lines["layout"] == 3  # where the merged value is written
    assert front.lines["author"] == 7  # the explicit key wins, as in the data


def test_duplicate_keys_keep_the_last_value_like_jekyll() -> None:
    front = split_front_matter("---\ntitle: first\ntitle: second\n---\n")
    assert front.data == {"title": "second"}
    assert front.lines == {"title": 3}


def test_what_pyyaml_makes_of_common_values() -> None:
    front = split_front_matter(
        "---\n"
        "a: 2026-02-21 10:48:10 +0900\n"
        "b: 2026-02-21 10:48:10 +09:00\n"
        "c: 2026-02-21 10:48:10\n"
        "d: 2026-02-21\n"
        "e: 2026-02-21T10:48:10Z\n"
        "f: 2026-02-21 10:48 +0900\n"
        "g: 2026/02/21\n"
        "h: yes\n"
        "i: 1.10\n"
        "j: ~\n"
        "k: '2026-02-21'\n"
        "---\n"
    )
    assert front.data == {
        "a": "2026-02-21 10:48:10 +0900",  # PyYAML needs a colon in the offset
        "b": datetime(2026, 2, 21, 10, 48, 10, tzinfo=timezone(timedelta(hours=9))),
        "c": datetime(2026, 2, 21, 10, 48, 10),  # naive
        "d": date(2026, 2, 21),
        "e": datetime(2026, 2, 21, 10, 48, 10, tzinfo=UTC),
        "f": "2026-02-21 10:48 +0900",  # no seconds: not a YAML timestamp
        "g": "2026/02/21",
        "h": True,  # YAML 1.1, as in Jekyll
        "i": 1.1,
        "j": None,
        "k": "2026-02-21",
    }


@pytest.mark.parametrize(
    "value", ["2026-02-30", "2026-13-01", "2026-02-21 25:00:00", "2026-02-30 10:00:00 +09:00"]
)
def test_impossible_timestamps_stay_text_for_the_date_parser(value: str) -> None:
    front = split_front_matter(f"---\ndate: {value}\n---\n")
    assert front.data == {"date": value}
    assert front.lines == {"date": 2}


# --------------------------------------------------------------------------- YAML errors


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "---\ntitle: ok\nlayout: post\ndescription: AWS: 入門\n---\n",
            4,
            "invalid YAML: mapping values are not allowed",
        ),
        ("---\ntitle: ok\n  bad: indent\n---\n", 3, "invalid YAML"),
        ("---\ntags: [a, b\ntitle: x\n---\n", 2, "invalid YAML"),
        ("---\ntags: [a, b\n---\n", 2, "invalid YAML"),
        ('---\ntitle: "unterminated\n---\n', 2, "invalid YAML"),
        ('---\ntitle: "unterminated\nlayout: post\n---\n', 2, "invalid YAML"),
        ("---\ntitle: x\njust text\nlayout: post\n---\n", 3, "invalid YAML"),
        ("---\ntags: {a: 1\nlayout: post\n---\n", 2, "invalid YAML"),
        ("---\ntitle: x\n\tlayout: post\n---\n", 3, "invalid YAML"),
        ("---\nauthor: @me\n---\n", 2, "invalid YAML"),
        ("---\na: 1\nb: *nowhere\n---\n", 3, "invalid YAML: found undefined alias"),
        ("---\na: 1\nb: !!int abc\n---\n", 3, "invalid YAML: cannot read this value"),
        ("---\na: 1\nb: !!float x\n---\n", 3, "invalid YAML: cannot read this value"),
        ("---\na: &x 1\nb: &x 2\n---\n", 3, "invalid YAML"),
        ("---\na: 1\n--- b: 2\n---\n", 3, "invalid YAML"),
        ("---\na: 1\nb: \x01\n---\n", 3, "control character U+0001"),
        ("---\ntitle: 日本語\nb: \x7f\n---\n", 3, "control character U+007F"),
        # U+0085 is a line break for YAML only: "y" starts a new YAML line, still line 2
        ("---\na: x\u0085y\nb: c: d\n---\n", 2, "invalid YAML"),
        ('---\na: "x\u2028y"\nb: c\nd: e: f\n---\n', 4, "invalid YAML"),
    ],
)
def test_yaml_errors_name_the_line_of_the_file(text: str, line: int, message: str) -> None:
    with pytest.raises(FrontMatterError) as caught:
        split_front_matter(text)
    error = caught.value
    assert error.line == line, str(error)
    assert message in error.message
    assert error.hint
    assert str(error).startswith(f"line {line}: ")


def test_yaml_error_reads_like_the_brief() -> None:
    text = "---\ntitle: x\nlayout: post\ndescription: AWS: 入門\n---\n"
    with pytest.raises(FrontMatterError) as caught:
        split_front_matter(text)
    assert str(caught.value).startswith("line 4: invalid YAML: mapping values are not allowed")
    assert caught.value.hint is not None
    assert "quoted" in caught.value.hint


def test_full_width_space_gets_a_specific_hint() -> None:
    with pytest.raises(FrontMatterError) as caught:
        split_front_matter("---\ntitle: x\n\u3000layout: post\nb: c: d\n---\n")
    assert caught.value.line == 4
    with pytest.raises(FrontMatterError) as caught:
        split_front_matter("---\ntitle: x\n\u3000b: c: d\n---\n")
    assert caught.value.line == 3
    assert caught.value.hint is not None
    assert "U+3000" in caught.value.hint


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("---\ntitle: x\ncmd: !!python/object/apply:os.system ['echo hi']\n---\n", 3),
        ("---\nx: !!python/object:__main__.Evil {}\n---\n", 2),
        ("---\na: 1\nb: 2\nx: !!python/name:os.system\n---\n", 4),
        ("---\nx: !!python/module:os\n---\n", 2),
        ("--- \nx: !custom 1\n---\n", 2),
        ("---\n!!python/object/new:os.system [ls]\n---\n", 2),
    ],
)
def test_unsafe_tags_are_rejected_with_the_line(text: str, line: int) -> None:
    with pytest.raises(FrontMatterError, match="unsupported YAML tag") as caught:
        split_front_matter(text)
    assert caught.value.line == line
    assert caught.value.code == "bad-front-matter"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("---\n- a\n- b\n---\n", 2),
        ("---\njust some text\n---\n", 2),
        ("---\n\n42\n---\n", 3),
        ("---\ntitle：全角コロン\n---\n", 2),
        ("---\n!!set {a, b}\n---\n", 2),
        ("---\ntitle: x\nyes: 1\n---\n", 3),  # YAML 1.1 reads the key as true
        ("---\ntitle: x\n1: one\n---\n", 3),
        ("---\n~: nothing\n---\n", 2),
        ("---\n2026-02-21: x\n---\n", 2),
        ("---\n? [a, b]\n: 1\n---\n", 2),
    ],
)
def test_front_matter_must_be_a_mapping_with_text_keys(text: str, line: int) -> None:
    with pytest.raises(FrontMatterError) as caught:
        split_front_matter(text)
    error = caught.value
    assert error.line == line
    assert error.hint
    if "[a, b]" not in text:  # PyYAML itself refuses an unhashable key
        assert error.message == "front matter must be key: value pairs"


def test_full_width_colon_gets_a_specific_hint() -> None:
    with pytest.raises(FrontMatterError) as caught:
        split_front_matter("---\ntitle：全角コロン\n---\n")
    assert caught.value.hint is not None
    assert "：" in caught.value.hint


def test_quoted_keys_that_look_like_other_types_are_fine() -> None:
    front = split_front_matter("---\n'yes': 1\n\"1\": one\n---\n")
    assert front.data == {"yes": 1, "1": "one"}


# --------------------------------------------------------------------------- hostile YAML


def _billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
        previous = name
    return "---\n" + "\n".join(lines) + "\n---\nbody\n"


def test_billion_laughs_is_rejected_quickly() -> None:
    text = _billion_laughs()
    assert text.count("*") < MAX_ALIASES  # the alias count alone would let it through
    started = time.perf_counter()
    with pytest.raises(FrontMatterError, match="aliases") as caught:
        split_front_matter(text)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5
    assert caught.value.line is not None
    assert 2 <= caught.value.line <= 10


def test_quadratic_blowup_with_many_aliases_is_rejected() -> None:
    items = ", ".join(["*a"] * (MAX_ALIASES + 1))
    text = f"---\na: &a [x, y, z]\nb: [{items}]\n---\n"
    with pytest.raises(FrontMatterError, match="too many aliases") as caught:
        split_front_matter(text)
    assert caught.value.line == 3


def test_a_reasonable_number_of_aliases_is_fine() -> None:
    items = ", ".join(["*a"] * MAX_ALIASES)
    front = split_front_matter(f"---\na: &a [x, y]\nb: [{items}]\n---\n")
    assert len(front.data["b"]) == MAX_ALIASES
    assert front.data["b"][0] == ["x", "y"]


def test_recursive_alias_is_rejected() -> None:
    with pytest.raises(FrontMatterError, match="contains it") as caught:
        split_front_matter("---\ntitle: x\na: &a [1, *a]\n---\n")
    assert caught.value.line == 3


def test_deep_nesting_is_rejected() -> None:
    too_deep = "x: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH  # plus the top-level mapping
    with pytest.raises(FrontMatterError, match="nested too deeply") as caught:
        split_front_matter(f"---\ntitle: t\n{too_deep}\n---\n")
    assert caught.value.line == 3


def test_nesting_up_to_the_limit_is_fine() -> None:
    depth = MAX_DEPTH - 1
    front = split_front_matter("---\nx: " + "[" * depth + "]" * depth + "\n---\n")
    value = front.data["x"]
    for _ in range(depth - 1):
        value = value[0]
    assert value == []


def test_very_deep_nesting_does_not_overflow_the_stack() -> None:
    text = "---\nx: " + "[" * 30_000 + "]" * 30_000 + "\n---\n"
    with pytest.raises(FrontMatterError, match="nested too deeply"):
        split_front_matter(text)


def test_block_style_nesting_is_counted_too() -> None:
    lines = [f"{'  ' * level}k{level}:" for level in range(MAX_DEPTH + 1)]
    with pytest.raises(FrontMatterError, match="nested too deeply"):
        split_front_matter("---\n" + "\n".join(lines) + " end\n---\n")


def test_oversized_front_matter_is_rejected() -> None:
    filler = "x" * 1000
    lines = [f"k{i}: {filler}" for i in range(MAX_FRONT_MATTER_BYTES // 1000 + 1)]
    text = "---\n" + "\n".join(lines) + "\n---\nbody\n"
    started = time.perf_counter()
    with pytest.raises(FrontMatterError, match="too large") as caught:
        split_front_matter(text)
    assert time.perf_counter() - started < 0.5
    assert caught.value.line == 1


def test_front_matter_just_under_the_limit_is_fine() -> None:
    value = "あ" * ((MAX_FRONT_MATTER_BYTES - 100) // 3)
    front = split_front_matter(f"---\ntitle: {value}\n---\n")
    assert front.data["title"] == value


def test_a_large_body_is_not_limited_here() -> None:
    body = "本文。" * 200_000
    front = split_front_matter(f"---\ntitle: x\n---\n{body}")
    assert front.body == body
