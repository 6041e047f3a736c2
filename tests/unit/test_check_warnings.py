"""``tsuzuri check`` warnings: what publishes otherwise than written goes to stderr as
``path: warning: message`` and leaves the exit code (and stdout, the problems) alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tsuzuri_local import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

POST = """---
title: {title}
date: 2026-02-21 10:00:00 +0900
---
{body}
"""


def run(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, list[str], list[str]]:
    code = cli.main(["check", *map(str, paths)])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


def warnings(err: list[str]) -> list[str]:
    return [line for line in err if ": warning: " in line]


@pytest.fixture
def site_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "blog"
    shutil.copytree(EXAMPLES, folder)
    return folder


def _set_config(folder: Path, old: str, new: str) -> Path:
    config = folder / "_config.yml"
    text = config.read_text(encoding="utf-8")
    assert old in text
    config.write_text(text.replace(old, new), encoding="utf-8")
    return config


def test_the_example_site_folder_has_no_warnings(
    site_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, site_folder)
    assert (code, out, warnings(err)) == (0, [], [])


def test_an_unknown_ui_key_is_a_warning_not_a_problem(
    site_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site_folder / "_config.yml"
    config.write_text(
        config.read_text(encoding="utf-8") + "\nui:\n  relatd: See also\n", encoding="utf-8"
    )
    code, out, err = run(capsys, site_folder)
    assert (code, out) == (0, [])
    [line] = warnings(err)
    assert line.startswith(f"{config}: warning: ui: unknown key 'relatd'")
    assert err[-1].endswith(": 0 problem(s), 1 warning(s)")


def test_a_missing_description_is_a_warning(
    site_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _set_config(site_folder, "description: AI とクラウドの実践ノート\n", "")
    code, out, err = run(capsys, site_folder)
    assert (code, out) == (0, [])
    [line] = warnings(err)
    assert line.startswith(f"{config}: warning: _config.yml has no description")


def test_unsupported_liquid_in_a_post_and_a_page_is_a_warning(
    site_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    post = site_folder / "posts" / "2026-02-21-liquid.md"
    post.write_text(
        POST.format(title="Liquid", body="前文\n\n{% include cta.html %}\n"), encoding="utf-8"
    )
    pages = site_folder / "pages"
    pages.mkdir(exist_ok=True)
    page = pages / "liquid.md"
    page.write_text("---\ntitle: ページ\n---\n{{ page.title | upcase }}\n", encoding="utf-8")
    code, out, err = run(capsys, site_folder)
    assert (code, out) == (0, [])
    lines = warnings(err)
    assert len(lines) == 2, lines
    [for_post] = [line for line in lines if line.startswith(f"{post}: warning: ")]
    assert "Liquid is shown as text: {% include cta.html %} (line 7)" in for_post
    assert any(line.startswith(f"{page}: warning: Liquid is shown as text") for line in lines)


def test_warnings_do_not_hide_problems(
    site_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_config(site_folder, "description: AI とクラウドの実践ノート\n", "")
    (site_folder / "posts" / "2026-02-22-bad.md").write_text("---\ntitle: [\n---\n")
    code, out, err = run(capsys, site_folder)
    assert code == 1
    assert len(out) == 1 and len(warnings(err)) == 1
    assert err[-1].endswith(": 1 problem(s), 1 warning(s)")
