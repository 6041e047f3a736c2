"""Scheduled posts on moto over HTTP: a post dated two minutes ahead is hidden, then the
scheduler's tick (the render handler with the event the template's schedule sends) puts
it on the render queue once its date has passed, and the render function publishes it.

The source bucket notifies the render queue as in AWS; every queue message is handed
to the handler in the SQS event shape by the local stack's pump."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from types import ModuleType
from typing import Any
from urllib.parse import unquote

import pytest
from tsuzuri.aws.clients import Clients
from tsuzuri.aws.store import PostStore
from tsuzuri.errors import TransientError
from tsuzuri.publishing.schedule import publish_due
from tsuzuri_local.devstack.pumps import EventPump
from tsuzuri_local.devstack.runtime import LambdaContext, handler_environment, load_handler
from tsuzuri_local.provision import LocalStack, provision

from tests.conftest import Clock
from tests.support.events import load_event
from tests.support.site import post_text


@dataclass
class Stack:
    stack: LocalStack
    clients: Clients
    render: ModuleType
    pump: EventPump
    clock: Clock

    @property
    def source(self) -> str:
        return self.stack.settings.source_bucket

    def upload(self, key: str, text: str) -> None:
        self.clients.s3.put_object(Bucket=self.source, Key=key, Body=text.encode("utf-8"))

    def remove(self, key: str) -> None:
        self.clients.s3.delete_object(Bucket=self.source, Key=key)

    def deliver(self, *, drop: bool = False) -> list[dict[str, Any]]:
        """Hand every message on the render queue to the handler, as Lambda's mapping
        does (or, with ``drop``, lose them: an event that never arrived)."""
        received: list[dict[str, Any]] = []
        while True:
            messages = self.clients.sqs.receive_message(
                QueueUrl=self.stack.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                VisibilityTimeout=360, AttributeNames=["All"],
            ).get("Messages", [])  # fmt: skip
            if not messages:
                return received
            received += messages
            if drop:
                for m in messages:
                    self.clients.sqs.delete_message(
                        QueueUrl=self.stack.queue_url, ReceiptHandle=m["ReceiptHandle"]
                    )
                continue
            assert self.pump.invoke(messages) == set(), "a message failed"

    def tick(self) -> dict[str, Any]:
        event = load_event("scheduler_scheduled_posts")
        result: dict[str, Any] = self.render.lambda_handler(event, LambdaContext("tsuzuri-render"))
        return result

    def page(self, url: str) -> str | None:
        key = url.lstrip("/") + "index.html"
        try:
            obj = self.clients.s3.get_object(Bucket=self.stack.settings.site_bucket, Key=key)
        except self.clients.s3.exceptions.NoSuchKey:
            return None
        return str(obj["Body"].read().decode("utf-8"))

    def report(self, key: str) -> dict[str, Any]:
        obj = self.clients.s3.get_object(Bucket=self.source, Key=f"reports/{key}.json")
        report: dict[str, Any] = json.loads(obj["Body"].read())
        return report

    def scheduled(self) -> list[str]:
        items = self.clients.dynamodb.query(
            TableName=self.stack.settings.table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "SCHEDULED"}},
            ConsistentRead=True,
        )["Items"]
        return [i["sk"]["S"] for i in items]


@pytest.fixture
def live(
    moto_endpoint: str, clients: Clients, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    stack = provision(clients, prefix=f"s{uuid.uuid4().hex[:10]}", sqs=clients.sqs)
    assert stack.queue_url and stack.queue_arn
    environment = handler_environment(
        stack.settings, moto_endpoint, log_level="CRITICAL",
        RENDER_QUEUE_URL=stack.queue_url, TSUZURI_SITE_URL="https://blog.example.com",
    )  # fmt: skip
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    render = load_handler()
    render.service.cache_clear()
    publisher = render.service().publisher
    publisher.clock = clock  # the tick reads the same clock as the render
    publisher.invalidator._sleep = lambda _s: None
    pump = EventPump(
        sqs=clients.sqs, queue_url=stack.queue_url, queue_arn=stack.queue_arn,
        handler=render.lambda_handler,
    )  # fmt: skip
    yield Stack(stack, clients, render, pump, clock)
    render.service.cache_clear()


def _post(title: str, date: str) -> str:
    return post_text(title, date=date, tags="[AWS, 予約]", categories="[お知らせ]")


@pytest.mark.parametrize(
    ("key", "url"),
    [
        ("posts/2026-11-01-予約 投稿.md", "/2026/11/01/予約-投稿/"),
        ("_posts/2026-11-01-scheduled.md", "/2026/11/01/scheduled/"),
    ],
)
def test_a_post_dated_two_minutes_ahead_goes_live_at_the_next_tick_after_its_date(
    live: Stack, key: str, url: str
) -> None:
    assert live.clock.now.isoformat() == "2026-11-01T00:00:00+00:00"
    live.upload("posts/2026-10-30-earlier.md", _post("前の記事", "2026-10-30 10:00:00 +0900"))
    live.upload(key, _post("予約投稿", "2026-11-01 00:02:00 +0000"))
    live.deliver()

    report = live.report(key)
    assert report["status"] == "hidden"
    assert "future" in report["problem"]
    assert live.page(url) is None
    assert live.scheduled() == [f"2026-11-01T00:02:00.000000Z#{key}"]

    live.clock.now += timedelta(minutes=1, seconds=59)  # a second before its date
    assert live.tick() == {"due": 0, "queued": 0, "dropped": 0}
    assert live.deliver() == []
    assert live.page(url) is None

    live.clock.now += timedelta(seconds=61)  # the first tick after 00:02
    assert live.tick() == {"due": 1, "queued": 1, "dropped": 0}
    assert live.scheduled() == []
    assert len(live.deliver()) == 1

    page = live.page(url)
    assert page is not None and "予約投稿" in page
    assert live.report(key)["status"] == "published"
    # Links are percent-encoded (a Japanese slug).
    for listing in ("/", "/tags/aws/", "/tags/予約/", "/category/お知らせ/"):
        assert url in unquote(live.page(listing) or ""), listing
    tag = json.loads(
        live.clients.s3.get_object(
            Bucket=live.stack.settings.site_bucket, Key="tags/aws/index.json"
        )["Body"].read()
    )
    assert tag["count"] == 2
    # The next tick has nothing left to do.
    assert live.tick() == {"due": 0, "queued": 0, "dropped": 0}


def test_a_post_dated_again_further_ahead_is_not_published_early(live: Stack) -> None:
    key = "posts/2026-11-01-moved.md"
    live.upload(key, _post("延期", "2026-11-01 00:02:00 +0000"))
    live.deliver()
    live.upload(key, _post("延期", "2026-11-01 00:10:00 +0000"))
    live.deliver()
    assert live.scheduled() == [
        f"2026-11-01T00:02:00.000000Z#{key}",
        f"2026-11-01T00:10:00.000000Z#{key}",
    ]

    live.clock.now += timedelta(minutes=3)
    # The old date's item is due: the key is queued, and its re-index finds it hidden.
    assert live.tick() == {"due": 1, "queued": 1, "dropped": 0}
    live.deliver()
    assert live.report(key)["status"] == "hidden"
    assert live.page("/2026/11/01/moved/") is None
    assert live.scheduled() == [f"2026-11-01T00:10:00.000000Z#{key}"]

    live.clock.now += timedelta(minutes=8)
    assert live.tick()["queued"] == 1
    live.deliver()
    assert live.page("/2026/11/01/moved/") is not None
    assert live.scheduled() == []


@pytest.mark.parametrize("delete_event", ["delivered", "lost"])
def test_a_deleted_scheduled_post_is_not_resurrected(live: Stack, delete_event: str) -> None:
    key = "posts/2026-11-01-withdrawn.md"
    live.upload(key, _post("取り下げ", "2026-11-01 00:02:00 +0000"))
    live.deliver()
    live.remove(key)
    live.deliver(drop=delete_event == "lost")

    live.clock.now += timedelta(minutes=3)
    done = live.tick()
    if delete_event == "delivered":
        # The record says unpublished: the item is dropped, nothing is queued.
        assert done == {"due": 1, "queued": 0, "dropped": 1}
    else:
        # Still recorded hidden: queued, and the re-index finds no object.
        assert done == {"due": 1, "queued": 1, "dropped": 0}
    live.deliver()
    assert live.page("/2026/11/01/withdrawn/") is None
    assert live.scheduled() == []
    assert live.report(key)["status"] == "unpublished"


def test_a_scheduled_post_published_early_by_a_new_date_is_dropped(live: Stack) -> None:
    key = "posts/2026-11-01-early.md"
    live.upload(key, _post("前倒し", "2026-11-01 00:02:00 +0000"))
    live.deliver()
    live.upload(key, _post("前倒し", "2026-10-31 12:00:00 +0000"))
    live.deliver()
    assert live.page("/2026/10/31/early/") is not None

    live.clock.now += timedelta(minutes=3)
    assert live.tick() == {"due": 1, "queued": 0, "dropped": 1}
    assert live.deliver() == []
    assert live.scheduled() == []


class _RefusingSqs:
    """SQS that refuses the second entry of every batch."""

    def __init__(self, sqs: Any):
        self._sqs = sqs

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, str]]) -> Any:
        kept = [e for e in Entries if e["Id"] != "1"]
        response = self._sqs.send_message_batch(QueueUrl=QueueUrl, Entries=kept)
        refused = {"Id": "1", "SenderFault": False, "Code": "InternalError", "Message": "busy"}
        return {**response, "Failed": [*response.get("Failed", []), refused]}


def test_a_refused_message_keeps_its_item_for_the_next_tick(live: Stack) -> None:
    keys = [f"posts/2026-11-01-batch-{i}.md" for i in range(3)]
    for i, key in enumerate(keys):
        live.upload(key, _post(f"予約{i}", f"2026-11-01 00:0{i + 1}:00 +0000"))
    live.deliver()
    live.clock.now += timedelta(minutes=5)
    store = PostStore(live.clients.dynamodb, live.stack.settings.table_name)
    with pytest.raises(TransientError, match="next tick"):
        publish_due(
            store, _RefusingSqs(live.clients.sqs), live.stack.queue_url,
            bucket=live.source, now=live.clock.now,
        )  # fmt: skip
    assert live.scheduled() == [f"2026-11-01T00:02:00.000000Z#{keys[1]}"]
    assert len(live.deliver()) == 2
    assert live.tick() == {"due": 1, "queued": 1, "dropped": 0}
    live.deliver()
    for i in range(3):
        assert live.page(f"/2026/11/01/batch-{i}/") is not None
