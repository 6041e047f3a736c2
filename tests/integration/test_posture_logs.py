"""What the render function logs and reports: never a post's body, never a stack trace."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from types import ModuleType

import pytest
from tsuzuri.aws.buckets import report_key
from tsuzuri.aws.clients import Clients
from tsuzuri.settings import Settings
from tsuzuri_local.devstack.runtime import LambdaContext, load_handler

from tests.support.events import s3_record, sqs_event
from tests.support.site import post_text

# A sentence no template, key or message could contain by chance.
MARKER = "The quick onyx goblin jumps over the lazy dwarf while 七色の鸚鵡が囀る。" * 3
LEAKS = ("Traceback", 'File "', "site-packages", "tsuzuri/", '.py"')


@pytest.fixture
def handler(
    monkeypatch: pytest.MonkeyPatch, stack: Settings, moto_endpoint: str
) -> Iterator[tuple[ModuleType, io.StringIO]]:
    for name, value in {
        "SOURCE_BUCKET": stack.source_bucket,
        "SITE_BUCKET": stack.site_bucket,
        "TABLE_NAME": stack.table_name,
        "DISTRIBUTION_ID": stack.distribution_id or "",
        "TSUZURI_SITE_URL": "https://blog.example.com",
        "TSUZURI_AWS_ENDPOINT_URL": moto_endpoint,
        "POWERTOOLS_METRICS_NAMESPACE": "tsuzuri",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",  # the most the function would ever say
    }.items():
        monkeypatch.setenv(name, value)
    module = load_handler()
    # Powertools configures the "tsuzuri-render" logger once per process: a stack
    # loaded earlier at another level keeps it, so say the level this test needs.
    level = module.logger.log_level
    module.logger.setLevel(logging.DEBUG)
    logged = io.StringIO()
    handlers = [h for h in module.logger.handlers if isinstance(h, logging.StreamHandler)]
    assert handlers, "Powertools logs through a stream handler"
    previous = [h.setStream(logged) for h in handlers]
    yield module, logged
    for h, stream in zip(handlers, previous, strict=True):
        if stream is not None:
            h.setStream(stream)
    module.logger.setLevel(level)
    module.service.cache_clear()


def _deliver(module: ModuleType, stack: Settings, *keys: str) -> dict[str, object]:
    event = sqs_event(*[[s3_record(stack.source_bucket, k)] for k in keys])
    return module.lambda_handler(event, LambdaContext("tsuzuri-render"))  # type: ignore[no-any-return]


def test_logs_and_reports_never_hold_a_body(
    handler: tuple[ModuleType, io.StringIO], clients: Clients, stack: Settings
) -> None:
    module, logged = handler
    body = f"{MARKER}\n\n## 見出し\n\n{MARKER}\n"
    posts = {
        "posts/2026-02-11-published.md": post_text("公開", body=body),
        "posts/2026-02-12-bad-yaml.md": "---\ntitle: [unclosed\n---\n" + body,
        "posts/2026-02-13-bad-date.md": post_text("日付", date="2026-02-30", body=body),
        "posts/2026-02-14-no-front-matter.md": body,
        "posts/2026-02-15-draft.md": post_text("下書き", body=body, extra="published: false"),
    }
    for key, text in posts.items():
        clients.s3.put_object(Bucket=stack.source_bucket, Key=key, Body=text.encode())

    assert _deliver(module, stack, *posts) == {"batchItemFailures": []}

    output = logged.getvalue()
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert {line.get("key") for line in lines} >= set(posts), "every outcome is logged"
    assert MARKER[:40] not in output
    assert "onyx goblin" not in output and "七色の鸚鵡" not in output
    for key in posts:
        raw = clients.s3.get_object(Bucket=stack.source_bucket, Key=report_key(key))["Body"]
        report = raw.read().decode()
        assert "onyx goblin" not in report, key
        assert not [leak for leak in LEAKS if leak in report], report


def test_an_unexpected_error_is_logged_without_the_body_and_reported_for_retry(
    handler: tuple[ModuleType, io.StringIO],
    clients: Clients,
    stack: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module, logged = handler
    key = "posts/2026-02-16-crash.md"
    clients.s3.put_object(
        Bucket=stack.source_bucket, Key=key, Body=post_text("落ちる", body=MARKER).encode()
    )
    import tsuzuri.publishing.indexer

    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(tsuzuri.publishing.indexer, "parse_post", crash)
    result = _deliver(module, stack, key)

    assert len(result["batchItemFailures"]) == 1  # type: ignore[arg-type]
    assert "renderer bug" in logged.getvalue()
    assert "onyx goblin" not in logged.getvalue()
