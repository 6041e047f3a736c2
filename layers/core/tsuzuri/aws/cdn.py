"""CloudFront invalidation: one request per batch, deduplicated, encoded, idempotent."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from tsuzuri.aws.calls import error_code
from tsuzuri.errors import TransientError

# Past this many paths one wildcard is cheaper than paying per path, and it stays
# far below the 3,000-paths-in-progress limit.
WILDCARD_THRESHOLD = 500
_SAFE = "/-._~!$&'()+,;=:@"


def paths_for_keys(keys: Iterable[str]) -> list[str]:
    """CloudFront paths for site-bucket keys, directory URLs included, encoded and sorted."""
    paths: set[str] = set()
    for key in keys:
        paths.add("/" + key)
        if key == "index.html" or key.endswith("/index.html"):
            paths.add("/" + key[: -len("index.html")])
    return sorted(quote(p, safe=_SAFE) for p in paths)


def collapse_paths(paths: Iterable[str]) -> list[str]:
    """What one invalidation asks for: the paths, or ``/*`` past the threshold. Also what
    the outbox stores: a full rebuild of 10,000 posts lists ~20,000 paths, which is over
    DynamoDB's 400 KB item limit."""
    unique = sorted(set(paths))
    return ["/*"] if len(unique) > WILDCARD_THRESHOLD else unique


def caller_reference(paths: Sequence[str], content_digest: str = "") -> str:
    digest = hashlib.sha256("\n".join(sorted(paths)).encode() + content_digest.encode())
    return f"tsuzuri-{digest.hexdigest()[:40]}"


class Invalidator:
    def __init__(
        self,
        client: Any,
        distribution_id: str | None,
        *,
        attempts: int = 6,
        base_delay: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._cf = client
        self._distribution = distribution_id
        self._attempts = attempts
        self._base_delay = base_delay
        self._sleep = sleep

    @property
    def enabled(self) -> bool:
        return bool(self._distribution)

    def invalidate(self, paths: Sequence[str], reference: str) -> str | None:
        """Create one invalidation; returns its id (None when there is nothing to do)."""
        if not paths or not self._distribution:
            return None
        items = collapse_paths(paths)
        for attempt in range(self._attempts):
            try:
                response = self._cf.create_invalidation(
                    DistributionId=self._distribution,
                    InvalidationBatch={
                        "Paths": {"Quantity": len(items), "Items": items},
                        "CallerReference": reference,
                    },
                )
                return str(response["Invalidation"]["Id"])
            except ClientError as exc:
                code = error_code(exc)
                if code not in {
                    "TooManyInvalidationsInProgress",
                    "Throttling",
                    "ServiceUnavailable",
                }:
                    raise
                failure: Exception = exc
                reason = f"kept answering {code}"
            except (BotocoreConnectionError, HTTPClientError) as exc:
                # botocore has already retried the connection. Trying again is safe: the
                # same CallerReference returns the invalidation if the first one landed.
                failure, reason = exc, f"did not answer ({type(exc).__name__})"
            if attempt == self._attempts - 1:
                raise TransientError(
                    f"CloudFront {reason} on {self._attempts} attempts"
                ) from failure
            self._sleep(min(self._base_delay * 2**attempt, 30.0))
        return None  # pragma: no cover - the loop always returns or raises
