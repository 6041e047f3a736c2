"""The local stack: template-driven resources, the SQS event pump, the editor CLI."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from tsuzuri.aws.clients import Clients
from tsuzuri_local import cli
from tsuzuri_local.devstack.pumps import EventPump
from tsuzuri_local.devstack.runtime import load_handler
from tsuzuri_local.provision import LocalStack, load_template, plan_from_template, provision

from tests.support.site import post_text
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Running:
    stack: LocalStack
    clients: Clients
    sqs: Any
    endpoint: str
    invocations: list[list[str]]  # message bodies per invocation


@pytest.fixture
def local(
    moto_endpoint: str, clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Running]:
    sqs = botocore.session.get_session().create_client(
        "sqs", region_name="ap-northeast-1", endpoint_url=moto_endpoint
    )
    stack = provision(clients, prefix=f"l{uuid.uuid4().hex[:10]}", sqs=sqs)
    settings = stack.settings
    for name, value in {
        "SOURCE_BUCKET": settings.source_bucket,
        "SITE_BUCKET": settings.site_bucket,
        "TABLE_NAME": settings.table_name,
        "DISTRIBUTION_ID": settings.distribution_id or "",
        "TSUZURI_AWS_ENDPOINT_URL": moto_endpoint,
        "TSUZURI_SITE_URL": "http://127.0.0.1:8080",
        "TSUZURI_INDEX_WORKERS": "1",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "RENDER_QUEUE_URL": stack.queue_url or "",
    }.items():
        monkeypatch.setenv(name, value)
    handler = load_handler()
    invocations: list[list[str]] = []

    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        invocations.append([r["body"] for r in event["Records"]])
        return handler.lambda_handler(event, context)  # type: ignore[no-any-return]

    assert stack.queue_url and stack.queue_arn
    stop = threading.Event()
    pump = EventPump(
        sqs=sqs, queue_url=stack.queue_url, queue_arn=stack.queue_arn, handler=invoke,
        batch_size=stack.plan.batch_size, window_s=0.2, stop_event=stop,
    )  # fmt: skip
    thread = threading.Thread(target=pump.run, daemon=True)
    thread.start()
    yield Running(stack, clients, sqs, moto_endpoint, invocations)
    stop.set()
    thread.join(timeout=10)
    handler.service.cache_clear()


def _page(running: Running, key: str) -> str | None:
    try:
        obj = running.clients.s3.get_object(Bucket=running.stack.settings.site_bucket, Key=key)
    except running.clients.s3.exceptions.NoSuchKey:
        return None
    return str(obj["Body"].read().decode())


def test_the_local_stack_is_built_from_template_yaml(local: Running) -> None:
    template = load_template()["Resources"]
    plan = plan_from_template(load_template())
    table = local.clients.dynamodb.describe_table(TableName=local.stack.settings.table_name)[
        "Table"
    ]
    assert table["KeySchema"] == template["Table"]["Properties"]["KeySchema"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    versioning = local.clients.s3.get_bucket_versioning(Bucket=local.stack.settings.source_bucket)
    assert versioning["Status"] == "Enabled"
    notification = local.clients.s3.get_bucket_notification_configuration(
        Bucket=local.stack.settings.source_bucket
    )
    prefixes = {
        rule["Filter"]["Key"]["FilterRules"][0]["Value"]
        for rule in notification["QueueConfigurations"]
    }
    assert {"posts/", "_posts/", "assets/", "_config.yml", "theme/"} <= prefixes
    assert "reports/" not in prefixes  # the function's own reports must not trigger it
    redrive = json.loads(
        local.sqs.get_queue_attributes(QueueUrl=local.stack.queue_url, AttributeNames=["All"])[
            "Attributes"
        ]["RedrivePolicy"]
    )
    queue = template["RenderQueue"]["Properties"]
    assert redrive["maxReceiveCount"] == queue["RedrivePolicy"]["maxReceiveCount"]
    events = template["RenderFunction"]["Properties"]["Events"]["SourceChanges"]["Properties"]
    assert plan.batch_size == events["BatchSize"]


def test_publish_cli_uploads_and_reports_each_file(
    local: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    posts = tmp_path / "_posts"
    posts.mkdir()
    (posts / "2026-02-11-cli.md").write_text(post_text("CLIから"), encoding="utf-8")
    (posts / "2026-02-12-broken.md").write_text("---\ntitle: [x\n---\n", encoding="utf-8")
    bucket = local.stack.settings.source_bucket

    code = cli.main(
        ["publish", str(tmp_path), "--endpoint-url", local.endpoint, "--bucket", bucket]
    )

    out = capsys.readouterr()
    assert code == 1  # one file was rejected
    assert "posts/2026-02-11-cli.md -> /2026/02/12/cli/ published" in out.out
    assert "posts/2026-02-12-broken.md:2: invalid YAML" in out.out
    assert "[2/2] uploaded" in out.err
    assert "CLIから" in (_page(local, "2026/02/12/cli/index.html") or "")


def test_a_delete_in_the_versioned_bucket_unpublishes(local: Running) -> None:
    settings = local.stack.settings
    assert local.stack.queue_url
    key = "posts/2026-02-11-gone.md"
    local.clients.s3.put_object(
        Bucket=settings.source_bucket, Key=key, Body=post_text("消す").encode()
    )
    eventually(lambda: _page(local, "2026/02/12/gone/index.html"), timeout=20)

    local.clients.s3.delete_object(Bucket=settings.source_bucket, Key=key)

    eventually(lambda: _page(local, "2026/02/12/gone/index.html") is None, timeout=20)
    assert "/2026/02/12/gone/" not in (_page(local, "index.html") or "")


def test_rebuild_re_renders_every_page_through_the_queue(
    local: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = local.stack.settings
    for day in (1, 2):
        key = f"posts/2026-01-0{day}-r{day}.md"
        text = post_text(f"再構築{day}", date=f"2026-01-0{day} 10:00:00 +0900")
        local.clients.s3.put_object(Bucket=settings.source_bucket, Key=key, Body=text.encode())
    eventually(lambda: _page(local, "2026/01/02/r2/index.html"), timeout=20)
    # Pages lost from the site bucket come back from the table alone.
    local.clients.s3.delete_object(Bucket=settings.site_bucket, Key="2026/01/01/r1/index.html")
    local.clients.s3.delete_object(Bucket=settings.site_bucket, Key="index.html")

    code = cli.main(
        ["rebuild", "--endpoint-url", local.endpoint, "--table", settings.table_name,
         "--queue-url", local.stack.queue_url or ""]
    )  # fmt: skip

    assert code == 0
    assert "rebuild requests done" in capsys.readouterr().err
    assert "再構築1" in (_page(local, "2026/01/01/r1/index.html") or "")
    assert "/2026/01/02/r2/" in (_page(local, "index.html") or "")


def _report(running: Running, key: str) -> Any:
    try:
        obj = running.clients.s3.get_object(
            Bucket=running.stack.settings.source_bucket, Key=f"reports/{key}.json"
        )
    except running.clients.s3.exceptions.NoSuchKey:
        return None
    return json.loads(obj["Body"].read())


def test_a_config_change_re_renders_through_the_queue_and_a_broken_one_is_kept_out(
    local: Running,
) -> None:
    source = local.stack.settings.source_bucket
    put = local.clients.s3.put_object
    put(Bucket=source, Key="posts/2026-01-01-c1.md",
        Body=post_text("設定の記事", categories="AI最新ニュース").encode())  # fmt: skip
    put(Bucket=source, Key="pages/about.md", Body=b"---\ntitle: About\n---\nhello\n")
    eventually(lambda: _page(local, "2026/02/12/c1/index.html"), timeout=20)
    eventually(lambda: _page(local, "about/index.html"), timeout=20)  # pages/ reaches the queue
    assert _page(local, "category/latest/index.html") is None

    config = "title: 新しい名前\ncategory_slugs:\n  AI最新ニュース: latest\n"
    config += "navigation:\n  - title: About\n    url: /about/\n"
    put(Bucket=source, Key="_config.yml", Body=config.encode())

    # A slug changed: every post is parsed again (re-index), every page re-rendered.
    eventually(lambda: _page(local, "category/latest/index.html"), timeout=20)
    post = eventually(
        lambda: (p := _page(local, "2026/02/12/c1/index.html")) and "新しい名前" in p and p,
        timeout=20,
    )
    assert 'href="/category/latest/"' in post
    assert '<a href="/about/">About</a>' in post
    eventually(lambda: "新しい名前" in (_page(local, "about/index.html") or ""), timeout=20)
    eventually(lambda: _page(local, "category/ai最新ニュース/index.html") is None, timeout=20)
    report = _report(local, "_config.yml")
    assert report["status"] == "config" and report["rebuild"] == "reindex"

    put(Bucket=source, Key="_config.yml", Body=b"title: [broken\n")
    rejected = eventually(
        lambda: (r := _report(local, "_config.yml")) and r["status"] == "rejected" and r, timeout=20
    )
    assert "cannot be parsed" in rejected["problem"]
    # The site keeps the last valid settings, for new posts too.
    put(Bucket=source, Key="posts/2026-01-02-c2.md", Body=post_text("次の記事").encode())
    after = eventually(lambda: _page(local, "2026/02/12/c2/index.html"), timeout=20)
    assert "新しい名前" in after


def test_a_theme_override_reaches_every_page_through_the_queue(local: Running) -> None:
    source = local.stack.settings.source_bucket
    put = local.clients.s3.put_object
    put(Bucket=source, Key="posts/2026-01-01-t1.md", Body=post_text("テーマの記事").encode())
    packaged = eventually(lambda: _page(local, "2026/02/12/t1/index.html"), timeout=20)
    post = (ROOT / "templates/post.html.j2").read_text(encoding="utf-8")
    cta = post.replace("{{ body }}\n</div>", '{{ body }}\n</div>\n<aside class="cta">相談</aside>')
    put(Bucket=source, Key="theme/post.html.j2", Body=cta.encode())
    eventually(
        lambda: 'class="cta"' in (_page(local, "2026/02/12/t1/index.html") or ""), timeout=20
    )
    assert _report(local, "theme/post.html.j2")["rebuild"] == "pages"

    put(Bucket=source, Key="theme/post.html.j2", Body=b"{% if %}\n")
    rejected = eventually(
        lambda: (r := _report(local, "theme/post.html.j2")) and r["status"] == "rejected" and r,
        timeout=20,
    )
    assert rejected["code"] == "bad-theme" and rejected["line"] == 1
    assert 'class="cta"' in (_page(local, "2026/02/12/t1/index.html") or "")

    local.clients.s3.delete_object(Bucket=source, Key="theme/post.html.j2")
    eventually(lambda: _page(local, "2026/02/12/t1/index.html") == packaged, timeout=20)


def test_what_keeps_failing_lands_in_the_dead_letter_queue(local: Running) -> None:
    assert local.stack.queue_url and local.stack.dead_letter_url and local.stack.queue_arn
    local.sqs.set_queue_attributes(
        QueueUrl=local.stack.queue_url, Attributes={"VisibilityTimeout": "1"}
    )

    # A message that is neither an S3 notification nor a rebuild request is poison.
    poison = '{"tsuzuri": "rebuild", "urls": 7}'
    local.sqs.send_message(QueueUrl=local.stack.queue_url, MessageBody=poison)

    def dead_lettered() -> bool:
        attributes = local.sqs.get_queue_attributes(
            QueueUrl=local.stack.dead_letter_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) == 1

    assert eventually(dead_lettered, timeout=30)
    deliveries = sum(bodies.count(poison) for bodies in local.invocations)
    assert deliveries == 5  # maxReceiveCount deliveries, then the DLQ
    message = local.sqs.receive_message(QueueUrl=local.stack.dead_letter_url)["Messages"][0]
    assert message["Body"] == poison
