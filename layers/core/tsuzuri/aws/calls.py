"""The one place that turns botocore errors into tsuzuri's: throttling and server
errors, timeouts and dropped connections become
:class:`~tsuzuri.errors.TransientError` (so the event is retried, with a message that
says what failed), everything else propagates unchanged."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from tsuzuri.errors import TransientError


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def call(
    service: str, method: Callable[..., Any], retryable: Collection[str], **kwargs: Any
) -> Any:
    operation = getattr(method, "__name__", "call")
    try:
        return method(**kwargs)
    except ClientError as exc:
        if error_code(exc) in retryable:
            raise TransientError(f"{service} {operation}: {error_code(exc)}") from exc
        raise
    except (BotocoreConnectionError, HTTPClientError) as exc:
        # Timeouts and dropped connections, after botocore's own retries.
        raise TransientError(f"{service} {operation}: no answer ({type(exc).__name__})") from exc


def back_off(attempt: int) -> None:
    """A short, jittered pause before trying a conflicting transaction again: they last
    milliseconds, and two writers that retried in step would conflict again."""
    time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))  # noqa: S311
