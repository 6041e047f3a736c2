"""The render function's handler, driven by real S3 event JSON against moto over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from tsuzuri.aws.clients import Clients
from tsuzuri.settings import Settings
from tsuzuri_local.devstack.runtime import LambdaContext, load_handler

from tests.support.events import load_event, s3_record, sqs_event
from tests.support.site import post_text

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def handler(
    monkeypatch: pytest.MonkeyPatch, stack: Settings, moto_endpoint: str
) -> Iterator[ModuleType]:
    monkeypatch.setenv("SOURCE_BUCKET", stack.source_bucket)
    monkeypatch.setenv("SITE_BUCKET", stack.site_bucket)
    monkeypatch.setenv("TABLE_NAME", stack.table_name)
    monkeypatch.setenv("DISTRIBUTION_ID", stack.distribution_id or "")
    monkeypatch.setenv("TSUZURI_SITE_URL", "https://blog.example.com")
    monkeypatch.setenv("TSUZURI_AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "tsuzuri")
    module = load_handler()
    yield module
    module.service.cache_clear()


def _put(clients: Clients, stack: Settings, key: str, text: str) -> None:
    clients.s3.put_object(Bucket=stack.source_bucket, Key=key, Body=text.encode())


def _page(clients: Clients, stack: Settings, key: str) -> str | None:
    try:
        obj = clients.s3.get_object(Bucket=stack.site_bucket, Key=key)
    except clients.s3.exceptions.NoSuchKey:
        return None
    return str(obj["Body"].read().decode())


def _invoke(handler: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    return handler.lambda_handler(event, LambdaContext("tsuzuri-render"))  # type: ignore[no-any-return]


def test_sqs_wrapped_event_with_url_encoded_japanese_key(
    handler: ModuleType, clients: Clients, stack: Settings
) -> None:
    key = "posts/2025-11-03-生成AIの基礎 入門.md"
    _put(
        clients,
        stack,
        key,
        post_text("生成AIの基礎", date="2025-11-03 09:00:00 +0900", tags="[AI]"),
    )
    event = load_event(
        "sqs_s3_put",
        SOURCE_BUCKET=stack.source_bucket,
        KEY="posts/2025-11-03-%E7%94%9F%E6%88%90AI%E3%81%AE%E5%9F%BA%E7%A4%8E+%E5%85%A5%E9%96%80.md",
        SEQUENCER="0055AED6DCD90281E5",
    )

    assert _invoke(handler, event) == {"batchItemFailures": []}
    page = _page(clients, stack, "2025/11/03/生成AIの基礎-入門/index.html")
    assert page is not None and "生成AIの基礎" in page


def test_direct_s3_event_and_delete_marker(
    handler: ModuleType, clients: Clients, stack: Settings
) -> None:
    key = "posts/2026-02-11-direct.md"
    _put(clients, stack, key, post_text("直接"))
    _invoke(
        handler, {"Records": [s3_record(stack.source_bucket, key, sequencer="0055AED6DCD90281E5")]}
    )
    assert _page(clients, stack, "2026/02/12/direct/index.html") is not None

    clients.s3.delete_object(Bucket=stack.source_bucket, Key=key)  # versioned: a delete marker
    event = load_event(
        "s3_delete_marker",
        SOURCE_BUCKET=stack.source_bucket,
        KEY=key,
        SEQUENCER="0055AED6DCD90281F0",
    )
    assert _invoke(handler, event) == {"batchItemFailures": []}
    assert _page(clients, stack, "2026/02/12/direct/index.html") is None


def test_multi_record_batch_with_duplicates_and_reordering(
    handler: ModuleType, clients: Clients, stack: Settings
) -> None:
    keys = [f"posts/2026-01-0{i}-batch-{i}.md" for i in range(1, 5)]
    for i, key in enumerate(keys, start=1):
        _put(
            clients,
            stack,
            key,
            post_text(f"一括{i}", date=f"2026-01-0{i} 12:00:00 +0900", tags="[AWS]"),
        )
    records = [
        s3_record(stack.source_bucket, k, sequencer=f"00{i:016X}") for i, k in enumerate(keys)
    ]
    # Each message delivered twice, in reverse order, one message with two records.
    messages = [[records[3], records[2]], [records[1]], [records[0]], [records[3]], [records[0]]]

    assert _invoke(handler, sqs_event(*messages)) == {"batchItemFailures": []}
    home = _page(clients, stack, "index.html") or ""
    assert all(f"/2026/01/0{i}/batch-{i}/" in home for i in range(2, 5))
    tag = _page(clients, stack, "tags/aws/index.json") or ""
    assert '"count":4' in tag
    invalidations = clients.cloudfront.list_invalidations(DistributionId=stack.distribution_id)
    assert invalidations["InvalidationList"]["Quantity"] == 1, "one invalidation per batch"


def test_s3_test_event_is_ignored(handler: ModuleType, stack: Settings) -> None:
    event = load_event("sqs_s3_test_event", SOURCE_BUCKET=stack.source_bucket)
    assert _invoke(handler, event) == {"batchItemFailures": []}


def test_rejected_post_is_not_retried(
    handler: ModuleType, clients: Clients, stack: Settings
) -> None:
    key = "posts/2026-02-20-bad.md"
    _put(clients, stack, key, "no front matter at all")
    event = sqs_event([s3_record(stack.source_bucket, key, sequencer="01")])
    assert _invoke(handler, event) == {"batchItemFailures": []}
    report = clients.s3.get_object(Bucket=stack.source_bucket, Key=f"reports/{key}.json")
    assert b"rejected" in report["Body"].read()


def test_platform_failure_reports_the_message_for_retry(
    handler: ModuleType, clients: Clients, stack: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "posts/2026-02-21-retry.md"
    _put(clients, stack, key, post_text("再試行"))
    event = sqs_event([s3_record(stack.source_bucket, key, sequencer="01")])
    from tsuzuri.errors import TransientError

    def throttled(*_args: object, **_kwargs: object) -> None:
        raise TransientError("DynamoDB put_item: ThrottlingException")

    monkeypatch.setattr(handler.service().publisher.store, "publish_post", throttled)
    result = _invoke(handler, event)
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
