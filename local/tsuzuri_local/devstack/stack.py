"""``tsuzuri dev`` from start to stop: moto's server, the stack from ``template.yaml``,
both functions behind their pumps, the content folder mirrored, the preview served.

Each step is its own function so that ``run_dev`` reads as the order things must
happen in; what has been started is kept in one place so that a failure at any step
(or Ctrl-C, or SIGTERM) stops exactly that.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tsuzuri.errors import ConfigError

from tsuzuri_local.checkout import RELATED_HANDLER
from tsuzuri_local.devstack.aws_process import AwsProcess, port_problem
from tsuzuri_local.devstack.console import Console
from tsuzuri_local.devstack.mirror import FolderMirror
from tsuzuri_local.devstack.pumps import (
    POLL_SECONDS,
    EventPump,
    StreamPump,
    queue_sender,
    related_mapping,
)
from tsuzuri_local.devstack.runtime import (
    LambdaContext,
    handler_environment,
    load_handler,
    quiet_local_warnings,
)
from tsuzuri_local.devstack.state import (
    AWS_STATE,
    MIRRORED_KEYS,
    STREAM_POSITIONS,
    default_state_dir,
    keep_json,
    kept_json,
)

if TYPE_CHECKING:
    from tsuzuri.aws.clients import Clients

    from tsuzuri_local.preview import PreviewServer
    from tsuzuri_local.provision import LocalStack

REGION = "ap-northeast-1"
HOST = "127.0.0.1"
# The credentials tsuzuri dev's own clients use when the shell has none: moto accepts any.
LOCAL_KEY = "tsuzuri-local"
# How often the dead-letter queue is looked at (one cheap call to the local endpoint).
DEAD_LETTER_POLL_S = 2.0
# How often the scheduled posts' tick runs: twice as often as the template's
# rate(1 minute), so that a post dated a minute ahead shows in the preview within
# about 30 s of its date (plus the render queue's time).
SCHEDULE_TICK_S = 30.0


@dataclass
class _Started:
    """What has been started so far: stopping undoes exactly that, whichever step
    failed."""

    aws: AwsProcess
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    preview: PreviewServer | None = None
    # What is written for the next run once the threads stopped, before moto's state.
    keep: list[Callable[[], None]] = field(default_factory=list)

    def thread(self, target: Callable[..., None], name: str, *args: Any) -> None:
        self.threads.append(threading.Thread(target=target, name=name, args=args, daemon=True))
        self.threads[-1].start()

    def stop_all(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=5)
        if self.preview is not None:
            self.preview.stop()
        for keep in self.keep:
            try:
                keep()
            except OSError as exc:
                print(f"the state for the next run was not kept: {exc}", file=sys.stderr)
        self.aws.stop()
        print("stopped", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class _Aws:
    """The provisioned stack and the clients the steps reach it with."""

    endpoint: str
    clients: Clients
    stack: LocalStack
    queue_url: str
    queue_arn: str


def run_dev(
    *, content: Path, port: int, aws_port: int, state: Path | None = None, fresh: bool = False
) -> int:
    """``state`` is where the stack is kept between runs (default: the user's cache);
    ``fresh`` starts empty and loads the whole folder, as the first run does."""
    _use_local_credentials()
    quiet_local_warnings()
    if not content.is_dir():
        print(f"tsuzuri dev: content folder {content} does not exist", file=sys.stderr)
        return 2
    # Both ports before anything starts: a taken one is a message and exit code 2 at
    # once, not a stack half started (or a server thread waiting forever to bind).
    problem = _ports_problem(port, aws_port)
    if problem:
        print(f"tsuzuri dev: {problem}", file=sys.stderr)
        return 2
    kept = state or default_state_dir(content)
    if fresh:
        for name in (AWS_STATE, STREAM_POSITIONS, MIRRORED_KEYS):
            (kept / name).unlink(missing_ok=True)
    try:
        started = _Started(aws=_start_moto(aws_port, kept / AWS_STATE))
    except ConfigError as exc:
        print(f"tsuzuri dev: {exc}", file=sys.stderr)
        return 2
    try:
        aws = _provision(started.aws)
        try:
            started.preview = preview = _open_preview(aws, port)
        except OSError as exc:  # taken since the check above
            print(
                f"tsuzuri dev: the preview cannot listen on port {port} ({exc.strerror}): "
                "choose another with --port",
                file=sys.stderr,
            )
            return 2
        console, render = _render_pump(aws, preview.url, started.stop)
        started.thread(_watch_dead_letters, "dead-letters", aws, console, started.stop)
        mirror = _load_content(content, aws, console, kept, restored=started.aws.restored)
        started.keep.append(lambda: keep_json(kept / MIRRORED_KEYS, mirror.mirrored()))
        # One invocation at a time: moto's DynamoDB backend is not safe for concurrent
        # transactions (AWS runs up to MaximumConcurrency; the core is built for that).
        started.thread(render.run, "render-pump")
        # The same handler the pump calls, as the template's schedule invokes it.
        started.thread(_tick_scheduled_posts, "scheduled-posts", render.handler, started.stop)
        related = _related_pump(aws, console, started.stop)
        if started.aws.restored:
            positions = kept_json(kept / STREAM_POSITIONS)
            related.resume_from(positions if isinstance(positions, dict) else {})
        started.keep.append(lambda: keep_json(kept / STREAM_POSITIONS, related.positions()))
        started.thread(related.run, "related-pump")
        preview.start()
        _install_sigterm(started.stop)
        _follow(mirror, started.stop)
    except KeyboardInterrupt:
        pass
    finally:
        started.stop_all()
    return 0


def _ports_problem(port: int, aws_port: int) -> str | None:
    if port == aws_port and port != 0:
        return f"--port and --aws-port are both {port}: give them different ports"
    for number, what, flag in ((aws_port, "the emulated AWS", "--aws-port"),
                               (port, "the preview", "--port")):  # fmt: skip
        problem = port_problem(HOST, number)
        if problem:
            return f"{problem} (wanted for {what}): choose another with {flag}"
    return None


def _use_local_credentials() -> None:
    """Whatever the shell has set wins; the rest is what moto's server accepts."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": LOCAL_KEY,
        "AWS_SECRET_ACCESS_KEY": LOCAL_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }.items():
        os.environ.setdefault(name, value)


