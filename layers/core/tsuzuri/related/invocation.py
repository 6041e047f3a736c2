"""One invocation of the related function: a batch of stream records, or an operator's
request (``sync`` a page of posts, ``rebuild`` every list, ``render`` pending pages).

The handler decodes the event into one of the request types below and maps the
result to logs and metrics; what each request does is decided here, so the local
stack, the tests and Lambda run the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tsuzuri.publishing.current import KeptCurrent
from tsuzuri.related.service import BatchOutcome, RelatedService

# Pages rendered per step of an operator's rebuild, and the time kept back for the last
# step: a step must finish inside the function's timeout.
REBUILD_PAGES_PER_STEP = 100
REBUILD_RESERVE_MS = 30_000


@dataclass(frozen=True, slots=True)
class StreamBatch:
    records: Sequence[Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """Index the posts of a site that existed before this function, a page at a time:
    call again with ``after`` set to the returned ``next`` until it is None."""

    after: str = ""
    limit: int = 100


@dataclass(frozen=True, slots=True)
class RecomputeRequest:
    """``rebuild``: recompute every list with the settings in ``_config.yml`` now, then
    render pages while time remains. ``render``: only render what is still pending."""

    action: Literal["rebuild", "render"]


Request = StreamBatch | SyncRequest | RecomputeRequest


@dataclass(frozen=True, slots=True)
class SyncDone:
    synced: int
    next: str | None


@dataclass(frozen=True, slots=True)
class RecomputeDone:
    posts: int
    rendered: int
    pending: int


class RelatedFunction:
    """Holds the related service of one execution environment and builds it again when
    another instance has accepted a newer ``_config.yml`` or theme."""

    def __init__(self, build_service: Callable[[], RelatedService]):
        self._service = KeptCurrent(build_service, lambda service: service.publisher)

    @property
    def service(self) -> RelatedService:
        return self._service.get()

    def handle(
        self,
        request: Request,
        remaining_ms: Callable[[], int],
        on_error: Callable[[Mapping[str, Any], Exception], None] = lambda _r, _e: None,
    ) -> BatchOutcome | SyncDone | RecomputeDone:
        if isinstance(request, SyncRequest):
            synced, following = self.service.sync_published(request.after, request.limit)
            return SyncDone(synced, following)
        if isinstance(request, RecomputeRequest):
            return self.recompute(request, remaining_ms)
        service = self._service.current()
        service.on_error = on_error
        return service.process(request.records)

    def recompute(
        self, request: RecomputeRequest, remaining_ms: Callable[[], int]
    ) -> RecomputeDone:
        service = self._service.current()  # the settings may have just changed
        posts = service.rebuild_all() if request.action == "rebuild" else 0
        rendered = 0
        while remaining_ms() > REBUILD_RESERVE_MS:
            done = service.render_pending(limit=REBUILD_PAGES_PER_STEP)
            if not done:
                break
            rendered += len(done)
        return RecomputeDone(posts, rendered, len(service.store.pending()))
