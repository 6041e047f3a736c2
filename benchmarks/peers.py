"""Peers on the same corpus: a full Jekyll 4 build and a full Hugo build of the seeded
corpus, with wall time and peak RSS, and a URL-parity check against tsuzuri's permalinks.

    .venv/bin/python benchmarks/peers.py --posts 2500 --runs 3 [--workdir DIR] [--seed 7]

Jekyll is Debian's ``jekyll`` with jekyll-feed, jekyll-seo-tag, jekyll-sitemap and
jekyll-paginate, and a post layout that scores every other post in Liquid (the target
theme's related list). Hugo is Debian's ``hugo`` with related content on categories and
tags. The layouts and config overlays are real files under ``benchmarks/peers/``.

Every run is a cold full build: the output folder and Jekyll's ``.jekyll-cache`` are
removed first, so each run pays what a fresh CI checkout pays to publish one post. Each
build runs under a small Python wrapper that reports the child's wall time, CPU time and
peak RSS (``getrusage(RUSAGE_CHILDREN)``). A peer that is not installed is skipped with a
line saying so; ``make bench-peers`` installs both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
PEERS = Path(__file__).resolve().parent / "peers"
JEKYLL_PLUGINS = {
    "jekyll-feed": "ruby-jekyll-feed",
    "jekyll-seo-tag": "ruby-jekyll-seo-tag",
    "jekyll-sitemap": "ruby-jekyll-sitemap",
    "jekyll-paginate": "ruby-jekyll-paginate",
}
# A post page under /:year/:month/:day/:title/ (index.html inside the folder).
POST_PAGE = re.compile(r"^(\d{4}/\d{2}/\d{2}/[^/]+)/index\.html$")
FRONT_DATE = re.compile(
    r"^date:\s*(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) ([+-]\d{4})\s*$", re.MULTILINE
)
POST_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}-(.+)\.(md|markdown)$")
# Runs a command and prints its wall time, CPU time and peak RSS as JSON. RUSAGE_CHILDREN
# in a fresh wrapper covers exactly the one build (ru_maxrss: its largest process).
MEASURE = r"""
import json, resource, subprocess, sys, time
with open(sys.argv[1], "wb") as log:
    start = time.perf_counter()
    code = subprocess.run(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": code, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
                  "rss_mb": usage.ru_maxrss / 1024}))
