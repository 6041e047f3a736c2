"""Move messages from a dead-letter queue back to the queue they came from.

``start_message_move_task`` does this inside SQS, but moto (the local stack) does not
implement it, and it needs the source queue to be the dead-letter queue's only source.
Receiving, sending and deleting works everywhere and is just as safe: a message is
deleted from the dead-letter queue only after the send to the source queue succeeded,
so a failure half-way leaves it in one queue or (at worst, once) in both; the render
function is idempotent, so a duplicate costs one more render and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RedriveResult:
    moved: int
    remaining: int


def queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def redrive(
    sqs: Any,
    dead_letter_url: str,
    queue_url: str,
    *,
    limit: int | None = None,
    progress: Callable[[int, int], None] = lambda _moved, _total: None,
) -> RedriveResult:
    """Move up to ``limit`` messages (all by default); ``progress(moved, total)`` after
    each batch of ten."""
    total = queue_depth(sqs, dead_letter_url)
    if limit is not None:
        total = min(total, limit)
    moved = 0
    empty_receives = 0
    while (limit is None or moved < limit) and empty_receives < 2:
        wanted = 10 if limit is None else min(10, limit - moved)
        messages = sqs.receive_message(
            QueueUrl=dead_letter_url, MaxNumberOfMessages=wanted, WaitTimeSeconds=1,
            VisibilityTimeout=60, MessageAttributeNames=["All"],
        ).get("Messages", [])  # fmt: skip
        if not messages:
            empty_receives += 1
            continue
        empty_receives = 0
        entries = []
        for i, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(i), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if sent.get("Failed"):
            failure = sent["Failed"][0]
            raise RuntimeError(
                f"could not send {len(sent['Failed'])} message(s) back: "
                f"{failure.get('Code')}: {failure.get('Message', '')}".rstrip(": ")
            )
        sqs.delete_message_batch(
            QueueUrl=dead_letter_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        moved += len(messages)
        progress(moved, max(total, moved))
    return RedriveResult(moved=moved, remaining=queue_depth(sqs, dead_letter_url))
