"""Fixtures for the browser tests: ``tsuzuri dev`` on a copy of examples/, and headless Chromium.

The stack runs as a real subprocess, exactly as an editor starts it, and is stopped with
SIGINT (Ctrl-C) at the end of the session. Chromium is Debian's package driven by
Playwright's bundled driver; no browser is ever downloaded.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urljoin

import pytest
from tsuzuri_local.devstack.stack import default_sigint

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
ARTIFACTS = ROOT / "test-artifacts"

READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 40.0  # a loaded 2-core machine has needed more than 15 s to exit cleanly
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class DevStack:
    """A running ``tsuzuri dev``: its site URL, its content folder and what it printed."""

    url: str  # "http://127.0.0.1:PORT/"
    content: Path
    process: subprocess.Popen[str]
    stdout: list[str] = field(default_factory=list)
    stderr_path: Path | None = None

    def link(self, path: str) -> str:
        return urljoin(self.url, path)

    def output(self, stderr_lines: int = 60) -> str:
        text = "--- stdout ---\n" + "\n".join(self.stdout)
        if self.stderr_path is not None and self.stderr_path.exists():
            tail = self.stderr_path.read_text(errors="replace").splitlines()[-stderr_lines:]
            text += f"\n--- stderr (last {stderr_lines} lines) ---\n" + "\n".join(tail)
        return text


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR: connections in TIME_WAIT do not count, a listening socket does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pump(stream: Any, lines: queue.Queue[str | None], keep: list[str]) -> None:
    """Read the child's stdout to the end: lines go to the queue and to the transcript."""
    for raw in stream:
        line = raw.rstrip("\n")
        keep.append(line)
        lines.put(line)
    lines.put(None)


def _wait_ready(stack: DevStack, lines: queue.Queue[str | None]) -> str:
    """Consume stdout until ``ready:``; return the URL from the ``site:`` line."""
    site = ""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail(
                f"tsuzuri dev printed no `ready:` line within {READY_TIMEOUT_S:.0f} s\n"
                + stack.output(),
                pytrace=False,
            )
        try:
            line = lines.get(timeout=min(remaining, 1.0))
        except queue.Empty:
            continue
        if line is None:
            code = stack.process.wait(timeout=5)
            pytest.fail(
                f"tsuzuri dev exited with code {code} before `ready:`\n" + stack.output(),
                pytrace=False,
            )
        if line.startswith("site: "):
            site = line.removeprefix("site: ").strip()
        elif line.startswith("ready:"):
            if not site:
                pytest.fail("`ready:` came before any `site:` line\n" + stack.output())
            return site


def _stop(stack: DevStack, ports: list[int]) -> list[str]:
    """SIGINT, as Ctrl-C would; return what went wrong (and clean up regardless)."""
    process, problems = stack.process, []
    if process.poll() is not None:
        problems.append(f"tsuzuri dev had already exited (code {process.returncode})")
    else:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            problems.append(f"tsuzuri dev still running {STOP_TIMEOUT_S:.0f} s after SIGINT")
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        else:
            if process.returncode not in (0, 130):
                problems.append(f"tsuzuri dev exited with code {process.returncode} on SIGINT")
    # The child leads its own process group: any member left is a leaked child process.
    if _group_alive(process.pid):
        problems.append("a process of tsuzuri dev's group survived it")
        os.killpg(process.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    busy = [p for p in ports if not _port_is_free(p)]
    while busy and time.monotonic() < deadline:
        time.sleep(0.2)
        busy = [p for p in busy if not _port_is_free(p)]
    if busy:
        problems.append(f"port(s) {busy} still bound after tsuzuri dev exited")
    return problems


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """``tsuzuri dev`` on a private copy of examples/, up to its ``ready:`` line."""
    work = tmp_path_factory.mktemp("e2e")
    content = work / "site"
    shutil.copytree(EXAMPLES, content)
    port, aws_port = _free_ports(2)
    stderr_path = work / "tsuzuri-dev.stderr"
    command = [
        sys.executable, "-m", "tsuzuri_local.cli", "dev",
        "--content", str(content), "--port", str(port), "--aws-port", str(aws_port),
    ]  # fmt: skip
    with stderr_path.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            command,
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            encoding="utf-8",
            errors="replace",
            # Its kept state (for a restart) goes to the test's folder, not the user's cache.
            env={**os.environ, "PYTHONUNBUFFERED": "1", "XDG_CACHE_HOME": str(work / "cache")},
            start_new_session=True,  # its own group: Ctrl-C in pytest's terminal is ours to send
            preexec_fn=default_sigint,
        )
    stack = DevStack(url="", content=content, process=process, stderr_path=stderr_path)
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(
        target=_pump, args=(process.stdout, lines, stack.stdout), name="tsuzuri-dev-stdout"
    )
    reader.daemon = True
    reader.start()
    try:
        stack.url = _wait_ready(stack, lines)
        yield stack
    finally:
        problems = _stop(stack, [port, aws_port])
        reader.join(timeout=5)
    if problems:
        pytest.fail("; ".join(problems) + "\n" + stack.output(), pytrace=False)


def _chromium() -> str | None:
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def _unavailable(reason: str) -> NoReturn:
    """Skip locally; on CI a missing browser is a broken setup, not a reason to skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must run)", pytrace=False)
    pytest.skip(reason)


def _require_browser() -> str:
    executable = _chromium()
    if executable is None:
        _unavailable("chromium not found (apt-get install -y chromium fonts-noto-cjk)")
    if importlib.util.find_spec("playwright") is None:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    return executable


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Decide before any fixture: without a browser, don't spend a minute starting the stack."""
    _require_browser()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, dev: DevStack) -> Iterator[Page]:
    """A fresh browser context per test (no cache or cookies carried between tests)."""
    context = browser.new_context(
        base_url=dev.url,
        locale="ja-JP",
        timezone_id="Asia/Tokyo",
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
