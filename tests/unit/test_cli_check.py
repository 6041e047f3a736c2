"""``tsuzuri check``: the render function's validation, offline, on a whole site folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tsuzuri_local import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

POST = """---
title: {title}
date: 2026-02-21 10:00:00 +0900
tags: [AWS]
---
本文です。
"""


def run(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, list[str]]:
    code = cli.main(["check", *map(str, paths)])
    return code, capsys.readouterr().out.splitlines()


@pytest.fixture
def site_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "blog"
    shutil.copytree(EXAMPLES, folder)
    return folder


def test_the_example_site_folder_is_clean(
    site_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run(capsys, site_folder)
    assert (code, lines) == (0, [])


def test_a_broken_config_is_reported_once_with_its_file(
    site_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (site_folder / "_config.yml").write_text("title: [unclosed\n", encoding="utf-8")
    code, lines = run(capsys, site_folder)
    assert code == 1
    assert len([line for line in lines if line.startswith(f"{site_folder / '_config.yml'}:")]) == 1
    assert "cannot be parsed" in lines[0]


def test_a_config_value_of_the_wrong_type_is_reported(
    site_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site_folder / "_config.yml"
    config.write_text(config.read_text(encoding="utf-8") + "\npaginate: many\n", encoding="utf-8")
    code, lines = run(capsys, site_folder)
    assert code == 1
    assert any("paginate" in line for line in lines), lines


def test_a_broken_theme_override_names_its_file_and_line(
    site_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    theme = site_folder / "theme"
    theme.mkdir(exist_ok=True)
    (theme / "post.html.j2").write_text(
        '{% extends "base.html.j2" %}\n{% block content %}\n{{ post.title }\n{% endblock %}\n',
        encoding="utf-8",
    )
    code, lines = run(capsys, site_folder)
    assert code == 1
    [line] = lines
    assert line.startswith(f"{theme / 'post.html.j2'}:3: ")


def test_a_page_with_a_bad_permalink_and_colliding_posts_are_reported(
    site_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pages = site_folder / "pages"
    pages.mkdir(exist_ok=True)
    (pages / "broken.md").write_text(
        "---\ntitle: 壊れたページ\npermalink: [1, 2]\n---\n本文\n", encoding="utf-8"
    )
    posts = site_folder / "posts"
    (posts / "2026-02-21-same.md").write_text(POST.format(title="一つ目"), encoding="utf-8")
    (posts / "2026-02-21-same.markdown").write_text(POST.format(title="二つ目"), encoding="utf-8")
    code, lines = run(capsys, site_folder)
    assert code == 1
    assert any(line.startswith(f"{pages / 'broken.md'}:") for line in lines), lines
    assert any("is also the URL of" in line for line in lines), lines


def test_a_posts_folder_alone_is_checked_as_posts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "2026-02-21-ok.md").write_text(POST.format(title="良い"), encoding="utf-8")
    (tmp_path / "2026-02-22-bad.md").write_text("---\ntitle: [\n---\n", encoding="utf-8")
    code, lines = run(capsys, tmp_path)
    assert code == 1
    assert [line.split(":")[0] for line in lines] == [str(tmp_path / "2026-02-22-bad.md")]
