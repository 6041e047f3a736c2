"""Render CPU per post, split into front matter, Markdown and template.

    .venv/bin/python benchmarks/render_cost.py [examples/posts] [--repeat 5]
        [--clock wall|cpu] [--json OUT]

Runs in-process with no AWS: it measures the core's own cost per post. ``--clock cpu``
times with the thread's CPU clock, which other work on a busy machine inflates less.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from tsuzuri.domain.frontmatter import decode_source, split_front_matter
from tsuzuri.domain.keys import classify_key
from tsuzuri.domain.post import parse_post
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.markdown.render import render_markdown
from tsuzuri.rendering.theme import Theme


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", nargs="?", default="examples/posts", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    clock = time.perf_counter if args.clock == "wall" else time.thread_time
    load_start = os.getloadavg()
    config_path = args.folder.parent / "_config.yml"
    site = SiteConfig.from_bytes(config_path.read_bytes()) if config_path.exists() else SiteConfig()
    theme = Theme(site)
    files = sorted(p for p in args.folder.glob("*") if p.suffix in (".md", ".markdown"))
    front_ms, markdown_ms, template_ms, total_ms, raw_ms = [], [], [], [], []
    from markdown_it import MarkdownIt

    raw_parser = MarkdownIt("commonmark").enable("table")
    # Warm caches (parser construction, template compilation) so the figures are per post.
    warm = parse_post(classify_key(f"posts/{files[0].name}"), files[0].read_bytes(), site)
    theme.render_post(warm, previous=None, next=None, related=())
    for _ in range(args.repeat):
        for path in files:
            raw = path.read_bytes()
            source = classify_key(f"posts/{path.name}")
            t0 = clock()
            front = split_front_matter(decode_source(raw))
            t1 = clock()
            render_markdown(front.body)
            t2 = clock()
            post = parse_post(source, raw, site)
            t3 = clock()
            theme.render_post(post, previous=None, next=None, related=())
            t4 = clock()
            raw_parser.render(front.body)
            t5 = clock()
            front_ms.append((t1 - t0) * 1000)
            markdown_ms.append((t2 - t1) * 1000)
            template_ms.append((t4 - t3) * 1000)
            total_ms.append((t4 - t3 + t2 - t0) * 1000)
            raw_ms.append((t5 - t4) * 1000)
    sizes = sorted(p.stat().st_size for p in files)
    print(
        f"posts: {len(files)}, median size {statistics.median(sizes) / 1024:.1f} KB,"
        f" repeat {args.repeat}, clock {args.clock}"
    )
    rows = {}
    for name, values in [
        ("front matter", front_ms),
        ("markdown (tsuzuri: plugins + sanitizer)", markdown_ms),
        ("template", template_ms),
        ("total per post", total_ms),
        ("raw markdown-it-py parse, for comparison", raw_ms),
    ]:
        q = statistics.quantiles(values, n=10)
        rows[name] = {"median": statistics.median(values), "p10": q[0], "p90": q[-1]}
        print(
            f"{name:42s} median {statistics.median(values):6.2f} ms"
            f"   p10 {q[0]:6.2f}   p90 {q[-1]:6.2f}"
        )
    # Per-post ratios (same text, same repeat), so that slow and fast moments pair up.
    ratio_total = [t / r for t, r in zip(total_ms, raw_ms, strict=True) if r > 0]
    ratio_markdown = [m / r for m, r in zip(markdown_ms, raw_ms, strict=True) if r > 0]
    print(
        f"ratio to the raw parse, median per post: total {statistics.median(ratio_total):.2f}x,"
        f" markdown step {statistics.median(ratio_markdown):.2f}x"
    )
    if args.json:
        result = {
            "part": "render_cost",
            "command": " ".join(["python", "benchmarks/render_cost.py", *sys.argv[1:]]),
            "posts": len(files),
            "repeat": args.repeat,
            "clock": args.clock,
            "median_kb": statistics.median(sizes) / 1024,
            "largest_kb": sizes[-1] / 1024,
            "ms": rows,
            "ratio_total": _spread(ratio_total),
            "ratio_markdown": _spread(ratio_markdown),
            "load_average_start": load_start,
            "load_average_end": os.getloadavg(),
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def _spread(values: list[float]) -> dict[str, float]:
    q = statistics.quantiles(values, n=10)
    return {"median": statistics.median(values), "p10": q[0], "p90": q[-1]}


if __name__ == "__main__":
    main()