def _start_moto(aws_port: int, state: Path) -> AwsProcess:
    return AwsProcess(aws_port, state=state).start()


def _provision(server: AwsProcess) -> _Aws:
    from tsuzuri.aws.clients import make_clients

    from tsuzuri_local.provision import provision

    endpoint = server.endpoint
    clients = make_clients(endpoint_url=endpoint, region=REGION)
    stack = provision(clients, prefix="tsuzuri-dev", sqs=clients.sqs)
    if stack.queue_url is None or stack.queue_arn is None:
        raise RuntimeError("the render queue was not created")
    return _Aws(endpoint, clients, stack, stack.queue_url, stack.queue_arn)


def _open_preview(aws: _Aws, port: int) -> PreviewServer:
    from tsuzuri_local.preview import PreviewServer

    preview = PreviewServer(aws.clients.s3, aws.stack.settings.site_bucket, host=HOST, port=port)
    print(f"aws endpoint: {aws.endpoint}", flush=True)
    print(f"source bucket: {aws.stack.settings.source_bucket}", flush=True)
    print(f"site: {preview.url}", flush=True)
    print(aws_cli_help(aws.endpoint, aws.stack.settings.source_bucket), flush=True)
    return preview


def aws_cli_help(endpoint: str, source_bucket: str) -> str:
    """The lines to paste for the AWS CLI: any credentials do for moto, but the CLI
    refuses to send a request without some, and the stack is in one region."""
    return "\n".join(
        [
            f"aws cli: the stack is in {REGION} and takes any credentials; in another shell:",
            f"  export AWS_ACCESS_KEY_ID={LOCAL_KEY} AWS_SECRET_ACCESS_KEY={LOCAL_KEY}"
            f" AWS_DEFAULT_REGION={REGION}",
            f"  aws --endpoint-url {endpoint} s3 cp post.md s3://{source_bucket}/posts/",
        ]
    )


def _render_pump(aws: _Aws, site_url: str, stop: threading.Event) -> tuple[Console, EventPump]:
    settings, plan = aws.stack.settings, aws.stack.plan
    os.environ.update(
        handler_environment(
            settings, aws.endpoint,
            RENDER_QUEUE_URL=aws.queue_url, TSUZURI_SITE_URL=site_url.rstrip("/"),
        )
    )  # fmt: skip
    handler = load_handler()
    console = Console(
        aws.clients.s3, settings.source_bucket, site_url, max_receives=plan.max_receive_count
    )
    pump = EventPump(
        sqs=aws.clients.sqs, queue_url=aws.queue_url, queue_arn=aws.queue_arn,
        handler=handler.lambda_handler, batch_size=plan.batch_size,
        window_s=min(plan.batching_window_s, 0.5), on_batch=console.batch,
        stop_event=stop,
    )  # fmt: skip
    return console, pump


