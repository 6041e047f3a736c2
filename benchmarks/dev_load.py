"""Full load of a generated site through the local stack, the way an editor meets it.

    .venv/bin/python -m benchmarks.dev_load --posts 2500

Generates a seeded corpus (benchmarks/corpus.py) into a temporary folder, starts
``tsuzuri dev --content <folder>`` as a child process, and times, from the start of
the process: the endpoint line, the ``ready:`` line (every file published by the
render function, through upload, S3 event, queue and handler) and the
``related lists ready`` line (the related function caught up with the table stream).
Then it fetches the home page and one post page through the preview server, stops the
stack with SIGINT, and prints one summary line (also written as JSON with ``--json``).
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


def run(posts: int, seed: int, timeout_s: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="tsuzuri-load-") as tmp:
        content = Path(tmp)
        generate(content, posts, seed, 40)
        port, aws_port = free_port(), free_port()
        command = [
            sys.executable, "-m", "tsuzuri_local.cli", "dev", "--content", str(content),
            "--port", str(port), "--aws-port", str(aws_port),
        ]  # fmt: skip
        started = time.perf_counter()
        child = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=default_sigint,
        )  # fmt: skip
        marks: dict[str, float] = {}
        progress: list[str] = []
        errors: list[str] = []

        def read_stderr() -> None:
            assert child.stderr is not None
            for line in child.stderr:
                if line.startswith("["):
                    progress.append(line.strip())
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
        child.send_signal(signal.SIGINT)
        try:
            exit_code = child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()  # reaped, so that its CPU time is counted below
            exit_code = -9
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "posts": posts,
            "endpoint_s": round(marks.get("endpoint", -1), 1),
            "ready_s": round(marks.get("ready", -1), 1),
            "related_ready_s": round(marks.get("related", -1), 1),
            "posts_per_s": round(posts / marks["ready"], 1) if "ready" in marks else None,
            "rejected_lines": rejected,
            "home_lists_post": bool(first_post),
            "post_status": post_status,
            "exit_code": exit_code,
            "cpu_s": round(children.ru_utime + children.ru_stime, 1),
            "peak_rss_mb": round(children.ru_maxrss / 1024),
            "stderr_tail": errors[-5:],
            "load_average": os.getloadavg(),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run(args.posts, args.seed, args.timeout)
    print(json.dumps(result, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")


if __name__ == "__main__":
    main()
