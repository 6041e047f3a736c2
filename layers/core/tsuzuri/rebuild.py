"""Full re-renders (a theme or config change) through the render queue.

``tsuzuri rebuild`` does not render anything itself: it puts rebuild requests of a
few posts each on the render queue, so the render function's own batch size and
concurrency cap do the work, failures retry and dead-letter like any event, and the
local stack runs the very same path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

POSTS_PER_REQUEST = 25


@dataclass(frozen=True, slots=True)
class RebuildRequest:
    urls: tuple[str, ...] = ()
    lists: bool = False

    def message(self) -> str:
        return json.dumps({"tsuzuri": "rebuild", "urls": list(self.urls), "lists": self.lists})

    @classmethod
    def from_message(cls, body: dict[str, Any]) -> RebuildRequest:
        urls = body.get("urls", [])
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise ValueError("rebuild request: urls must be a list of paths")
        return cls(urls=tuple(urls), lists=bool(body.get("lists", False)))


def plan_requests(urls: Sequence[str]) -> list[RebuildRequest]:
    """One request for every list page, then the posts in groups."""
    requests = [RebuildRequest(lists=True)]
    for start in range(0, len(urls), POSTS_PER_REQUEST):
        requests.append(RebuildRequest(urls=tuple(urls[start : start + POSTS_PER_REQUEST])))
    return requests


def enqueue(sqs: Any, queue_url: str, requests: Sequence[RebuildRequest]) -> int:
    for start in range(0, len(requests), 10):
        chunk = requests[start : start + 10]
        response = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": r.message()} for i, r in enumerate(chunk)],
        )
        if response.get("Failed"):
            raise RuntimeError(f"could not queue rebuild requests: {response['Failed']}")
    return len(requests)


def wait_for_queue(
    sqs: Any,
    queue_url: str,
    total: int,
    *,
    progress: Callable[[int, int], None],
    timeout_s: float = 3600,
    poll_s: float = 2.0,
) -> bool:
    """Report progress until the queue is drained; False on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        waiting = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
        progress(max(0, total - waiting), total)
        if waiting == 0:
            return True
        time.sleep(poll_s)
    return False
