"""Decode a source file and split it into YAML front matter and a Markdown body.

The rules follow Jekyll 4, which reads a post as::

    ---
    title: ...
    ---
    body

The first line must be ``---`` and the front matter ends at the next line that is
``---`` or ``...`` (trailing spaces allowed on both). Jekyll silently ignores a file
without front matter; tsuzuri reports it instead, because an editor who uploads such a
file expects it to be published.

The YAML is parsed with PyYAML's safe loader (the libyaml C loader when present).
Hostile input is bounded before any object is built: the block size, the nesting depth,
the number of aliases and the size the aliases would expand to are all checked on the
event stream of the C parser, which never expands anything itself.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode

from tsuzuri.domain.limits import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_EXPANDED_NODES,
    MAX_FRONT_MATTER_BYTES,
)
from tsuzuri.errors import EncodingRejected, FrontMatterError

try:
    from yaml import CSafeLoader as _BaseLoader

    _C_LOADER = True
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

    _C_LOADER = False

__all__ = [
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_EXPANDED_NODES",
    "MAX_FRONT_MATTER_BYTES",
    "FrontMatter",
    "decode_source",
    "key_line",
    "normalize_newlines",
    "split_front_matter",
]

#: Line of the original file where the YAML block starts (line 1 is the opening ---).
_FIRST_YAML_LINE = 2
_STR_TAG = "tag:yaml.org,2002:str"
_FENCE_OPEN = re.compile(r"---[ \t]*")
_FENCE_CLOSE = re.compile(r"(?:---|\.\.\.)[ \t]*")


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """A post split into its front matter mapping and its Markdown body."""

    #: The YAML mapping (``{}`` if the front matter block is empty).
    data: dict[str, Any]
    #: The Markdown after the closing fence, newlines normalised to ``\\n``.
    body: str
    #: 1-based line of the original file where the body starts.
    body_line: int
    #: Top-level key -> 1-based line of the original file where the key is written.
    lines: dict[str, int] = field(default_factory=dict)


def key_line(front: FrontMatter, key: str) -> int | None:
    """The file line of a top-level front matter key, or ``None`` if it is not there."""
    return front.lines.get(key)


# --------------------------------------------------------------------------- decoding


def decode_source(raw: bytes) -> str:
    """Decode an uploaded file: UTF-8 only, BOM stripped, newlines normalised to ``\\n``.

    Raises :class:`~tsuzuri.errors.EncodingRejected` for an empty or whitespace-only
    file, bytes that are not UTF-8 (naming the line of the first bad byte), UTF-16/32
    files and NUL bytes.
    """
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise EncodingRejected(
            "the file is UTF-32, not UTF-8", line=1, hint="save the file as UTF-8"
        )
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise EncodingRejected(
            "the file is UTF-16, not UTF-8", line=1, hint="save the file as UTF-8"
        )
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = _count_lines(raw[: exc.start])
        hint = "save the file as UTF-8"
        if _looks_like_shift_jis(raw):
            hint = "the file looks like Shift_JIS; save the file as UTF-8"
        raise EncodingRejected(
            f"the file is not valid UTF-8: bad byte 0x{raw[exc.start]:02X} on line {line}",
            line=line,
            hint=hint,
        ) from None
    text = normalize_newlines(text)
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise EncodingRejected(
            f"the file contains a NUL byte on line {line}",
            line=line,
            hint="this looks like a binary or UTF-16 file; save it as UTF-8 text",
        )
    if not text.strip():
        raise EncodingRejected(
            "the file is empty",
            hint="a post starts with a --- line, key: value lines such as title: My post, "
            "and a closing --- line, followed by the Markdown text",
        )
    return text


def normalize_newlines(text: str) -> str:
    """CRLF and lone CR become LF."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _count_lines(prefix: bytes) -> int:
    """1-based line number just after ``prefix``, counting CRLF, CR and LF as one break."""
    return prefix.count(b"\n") + prefix.count(b"\r") - prefix.count(b"\r\n") + 1


def _looks_like_shift_jis(raw: bytes) -> bool:
    try:
        raw.decode("cp932")
    except UnicodeDecodeError:
        return False
    return True


# --------------------------------------------------------------------------- splitting


def split_front_matter(text: str) -> FrontMatter:
    """Split decoded text into the parsed front matter mapping and the body.

    Raises :class:`~tsuzuri.errors.FrontMatterError` when the front matter is missing,
    not closed, too large, hostile, not valid YAML or not a mapping with text keys.
    Every error names the line of the original file.
    """
    text = normalize_newlines(text.removeprefix("\ufeff"))
    lines = text.split("\n")
    if not _FENCE_OPEN.fullmatch(lines[0]):
        raise FrontMatterError(
            "no front matter: a post must start with a --- line",
            line=1,
            hint="the very first line must be ---, then key: value lines such as "
            "title: My post, then a closing --- line",
        )
    close = next(
        (i for i in range(1, len(lines)) if _FENCE_CLOSE.fullmatch(lines[i])),
        None,
    )
    if close is None:
        raise FrontMatterError(
            "the front matter that starts here is never closed",
            line=1,
            hint="add a line with only --- after the last key: value line",
        )
    yaml_lines = lines[1:close]
    block = "".join(f"{line}\n" for line in yaml_lines)
    size = len(block.encode("utf-8"))
    if size > MAX_FRONT_MATTER_BYTES:
        raise FrontMatterError(
            f"the front matter is too large ({size:,} bytes; the limit is "
            f"{MAX_FRONT_MATTER_BYTES // 1024} KiB)",
            line=1,
            hint="keep long text in the body of the post, below the closing ---",
        )
    data, key_lines = _parse_yaml(block, yaml_lines)
    return FrontMatter(
        data=data,
        body="\n".join(lines[close + 1 :]),
        body_line=close + 2,
        lines=key_lines,
    )


