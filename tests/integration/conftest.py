"""Fixtures for the integration tests that run the local stack as ``tsuzuri dev`` does."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from tsuzuri.aws.clients import Clients, make_clients
from tsuzuri.publishing.wiring import build_publisher
from tsuzuri_local.checkout import RELATED_HANDLER
from tsuzuri_local.devstack.pumps import EventPump, StreamPump, related_mapping
from tsuzuri_local.devstack.runtime import handler_environment, load_handler
from tsuzuri_local.provision import load_template, provision

from tests.integration.test_related_function import SITE, SITE_ENV
from tests.support.faults import Faults
from tests.support.live import Live
from tests.support.site import Site


@pytest.fixture
def live(moto_endpoint: str, clients: Clients, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    sqs = botocore.session.get_session().create_client(
        "sqs", region_name="ap-northeast-1", endpoint_url=moto_endpoint
    )
    stack = provision(clients, prefix=f"z{uuid.uuid4().hex[:10]}", sqs=sqs)
    settings = stack.settings
    environment = handler_environment(
        settings, moto_endpoint, log_level="CRITICAL", index_workers=4, **SITE_ENV
    )
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    faults = Faults()
    render = load_handler()
    # The render function's clients carry the fault hook (module globals are looked up
    # at call time, so the handler builds its publisher with these).
    render.make_clients = lambda **kw: _hooked(faults, make_clients(**kw))
    render.service.cache_clear()
    # Built now (cold start) so that CloudFront back-off does not really sleep in tests.
    render.service().publisher.invalidator._sleep = lambda _s: None
    related_module = load_handler(RELATED_HANDLER)
    related_faults = Faults()
    related_module.make_clients = lambda **kw: _hooked(related_faults, make_clients(**kw))
    related_module.service.cache_clear()
    stop = threading.Event()
    mapping = related_mapping(load_template())
    assert stack.queue_url and stack.queue_arn and stack.stream_arn
    failures: list[dict[str, Any]] = []
    stream = StreamPump(
        streams=botocore.session.get_session().create_client(
            "dynamodbstreams", region_name="ap-northeast-1", endpoint_url=moto_endpoint
        ),
        stream_arn=stack.stream_arn, handler=related_module.lambda_handler,
        on_failure=failures.append, stop_event=stop,
        **{k: v for k, v in mapping.items() if k != "report_failures"},
    )  # fmt: skip
    publisher = build_publisher(settings, clients, site=SITE)
    running = Live(
        stack=stack, site=Site(clients, settings, publisher), sqs=sqs, render=render,
        pump=None,  # type: ignore[arg-type]
        stream=stream, faults=faults, endpoint=moto_endpoint, stop=stop,
    )  # fmt: skip

    def on_batch(records: list[dict[str, Any]], failed: set[str], _ms: float) -> None:
        running.deliveries += len(records)
        if failed:
            running.failed_batches.append(failed)

    running.pump = EventPump(
        sqs=sqs, queue_url=stack.queue_url, queue_arn=stack.queue_arn,
        handler=render.lambda_handler, batch_size=stack.plan.batch_size, window_s=0.2,
        on_batch=on_batch, stop_event=stop, retry_visibility_s=1,
    )  # fmt: skip
    running.related_failures = failures  # type: ignore[attr-defined]
    running.related_faults = related_faults
    yield running
    running.shutdown()
    render.service.cache_clear()
    related_module.service.cache_clear()


def _hooked(faults: Faults, clients: Clients) -> Clients:
    for client in (clients.s3, clients.dynamodb, clients.cloudfront):
        faults.install(client)
    return clients
