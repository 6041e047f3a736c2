"""Full load of a generated site through the local stack, the way an editor meets it.

    .venv/bin/python -m benchmarks.dev_load --posts 2500

Generates a seeded corpus (benchmarks/corpus.py) into a temporary folder, starts
``tsuzuri dev --content <folder>`` as a child process, and times, from the start of
the process: the endpoint line, the ``ready:`` line (every file published by the
render function, through upload, S3 event, queue and handler) and the
``related lists ready`` line (the related function caught up with the table stream).
Then it fetches the home page and one post page through the preview server, stops the
stack with SIGINT, and prints one summary line (also written as JSON with ``--json``).

With ``--restarts N`` it then starts the stack N more times on the same folder, without
``--fresh``, and times each restart the same way (and each stop, which saves the state).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from tsuzuri_local.devstack.stack import default_sigint

from benchmarks.corpus import generate

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(posts: int, seed: int, timeout_s: float, restarts: int = 0) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="tsuzuri-load-") as tmp:
        content = Path(tmp) / "site"
        generate(content, posts, seed, 40)
        # The state kept for a restart stays in the run's temporary folder.
        cache = Path(tmp) / "cache"
        result = _session(content, cache, posts, timeout_s, fresh=True)
        runs = [_session(content, cache, posts, timeout_s, fresh=False) for _ in range(restarts)]
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        result["restarts"] = runs
        result["cpu_s"] = round(children.ru_utime + children.ru_stime, 1)
        result["peak_rss_mb"] = round(children.ru_maxrss / 1024)
        result["load_average"] = os.getloadavg()
        return result


def _session(
    content: Path, cache: Path, posts: int, timeout_s: float, *, fresh: bool
) -> dict[str, object]:
    port, aws_port = free_port(), free_port()
    command = [
        sys.executable, "-m", "tsuzuri_local.cli", "dev", *(["--fresh"] if fresh else []),
        "--content", str(content), "--port", str(port), "--aws-port", str(aws_port),
    ]  # fmt: skip
    started = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "XDG_CACHE_HOME": str(cache)},
        preexec_fn=default_sigint,
    )  # fmt: skip
    marks: dict[str, float] = {}
    errors: list[str] = []
    restored: list[str] = []

    def read_stderr() -> None:
        assert child.stderr is not None
        for line in child.stderr:
            if line.startswith("["):
                print(f"  {line.strip()}", file=sys.stderr, flush=True)
            elif "related" in line and "ready" in line:
                marks.setdefault("related", time.perf_counter() - started)
                print(f"  {line.strip()}", file=sys.stderr, flush=True)
            elif line.strip():
                errors.append(line.rstrip())

    threading.Thread(target=read_stderr, daemon=True).start()
    rejected = 0
    assert child.stdout is not None
    deadline = started + timeout_s
    for line in child.stdout:
        now = time.perf_counter() - started
        if line.startswith("aws endpoint:"):
            marks["endpoint"] = now
        elif line.startswith("restored"):
            restored.append(line.strip())
        elif line.startswith("ready:"):
            marks["ready"] = now
            print(f"  {line.strip()} (wall {now:.1f} s)", file=sys.stderr, flush=True)
            break
        elif "not published" in line:
            rejected += 1
        if time.perf_counter() > deadline:
            break
    while "related" not in marks and time.perf_counter() < deadline:
        time.sleep(0.5)
    site = f"http://127.0.0.1:{port}"
    home = urllib.request.urlopen(f"{site}/", timeout=30).read().decode()
    first_post = re.search(r'href="(/20\d\d/[^"]+/)"', home)
    post_status = 0
    if first_post:
        with urllib.request.urlopen(site + first_post.group(1), timeout=30) as response:
            post_status = response.status
    stopping = time.perf_counter()
    child.send_signal(signal.SIGINT)
    try:
        exit_code = child.wait(timeout=300)  # the stop saves the state
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()  # reaped, so that its CPU time is counted
        exit_code = -9
    return {
        "posts": posts,
        "fresh": fresh,
        "endpoint_s": round(marks.get("endpoint", -1), 1),
        "ready_s": round(marks.get("ready", -1), 1),
        "related_ready_s": round(marks.get("related", -1), 1),
        "stop_s": round(time.perf_counter() - stopping, 1),
        "posts_per_s": round(posts / marks["ready"], 1) if "ready" in marks else None,
        "restored": restored,
        "rejected_lines": rejected,
        "home_lists_post": bool(first_post),
        "post_status": post_status,
        "exit_code": exit_code,
        "stderr_tail": errors[-5:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--restarts", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run(args.posts, args.seed, args.timeout, args.restarts)
    print(json.dumps(result, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")


if __name__ == "__main__":
    main()