# --------------------------------------------------------------------------- YAML


class _Loader(_BaseLoader):
    """The safe loader, plus: values PyYAML cannot build carry their line.

    * A timestamp that is not a real calendar day (``2026-02-30``) stays a string, so
      that :func:`tsuzuri.domain.dates.parse_date` can explain the problem for its field.
    * ``!!int abc`` and the like raise a YAML error with a mark instead of a bare
      ``ValueError``.
    """

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (
            ValueError,
            TypeError,
            ArithmeticError,
            AttributeError,
            LookupError,
            RecursionError,
        ) as exc:
            # LookupError: PyYAML's int constructor indexes an empty !!int value.
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value: {exc}", node.start_mark
            ) from None

    def construct_lenient_timestamp(self, node: ScalarNode) -> Any:
        try:
            return self.construct_yaml_timestamp(node)
        except (ValueError, TypeError, OverflowError, AttributeError):
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_lenient_timestamp)


class _Frame:
    __slots__ = ("anchor", "size")

    def __init__(self, anchor: str | None):
        self.anchor = anchor
        self.size = 1


def _file_line(mark: Any, block: str) -> int:
    """1-based line of the original file for a mark inside the YAML block.

    Computed from the character index rather than ``mark.line``: YAML also breaks lines
    at U+0085, U+2028 and U+2029, which are not line breaks of the file.
    """
    return block.count("\n", 0, int(mark.index)) + _FIRST_YAML_LINE


def _check_structure(block: str) -> None:
    """Reject deep nesting, alias floods and alias expansion bombs, before composing.

    Works on parser events, which libyaml produces without expanding any alias, and
    tracks how many nodes each anchor would stand for once expanded.
    """
    expanded: dict[str, int] = {}
    stack: list[_Frame] = []
    aliases = 0

    def add(size: int, mark: Any) -> None:
        if not stack:
            return
        frame = stack[-1]
        frame.size += size
        if frame.size > MAX_EXPANDED_NODES:
            raise FrontMatterError(
                "the front matter expands to too many values through aliases "
                f"(more than {MAX_EXPANDED_NODES:,})",
                line=_file_line(mark, block),
                hint="this looks like a YAML alias bomb; remove the & anchors and * aliases",
            )

    for event in yaml.parse(block, Loader=_Loader):
        if isinstance(event, MappingStartEvent | SequenceStartEvent):
            if len(stack) >= MAX_DEPTH:
                raise _too_deep(_file_line(event.start_mark, block))
            stack.append(_Frame(event.anchor))
        elif isinstance(event, MappingEndEvent | SequenceEndEvent):
            frame = stack.pop()
            if frame.anchor is not None:
                expanded[frame.anchor] = frame.size
            add(frame.size, event.start_mark)
        elif isinstance(event, ScalarEvent):
            if event.anchor is not None:
                expanded[event.anchor] = 1
            add(1, event.start_mark)
        elif isinstance(event, AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise FrontMatterError(
                    f"the front matter uses too many aliases (more than {MAX_ALIASES})",
                    line=_file_line(event.start_mark, block),
                    hint="write the values out instead of repeating *aliases",
                )
            if any(frame.anchor == event.anchor for frame in stack):
                raise FrontMatterError(
                    f"the alias *{event.anchor} refers to the value that contains it",
                    line=_file_line(event.start_mark, block),
                    hint="recursive YAML aliases are not allowed",
                )
            add(expanded.get(event.anchor or "", 1), event.start_mark)


def _too_deep(line: int) -> FrontMatterError:
    return FrontMatterError(
        f"the front matter is nested too deeply (more than {MAX_DEPTH} levels)",
        line=line,
        hint="flatten the nested lists and mappings",
    )


def _parse_yaml(block: str, yaml_lines: list[str]) -> tuple[dict[str, Any], dict[str, int]]:
    if not block.strip():
        return {}, {}
    try:
        _check_structure(block)
        loader = _Loader(block)
        try:
            root = loader.get_single_node()
            if root is None:  # only comments
                return {}, {}
            data = loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, block, yaml_lines) from None
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, block) from None

    if not isinstance(data, dict) or not isinstance(root, MappingNode):
        raise _not_a_mapping(root, block, yaml_lines)
    # construct_document flattened any << merge keys into root.value, in order; a later
    # key wins, as it does in the constructed dict.
    key_lines: dict[str, int] = {}
    for key_node, _value_node in root.value:
        line = _file_line(key_node.start_mark, block)
        if not isinstance(key_node, ScalarNode) or key_node.tag != _STR_TAG:
            raise FrontMatterError(
                "front matter must be key: value pairs",
                line=line,
                hint=f"the key {_describe_key(key_node)} is not read as text; put it in quotes",
            )
        key_lines[key_node.value] = line
    if not all(isinstance(key, str) for key in data):  # pragma: no cover - guarded above
        raise FrontMatterError("front matter must be key: value pairs", line=_FIRST_YAML_LINE)
    return data, key_lines


