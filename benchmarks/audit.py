"""Lighthouse 12 against ``tsuzuri dev``: the table under "Lighthouse" in docs/benchmarks.md.

    make audit          # installs Lighthouse 12 from npm into .tools/, then runs this

Starts ``tsuzuri dev`` on a copy of examples/ (moto's server, the real render path,
the CloudFront-like preview server with gzip), waits for ``ready:``, and runs
Lighthouse with Debian's chromium (CHROME_PATH, ``--headless=new --no-sandbox``) on
the home page, a long Japanese post with tables and code, a tag page and the 404
page. Lighthouse's default mobile profile (Moto G Power, slow 4G, 4x CPU slowdown).
No network beyond localhost is needed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tsuzuri_local.devstack.stack import default_sigint

ROOT = Path(__file__).resolve().parents[1]
LIGHTHOUSE = ROOT / ".tools" / "node_modules" / ".bin" / "lighthouse"
DOC = ROOT / "docs" / "benchmarks.md"
PAGES = [
    ("home", "/"),
    ("long Japanese post (tables, code)", "/2024/03/12/lambda-cold-start/"),
    ("tag page", "/tags/generative-ai/"),
    ("404 page", "/404.html"),
]
HEADING = "## Lighthouse"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_dev(content: Path) -> tuple[subprocess.Popen[str], str]:
    port, aws_port = free_port(), free_port()
    command = [sys.executable, "-m", "tsuzuri_local.cli", "dev", "--fresh", "--content",
               str(content), "--port", str(port), "--aws-port", str(aws_port)]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=default_sigint,
    )  # fmt: skip
    assert process.stdout is not None
    site = ""
    deadline = time.monotonic() + 300
    for line in process.stdout:
        if line.startswith("site: "):
            site = line.removeprefix("site: ").strip()
        if line.startswith("ready:"):
            break
        if time.monotonic() > deadline:
            raise SystemExit("tsuzuri dev did not get ready in 300 s")
    if not site:
        raise SystemExit("tsuzuri dev exited before printing its site URL")
    return process, site.rstrip("/")


def run_lighthouse(url: str, out: Path, chrome: str) -> dict[str, object]:
    command = [
        str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={out}",
        "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
        "--only-categories=performance,accessibility,best-practices,seo",
    ]  # fmt: skip
    subprocess.run(command, check=True, env={**os.environ, "CHROME_PATH": chrome}, timeout=300)
    report: dict[str, object] = json.loads(out.read_text(encoding="utf-8"))
    return report


def summarize(report: dict[str, object]) -> dict[str, object]:
    categories = report["categories"]
    audits = report["audits"]
    assert isinstance(categories, dict)
    assert isinstance(audits, dict)
    failing = [
        a["id"]
        for a in audits.values()
        if a.get("score") is not None
        and a["score"] < 0.9
        and a.get("scoreDisplayMode") in ("binary", "numeric", "metricSavings")
    ]
    return {
        "scores": [
            round(categories[c]["score"] * 100)
            for c in ("performance", "accessibility", "best-practices", "seo")
        ],
        "lcp": audits["largest-contentful-paint"]["numericValue"] / 1000,
        "weight": audits["total-byte-weight"]["numericValue"] / 1024,
        "failing": failing,
    }


def write_section(
    rows: list[tuple[str, str, dict[str, object]]], version: str, loads: tuple[float, float]
) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        HEADING,
        "",
        f"Lighthouse {version} (npm), Debian chromium headless, default mobile profile",
        "(slow 4G, 4x CPU throttling), against `tsuzuri dev` serving examples/ with gzip as",
        f"CloudFront would. Run with `make audit` on {when}, 1-minute load average",
        f"{loads[0]:.1f} at the start and {loads[1]:.1f} at the end. `.ci/run` runs the same",
        "audit with `--check`: accessibility, best practices and SEO must be 100 on every",
        "page; performance moves with the machine's load, so CI prints it without checking.",
        "",
        "| page | path | perf | a11y | best practices | SEO | LCP | weight |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, path, s in rows:
        perf, a11y, bp, seo = s["scores"]  # type: ignore[misc]
        lines.append(
            f"| {name} | `{path}` | {perf} | {a11y} | {bp} | {seo} | "
            f"{s['lcp']:.1f} s | {s['weight']:.1f} KiB |"
        )
    misses = sorted({f for _, _, s in rows for f in s["failing"]})  # type: ignore[attr-defined]
    lines += [
        "",
        "Audits below 0.9 on any page: " + (", ".join(f"`{m}`" for m in misses) or "none") + ".",
        "",
        "Jekyll build of the target blog for comparison (third-party requests blocked): post",
        "87/96/96/100, LCP 3.3 s, 388 KiB; home 91/96/96/100, LCP 3.0 s, 317 KiB.",
        "",
    ]
    return "\n".join(lines)


def update_doc(section: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chrome", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the doc")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 unless accessibility, best practices and SEO are 100 on every page "
        "(performance depends on the machine's load, so it is reported, not checked)",
    )
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        print("lighthouse not installed: run `make audit`", file=sys.stderr)
        return 2
    version = subprocess.run(
        [str(LIGHTHOUSE), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        content = Path(tmp) / "site"
        shutil.copytree(ROOT / "examples", content)
        process, site = start_dev(content)
        rows = []
        try:
            for name, path in PAGES:
                report = run_lighthouse(site + path, Path(tmp) / "report.json", args.chrome)
                summary = summarize(report)
                rows.append((name, path, summary))
                print(name, path, summary, flush=True)
                for audit_id in ("inspector-issues", "errors-in-console"):
                    details = report["audits"][audit_id].get("details") or {}  # type: ignore[index]
                    for item in details.get("items", []):
                        print(f"  {audit_id}: {json.dumps(item, ensure_ascii=False)[:300]}")
        finally:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=30)
    section = write_section(rows, version, (load_at_start, os.getloadavg()[0]))
    print(section)
    if not args.no_write:
        update_doc(section)
    if args.check:
        below = [
            f"{name} {category} {score}"
            for name, _path, summary in rows
            for category, score in zip(
                ("accessibility", "best practices", "SEO"),
                summary["scores"][1:],  # type: ignore[index]
                strict=True,
            )
            if score < 100
        ]
        if below:
            print("audit: below 100: " + "; ".join(below), file=sys.stderr)
            return 1
        print("audit: accessibility, best practices and SEO 100 on every page", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
