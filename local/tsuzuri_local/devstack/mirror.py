"""The content folder, mirrored into the source bucket. A Jekyll site folder's layout
is mapped onto the bucket's keys so that a Jekyll site works as it is, by ``tsuzuri dev``
and by ``tsuzuri publish`` of a site folder alike."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tsuzuri.domain.keys import PAGE_EXTENSIONS, POST_EXTENSIONS
from tsuzuri.domain.liquid import has_liquid, render_liquid
from tsuzuri.domain.site_config import SiteConfig

# What the render function reads, as the source bucket's notifications filter it: a file
# elsewhere gets no event, so no report.
READ_PREFIXES = ("_config.yml", "_config.yaml", "_config.json", "posts/", "_posts/", "pages/",
                 "_pages/", "assets/", "theme/")  # fmt: skip
# Jekyll's own folders: counted in the notice rather than named file by file.
_JEKYLL_FOLDERS = {
    "_layouts": "not used: pages are laid out by the tsuzuri theme (templates/, theme/*.j2)",
    "_includes": "not used: {% include %} in a post or page is shown as text",
    "_data": "not read: put navigation: and other settings in _config.yml",
    "_drafts": "not published, as by jekyll build without --drafts (use published: false)",
    "_sass": "not compiled: the theme has its own stylesheet",
    "_plugins": "not run",
}
# Never content: build output, caches and tool folders.
_NOT_CONTENT = frozenset({"_site", ".jekyll-cache", ".sass-cache", "node_modules", "vendor",
                          ".bundle", ".git"})  # fmt: skip
_CONTENT_SUFFIXES = (*PAGE_EXTENSIONS, ".markdown")
_HOME_NAMES = ("index.md", "index.markdown", "index.html")


def content_files(content: Path) -> Iterator[tuple[Path, str]]:
    """(file, source key) pairs for a Jekyll site folder: _posts/ and posts/ go to posts/;
    theme/*.j2 to theme/; pages/ and _pages/ to pages/, and so do Jekyll's root-level
    Markdown pages (a ``.md`` file next to ``_config.yml`` that starts with front matter,
    e.g. about.md)."""
    for name in ("_config.yml", "_config.yaml", "_config.json"):
        if (content / name).is_file():
            yield content / name, name
    # Theme overrides: Jinja2 templates directly under theme/ (Jekyll's _layouts/ are
    # Liquid, which tsuzuri does not run, so they are not mirrored).
    theme = content / "theme"
    if theme.is_dir():
        for path in sorted(theme.glob("*.j2")):
            if path.is_file() and not path.name.startswith("."):
                yield path, f"theme/{path.name}"
    for folder in ("pages", "_pages"):
        root = content / folder
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if (
                    path.is_file()
                    and path.suffix in PAGE_EXTENSIONS
                    and not path.name.startswith(".")
                ):
                    yield path, "pages/" + path.relative_to(root).as_posix()
    for path in sorted(content.glob("*.md")):
        if (
            path.is_file()
            and not path.name.startswith((".", "_"))
            and path.name not in _HOME_NAMES  # the home page is tsuzuri's: see jekyll_notice
            and _has_front_matter(path)
        ):
            yield path, f"pages/{path.name}"
    posted: set[str] = set()
    for folder in ("posts", "_posts"):
        root = content / folder
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if (
                    path.is_file()
                    and path.suffix in POST_EXTENSIONS
                    and not path.name.startswith(".")
                ):
                    # The subfolder stays in the key: _posts/a/x.md and _posts/b/x.md are
                    # two posts (and, as in Jekyll, one URL: the second is reported).
                    key = "posts/" + path.relative_to(root).as_posix()
                    if key not in posted:  # posts/x.md and _posts/x.md: see unread_files
                        posted.add(key)
                        yield path, key
    assets = content / "assets"
    if assets.is_dir():
        for path in sorted(assets.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                yield path, "assets/" + path.relative_to(assets).as_posix()


def _has_front_matter(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4).lstrip(b"\xef\xbb\xbf").startswith(b"---")
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class Unread:
    """A content-looking file of the site folder that the bucket will not get."""

    path: Path
    reason: str


def unread_files(
    content: Path, mirrored_files: Iterable[tuple[Path, str]] | None = None
) -> list[Unread]:
    """Markdown and HTML files of a site folder that nothing reads, each with why: they
    get no report, so the dev log and ``tsuzuri check`` name them. Jekyll's own folders
    (``_layouts/``, ``_drafts/``…) are summed up by :func:`jekyll_notice` instead.
    ``mirrored_files`` is :func:`content_files`'s answer when the caller has it already."""
    if mirrored_files is None:
        mirrored_files = content_files(content)
    mirrored = {path.resolve(): key for path, key in mirrored_files}
    by_key = {key: path for path, key in mirrored.items()}
    unread: list[Unread] = []
    for path in _walk(content):
        relative = path.relative_to(content)
        if path.resolve() in mirrored or path.suffix.lower() not in _CONTENT_SUFFIXES:
            continue
        top = relative.parts[0]
        if top in _JEKYLL_FOLDERS or (len(relative.parts) == 1 and path.name in _HOME_NAMES):
            continue
        if top in ("posts", "_posts") and path.suffix in POST_EXTENSIONS:
            key = "posts/" + Path(*relative.parts[1:]).as_posix()
            other = by_key.get(key)
            if other is not None:
                reason = f"same key {key} as {other.relative_to(content)}: keep one of the two"
                unread.append(Unread(path, reason))
                continue
        if top in ("posts", "_posts"):
            reason = "posts are Markdown files: YYYY-MM-DD-slug.md or .markdown"
        elif top == "theme":
            reason = "theme overrides are Jinja2 templates: theme/<name>.html.j2"
        elif len(relative.parts) == 1 and path.suffix in POST_EXTENSIONS:
            reason = "no front matter, so not a page: start it with --- and a title"
        elif len(relative.parts) == 1:
            reason = "root-level HTML pages are not read: move it to pages/"
        else:
            reason = (
                f"{top}/ is not read: only {', '.join(READ_PREFIXES)} and Markdown pages next"
                " to _config.yml are"
            )
        unread.append(Unread(path, reason))
    return unread


@dataclass(slots=True)
class JekyllNotice:
    """What of a Jekyll site folder is not carried over, counted once."""

    folders: dict[str, int] = field(default_factory=dict)
    home: str | None = None
    # (file, line, tag) of the first unsupported Liquid tag of each post or page.
    liquid: list[tuple[Path, int, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        said = [
            f"  {name}/: {count} file{'s' if count != 1 else ''} {_JEKYLL_FOLDERS[name]}"
            for name, count in self.folders.items()
        ]
        if self.home:
            said.append(
                f"  {self.home}: the home page (/) is tsuzuri's own list of posts; this file"
                " is not published (put its introduction in _config.yml's description)"
            )
        if self.liquid:
            path, line, tag = self.liquid[0]
            said.append(
                f"  Liquid: {len(self.liquid)} post(s) or page(s) use tags tsuzuri does not"
                f" run, shown as text (first: {path}:{line} {tag}); resolved are"
                ' {{ site.title }}, {{ site.baseurl }}, {{ "/x" | relative_url }}, {% post_url %}'
            )
        if not said:
            return []
        return ["Jekyll site: not carried over (tsuzuri renders with its Jinja2 theme):", *said]


def jekyll_notice(content: Path) -> JekyllNotice:
    """Count what of a Jekyll site folder tsuzuri does not carry over: ``_layouts/``,
    ``_includes/``, ``_data/``, ``_drafts/``… files, the home page's source, and the posts
    and pages whose Liquid is not in the resolved subset."""
    notice = JekyllNotice()
    for name in _JEKYLL_FOLDERS:
        folder = content / name
        if folder.is_dir():
            count = sum(1 for _ in _walk(folder))
            if count:
                notice.folders[name] = count
    notice.home = next((n for n in _HOME_NAMES if (content / n).is_file()), None)
    site = SiteConfig()
    for path, key in content_files(content):
        if not key.startswith(("posts/", "pages/")):
            continue
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue  # reported as a bad encoding when it is processed
        if has_liquid(text):
            notes = render_liquid(text, site).unsupported
            if notes:
                notice.liquid.append((path.relative_to(content), notes[0].line, notes[0].text))
    return notice


def _walk(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_CONTENT)
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder, name)


class FolderMirror:
    """Keeps the source bucket equal to a content folder.

    Polls file stat snapshots instead of using inotify: editors' atomic saves
    (write temp, rename) and network or container mounts all look the same to a
    snapshot diff, and 2,500 files stat in a few milliseconds.
    """

    def __init__(self, content: Path, s3: Any, bucket: str, *, log: Any = None):
        self._content, self._s3, self._bucket = content, s3, bucket
        self._snapshot: dict[str, tuple[Path, int, int]] = {}
        self._log = log if log is not None else sys.stderr
        self._told: set[tuple[Path, str]] = set()
        self._first = True

    def resume(self, mirrored: Iterable[str]) -> int:
        """Go on from a restored stack: ``mirrored`` are the keys the last run kept in
        the bucket. A file whose bytes the bucket already holds is not uploaded again;
        one of those keys gone from the folder is deleted by the next sync. Keys the
        last run did not mirror (uploaded by hand) are left alone, as they are while
        the stack runs. Returns the number of files that need no upload."""
        held: dict[str, str] = {}
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket):
            for item in page.get("Contents", []):
                held[item["Key"]] = item["ETag"].strip('"')
        current = self.scan()
        kept = {
            key: entry
            for key, entry in current.items()
            # A single PUT's ETag is the MD5 of its bytes, which is how sync uploads.
            if held.get(key)
            == hashlib.md5(entry[0].read_bytes(), usedforsecurity=False).hexdigest()
        }
        gone = {
            key: (self._content, -1, -1) for key in mirrored if key in held and key not in current
        }
        self._snapshot = {**kept, **gone}
        return len(kept)

    def pending(self) -> list[str]:
        """The keys the next sync uploads or deletes."""
        current = self.scan()
        changed = [
            k for k, v in current.items() if self._snapshot.get(k, (None, -1, -1))[1:] != v[1:]
        ]
        return changed + [k for k in self._snapshot if k not in current]

    def mirrored(self) -> list[str]:
        """The keys this mirror keeps in the bucket (for the next run's :meth:`resume`)."""
        return sorted(self._snapshot)

    def scan(self) -> dict[str, tuple[Path, int, int]]:
        result = {}
        for path, key in content_files(self._content):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            result[key] = (path, stat.st_mtime_ns, stat.st_size)
        return result

    def sync(self) -> tuple[list[str], list[str]]:
        """Upload what changed and delete what went; returns (uploaded, deleted) keys."""
        current = self.scan()
        uploaded = [
            k for k, v in current.items() if self._snapshot.get(k, (None, -1, -1))[1:] != v[1:]
        ]
        deleted = [k for k in self._snapshot if k not in current]
        for key in uploaded:
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=current[key][0].read_bytes())
        for key in deleted:
            self._s3.delete_object(Bucket=self._bucket, Key=key)
        self._snapshot = current
        self._tell([(path, key) for key, (path, _m, _s) in current.items()])
        return uploaded, deleted

    def _tell(self, mirrored: list[tuple[Path, str]]) -> None:
        """Say once, in the dev log, what of the folder is not carried over: on the first
        sync what of Jekyll is left behind, then each file that nothing reads."""
        if self._first:
            self._first = False
            for line in jekyll_notice(self._content).lines():
                print(line, file=self._log, flush=True)
        for unread in unread_files(self._content, mirrored):
            told = (unread.path, unread.reason)
            if told not in self._told:
                self._told.add(told)
                where = unread.path.relative_to(self._content)
                print(f"{where}: not uploaded, gets no report: {unread.reason}", file=self._log)
