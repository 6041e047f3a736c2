"""The content folder, mirrored into the source bucket. A Jekyll site folder's layout
is mapped onto the bucket's keys so that a Jekyll site works as it is, by ``tsuzuri dev``
and by ``tsuzuri publish`` of a site folder alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tsuzuri.domain.keys import PAGE_EXTENSIONS, POST_EXTENSIONS


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
        if path.is_file() and not path.name.startswith((".", "_")) and _has_front_matter(path):
            yield path, f"pages/{path.name}"
    for folder in ("posts", "_posts"):
        root = content / folder
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if (
                    path.is_file()
                    and path.suffix in POST_EXTENSIONS
                    and not path.name.startswith(".")
                ):
                    yield path, f"posts/{path.name}"
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


class FolderMirror:
    """Keeps the source bucket equal to a content folder.

    Polls file stat snapshots instead of using inotify: editors' atomic saves
    (write temp, rename) and network or container mounts all look the same to a
    snapshot diff, and 2,500 files stat in a few milliseconds.
    """

    def __init__(self, content: Path, s3: Any, bucket: str):
        self._content, self._s3, self._bucket = content, s3, bucket
        self._snapshot: dict[str, tuple[Path, int, int]] = {}

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
        return uploaded, deleted
