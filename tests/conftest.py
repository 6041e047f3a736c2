"""Fixtures: moto's server over real HTTP, a provisioned stack, and a publisher on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

# Set before boto3 is used anywhere: fake credentials, a fixed region, and the
# endpoint mode that lets DynamoDB Streams calls reach moto with botocore >= 1.44.4.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "AWS_REGION": "ap-northeast-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }
)

from typing import TYPE_CHECKING

from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.settings import Settings

if TYPE_CHECKING:
    from tsuzuri.aws.clients import Clients
    from tsuzuri.publishing.publisher import Publisher

    from tests.support.site import Site

ROOT = Path(__file__).resolve().parents[1]
SITE = SiteConfig(url="https://blog.example.com", title="テストブログ", paginate=3)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    import logging

    from tsuzuri_local.devstack.aws_process import start_in_this_process

    # With the dev stack's moto fixes, in this process: some tests read moto's state.
    server, endpoint = start_in_this_process(log_level=logging.WARNING)
    yield endpoint
    server.stop()


@pytest.fixture
def clients(moto_endpoint: str) -> Clients:
    from tsuzuri.aws.clients import make_clients

    return make_clients(endpoint_url=moto_endpoint, region="ap-northeast-1")


@pytest.fixture
def stack(clients: Clients) -> Settings:
    """A fresh, uniquely named stack per test on the shared server."""
    from tsuzuri_local.provision import provision

    return provision(clients, prefix=f"t{uuid.uuid4().hex[:12]}").settings


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def publisher(stack: Settings, clients: Clients, clock: Clock) -> Publisher:
    from tsuzuri.publishing.wiring import build_publisher

    pub = build_publisher(stack, clients, site=SITE)
    pub.clock = clock
    pub.invalidator._sleep = lambda _s: None
    return pub


@pytest.fixture
def site(clients: Clients, stack: Settings, publisher: Publisher) -> Site:
    from tests.support.site import Site

    return Site(clients, stack, publisher)
