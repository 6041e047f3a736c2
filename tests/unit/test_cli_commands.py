"""The ``tsuzuri`` command as a process: --version, usage errors, ``dev DIR``, taken ports,
and what ``check``, ``publish`` and the progress lines print."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tsuzuri_local import cli
from tsuzuri_local.editor import plan_upload, site_root
from tsuzuri_local.progress import Progress, duration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TSUZURI = Path(sys.executable).with_name("tsuzuri")

POST = "---\ntitle: {title}\ndate: 2026-02-21 10:00:00 +0900\n---\n本文です。\n"


def tsuzuri(*args: str, timeout: float = 30, **kwargs: object) -> subprocess.CompletedProcess[str]:
    command = [str(TSUZURI)] if TSUZURI.is_file() else [sys.executable, "-m", "tsuzuri_local.cli"]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, **kwargs
    )  # type: ignore[call-overload]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port of the range these tests may use, held by a listener of ours."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    for port in random.sample(range(22000, 23000), 200):
        try:
            listener.bind(("127.0.0.1", port))
        except OSError:
            continue
        listener.listen()
        yield port
        listener.close()
        return
    pytest.skip("no free port in 22000-22999")


def free_port(*avoid: int) -> int:
    for port in random.sample(range(22000, 23000), 200):
        if port in avoid:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port in 22000-22999")


def test_version_is_printed() -> None:
    done = tsuzuri("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "tsuzuri 0.1.0"


def test_a_wrong_flag_of_a_subcommand_prints_that_subcommands_usage() -> None:
    done = tsuzuri("check", "--bogus", "examples")
    assert done.returncode == 2
    assert done.stderr.startswith("usage: tsuzuri check ")
    assert "tsuzuri check: error: unrecognized arguments: --bogus" in done.stderr


def test_dev_takes_the_site_folder_as_an_argument(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-blog"
    done = tsuzuri("dev", str(missing))
    assert done.returncode == 2
    assert f"content folder {missing} does not exist" in done.stderr
    twice = tsuzuri("dev", str(tmp_path), "--content", str(missing))
    assert twice.returncode == 2 and "DIR or --content" in twice.stderr


@pytest.mark.parametrize("which", ["--aws-port", "--port"])
def test_dev_on_a_taken_port_exits_at_once_naming_the_flag(taken_port: int, which: str) -> None:
    other = free_port(taken_port)
    ports = {"--aws-port": other, "--port": other, which: taken_port}
    started = time.monotonic()
    done = tsuzuri(
        "dev", "examples", "--aws-port", str(ports["--aws-port"]), "--port", str(ports["--port"]),
        timeout=20,
    )  # fmt: skip
    assert done.returncode != 0
    assert time.monotonic() - started < 10
    assert f"port {taken_port} is in use" in done.stderr
    assert f"choose another with {which}" in done.stderr
    assert "aws endpoint:" not in done.stdout  # nothing was started


def test_check_lists_each_file_that_passes_with_its_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "blog"
    shutil.copytree(EXAMPLES, site)
    (site / "pages" / "newpage.md").write_text("---\ntitle: 新しいページ\n---\n本文\n", "utf-8")

    code = cli.main(["check", str(site / "pages" / "newpage.md"), str(site / "posts")])

    out = capsys.readouterr()
    assert code == 0 and out.out == ""  # stdout carries problems only
    assert f"{site / 'pages' / 'newpage.md'} -> /newpage/" in out.err
    japanese = site / "posts" / "2025-11-03-生成AIの基礎.md"
    assert f"{japanese} -> /2025/11/03/生成AIの基礎/" in out.err
    assert out.err.rstrip().splitlines()[-1].startswith("checked 36 file(s) (1 page(s), 35 post")


def test_check_names_a_file_that_cannot_be_placed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loose = tmp_path / "diagram.svg"
    loose.write_text("<svg/>", encoding="utf-8")
    code = cli.main(["check", str(loose)])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith(f"{loose}:1: not uploaded: not in a site folder")


def test_single_files_keep_their_path_in_the_site_folder(tmp_path: Path) -> None:
    site = tmp_path / "blog"
    for name in ("_posts", "pages", "assets/images", "theme", "notes"):
        (site / name).mkdir(parents=True)
    (site / "_config.yml").write_text("title: t\n", encoding="utf-8")
    files = {
        "assets/images/loose2.svg": "<svg/>",
        "pages/newpage.md": "---\ntitle: p\n---\n",
        "_posts/2026-02-21-a.md": POST.format(title="a"),
        "about.md": "---\ntitle: about\n---\n",
        "theme/post.html.j2": "x",
        "notes/todo.txt": "x",
        "assets/images/.DS_Store": "x",
    }
    for name, text in files.items():
        (site / name).write_text(text, encoding="utf-8")

    plan = plan_upload([site / name for name in files if not name.endswith(".DS_Store")])

    assert [key for _path, key in plan.files] == [
        "assets/images/loose2.svg", "pages/newpage.md", "posts/2026-02-21-a.md",
        "pages/about.md", "theme/post.html.j2",
    ]  # fmt: skip
    [unplaced] = plan.unplaced
    assert unplaced.path == site / "notes" / "todo.txt"
    assert "notes/todo.txt" in unplaced.reason and "has no place in the bucket" in unplaced.reason
    # From inside the site folder too, as git finds .git from a subfolder.
    assert site_root((site / "assets" / "images").resolve()) == site.resolve()


def test_a_site_folder_names_files_its_content_folders_hold_but_the_bucket_does_not(
    tmp_path: Path,
) -> None:
    (tmp_path / "_posts").mkdir()
    (tmp_path / "_posts" / "2026-02-21-a.md").write_text(POST.format(title="a"), "utf-8")
    (tmp_path / "_posts" / "draft-notes.txt").write_text("x", encoding="utf-8")
    plan = plan_upload([tmp_path])
    assert [key for _p, key in plan.files] == ["posts/2026-02-21-a.md"]
    assert [u.path.name for u in plan.unplaced] == ["draft-notes.txt"]


def test_a_loose_post_without_a_site_folder_still_goes_to_posts(tmp_path: Path) -> None:
    post = tmp_path / "2026-02-21-loose.md"
    post.write_text(POST.format(title="loose"), encoding="utf-8")
    plan = plan_upload([post])
    assert plan.files == [(post, "posts/2026-02-21-loose.md")] and not plan.unplaced


def test_plain_progress_lines_have_count_rate_and_time_left(
    capsys: pytest.CaptureFixture[str],
) -> None:
    progress = Progress(4, "uploaded", bar=False)
    progress._started -= 2.0  # two seconds in
    progress.advance(note="posts/a.md")
    progress.update_to(4, note="posts/d.md")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "[1/4] uploaded posts/a.md (0.5 files/s, about 6 s left)"
    assert lines[1].startswith("[4/4] uploaded posts/d.md (") and lines[1].endswith(" in all)")
    assert duration(3725) == "1 h 2 min" and duration(65) == "1 min 5 s"


def test_the_bar_is_drawn_only_on_a_terminal() -> None:
    code = (
        "import sys; from tsuzuri_local.progress import Progress; "
        "p = Progress(3, 'x'); print(p.is_bar); p.close()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert done.stdout.strip() == "False"  # stderr is a pipe here: plain lines
    if not hasattr(os, "openpty"):
        return
    import fcntl
    import struct
    import termios

    leader, follower = os.openpty()
    # A pty nobody sized has no width, and gets plain lines: give it a terminal's.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=follower, text=True,
            timeout=30, check=True,
        )  # fmt: skip
    finally:
        os.close(follower)
        os.close(leader)
    assert done.stdout.strip() == "True"


def test_loopback_endpoints_are_recognised() -> None:
    assert cli.is_loopback("http://127.0.0.1:5000")
    assert cli.is_loopback("http://localhost:5000/")
    assert cli.is_loopback("http://[::1]:5000")
    assert not cli.is_loopback("https://s3.ap-northeast-1.amazonaws.com")
    assert not cli.is_loopback(None)


def test_dev_prints_the_lines_that_make_the_aws_cli_work() -> None:
    from tsuzuri_local.devstack.stack import aws_cli_help

    lines = aws_cli_help("http://127.0.0.1:5000", "tsuzuri-dev-source").splitlines()
    assert "ap-northeast-1" in lines[0]
    assert lines[1].split() == [
        "export", "AWS_ACCESS_KEY_ID=tsuzuri-local", "AWS_SECRET_ACCESS_KEY=tsuzuri-local",
        "AWS_DEFAULT_REGION=ap-northeast-1",
    ]  # fmt: skip
    assert lines[2].strip() == (
        "aws --endpoint-url http://127.0.0.1:5000 s3 cp post.md s3://tsuzuri-dev-source/posts/"
    )


def test_powertools_empty_metrics_warning_is_kept_out_of_the_dev_log() -> None:
    import warnings

    from tsuzuri_local.devstack.runtime import quiet_local_warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_local_warnings()
        warnings.warn("No application metrics to publish. The cold-start metric…", stacklevel=1)
        warnings.warn("another warning", stacklevel=1)
    assert [str(w.message) for w in caught] == ["another warning"]
