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
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tsuzuri.aws.lists import ALL
from tsuzuri.errors import InvalidMessage, TransientError

if TYPE_CHECKING:
    from tsuzuri.publishing.indexer import RebuildEffect
    from tsuzuri.publishing.publisher import Publisher

POSTS_PER_REQUEST = 25
# Where source files live: a re-index (after a config change) re-reads all of them.
SOURCE_PREFIXES = ("posts/", "_posts/", "pages/")


@dataclass(frozen=True, slots=True)
class RebuildRequest:
    """Re-render these posts (``urls``), re-index these source files (``keys``), and/or
    re-render every list page, static page, feed and sitemap (``lists``)."""

    urls: tuple[str, ...] = ()
    lists: bool = False
    keys: tuple[str, ...] = ()
    # Fingerprint of the site config to render with: a warm instance that still holds
    # an older config reloads it first.
    config: str = ""
    # Fingerprint of the theme override set to render with (tsuzuri.rendering.overrides).
    theme: str = ""

    def message(self) -> str:
        body: dict[str, Any] = {"tsuzuri": "rebuild", "urls": list(self.urls), "lists": self.lists}
        if self.keys:
            body["keys"] = list(self.keys)
        if self.config:
            body["config"] = self.config
        if self.theme:
            body["theme"] = self.theme
        return json.dumps(body, ensure_ascii=False)

    @classmethod
    def from_message(cls, body: dict[str, Any]) -> RebuildRequest:
        urls = body.get("urls", [])
        keys = body.get("keys", [])
        for name, value in (("urls", urls), ("keys", keys)):
            if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
                raise InvalidMessage(f"rebuild request: {name} must be a list of strings")
        return cls(
            urls=tuple(urls),
            lists=bool(body.get("lists", False)),
            keys=tuple(keys),
            config=str(body.get("config", "")),
            theme=str(body.get("theme", "")),
        )


def config_requests(publisher: Publisher, effect: RebuildEffect) -> list[RebuildRequest]:
    """What a site config (or theme override) change queues: every page re-rendered
    (``pages``), or every source file parsed again (``reindex``: URLs, terms or
    visibility may move)."""
    config = publisher.site.fingerprint()
    theme = publisher.theme_fingerprint
    if effect == "reindex":
        keys = [k for prefix in SOURCE_PREFIXES for k in publisher.source.list_keys(prefix)]
        requests = [RebuildRequest(lists=True, config=config, theme=theme)]
        for start in range(0, len(keys), POSTS_PER_REQUEST):
            chunk = tuple(keys[start : start + POSTS_PER_REQUEST])
            requests.append(RebuildRequest(keys=chunk, config=config, theme=theme))
        return requests
    urls = [m.url for m in publisher.store.lists.every(ALL)]
    return [replace(r, config=config, theme=theme) for r in plan_requests(urls)]


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
            raise TransientError(f"could not queue rebuild requests: {response['Failed']}")
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