def _load_content(
    content: Path, aws: _Aws, console: Console, kept: Path, *, restored: bool
) -> FolderMirror:
    """The first sync: the whole folder, or on a restored stack what changed since."""
    mirror = FolderMirror(content, aws.clients.s3, aws.stack.settings.source_bucket)
    if restored:
        previous = kept_json(kept / MIRRORED_KEYS)
        unchanged = mirror.resume(previous if isinstance(previous, list) else [])
    initial = mirror.pending()
    posts = [k for k in initial if not k.startswith("_config")]
    console.expect(posts)
    if restored:
        print(
            f"restored the last run's site: {unchanged} files as they were, {len(initial)} "
            "changed since (start with --fresh to load the whole folder again)",
            flush=True,
        )
        if not posts:
            console.ready.set()
            print("ready: the site is as the last run left it", flush=True)
    elif not initial:
        console.ready.set()
        print("ready: the content folder is empty", flush=True)
    mirror.sync()  # the config is uploaded before the first cold start reads it
    return mirror


def _related_pump(aws: _Aws, console: Console, stop: threading.Event) -> StreamPump:
    """The related-posts function on the table's stream, with the template's mapping."""
    import botocore.session

    from tsuzuri_local.provision import load_template

    return StreamPump(
        streams=botocore.session.get_session().create_client(
            "dynamodbstreams", region_name=REGION, endpoint_url=aws.endpoint
        ),
        stream_arn=aws.stack.stream_arn or "",
        handler=load_handler(RELATED_HANDLER).lambda_handler,
        on_failure=queue_sender(aws.clients.sqs, "tsuzuri-dev-related-failures"), stop_event=stop,
        on_quiet=console.related_quiet,
        **{k: v for k, v in related_mapping(load_template()).items() if k != "report_failures"},
    )  # fmt: skip


def _watch_dead_letters(aws: _Aws, console: Console, stop: threading.Event) -> None:
    """Says when the render queue moves messages to its dead-letter queue (after the
    template's maxReceiveCount failures), with the ``tsuzuri redrive`` command for them."""
    from botocore.exceptions import BotoCoreError, ClientError

    from tsuzuri_local.redrive import queue_depth

    url = aws.stack.dead_letter_url
    if url is None:
        return
    command = (
        f"tsuzuri redrive --endpoint-url {aws.endpoint} --queue-url {aws.queue_url} "
        f"--dead-letter-url {url}"
    )
    seen = 0
    while not stop.wait(DEAD_LETTER_POLL_S):
        try:
            waiting = queue_depth(aws.clients.sqs, url)
        except (BotoCoreError, ClientError):  # stopping, or busy: look again next time
            continue
        if waiting > seen:
            console.dead_lettered(waiting - seen, waiting, url.rsplit("/", 1)[-1], command)
        seen = waiting


def scheduled_event(template: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The event the template's schedule sends the render function (its target's
    ``Input``), with the context attributes EventBridge Scheduler fills in."""
    target = template["Resources"]["ScheduledPostsSchedule"]["Properties"]["Target"]
    text = str(target["Input"])
    for name, value in {
        "scheduled-time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "schedule-arn": f"arn:aws:scheduler:{REGION}:123456789012:schedule/tsuzuri-dev/"
        "scheduled-posts",
        "execution-id": uuid.uuid4().hex[:16],
    }.items():
        text = text.replace(f"<aws.scheduler.{name}>", value)
    event: dict[str, Any] = json.loads(text)
    return event


def _tick_scheduled_posts(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], stop: threading.Event
) -> None:
    """EventBridge Scheduler's part: the scheduled posts' tick, every SCHEDULE_TICK_S.
    The handler only queues what is due; the render pump publishes it."""
    from tsuzuri_local.provision import load_template

    template = load_template()
    while not stop.wait(SCHEDULE_TICK_S):
        try:
            handler(scheduled_event(template, datetime.now(UTC)), LambdaContext("tsuzuri-render"))
        except Exception as exc:  # as in AWS, the next tick tries again
            if not stop.is_set():
                print(f"scheduled posts: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def _follow(mirror: FolderMirror, stop: threading.Event) -> None:
    pause = POLL_SECONDS
    while not stop.wait(pause):
        scan_started = time.perf_counter()
        mirror.sync()
        # Stat-polling 2,500 files costs ~60 ms: keep it under a tenth of the time,
        # but still notice an edit within the promised 2 s.
        pause = min(max(POLL_SECONDS, 10 * (time.perf_counter() - scan_started)), 1.5)


def default_sigint() -> None:
    """For ``preexec_fn`` of a ``tsuzuri dev`` child that will be stopped with SIGINT:
    children of a background shell job inherit an ignored SIGINT; a terminal's don't."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _install_sigterm(stop: threading.Event) -> None:
    # signal.signal raises ValueError in any other thread.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
