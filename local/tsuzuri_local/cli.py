"""The ``tsuzuri`` command: the editor's pre-flight, previews, publishing and the local stack."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tsuzuri.domain.keys import SourceKey, classify_key
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.errors import ConfigError, InputRejected, ThemeRejected, TsuzuriError

EPILOG_CHECK = """examples:
  tsuzuri check _posts/2026-02-21-my-post.md
  tsuzuri check _posts/ --config _config.yml
  tsuzuri check ~/blog      # a site folder: _config.yml, posts, pages and theme/*.j2
"""
EPILOG_RENDER = """examples:
  tsuzuri render _posts/2026-02-21-my-post.md -o preview.html
"""
EPILOG_PUBLISH = """examples:
  tsuzuri publish _posts/2026-02-21-my-post.md --stack tsuzuri
  tsuzuri publish ~/blog --bucket my-source-bucket        # a Jekyll site folder as is
  tsuzuri publish post.md --endpoint-url http://127.0.0.1:5000 --bucket tsuzuri-dev-source
"""
EPILOG_REBUILD = """examples:
  tsuzuri rebuild --stack tsuzuri         # after deploying a new theme
  tsuzuri rebuild --endpoint-url http://127.0.0.1:5000 --table tsuzuri-dev-table \\
      --queue-url http://127.0.0.1:5000/123456789012/tsuzuri-dev-render
"""
EPILOG_REDRIVE = """Moves the messages that exhausted their retries (the render queue's dead-letter
queue) back to the render queue, once the cause is fixed. The render function is
idempotent: a message replayed twice renders once more and changes nothing.

examples:
  tsuzuri redrive --stack tsuzuri
  tsuzuri redrive --stack tsuzuri --limit 10      # try a few first
  tsuzuri redrive --endpoint-url http://127.0.0.1:5000 \\
      --queue-url http://127.0.0.1:5000/123456789012/tsuzuri-dev-render \\
      --dead-letter-url http://127.0.0.1:5000/123456789012/tsuzuri-dev-render-dlq
"""
EPILOG_MIGRATE = """examples:
  tsuzuri migrate --stack tsuzuri     # once, right after `sam deploy` of this release
  tsuzuri migrate --table tsuzuri-posts --site-bucket tsuzuri-site-123456789012

Recounts every list and records what the site bucket holds, so that a publish reads
pages by position instead of whole lists. Safe to run again; pause uploads while it runs.
"""
EPILOG_DEV = """examples:
  tsuzuri dev                      # publishes examples/ and serves http://127.0.0.1:8080/
  tsuzuri dev ~/blog               # a Jekyll site folder (_posts/, assets/, _config.yml)
  tsuzuri dev ~/blog --port 8081 --aws-port 5001     # when 8080 or 5000 is taken

