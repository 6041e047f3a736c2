"""``make bench``: tsuzuri side by side with Jekyll and Hugo, on one seeded corpus.

    .venv/bin/python -m benchmarks.bench            # full sizes (hours on a small machine)
    .venv/bin/python -m benchmarks.bench --quick    # small sizes, for development
    .venv/bin/python -m benchmarks.bench --parts publish --sizes 2500 --out DIR
    .venv/bin/python -m benchmarks.bench --from DIR # rewrite the doc from earlier results

Each part is a script of its own with a ``--json`` output, run in a child process (so
that one part's memory, moto's server included, is gone before the next starts):

=========  ===================================================================
render     benchmarks/render_cost.py: render CPU per post against a raw parse
cold       benchmarks/cold_init.py: cold init and RSS of both functions
publish    benchmarks/publish_latency.py, once per site size: publish latency,
           work per publish, and the theme-change rebuild of the whole site
           (moto's server in a child process, or in the benchmark's with
           ``--aws thread``)
load       benchmarks/dev_load.py: a full load through ``tsuzuri dev``
peers      benchmarks/peers.py: Jekyll 4 and Hugo full builds (skipped if absent)
=========  ===================================================================

Every part uses ``benchmarks/corpus.py`` with the same seed, so the first N posts are
the same posts in every part. The JSON results go to ``--out`` (a new temporary
folder by default); the section of ``docs/benchmarks.md`` between the
``make bench`` markers is then generated from every result in that folder, so parts
run separately into one folder end up in one table, each with the command that
produced it. The rest of the document is left as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
START = "<!-- make bench: start -->"
END = "<!-- make bench: end -->"
PARTS = ("render", "cold", "publish", "load", "peers")


@dataclass
class Plan:
    sizes: list[int]
    publishes: int
    load_posts: int
    peer_posts: int
    peer_runs: int
    cold_runs: int
    render_posts: int
    render_repeat: int


FULL = Plan([100, 2500, 10000], 15, 2500, 2500, 3, 7, 300, 3)
QUICK = Plan([100, 300], 5, 100, 100, 1, 3, 30, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated subset")
    parser.add_argument("--sizes", help="site sizes for the publish part, e.g. 100,2500")
    parser.add_argument("--publishes", type=int)
    parser.add_argument("--load-posts", type=int)
    parser.add_argument("--peer-posts", type=int)
    parser.add_argument("--peer-runs", type=int)
    parser.add_argument("--peers", default="jekyll,hugo", help="peers to build (peers.py --peers)")
    parser.add_argument("--cold-runs", type=int)
    parser.add_argument("--render-posts", type=int)
    parser.add_argument("--render-repeat", type=int)
    parser.add_argument("--max-rss-mb", type=float, default=8192)
    parser.add_argument(
        "--aws",
        choices=("process", "thread"),
        default="process",
        help="publish part: moto's server in a child process (as tsuzuri dev) or in-process",
    )
    parser.add_argument("--out", type=Path, help="results folder (kept; default: a new one)")
    parser.add_argument("--from", dest="source", type=Path, help="only rewrite the doc from DIR")
    parser.add_argument("--doc", type=Path, default=DOC)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()

    if args.source:
        write_doc(args.doc, collect(args.source))
        print(f"bench: {args.doc} rewritten from {args.source}")
        return
    plan = QUICK if args.quick else FULL
    plan = Plan(
        sizes=[int(s) for s in args.sizes.split(",")] if args.sizes else plan.sizes,
        publishes=args.publishes or plan.publishes,
        load_posts=args.load_posts or plan.load_posts,
        peer_posts=args.peer_posts or plan.peer_posts,
        peer_runs=args.peer_runs or plan.peer_runs,
        cold_runs=args.cold_runs or plan.cold_runs,
        render_posts=args.render_posts or plan.render_posts,
        render_repeat=args.render_repeat or plan.render_repeat,
    )
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown parts: {', '.join(sorted(unknown))} (known: {PARTS})")
    out = args.out or Path(tempfile.mkdtemp(prefix="tsuzuri-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    invocation = shlex.join(["python", "-m", "benchmarks.bench", *sys.argv[1:]])
    if os.environ.get("TSUZURI_BENCH_VIA_MAKE"):
        invocation = "make bench" + (
            f' BENCH_ARGS="{shlex.join(sys.argv[1:])}"' * bool(sys.argv[1:])
        )
    steps = plan_steps(plan, parts, out, args.max_rss_mb, args.peers, args.aws)
    print(f"bench: {len(steps)} steps, results in {out}", flush=True)
    for number, (name, label, command, result) in enumerate(steps, start=1):
        print(
            f"bench [{number}/{len(steps)}] {label} (load {os.getloadavg()[0]:.1f}) ...",
            flush=True,
        )
        began = time.perf_counter()
        code = run_step(name, command, out, result)
        elapsed = time.perf_counter() - began
        verdict = "done" if code == 0 else f"FAILED (exit {code})"
        print(f"bench [{number}/{len(steps)}] {label}: {verdict} in {elapsed:.0f} s", flush=True)
        annotate(result, name, invocation, code, elapsed, out, args.doc)
    if not args.no_doc:
        write_doc(args.doc, collect(out))
        print(f"bench: {args.doc} updated (section between the make bench markers)")


def plan_steps(
    plan: Plan,
    parts: list[str],
    out: Path,
    max_rss_mb: float,
    peers: str = "jekyll,hugo",
    aws: str = "process",
) -> list[tuple[str, str, list[str], Path]]:
    python = sys.executable
    steps: list[tuple[str, str, list[str], Path]] = []
    if "render" in parts:
        corpus = out / f"corpus-{plan.render_posts}"
        steps.append(
            (
                "render",
                f"render CPU per post ({plan.render_posts} posts x {plan.render_repeat})",
                [
                    python, "benchmarks/corpus.py", str(corpus), "--posts",
                    str(plan.render_posts), "&&",
                    python, "benchmarks/render_cost.py", str(corpus / "_posts"),
                    "--repeat", str(plan.render_repeat), "--clock", "cpu",
                ],
                out / "render.json",
            )
        )  # fmt: skip
    if "cold" in parts:
        steps.append(
            (
                "cold",
                f"cold init of both functions ({plan.cold_runs} runs)",
                [python, "benchmarks/cold_init.py", "--runs", str(plan.cold_runs)],
                out / "cold.json",
            )
        )
    if "publish" in parts:
        for size in plan.sizes:
            steps.append(
                (
                    "publish",
                    f"publish latency on {size:,} posts ({plan.publishes} publishes)",
                    [
                        python, "-m", "benchmarks.publish_latency", "--posts", str(size),
                        "--publishes", str(plan.publishes), "--max-rss-mb", str(max_rss_mb),
                        "--aws", aws,
                    ],
                    out / f"publish-{size}.json",
                )
            )  # fmt: skip
    if "load" in parts:
        steps.append(
            (
                "load",
                f"full load of {plan.load_posts:,} posts through tsuzuri dev",
                [python, "-m", "benchmarks.dev_load", "--posts", str(plan.load_posts)],
                out / f"load-{plan.load_posts}.json",
            )
        )
    if "peers" in parts:
        steps.append(
            (
                "peers",
                f"Jekyll and Hugo full builds ({plan.peer_posts:,} posts, {plan.peer_runs} runs)",
                [
                    python, "benchmarks/peers.py", "--posts", str(plan.peer_posts),
                    "--runs", str(plan.peer_runs), "--peers", peers,
                ],
                out / f"peers-{plan.peer_posts}.json",
            )
        )  # fmt: skip
    return steps


def run_step(name: str, command: list[str], out: Path, result: Path) -> int:
    """Run one part (commands joined by ``&&`` run in order), its output in a log."""
    log = result.with_suffix(".log")
    result.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    commands: list[list[str]] = [[]]
    for word in command:
        if word == "&&":
            commands.append([])
        else:
            commands[-1].append(word)
    commands[-1] += ["--json", str(result)]
    with log.open("w", encoding="utf-8") as handle:
        for part in commands:
            child = subprocess.Popen(
                part, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True,
            )  # fmt: skip
            assert child.stdout is not None
            for line in child.stdout:
                handle.write(line)
                handle.flush()
                if name in ("publish", "load", "peers") and _is_progress(line):
                    print(f"    {line.rstrip()}", flush=True)
            code = child.wait()
            if code != 0:
                tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-8:]
                print("    " + "\n    ".join(tail), flush=True)
                result.write_text(
                    json.dumps(
                        {"part": name, "failed": True, "exit_code": code, "tail": tail}, indent=2
                    )
                    + "\n",
                    encoding="utf-8",
                )
                return code
    return 0


PROGRESS = (
    "[", "preload [", "publish ", "theme-change", "jekyll run", "hugo run", "ready:",
    "related lists ready", "publish_latency:",
)  # fmt: skip


def _is_progress(line: str) -> bool:
    return line.strip().startswith(PROGRESS)


def annotate(
    result: Path, name: str, invocation: str, code: int, elapsed: float, out: Path, doc: Path
) -> None:
    """Add how the result was produced; the results folder is written as ``OUT`` and the
    repository as a relative path, so that the doc names no machine's paths."""

    def portable(command: str) -> str:
        # Word by word: a results folder named like an option ("out") must not turn
        # "--out" into "--OUT".
        folders = {str(out.resolve()), str(out)}
        words = []
        for word in command.split(" "):
            for folder in folders:
                if word == folder or word.startswith(folder + "/"):
                    word = "OUT" + word[len(folder) :]
                    break
            word = word.replace(str(doc.resolve()), _relative(doc))
            words.append(word.replace(sys.executable, "python").replace(str(ROOT) + "/", ""))
        return " ".join(words)

    data: dict[str, Any] = {"part": name}
    if result.exists():
        data = json.loads(result.read_text(encoding="utf-8"))
    data.setdefault("part", name)
    if name == "load" and "command" not in data:
        data["command"] = f"python -m benchmarks.dev_load --posts {data.get('posts', '?')}"
    if "command" in data:
        data["command"] = portable(str(data["command"]))
    data["bench_command"] = portable(invocation)
    data["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    data["step_s"] = round(elapsed, 1)
    data["exit_code"] = code
    result.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return "DOC"


def collect(folder: Path) -> dict[str, Any]:
    found: dict[str, Any] = {"publish": {}, "load": {}, "peers": {}}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        part = data.get("part")
        if part == "publish" and not data.get("failed"):
            found["publish"][int(data["posts"])] = data
        elif part == "publish":
            size = int(path.stem.split("-")[-1])
            found["publish"][size] = data
        elif part in ("load", None) and path.stem.startswith("load-"):
            data["part"] = "load"
            found["load"][int(path.stem.split("-")[-1])] = data
        elif part == "peers":
            found["peers"][int(data.get("posts") or path.stem.split("-")[-1])] = data
        elif part == "render_cost" or path.stem == "render":
            found["render"] = data
        elif part == "cold_init" or path.stem == "cold":
            found["cold"] = data
    return found


# -- the document ----------------------------------------------------------------------


def write_doc(doc: Path, results: dict[str, Any]) -> None:
    from benchmarks.report import render_section

    section = render_section(results)
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    block = f"{START}\n{section.rstrip()}\n{END}"
    if START in text and END in text:
        head, _, rest = text.partition(START)
        _, _, tail = rest.partition(END)
        text = head + block + tail
    else:
        first, _, rest = text.partition("\n")
        text = f"{first}\n\n{block}\n{rest}"
    doc.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
