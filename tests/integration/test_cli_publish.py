"""``tsuzuri publish`` as a process against moto's server with no AWS configuration at all,
and what ``tsuzuri dev``'s console says about reports and dead letters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from tsuzuri.aws.clients import Clients
from tsuzuri.settings import Settings
from tsuzuri_local.devstack import stack as devstack
from tsuzuri_local.devstack.console import Console
from tsuzuri_local.provision import provision

ROOT = Path(__file__).resolve().parents[2]
TSUZURI = Path(sys.executable).with_name("tsuzuri")


def _no_aws_configuration(tmp_path: Path) -> dict[str, str]:
    """The environment of a shell that never ran `aws configure`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = str(tmp_path / "no-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "no-credentials")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


def test_publish_puts_single_files_at_their_site_path_without_credentials(
    moto_endpoint: str, stack: Settings, clients: Clients, tmp_path: Path
) -> None:
    site = tmp_path / "blog"
    (site / "assets" / "images").mkdir(parents=True)
    (site / "pages").mkdir()
    (site / "_config.yml").write_text("title: ブログ\n", encoding="utf-8")
    (site / "assets" / "images" / "loose2.svg").write_text("<svg/>", encoding="utf-8")
    (site / "pages" / "newpage.md").write_text("---\ntitle: 新しい\n---\n本文\n", "utf-8")
    (site / "Gemfile").write_text("source 'https://rubygems.org'\n", encoding="utf-8")
    command = [str(TSUZURI)] if TSUZURI.is_file() else [sys.executable, "-m", "tsuzuri_local.cli"]

    done = subprocess.run(
        [*command, "publish", "assets/images/loose2.svg", "pages/newpage.md", "Gemfile",
         "--endpoint-url", moto_endpoint, "--bucket", stack.source_bucket, "--no-wait"],
        cwd=site, env=_no_aws_configuration(tmp_path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert "Unable to locate credentials" not in done.stderr
    keys = {
        o["Key"] for o in clients.s3.list_objects_v2(Bucket=stack.source_bucket).get("Contents", [])
    }
    assert keys == {"assets/images/loose2.svg", "pages/newpage.md"}, done.stderr
    # The file that has no key is named, and the exit code says so.
    assert done.returncode == 1
    assert "Gemfile: not uploaded: Gemfile in the site folder" in done.stdout
    assert "[2/2] uploaded pages/newpage.md (" in done.stderr


def _put_report(clients: Clients, bucket: str, key: str, **report: Any) -> None:
    clients.s3.put_object(
        Bucket=bucket, Key=f"reports/{key}.json", Body=json.dumps({"key": key, **report}).encode()
    )


def _record(key: str, receives: int = 1) -> dict[str, Any]:
    body = {"Records": [{"s3": {"object": {"key": key}}}]}
    return {
        "messageId": str(uuid.uuid4()),
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": str(receives)},
    }


def test_the_dev_console_prints_what_a_person_wants_to_read(
    stack: Settings, clients: Clients, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = stack.source_bucket
    _put_report(clients, bucket, "posts/2025-11-03-生成AIの基礎.md", status="published",
                url="/2025/11/03/生成AIの基礎/")  # fmt: skip
    _put_report(clients, bucket, "posts/2026-01-01-a.md", status="published", url="/a/")
    _put_report(clients, bucket, "posts/2026-01-02-b.md", status="rejected", line=2,
                problem="invalid YAML", hint="fix the front matter")  # fmt: skip
    _put_report(clients, bucket, "_config.yml", status="config", problem="site config unchanged")
    console = Console(clients.s3, bucket, "http://127.0.0.1:8080/", max_receives=5)
    console.expect(["posts/2025-11-03-生成AIの基礎.md", "posts/2026-01-01-a.md",
                    "posts/2026-01-02-b.md"])  # fmt: skip

    console.batch([_record("_config.yml")], set(), 120)
    console.batch([_record("posts/2025-11-03-生成AIの基礎.md")], set(), 310)
    two = [_record("posts/2026-01-01-a.md"), _record("posts/2026-01-02-b.md")]
    console.batch(two, set(), 9959)

    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert lines[0] == "_config.yml: in use (120 ms)"  # not "unchanged" on the first load
    # Decoded, and the time of a batch of one file is that file's time.
    assert lines[1] == (
        "posts/2025-11-03-生成AIの基礎.md -> "
        "http://127.0.0.1:8080/2025/11/03/生成AIの基礎/ (310 ms)"
    )
    # A batch's time is no file's time: none is printed.
    assert lines[2] == "posts/2026-01-01-a.md -> http://127.0.0.1:8080/a/"
    assert lines[3] == (
        "posts/2026-01-02-b.md:2: not published: invalid YAML (fix the front matter)"
    )
    assert lines[4].startswith("ready: 3 files processed in ")
    assert lines[4].endswith("; 1 not published, see above")
    assert "9959" not in out.out

    console.related_quiet(0)
    console.batch([_record("_config.yml")], set(), 80)
    failing = _record("posts/2026-01-03-c.md", receives=5)
    console.batch([failing], {failing["messageId"]}, 10)
    out = capsys.readouterr()
    assert out.out.splitlines() == ["_config.yml: accepted, nothing to re-render (80 ms)"]
    assert "posts/2026-01-03-c.md: failed 5 times; the message goes to the dead-letter" in out.err
    assert "related lists ready: every post shows its related posts (" in out.err
    assert "stream records" not in out.err


def test_dev_says_when_messages_go_to_the_dead_letter_queue_and_how_to_redrive(
    moto_endpoint: str, clients: Clients
) -> None:
    sqs = botocore.session.get_session().create_client(
        "sqs", region_name="ap-northeast-1", endpoint_url=moto_endpoint
    )
    local = provision(clients, prefix=f"d{uuid.uuid4().hex[:10]}", sqs=sqs)
    assert local.queue_url and local.queue_arn and local.dead_letter_url
    aws = devstack._Aws(moto_endpoint, clients, local, local.queue_url, local.queue_arn)
    said: list[tuple[int, int, str, str]] = []

    class Recording(Console):
        def dead_lettered(self, new: int, waiting: int, queue: str, redrive: str) -> None:
            said.append((new, waiting, queue, redrive))

    console = Recording(clients.s3, local.settings.source_bucket, "http://127.0.0.1:8080/")
    stop = threading.Event()
    watcher = threading.Thread(
        target=devstack._watch_dead_letters, args=(aws, console, stop), daemon=True
    )
    watcher.start()
    try:
        sqs.send_message(QueueUrl=local.dead_letter_url, MessageBody="{}")
        deadline = time.monotonic() + 20
        while not said and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        watcher.join(timeout=10)
    [(new, waiting, queue, redrive)] = said
    assert (new, waiting) == (1, 1)
    assert queue.endswith("-render-dlq")
    assert redrive == (
        f"tsuzuri redrive --endpoint-url {moto_endpoint} --queue-url {local.queue_url} "
        f"--dead-letter-url {local.dead_letter_url}"
    )
