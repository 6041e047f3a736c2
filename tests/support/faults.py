"""Faults injected at the client layer: a botocore ``before-send`` hook that answers a
request with an AWS error (or raises a timeout, or "crashes") instead of sending it.

Because the answer comes in before the request is sent, botocore parses it and its
retry handler sees it exactly as it would see AWS's answer: a throttle is retried by the
client first (standard mode, 5 attempts) and reaches tsuzuri only when it persists.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_kwargs: Any) -> Any:
        yield self._body


class Crash(Exception):
    """The execution environment died in the middle of a request (Lambda then fails the
    whole invocation: the pump retries every message of the batch)."""


@dataclass
class Rule:
    operation: str  # "s3.PutObject", "dynamodb.TransactWriteItems", "cloudfront.*"
    error: str  # an AWS error code, "timeout" or "crash"
    times: int  # how many matching requests fail (-1: all of them)
    calls: int = 0  # instead: every attempt botocore makes of this many calls fails
    when: Callable[[Any], bool] = lambda _request: True
    skip: int = 0  # let this many matching requests through first
    seen: int = 0
    fired: int = 0
    chosen: set[str] = field(default_factory=set)

    def matches(self, event_name: str, request: Any) -> bool:
        service, operation = self.operation.split(".")
        _, req_service, req_operation = event_name.split(".", 2)
        if req_service != service or operation not in {"*", req_operation}:
            return False
        if not self.when(request):
            return False
        self.seen += 1
        if self.seen <= self.skip:
            return False
        if self.calls:
            # botocore's invocation id is one call's, the same on each of its retries:
            # the chosen calls stay chosen while other threads' calls start in between
            invocation = _header(request, "amz-sdk-invocation-id")
            if invocation in self.chosen:
                return True
            first_attempt = "attempt=1;" in _header(request, "amz-sdk-request")
            if first_attempt and len(self.chosen) < self.calls:
                self.chosen.add(invocation)
                return True
            return False
        return self.times < 0 or self.fired < self.times


def _header(request: Any, name: str) -> str:
    value = request.headers.get(name, b"")
    return value.decode() if isinstance(value, bytes) else str(value)


_STATUS = {
    "ProvisionedThroughputExceededException": 400,
    "ThrottlingException": 400,
    "ConditionalCheckFailedException": 400,
    "TooManyInvalidationsInProgress": 400,
    "SlowDown": 503,
    "InternalError": 500,
    "AccessDenied": 403,
}


@dataclass
class Faults:
    rules: list[Rule] = field(default_factory=list)
    injected: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, operation: str, error: str, times: int = 0, **kwargs: Any) -> Rule:
        rule = Rule(operation, error, times, **kwargs)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def install(self, client: Any) -> Any:
        client.meta.events.register("before-send", self._before_send)
        return client

    def _before_send(self, request: Any, event_name: str, **_kwargs: Any) -> AWSResponse | None:
        with self._lock:
            rule = next((r for r in self.rules if r.matches(event_name, request)), None)
            if rule is None:
                return None
            rule.fired += 1
            self.injected[f"{event_name.split('.', 1)[1]}:{rule.error}"] += 1
        if rule.error == "timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        if rule.error == "crash":
            raise Crash(f"crashed during {event_name}")
        return error_response(event_name.split(".")[1], rule.error, request.url)


def error_response(service: str, code: str, url: str) -> AWSResponse:
    status = _STATUS.get(code, 400)
    message = f"injected {code}"
    if service == "dynamodb":
        body = json.dumps(
            {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}
        )
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": code}
    elif service == "cloudfront":
        body = (
            '<?xml version="1.0"?><ErrorResponse><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error></ErrorResponse>"
        )
        headers = {"Content-Type": "text/xml"}
    else:
        body = (
            f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
        )
        headers = {"Content-Type": "application/xml"}
    return AWSResponse(url, status, headers, _Raw(body.encode()))
