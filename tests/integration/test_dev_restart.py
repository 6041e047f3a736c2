"""``tsuzuri dev`` stopped and started again keeps the site as it was: the emulated AWS's
state is kept (in the user cache, here a test folder), only what changed in the folder
meanwhile is uploaded, and a live post whose latest edit was refused stays live."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 120.0


def _post(title: str, date: str) -> str:
    return f'---\ntitle: "{title}"\ndate: {date} 10:00:00 +0900\ntags: [aws]\n---\n\n本文です。\n'


@dataclass
class Dev:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    site: str = ""

    def page(self, path: str) -> str | None:
        try:
            with urllib.request.urlopen(self.site.rstrip("/") + path, timeout=10) as response:
                return str(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(content: Path, cache: Path, *extra: str) -> Dev:
    command = [sys.executable, "-m", "tsuzuri_local.cli", "dev", "--content", str(content),
               "--port", str(_free_port()), "--aws-port", str(_free_port()), *extra]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        stdin=subprocess.DEVNULL, env={**os.environ, "XDG_CACHE_HOME": str(cache),
                                       "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    dev = Dev(process)
    seen: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            dev.lines.append(line.rstrip("\n"))
            seen.put(line)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            line = seen.get(timeout=1)
        except queue.Empty:
            assert process.poll() is None, "\n".join(dev.lines)
            continue
        if line.startswith("site: "):
            dev.site = line.split(" ", 1)[1].strip()
        if line.startswith("ready:"):
            return dev
    dev.stop()
    raise AssertionError("no ready line:\n" + "\n".join(dev.lines))


def _eventually(check: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def test_a_restart_keeps_the_site_and_uploads_only_what_changed(tmp_path: Path) -> None:
    content, cache = tmp_path / "site", tmp_path / "cache"
    (content / "_posts").mkdir(parents=True)
    (content / "_config.yml").write_text("title: 再起動のテスト\n", encoding="utf-8")
    kept = content / "_posts" / "2026-01-10-kept.md"
    kept.write_text(_post("残る記事", "2026-01-10"), encoding="utf-8")
    gone = content / "_posts" / "2026-01-11-gone.md"
    gone.write_text(_post("消える記事", "2026-01-11"), encoding="utf-8")

    first = _start(content, cache)
    try:
        assert "残る記事" in (first.page("/2026/01/10/kept/") or "")
        # An edit the render function refuses: the accepted version stays live.
        kept.write_text("---\ntitle: [unclosed\n---\n壊れた編集\n", encoding="utf-8")
        _eventually(lambda: any("2026-01-10-kept.md" in line and "not published" in line
                                for line in first.lines))  # fmt: skip
        assert "残る記事" in (first.page("/2026/01/10/kept/") or "")
    finally:
        first.stop()
    assert first.process.returncode == 0, "\n".join(first.lines)

    # While it is stopped: a new post, and one deleted.
    (content / "_posts" / "2026-01-12-new.md").write_text(
        _post("新しい記事", "2026-01-12"), encoding="utf-8"
    )
    gone.unlink()

    started = time.monotonic()
    second = _start(content, cache)
    try:
        restored = [line for line in second.lines if line.startswith("restored")]
        assert restored and "2 changed since" in restored[0], "\n".join(second.lines)
        _eventually(lambda: second.page("/2026/01/12/new/") is not None)
        _eventually(lambda: second.page("/2026/01/11/gone/") is None)
        # Not uploaded again, so not refused again: the live version is still there.
        assert "残る記事" in (second.page("/2026/01/10/kept/") or "")
        assert not any("2026-01-10-kept.md" in line for line in second.lines)
        home = second.page("/") or ""
        assert "新しい記事" in home and "残る記事" in home and "消える記事" not in home
    finally:
        second.stop()
    print(f"restart to the checks: {time.monotonic() - started:.1f} s")

    fresh = _start(content, cache, "--fresh")
    try:
        assert not any(line.startswith("restored") for line in fresh.lines)
        # Loaded from the folder alone, the refused text is all there is of that post.
        assert fresh.page("/2026/01/10/kept/") is None
        assert "新しい記事" in (fresh.page("/2026/01/12/new/") or "")
    finally:
        fresh.stop()