"""


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    rss_mb: float
    load: float


@dataclass
class PeerResult:
    name: str
    version: str
    runs: list[Run] = field(default_factory=list)
    html_pages: int = 0
    files: int = 0
    post_urls: list[str] = field(default_factory=list)
    conflicts: int = 0
    skipped: str = ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--workdir", type=Path, help="kept after the run (default: a temporary folder)"
    )
    parser.add_argument("--peers", default="jekyll,hugo", help="comma-separated subset")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    wanted = {name.strip() for name in args.peers.split(",") if name.strip()}

    temporary = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="tsuzuri-peers-")) if temporary else args.workdir
    workdir = workdir.resolve()
    load_start = os.getloadavg()
    try:
        results = run_all(workdir, args.posts, args.seed, args.runs, wanted)
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        **to_json(results, args, workdir / "corpus"),
                        "load_average_start": load_start,
                        "load_average_end": os.getloadavg(),
                    },
                    indent=2,
                )
                + "\n",
                encoding="utf-8",
            )
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)


def run_all(workdir: Path, posts: int, seed: int, runs: int, wanted: set[str]) -> list[PeerResult]:
    print(f"machine: {machine()}")
    print(f"load at start: {uptime()}")
    corpus = make_corpus(workdir / "corpus", posts, seed)
    results: list[PeerResult] = []
    if "jekyll" in wanted:
        results.append(bench_jekyll(corpus, workdir / "jekyll", runs))
    if "hugo" in wanted:
        results.append(bench_hugo(corpus, workdir / "hugo", runs))
    print(f"load at end: {uptime()}")
    print()
    print_table(results, posts)
    measured = [r for r in results if not r.skipped]
    if measured:
        print()
        print_parity(corpus, measured)
    return results


def to_json(results: list[PeerResult], args: argparse.Namespace, corpus: Path) -> dict[str, object]:
    ours = set(tsuzuri_urls(corpus).values()) if any(not r.skipped for r in results) else set()
    return {
        "part": "peers",
        "command": " ".join(["python", "benchmarks/peers.py", *sys.argv[1:]]),
        "posts": args.posts,
        "runs": args.runs,
        "seed": args.seed,
        "machine": machine(),
        "peers": [
            {
                "name": r.name,
                "version": r.version,
                "skipped": r.skipped,
                "runs": [vars(run) for run in r.runs],
                "html_pages": r.html_pages,
                "files": r.files,
                "post_pages": len(r.post_urls),
                "urls_equal_tsuzuri": bool(r.post_urls) and set(r.post_urls) == ours,
                "conflicts": r.conflicts,
            }
            for r in results
        ],
    }


# --- corpus ---------------------------------------------------------------------------


def make_corpus(out: Path, posts: int, seed: int) -> Path:
    """Generate the corpus once per (posts, seed); a rerun with the same workdir reuses it."""
    stamp = out / ".peers-stamp"
    wanted = f"posts={posts} seed={seed}\n"
    if stamp.exists() and stamp.read_text() == wanted:
        print(f"corpus: reusing {posts} posts (seed {seed})")
        return out
    sys.path.insert(0, str(ROOT))
    from benchmarks.corpus import generate

    shutil.rmtree(out, ignore_errors=True)
    files = generate(out, posts, seed)
    stamp.write_text(wanted)
    total = sum(p.stat().st_size for p in files)
    print(f"corpus: {len(files)} posts (seed {seed}), {total / 1e6:.1f} MB")
    return out


def post_files(corpus: Path) -> list[Path]:
    return sorted(p for p in (corpus / "_posts").iterdir() if POST_NAME.match(p.name))


# --- measuring ------------------------------------------------------------------------


def measure(command: list[str], cwd: Path, log: Path, env: dict[str, str]) -> Run:
    load = os.getloadavg()[0]
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(log), *command],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    figures = json.loads(out.stdout)
    if figures["code"] != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise SystemExit(f"{command[0]} failed with exit code {figures['code']}:\n{tail}")
    return Run(figures["wall_s"], figures["cpu_s"], figures["rss_mb"], load)


def count_output(result: PeerResult, out: Path) -> None:
    files = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()]
    result.files = len(files)
    result.html_pages = sum(1 for f in files if f.endswith(".html"))
    result.post_urls = sorted(f"/{m.group(1)}/" for f in files if (m := POST_PAGE.match(f)))


def tool_version(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    except OSError:
        return "?"
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0] if lines else "?"


def remove(site: Path, names: tuple[str, ...]) -> None:
    """Delete earlier output and caches so that every run is a cold full build."""
    for name in names:
        path = site / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def build_env() -> dict[str, str]:
    # A fixed UTF-8 locale so that runs do not depend on the caller's (Japanese text).
    return {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "JEKYLL_ENV": "production"}


# --- Jekyll ---------------------------------------------------------------------------


def bench_jekyll(corpus: Path, site: Path, runs: int) -> PeerResult:
    jekyll = shutil.which("jekyll")
    if not jekyll:
        return skip("jekyll", "not installed (apt-get install -y jekyll, or make bench-peers)")
    missing = [
        f"{gem} ({package})"
        for gem, package in JEKYLL_PLUGINS.items()
        if subprocess.run(
            ["ruby", "-e", f"require 'jekyll'; require '{gem}'"], capture_output=True
        ).returncode
    ]
    if missing:
        return skip("jekyll", "plugins not installed: " + ", ".join(missing))
    result = PeerResult("Jekyll", tool_version([jekyll, "--version"]))
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(corpus / "_posts", site / "_posts")
    shutil.copy2(corpus / "_config.yml", site / "_config.yml")
    shutil.copytree(PEERS / "jekyll", site, dirs_exist_ok=True)
    command = [jekyll, "build", "--config", "_config.yml,_config.peers.yml"]
    for number in range(runs):
        remove(site, ("_site", ".jekyll-cache", ".jekyll-metadata"))
        log = site.parent / f"jekyll-build-{number + 1}.log"
        run = measure(command, site, log, build_env())
        result.runs.append(run)
        print(f"  jekyll run {number + 1}/{runs}: {describe(run)}", flush=True)
        result.conflicts = log.read_text(encoding="utf-8", errors="replace").count("Conflict:")
    count_output(result, site / "_site")
    return result


# --- Hugo -----------------------------------------------------------------------------


def bench_hugo(corpus: Path, site: Path, runs: int) -> PeerResult:
    hugo = shutil.which("hugo")
    if not hugo:
        return skip("hugo", "not installed (apt-get install -y hugo, or make bench-peers)")
    result = PeerResult("Hugo", tool_version([hugo, "version"]).split(" BuildDate")[0])
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(PEERS / "hugo", site)
    convert_for_hugo(corpus, site / "content" / "posts")
    for number in range(runs):
        remove(site, ("public", "resources", ".hugo_build.lock"))
        log = site.parent / f"hugo-build-{number + 1}.log"
        run = measure([hugo], site, log, build_env())
        result.runs.append(run)
        print(f"  hugo run {number + 1}/{runs}: {describe(run)}", flush=True)
    count_output(result, site / "public")
    return result


def convert_for_hugo(corpus: Path, content: Path, timezone: str = "Asia/Tokyo") -> None:
    """Copy the posts for Hugo: an RFC 3339 date in the site's zone, and the slug.

    Hugo parses ``2024-05-01 21:00:00 +0000`` but fills ``:year/:month/:day`` from the
    date in its own offset, where Jekyll converts to the site's ``timezone`` first; and
    Hugo's ``:slug`` falls back to the title, where Jekyll's ``:title`` is the file name.
    """
    zone = ZoneInfo(timezone)
    content.mkdir(parents=True, exist_ok=True)
    for path in post_files(corpus):
        text = path.read_text(encoding="utf-8")
        match = POST_NAME.match(path.name)
        assert match
        slug = match.group(1)
        found = FRONT_DATE.search(text)
        if not found:
            raise SystemExit(f"{path.name}: no 'date: YYYY-MM-DD HH:MM:SS +ZZZZ' line")
        when = front_date(found).astimezone(zone)
        converted = (
            f"{text[: found.start()]}date: {when.isoformat()}\nslug: {slug}{text[found.end() :]}"
        )
        (content / f"{slug}.md").write_text(converted, encoding="utf-8")


def days_shifted_without_conversion(corpus: Path, timezone: str = "Asia/Tokyo") -> int:
    """Posts whose URL day Hugo would get wrong from the unconverted date (own offset)."""
    zone = ZoneInfo(timezone)
    shifted = 0
    for path in post_files(corpus):
        m = FRONT_DATE.search(path.read_text(encoding="utf-8"))
        if m:
            when = front_date(m)
            shifted += when.date() != when.astimezone(zone).date()
    return shifted


def front_date(match: re.Match[str]) -> datetime:
    return datetime.strptime(f"{match.group(1)} {match.group(2)}", "%Y-%m-%d %H:%M:%S %z")


# --- report ---------------------------------------------------------------------------


def skip(name: str, reason: str) -> PeerResult:
    print(f"{name}: skipped, {reason}")
    return PeerResult(name.capitalize(), "", skipped=reason)


def describe(run: Run) -> str:
    return (
        f"wall {run.wall_s:.2f} s, cpu {run.cpu_s:.2f} s, peak RSS {run.rss_mb:.0f} MB "
        f"(load {run.load:.2f} at start)"
    )


def spread(values: list[float], digits: int) -> str:
    median = statistics.median(values)
    return f"{median:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def print_table(results: list[PeerResult], posts: int) -> None:
    print(
        "| peer | version | runs | wall s, median (min–max) | CPU s user+sys, median "
        "| peak RSS MB, median (min–max) | posts/s | HTML pages | files | post pages "
        "| 1-min load at each start |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        if r.skipped:
            print(f"| {r.name} | skipped: {r.skipped} | | | | | | | | | |")
            continue
        walls = [run.wall_s for run in r.runs]
        print(
            f"| {r.name} | {r.version} | {len(r.runs)} | {spread(walls, 2)} "
            f"| {statistics.median(run.cpu_s for run in r.runs):.2f} "
            f"| {spread([run.rss_mb for run in r.runs], 0)} "
            f"| {posts / statistics.median(walls):.1f} | {r.html_pages} | {r.files} "
            f"| {len(r.post_urls)} | {', '.join(f'{run.load:.2f}' for run in r.runs)} |"
        )


def tsuzuri_urls(corpus: Path) -> dict[str, str]:
    """File name -> URL as tsuzuri computes it (the same code the publisher runs)."""
    sys.path.insert(0, str(ROOT / "layers" / "core"))
    from tsuzuri.domain.keys import classify_key
    from tsuzuri.domain.post import parse_post
    from tsuzuri.domain.site_config import SiteConfig

    site = SiteConfig.from_bytes((corpus / "_config.yml").read_bytes())
    return {
        path.name: parse_post(classify_key(f"posts/{path.name}"), path.read_bytes(), site).url
        for path in post_files(corpus)
    }


def print_parity(corpus: Path, results: list[PeerResult]) -> None:
    ours = tsuzuri_urls(corpus)
    expected = set(ours.values())
    shared = Counter(ours.values())
    collided = sum(count - 1 for count in shared.values() if count > 1)
    print(
        f"URL parity: {len(ours)} posts; tsuzuri computes {len(expected)} distinct post URLs "
        f"({collided} of them share a URL with another post)."
    )
    for r in results:
        got = set(r.post_urls)
        only_peer, only_ours = sorted(got - expected), sorted(expected - got)
        verdict = "identical" if not only_peer and not only_ours else "DIFFERENT"
        print(
            f"- {r.name}: {len(got)} post URLs, {verdict} to tsuzuri's set "
            f"({len(got & expected)} in both, {len(only_peer)} only in {r.name}, "
            f"{len(only_ours)} only in tsuzuri)."
        )
        for url in (only_peer + only_ours)[:5]:
            print(f"    {'only in ' + r.name if url in got else 'only in tsuzuri'}: {url}")
        if r.name == "Jekyll":
            dropped = len(ours) - len(got)
            print(
                f"  Jekyll dropped {dropped} posts because two posts mapped to one URL "
                f"({r.conflicts} 'Conflict:' warnings in the build log)."
            )
        if r.name == "Hugo":
            print(
                f"  (Hugo built from a converted copy: without the RFC 3339 conversion, "
                f"{days_shifted_without_conversion(corpus)} posts would get a different "
                f"URL day, since Hugo uses the date's own offset, not timeZone.)"
            )


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    system = f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"
    return f"nproc {len(os.sched_getaffinity(0))}, {model}{memory}, {system}"


def uptime() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


if __name__ == "__main__":
    main()
