"""A Jekyll site folder in the dev stack's mirror: subfolder keys, files nothing reads,
what of Jekyll is not carried over; and ``_config.yml`` errors at the right line."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from tsuzuri.domain.keys import classify_key
from tsuzuri.domain.page import parse_page
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.errors import SiteConfigRejected, UrlCollision
from tsuzuri_local.devstack.mirror import (
    FolderMirror,
    content_files,
    jekyll_notice,
    unread_files,
)

POST = "---\ntitle: t\n---\nbody\n"


def _site(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def jekyll(tmp_path: Path) -> Path:
    return _site(tmp_path, {
        "_config.yml": "title: x\n",
        "index.md": "---\nlayout: home\n---\n",
        "about.md": "---\ntitle: About\n---\n{{ site.title }}\n",
        "README.md": "# not a page\n",
        "_posts/a/2026-05-20-twin.md": POST,
        "_posts/b/2026-05-20-twin.md": POST,
        "_posts/2026-01-01-liquid.md": POST + "\n{% include cta.html %}\n",
        "posts/2026-01-02-both.md": POST,
        "_posts/2026-01-02-both.md": POST,
        "_layouts/default.html": "{{ content }}", "_layouts/post.html": "{{ content }}",
        "_includes/cta.html": "<a>", "_data/navigation.yml": "- a\n",
        "_drafts/idea.md": POST,
        "random/2026-01-03-lost.md": POST,
        "_site/2026/index.html": "<built>",
        "assets/x.png": "png",
        "_posts/2026-01-05-page.html": "<p>",
    })  # fmt: skip


def test_post_subfolders_stay_in_the_key(jekyll: Path) -> None:
    keys = {key for _path, key in content_files(jekyll)}
    assert {"posts/a/2026-05-20-twin.md", "posts/b/2026-05-20-twin.md"} <= keys
    for key in ("posts/a/2026-05-20-twin.md", "posts/b/2026-05-20-twin.md"):
        assert classify_key(key).kind == "post"
    # Jekyll's home page source, drafts and Jekyll's folders are not mirrored.
    assert not {"pages/index.md", "pages/README.md"} & keys
    assert not any("_drafts" in k or "_layouts" in k or "random" in k for k in keys)
    assert "pages/about.md" in keys


def test_files_nothing_reads_are_named(jekyll: Path) -> None:
    unread = {u.path.relative_to(jekyll).as_posix(): u.reason for u in unread_files(jekyll)}
    assert set(unread) == {
        "README.md", "random/2026-01-03-lost.md", "_posts/2026-01-02-both.md",
        "_posts/2026-01-05-page.html",
    }  # fmt: skip
    assert "posts are Markdown files" in unread["_posts/2026-01-05-page.html"]
    assert "random/ is not read: only _config.yml" in unread["random/2026-01-03-lost.md"]
    assert "posts/" in unread["random/2026-01-03-lost.md"]
    assert "same key posts/2026-01-02-both.md" in unread["_posts/2026-01-02-both.md"]
    assert "no front matter" in unread["README.md"]


def test_what_of_jekyll_is_not_carried_over_is_counted(jekyll: Path) -> None:
    notice = jekyll_notice(jekyll)
    assert notice.folders == {"_layouts": 2, "_includes": 1, "_data": 1, "_drafts": 1}
    assert notice.home == "index.md"
    assert [(p.as_posix(), line, tag) for p, line, tag in notice.liquid] == [
        ("_posts/2026-01-01-liquid.md", 6, "{% include cta.html %}")
    ]
    text = "\n".join(notice.lines())
    assert text.startswith("Jekyll site: not carried over")
    assert "_layouts/: 2 files not used" in text
    assert "_drafts/: 1 file not published" in text
    assert "index.md: the home page (/) is tsuzuri's own list of posts" in text
    assert "_posts/2026-01-01-liquid.md:6 {% include cta.html %}" in text


def test_a_plain_folder_has_nothing_to_say(tmp_path: Path) -> None:
    _site(tmp_path, {"posts/2026-01-01-a.md": POST})
    assert jekyll_notice(tmp_path).lines() == []
    assert unread_files(tmp_path) == []


class _S3:
    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> Any:
        self.keys[Key] = Body

    def delete_object(self, *, Bucket: str, Key: str) -> Any:
        self.keys.pop(Key, None)


def test_the_mirror_says_it_once_in_the_dev_log(jekyll: Path) -> None:
    s3, log = _S3(), io.StringIO()
    mirror = FolderMirror(jekyll, s3, "source", log=log)
    mirror.sync()
    assert {"posts/a/2026-05-20-twin.md", "posts/b/2026-05-20-twin.md"} <= s3.keys.keys()
    first = log.getvalue()
    assert first.count("Jekyll site: not carried over") == 1
    assert "random/2026-01-03-lost.md: not uploaded, gets no report" in first
    mirror.sync()
    assert log.getvalue() == first  # nothing new: nothing said again
    (jekyll / "random" / "2026-01-04-more.md").write_text(POST, encoding="utf-8")
    mirror.sync()
    added = log.getvalue()[len(first) :]
    assert added.startswith("random/2026-01-04-more.md: not uploaded")
    assert "Jekyll site" not in added


def test_jekylls_home_page_source_is_refused_plainly() -> None:
    with pytest.raises(UrlCollision, match="source of Jekyll's home page") as caught:
        parse_page(classify_key("pages/index.md"), b"---\nlayout: home\n---\n", SiteConfig())
    assert caught.value.line == 2


def test_liquid_in_a_page_is_resolved() -> None:
    page = parse_page(
        classify_key("pages/about.md"),
        b'---\ntitle: About\n---\n[home]({{ "/" | relative_url }}) {{ site.title }}\n',
        SiteConfig(title="Blog"),
    )
    assert 'href="/"' in page.body_html and ">home</a> Blog" in page.body_html


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("title: x\nurl: https://a.example\n\n# c\npermalink: /:year/:titel/\n", 5,
         ":titel is not a Jekyll placeholder"),
        ("title: x\npermalink: /assets/:title/\n", 2, "/assets/ holds pages"),
        ("title: x\n\nsocial:\n  myspace: me\n", 3, "unknown service 'myspace'"),
        ("title: x\nnavigation:\n  - title: About\n", 2, "navigation entry 1"),
        ("a: 1\nb: [unclosed\nc: 2\n", 2, "cannot be parsed"),
        ("- a\n- b\n", 1, "must be a mapping"),
    ],
)  # fmt: skip
def test_config_errors_name_the_line_of_the_key(text: str, line: int, message: str) -> None:
    with pytest.raises(SiteConfigRejected, match=message) as caught:
        SiteConfig.from_bytes(text.encode())
    assert caught.value.line == line
    assert caught.value.hint


@pytest.mark.parametrize("style", ["date", "pretty", "ordinal", "weekdate", "none", ":year/:title"])
def test_jekyll_permalink_styles_are_accepted(style: str) -> None:
    assert SiteConfig.from_bytes(f"permalink: {style}\n".encode()).permalink == style
