"""The botocore clients every function uses, made once per execution environment and
injected: handlers, the local stack and tests pass them in, nothing creates its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class Clients:
    s3: Any
    dynamodb: Any
    cloudfront: Any
    make_sqs: Callable[[], Any] = field(repr=False, compare=False)

    @cached_property
    def sqs(self) -> Any:
        """The render queue's client, made on first use: only a site config change
        queues rebuild requests, and every client made costs the cold start."""
        return self.make_sqs()


def make_clients(*, endpoint_url: str | None = None, region: str | None = None) -> Clients:
    """botocore clients (the same clients boto3 hands out, without importing boto3:
    ~100 ms of every cold start) with standard retries. ``endpoint_url`` points them
    at moto; without ``region``, botocore's own lookup (``AWS_DEFAULT_REGION``, which
    Lambda sets) applies."""
    import botocore.session
    from botocore.config import Config

    config = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32)
    session = botocore.session.get_session()
    options = {
        "region_name": region,
        "endpoint_url": endpoint_url,
        "config": config,
    }
    return Clients(
        s3=session.create_client("s3", **options),
        dynamodb=session.create_client("dynamodb", **options),
        cloudfront=session.create_client("cloudfront", **options),
        make_sqs=lambda: session.create_client("sqs", **options),
    )
