"""The ``tsuzuri`` command: the editor's pre-flight, previews, publishing and the local stack."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from tsuzuri.config import SiteConfig
from tsuzuri.errors import KeyRejected, PostRejected, TsuzuriError
from tsuzuri.keys import POST_EXTENSIONS, SourceKey, classify_key

EPILOG_CHECK = """examples:
  tsuzuri check _posts/2026-02-21-my-post.md
  tsuzuri check _posts/ --config _config.yml
"""
EPILOG_RENDER = """examples:
  tsuzuri render _posts/2026-02-21-my-post.md -o preview.html
"""
EPILOG_DEV = """examples:
  tsuzuri dev                      # publishes examples/ and serves http://127.0.0.1:8080/
  tsuzuri dev --content ~/blog     # a Jekyll site folder (_posts/, assets/, _config.yml)
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tsuzuri", description="Publish Jekyll-style Markdown posts to S3 and CloudFront."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser(
        "check", help="validate posts offline, as the render function would",
        epilog=EPILOG_CHECK, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    check.add_argument("paths", nargs="+", type=Path, help="post files or folders")
    check.add_argument(
        "--config", type=Path, help="site _config.yml (default: found above the posts)"
    )
    check.set_defaults(run=_check)

    render = commands.add_parser(
        "render", help="render one post to a standalone HTML preview",
        epilog=EPILOG_RENDER, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    render.add_argument("path", type=Path, help="the post file")
    render.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    render.add_argument("--config", type=Path, help="site _config.yml")
    render.set_defaults(run=_render)

    dev = commands.add_parser(
        "dev", help="run the whole stack locally on an embedded AWS and serve the site",
        epilog=EPILOG_DEV, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    dev.add_argument(
        "--content", type=Path, default=Path("examples"), help="site folder to publish"
    )
    dev.add_argument("--port", type=int, default=8080, help="preview port (default 8080)")
    dev.add_argument("--aws-port", type=int, default=5000, help="emulated AWS port (default 5000)")
    dev.set_defaults(run=_dev)

    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except (TsuzuriError, OSError) as exc:
        print(f"tsuzuri: {exc}", file=sys.stderr)
        return 1


def _find_config(start: Path, explicit: Path | None) -> SiteConfig:
    if explicit is not None:
        return SiteConfig.from_bytes(explicit.read_bytes(), name=explicit.name)
    for folder in [start.resolve(), *start.resolve().parents]:
        for name in ("_config.yml", "_config.yaml", "_config.json"):
            candidate = folder / name
            if candidate.is_file():
                return SiteConfig.from_bytes(candidate.read_bytes(), name=name)
    return SiteConfig()


def _post_files(paths: Sequence[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.suffix in POST_EXTENSIONS and p.is_file()
            )
        else:
            yield path


def source_key_for(path: Path) -> SourceKey:
    return classify_key(f"posts/{path.name}")


def _check(args: argparse.Namespace) -> int:
    from tsuzuri.post import parse_post

    site = _find_config(args.paths[0], args.config)
    problems = 0
    files = list(_post_files(args.paths))
    urls: dict[str, Path] = {}
    for path in files:
        try:
            post = parse_post(source_key_for(path), path.read_bytes(), site)
        except (PostRejected, KeyRejected) as exc:
            problems += 1
            line = exc.line or 1
            hint = f" ({exc.hint})" if exc.hint else ""
            print(f"{path}:{line}: {exc.message}{hint}")
            continue
        if post.url in urls:
            problems += 1
            other = urls[post.url]
            print(f"{path}:1: {post.url} is also the URL of {other} (change the slug or date)")
        urls.setdefault(post.url, path)
    print(f"checked {len(files)} file(s): {problems} problem(s)", file=sys.stderr)
    return 1 if problems else 0


def _render(args: argparse.Namespace) -> int:
    from tsuzuri.post import parse_post
    from tsuzuri.theme import Theme

    site = _find_config(args.path.parent, args.config)
    post = parse_post(source_key_for(args.path), args.path.read_bytes(), site)
    html = Theme(site).render_post(post, previous=None, next=None, related=())
    if args.output:
        args.output.write_text(html, encoding="utf-8")
        print(f"{args.path} -> {args.output} ({post.url})", file=sys.stderr)
    else:
        sys.stdout.write(html)
    return 0


def _dev(args: argparse.Namespace) -> int:
    from tsuzuri.devstack import run_dev

    return run_dev(content=args.content, port=args.port, aws_port=args.aws_port)


if __name__ == "__main__":  # pragma: no cover
    started = time.perf_counter()
    sys.exit(main())
