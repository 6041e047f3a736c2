"""One batch of the render queue: source changes and rebuild requests in, one result out.

The render function's handler only decodes the SQS/S3 envelope into a
:class:`RenderBatch` and maps the :class:`RenderBatchResult` to logs, metrics and
``batchItemFailures``. Everything that decides what happens lives here, so that the
local stack, the tests and Lambda run the same decisions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tsuzuri.errors import TransientError
from tsuzuri.publishing.current import KeptCurrent
from tsuzuri.publishing.publisher import BatchResult, Change, Outcome
from tsuzuri.publishing.rebuild import RebuildRequest, config_requests, enqueue
from tsuzuri.publishing.schedule import TickResult, publish_due

if TYPE_CHECKING:
    from tsuzuri.aws.clients import Clients
    from tsuzuri.publishing.indexer import RebuildEffect
    from tsuzuri.publishing.publisher import Publisher


@dataclass(slots=True)
class RenderBatch:
    """What a batch of queue messages asks for, decoded from its envelope."""

    changes: list[Change] = field(default_factory=list)
    rebuilds: list[tuple[str, RebuildRequest]] = field(default_factory=list)
    # Messages that are not an S3 notification or a rebuild request: reported as failed,
    # so that after the queue's maxReceiveCount they wait in the dead-letter queue.
    poison: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RebuildDone:
    posts: int
    keys: int
    written: int


@dataclass(frozen=True, slots=True)
class RebuildFailed:
    posts: int
    error: Exception


@dataclass(frozen=True, slots=True)
class RebuildQueued:
    """A config change's rebuild, put on the render queue (``requests`` is 0 when the
    function has no queue to put it on: the operator runs ``tsuzuri rebuild``)."""

    outcome: Outcome
    requests: int


@dataclass(slots=True)
class RenderBatchResult:
    result: BatchResult
    rebuilt: list[RebuildDone | RebuildFailed] = field(default_factory=list)
    queued: list[RebuildQueued] = field(default_factory=list)

    @property
    def failed_tokens(self) -> list[str]:
        return self.result.failed_tokens


class RenderService:
    """Holds the publisher of one execution environment and rebuilds it when another
    instance has accepted a newer ``_config.yml`` or ``theme/`` set."""

    def __init__(
        self, build_publisher: Callable[[], Publisher], *, clients: Clients, queue_url: str | None
    ):
        self._publisher = KeptCurrent(build_publisher, lambda publisher: publisher)
        self._clients = clients
        self._queue_url = queue_url

    @property
    def publisher(self) -> Publisher:
        return self._publisher.get()

    def handle(self, batch: RenderBatch) -> RenderBatchResult:
        done = RenderBatchResult(self._publisher.current().process(batch.changes))
        done.result.failed_tokens.extend(batch.poison)
        for message_id, request in batch.rebuilds:
            try:
                done.rebuilt.append(self.rebuild(request))
            except Exception as exc:  # the message is retried, then dead-lettered
                done.rebuilt.append(RebuildFailed(len(request.urls), exc))
                done.result.failed_tokens.append(message_id)
        for outcome in done.result.outcomes:
            if outcome.status == "config" and outcome.rebuild:
                # Through the rebuild path: the queue's batching, retries and dead-letter.
                done.queued.append(RebuildQueued(outcome, self._queue(outcome.rebuild)))
        return done

    def publish_due(self) -> TickResult:
        """The scheduler's tick: put the scheduled posts now due on the render queue,
        where they are published like any upload (:mod:`tsuzuri.publishing.schedule`)."""
        publisher = self.publisher
        return publish_due(
            publisher.store, self._clients.sqs, self._queue_url,
            bucket=publisher.source.name, now=publisher.clock(),
        )  # fmt: skip

    def rebuild(self, request: RebuildRequest) -> RebuildDone:
        """Re-index the request's source files, then re-render its posts (and lists)."""
        current = self.publisher
        if (request.config and request.config != current.site.fingerprint()) or (
            request.theme and request.theme != current.theme_fingerprint
        ):
            self._publisher.reload()  # this instance holds an older _config.yml or theme
        if request.keys:
            reindexed = self.publisher.process([Change(key=k, removed=False) for k in request.keys])
            failed = [o.key for o in reindexed.outcomes if o.status == "failed"]
            if failed:
                raise TransientError(f"re-index failed for {failed}")
        rebuilt = self.publisher.refresh_posts(request.urls, lists=request.lists, rewrite=True)
        return RebuildDone(len(request.urls), len(request.keys), len(rebuilt.written))

    def _queue(self, effect: RebuildEffect) -> int:
        if not self._queue_url:
            return 0
        return enqueue(self._clients.sqs, self._queue_url, config_requests(self.publisher, effect))