The emulated AWS is in ap-northeast-1 and accepts any credentials: tsuzuri dev prints
the environment lines that make the AWS CLI work against it.
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tsuzuri", description="Publish Jekyll-style Markdown posts to S3 and CloudFront."
    )
    parser.add_argument("--version", action="version", version=f"tsuzuri {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser(
        "check", help="validate posts, pages, _config.yml and theme overrides offline",
        epilog=EPILOG_CHECK, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    check.add_argument(
        "paths", nargs="+", type=Path, help="post, page, config or theme files, or folders"
    )
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

    publish = commands.add_parser(
        "publish", help="upload posts and assets, then show what the render function said",
        epilog=EPILOG_PUBLISH, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    publish.add_argument("paths", nargs="+", type=Path, help="post files, assets, or a site folder")
    target = publish.add_mutually_exclusive_group(required=True)
    target.add_argument("--bucket", help="the source bucket")
    target.add_argument("--stack", help="a deployed tsuzuri stack (reads its outputs)")
    publish.add_argument("--endpoint-url", help="another S3 endpoint, e.g. tsuzuri dev's")
    publish.add_argument("--region", help="AWS region (default: your AWS configuration)")
    publish.add_argument("--timeout", type=float, default=120, help="seconds to wait for reports")
    publish.add_argument("--no-wait", action="store_true", help="upload only")
    publish.set_defaults(run=_publish)

    rebuild = commands.add_parser(
        "rebuild", help="re-render every page (after a theme change) through the render queue",
        epilog=EPILOG_REBUILD, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    rebuild.add_argument("--stack", help="a deployed tsuzuri stack (reads its outputs)")
    rebuild.add_argument("--table", help="the table (instead of --stack)")
    rebuild.add_argument("--queue-url", help="the render queue (instead of --stack)")
    rebuild.add_argument("--endpoint-url", help="another AWS endpoint, e.g. tsuzuri dev's")
    rebuild.add_argument("--region", help="AWS region (default: your AWS configuration)")
    rebuild.set_defaults(run=_rebuild)

    migrate = commands.add_parser(
        "migrate", help="upgrade a deployed table to this release's data model (run once)",
        epilog=EPILOG_MIGRATE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    migrate.add_argument("--stack", help="a deployed tsuzuri stack (reads its outputs)")
    migrate.add_argument("--table", help="the table (instead of --stack)")
    migrate.add_argument("--site-bucket", help="the site bucket (instead of --stack)")
    migrate.add_argument("--endpoint-url", help="another AWS endpoint, e.g. tsuzuri dev's")
    migrate.add_argument("--region", help="AWS region (default: your AWS configuration)")
    migrate.set_defaults(run=_migrate)

    redrive = commands.add_parser(
        "redrive", help="move dead-lettered render messages back to the render queue",
        epilog=EPILOG_REDRIVE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    redrive.add_argument("--stack", help="a deployed tsuzuri stack (reads its outputs)")
    redrive.add_argument("--queue-url", help="the render queue (instead of --stack)")
    redrive.add_argument("--dead-letter-url", help="its dead-letter queue (instead of --stack)")
    redrive.add_argument("--limit", type=int, help="move at most this many messages")
    redrive.add_argument("--endpoint-url", help="another AWS endpoint, e.g. tsuzuri dev's")
    redrive.add_argument("--region", help="AWS region (default: your AWS configuration)")
    redrive.set_defaults(run=_redrive)

    dev = commands.add_parser(
        "dev", help="run the whole stack locally on an embedded AWS and serve the site",
        epilog=EPILOG_DEV, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    dev.add_argument(
        "folder", nargs="?", type=Path, metavar="DIR",
        help="site folder to publish (default: the checkout's examples/)",
    )  # fmt: skip
    dev.add_argument("--content", type=Path, help="the same as DIR")
    dev.add_argument("--port", type=int, default=8080, help="preview port (default 8080)")
    dev.add_argument("--aws-port", type=int, default=5000, help="emulated AWS port (default 5000)")
    dev.add_argument(
        "--fresh", action="store_true",
        help="forget what the last run of this folder kept and load the whole folder again",
    )  # fmt: skip
    dev.add_argument(
        "--state", type=Path, metavar="DIR",
        help="where the stack is kept between runs (default: a folder per site in the "
        "user cache, ~/.cache/tsuzuri/dev/)",
    )  # fmt: skip
    dev.set_defaults(run=_dev)

    # parse_args would report a subcommand's unknown option with the top-level usage;
    # the subcommand's own usage is the one that lists what it does accept.
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        commands.choices[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except (TsuzuriError, OSError) as exc:
        print(f"tsuzuri: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if type(exc).__module__.startswith("botocore"):
            print(f"tsuzuri: {exc}", file=sys.stderr)
            return 1
        raise


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tsuzuri")
    except PackageNotFoundError:  # run from a checkout without installing it
        import tsuzuri

        return tsuzuri.__version__


def _find_config(start: Path, explicit: Path | None) -> SiteConfig:
    path = _config_path(start, explicit)
    return (
        SiteConfig() if path is None else SiteConfig.from_bytes(path.read_bytes(), name=path.name)
    )


def _config_path(start: Path, explicit: Path | None) -> Path | None:
    """``--config``, else the first ``_config.*`` in the folder or above it."""
    if explicit is not None:
        return explicit
    for folder in [start.resolve(), *start.resolve().parents]:
        for name in ("_config.yml", "_config.yaml", "_config.json"):
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None


def source_key_for(path: Path) -> SourceKey:
    return classify_key(f"posts/{path.name}")


def _check(args: argparse.Namespace) -> int:
    """The render function's validation, offline, for everything a site folder uploads.

    Problems go to stdout, one ``path:line: message`` each (for editors and grep); what
    passes is listed on stderr with its URL, as Jekyll and Hugo list what they build.
    Warnings (``path: warning: message``, on stderr) name what publishes otherwise than
    the editor may expect; they do not change the exit code."""
    from collections import Counter

    from tsuzuri.domain.page import parse_page
    from tsuzuri.domain.post import parse_post
    from tsuzuri.rendering.i18n import check_ui, missing_description_warning
    from tsuzuri.rendering.overrides import validate_overrides

    from tsuzuri_local.devstack.mirror import jekyll_notice, unread_files
    from tsuzuri_local.editor import plan_upload

    problems = 0
    warnings = 0

    def report(path: Path, line: int | None, message: str, hint: str | None = None) -> None:
        nonlocal problems
        problems += 1
        print(f"{path}:{line or 1}: {message}" + (f" ({hint})" if hint else ""))

    def warn(path: Path, message: str) -> None:
        nonlocal warnings
        warnings += 1
        print(f"{path}: warning: {message}", file=sys.stderr)

    plan = plan_upload(args.paths)
    files = plan.files
    for unplaced in plan.unplaced:
        report(unplaced.path, None, f"not uploaded: {unplaced.reason}")
    if args.paths[0].is_dir():
        known = {u.path.resolve() for u in plan.unplaced}
        for unread in unread_files(args.paths[0]):
            if unread.path.resolve() not in known:  # a notice: Jekyll would skip it too
                print(f"{unread.path}: not uploaded, gets no report: {unread.reason}",
                      file=sys.stderr)  # fmt: skip
        for line in jekyll_notice(args.paths[0]).lines():
            print(line, file=sys.stderr)
    config = _config_path(args.paths[0], args.config)
    site = SiteConfig()
    if config is not None:
        try:
            site = SiteConfig.from_bytes(config.read_bytes(), name=config.name)
        except ConfigError as exc:
            if config.resolve() not in {path.resolve() for path, _key in files}:
                report(config, getattr(exc, "line", None), str(exc))  # else with the others
            print(f"{config}: invalid, checking with the default settings", file=sys.stderr)
        else:
            # The site publishes with these (the entry is ignored, the default is used),
            # so they are warnings, not problems.
            for message in check_ui(site):
                warn(config, message)
            described = missing_description_warning(site)
            if described is not None:
                warn(config, described)
    urls: dict[str, Path] = {}
    overrides: dict[str, tuple[Path, str]] = {}
    passed: list[str] = []
    kinds: Counter[str] = Counter()
    for path, key in files:
        try:
            source = classify_key(key)
            kinds[source.kind] += 1
            if source.kind == "config":
                SiteConfig.from_bytes(path.read_bytes(), name=path.name)
                passed.append(f"{path}: site settings")
            elif source.kind == "theme":
                overrides[source.slug] = (path, path.read_text(encoding="utf-8-sig"))
            elif source.kind in ("post", "page"):
                parse = parse_post if source.kind == "post" else parse_page
                parsed = parse(source, path.read_bytes(), site)
                url = parsed.url
                if parsed.liquid_warning:  # published, with that Liquid shown as text
                    warn(path, parsed.liquid_warning)
                if url in urls:
                    report(path, None, f"{url} is also the URL of {urls[url]}", _COLLISION_HINT)
                else:
                    passed.append(f"{path} -> {url}")
                urls.setdefault(url, path)
            else:
                passed.append(f"{path} -> /{key}")
        except InputRejected as exc:
            report(path, exc.line, exc.message, exc.hint)
        except (ConfigError, UnicodeDecodeError) as exc:
            report(path, None, str(exc))
    if overrides:
        try:
            validate_overrides(site, {name: text for name, (_p, text) in overrides.items()})
            passed += [f"{path}: theme override" for path, _text in overrides.values()]
        except ThemeRejected as exc:
            # The message names the template; point at its file when it is one of ours.
            named = [p for name, (p, _t) in overrides.items() if name in exc.message]
            report(named[0] if named else Path("theme"), exc.line, exc.message, exc.hint)
    for line in passed:
        print(line, file=sys.stderr)
    counted = ", ".join(f"{n} {_KIND_NAMES[kind]}" for kind, n in sorted(kinds.items()))
    warned = f", {warnings} warning(s)" if warnings else ""
    print(
        f"checked {len(files)} file(s){f' ({counted})' if counted else ''}: "
        f"{problems} problem(s){warned}",
        file=sys.stderr,
    )
    return 1 if problems else 0


_KIND_NAMES = {
    "post": "post(s)", "page": "page(s)", "asset": "asset(s)", "config": "config",
    "theme": "theme template(s)",
}  # fmt: skip
_COLLISION_HINT = "change the slug, the date or the permalink"


def _render(args: argparse.Namespace) -> int:
    from tsuzuri.domain.post import parse_post
    from tsuzuri.rendering.theme import Theme

    site = _find_config(args.path.parent, args.config)
    post = parse_post(source_key_for(args.path), args.path.read_bytes(), site)
    html = Theme(site).render_post(post, previous=None, next=None, related=())
    if args.output:
        args.output.write_text(html, encoding="utf-8")
        print(f"{args.path} -> {args.output} ({post.url})", file=sys.stderr)
    else:
        sys.stdout.write(html)
    return 0


# Credentials for an endpoint on this machine (tsuzuri dev's moto accepts any): without
# them botocore stops at "Unable to locate credentials" before it sends anything.
LOCAL_CREDENTIALS = {"aws_access_key_id": "tsuzuri-local", "aws_secret_access_key": "tsuzuri-local"}
# The region tsuzuri dev creates its stack in (moto keeps queues per region).
LOCAL_REGION = "ap-northeast-1"


def is_loopback(endpoint_url: str | None) -> bool:
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(endpoint_url or "").hostname
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _client(service: str, args: argparse.Namespace) -> Any:
    import os

    import botocore.session

    session = botocore.session.get_session()
    kwargs: dict[str, Any] = {}
    if is_loopback(args.endpoint_url):
        region = args.region or LOCAL_REGION
        if not (os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE")):
            kwargs = dict(LOCAL_CREDENTIALS)
    else:
        region = args.region or session.get_config_variable("region") or LOCAL_REGION
    return session.create_client(
        service, region_name=region, endpoint_url=args.endpoint_url, **kwargs
    )


def _publish(args: argparse.Namespace) -> int:
    from tsuzuri_local.editor import plan_upload, stack_outputs, upload, wait_for_reports
    from tsuzuri_local.progress import Progress

    bucket = args.bucket or stack_outputs(_client("cloudformation", args), args.stack).source_bucket
    plan = plan_upload(args.paths)
    # Named before anything is uploaded, and again in the exit code.
    for unplaced in plan.unplaced:
        print(f"{unplaced.path}: not uploaded: {unplaced.reason}")
    files = plan.files
    if not files:
        print("tsuzuri: nothing to publish", file=sys.stderr)
        return 1
    s3 = _client("s3", args)
    with Progress(len(files), "uploaded") as bar:
        since = upload(s3, bucket, files, lambda _n, _total, key: bar.advance(note=key))
    if args.no_wait:
        return 1 if plan.unplaced else 0
    keys = [key for _, key in files if not key.startswith("assets/")]
    reports = wait_for_reports(s3, bucket, keys, since, timeout_s=args.timeout)
    problems = len(plan.unplaced)
    for key, report in reports.items():
        if report is None:
            problems += 1
            print(f"{key}: no report within {args.timeout:.0f} s (is the render function running?)")
        elif report["status"] == "rejected":
            problems += 1
            line = f":{report['line']}" if report.get("line") else ""
            hint = f" ({report['hint']})" if report.get("hint") else ""
            print(f"{key}{line}: {report['problem']}{hint}")
        else:
            print(f"{key} -> {report.get('url')} {report['status']}")
    for _path, key in files:
        if key.startswith("assets/"):
            print(f"{key} -> /{key} uploaded")
    return 1 if problems else 0


# --option -> the StackOutputs field that gives it when --stack is used instead.
_STACK_OUTPUT_FOR = {
    "table": "table_name",
    "site_bucket": "site_bucket",
    "queue_url": "queue_url",
    "dead_letter_url": "dead_letter_url",
}


def _stack_or_options(args: argparse.Namespace, *options: str) -> list[str] | None:
    """The values of ``options``, from ``--stack``'s outputs if given, else from the
    options themselves; None, with the usage line printed, when one is missing."""
    if args.stack:
        from tsuzuri_local.editor import stack_outputs

        outputs = stack_outputs(_client("cloudformation", args), args.stack)
        values = [getattr(outputs, _STACK_OUTPUT_FOR[option]) for option in options]
    else:
        values = [getattr(args, option) for option in options]
    if all(values):
        return values
    flags = " and ".join("--" + option.replace("_", "-") for option in options)
    print(f"tsuzuri: give --stack, or both {flags}", file=sys.stderr)
    return None


def _rebuild(args: argparse.Namespace) -> int:
    from tsuzuri.aws.store import PostStore
    from tsuzuri.publishing.rebuild import enqueue, plan_requests, wait_for_queue

    from tsuzuri_local.progress import Progress

    resolved = _stack_or_options(args, "table", "queue_url")
    if resolved is None:
        return 2
    table, queue_url = resolved
    urls = [m.url for m in PostStore(_client("dynamodb", args), table).lists.every("all")]
    sqs = _client("sqs", args)
    total = enqueue(sqs, queue_url, plan_requests(urls))
    print(f"queued {total} rebuild requests for {len(urls)} posts", file=sys.stderr)
    with Progress(total, "rebuild requests done", unit="request", every_s=5) as bar:

        def progress(done: int, of: int) -> None:
            if of != bar.total:
                bar.expect(of - bar.total)
            bar.update_to(done)

        return 0 if wait_for_queue(sqs, queue_url, total, progress=progress) else 1


def _migrate(args: argparse.Namespace) -> int:
    from tsuzuri.aws.store import PostStore
    from tsuzuri.publishing.migrate import migrate

    resolved = _stack_or_options(args, "table", "site_bucket")
    if resolved is None:
        return 2
    table, site_bucket = resolved
    store = PostStore(_client("dynamodb", args), table)
    done = migrate(
        store, _client("s3", args), site_bucket,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )  # fmt: skip
    print(
        f"migrated: {done.posts} posts in {done.lists} lists, {done.months} months, "
        f"{done.objects} site objects",
        file=sys.stderr,
    )
    return 0


def _redrive(args: argparse.Namespace) -> int:
    from tsuzuri_local.progress import Progress
    from tsuzuri_local.redrive import queue_depth, redrive

    resolved = _stack_or_options(args, "queue_url", "dead_letter_url")
    if resolved is None:
        return 2
    queue_url, dead_letter_url = resolved
    sqs = _client("sqs", args)
    try:
        total = queue_depth(sqs, dead_letter_url)
    except Exception as exc:
        print(f"tsuzuri: redrive stopped: {_one_line(exc)}", file=sys.stderr)
        return 1
    if args.limit is not None:
        total = min(total, args.limit)
    with Progress(total, "moved back to the render queue", unit="message") as bar:

        def progress(moved: int, of: int) -> None:
            if of != bar.total:
                bar.expect(of - bar.total)
            bar.update_to(moved)

        try:
            result = redrive(sqs, dead_letter_url, queue_url, limit=args.limit, progress=progress)
        except Exception as exc:
            bar.close()
            print(f"tsuzuri: redrive stopped: {_one_line(exc)}", file=sys.stderr)
            return 1
    print(
        f"moved {result.moved} message(s); {result.remaining} left in the dead-letter queue",
        file=sys.stderr,
    )
    return 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _dev(args: argparse.Namespace) -> int:
    from tsuzuri_local.checkout import ROOT
    from tsuzuri_local.devstack.stack import run_dev

    if args.folder and args.content and args.folder != args.content:
        print("tsuzuri dev: give the site folder once (DIR or --content)", file=sys.stderr)
        return 2
    content = args.folder or args.content or ROOT / "examples"
    return run_dev(
        content=content, port=args.port, aws_port=args.aws_port,
        state=args.state, fresh=args.fresh,
    )  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
