"""The one place that turns botocore errors into tsuzuri's: throttling and server
errors become :class:`~tsuzuri.errors.TransientError` (so the event is retried),
everything else propagates unchanged."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from botocore.exceptions import ClientError

from tsuzuri.errors import TransientError


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def call(
    service: str, method: Callable[..., Any], retryable: Collection[str], **kwargs: Any
) -> Any:
    try:
        return method(**kwargs)
    except ClientError as exc:
        if error_code(exc) in retryable:
            operation = getattr(method, "__name__", "call")
            raise TransientError(f"{service} {operation}: {error_code(exc)}") from exc
        raise