def _describe_key(node: Node) -> str:
    if isinstance(node, ScalarNode):
        kind = node.tag.rsplit(":", 1)[-1]
        return "(empty)" if kind == "null" else f"{node.value!r} ({kind})"
    return "(a list or mapping)"


def _not_a_mapping(root: Node, block: str, yaml_lines: list[str]) -> FrontMatterError:
    if isinstance(root, ScalarNode):
        found = "found plain text"
        if any("：" in text for text in yaml_lines):
            found += "; a full-width colon ： does not separate a key from its value"
    elif isinstance(root, MappingNode):
        found = f"found a {root.tag.rsplit(':', 1)[-1]}"
    else:
        found = "found a list"
    return FrontMatterError(
        "front matter must be key: value pairs",
        line=_file_line(root.start_mark, block),
        hint=f"{found}; write one setting per line, like title: My post",
    )


_QUOTE_HINT = 'quote the value, for example title: "AWS: はじめに" or author: "@name"'
_HINTS = (
    (
        "mapping values are not allowed",
        'a value that contains ": " must be quoted, for example title: "AWS: はじめに"',
    ),
    ("tab", "indent with spaces, not tabs"),
    ("cannot start any token", "a value cannot start with @, ` or a tab; " + _QUOTE_HINT),
    ("found undefined alias", "a *name needs a matching &name earlier in the front matter"),
    ("found duplicate anchor", "each &name may be defined only once"),
    ("could not find expected ':'", "each line needs the form key: value"),
    ("expected <block end>", "check the indentation of this line and the one above"),
)
# For these, the context mark (where the construct opened) is the line to fix; the
# problem mark is only where the parser gave up, often the next line.
_CONTEXT_FIRST = (
    "while parsing a flow",
    "while scanning a quoted scalar",
    "while scanning a simple key",
)
_GENERIC_HINT = (
    "check the YAML on this line; quote values that contain ': ' or ' #', or that start "
    "with one of [ ] { } * & ! | > ' \" % @ `"
)


def _yaml_error(exc: yaml.MarkedYAMLError, block: str, yaml_lines: list[str]) -> FrontMatterError:
    last_line = _FIRST_YAML_LINE + max(len(yaml_lines) - 1, 0)
    marks = [exc.problem_mark, exc.context_mark]
    if str(exc.context or "").startswith(_CONTEXT_FIRST):
        marks.reverse()
    line = _FIRST_YAML_LINE
    for mark in marks:
        if mark is not None:
            line = _file_line(mark, block)
            if line <= last_line:
                break
            # A problem found at the closing fence: try the other mark.
    line = min(line, last_line)
    problem = str(exc.problem or exc.context or "unreadable value")
    if exc.context and problem == "second occurrence":
        # libyaml's duplicate anchor: the problem is only where, the context says what.
        problem = str(exc.context).removesuffix("; first occurrence")

    tag = re.search(r"constructor for the tag '([^']*)'", problem)
    if tag:
        name = tag.group(1).replace("tag:yaml.org,2002:", "!!")
        return FrontMatterError(
            f"unsupported YAML tag {name}",
            line=line,
            hint="remove the tag: front matter may only hold plain text, numbers, dates, "
            "lists and mappings",
        )

    if "maximum nesting depth" in problem:  # libyaml's own limit, far above ours
        return _too_deep(line)

    hint = next((fix for needle, fix in _HINTS if needle in problem), _GENERIC_HINT)
    index = line - _FIRST_YAML_LINE
    if 0 <= index < len(yaml_lines) and "\u3000" in yaml_lines[index]:
        hint = "the line contains a full-width space (U+3000); use ASCII spaces in YAML"
    return FrontMatterError(f"invalid YAML: {problem}", line=line, hint=hint)


def _reader_error(exc: yaml.reader.ReaderError, block: str) -> FrontMatterError:
    # libyaml reports a byte offset into the UTF-8 input, PyYAML a character offset.
    if _C_LOADER:
        before = block.encode("utf-8")[: exc.position].count(b"\n")
    else:  # pragma: no cover - PyYAML built without libyaml
        before = block[: exc.position].count("\n")
    char = exc.character
    code = f"U+{char:04X}" if isinstance(char, int) else repr(char)
    return FrontMatterError(
        f"invalid YAML: the front matter contains the control character {code}",
        line=before + _FIRST_YAML_LINE,
        hint="delete the invisible character from this line",
    )
