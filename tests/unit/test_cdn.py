"""CloudFront invalidation: paths, idempotent references and backoff (moto never throttles)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from tsuzuri.aws.cdn import WILDCARD_THRESHOLD, Invalidator, caller_reference, paths_for_keys
from tsuzuri.errors import TransientError


def test_paths_cover_directory_urls_and_are_encoded_and_deduplicated() -> None:
    paths = paths_for_keys(
        [
            "index.html",
            "2026/02/12/生成AI/index.html",
            "feed.xml",
            "feed.xml",
            "tags/aws/index.json",
        ]
    )
    assert paths == sorted(
        [
            "/",
            "/index.html",
            "/2026/02/12/%E7%94%9F%E6%88%90AI/",
            "/2026/02/12/%E7%94%9F%E6%88%90AI/index.html",
            "/feed.xml",
            "/tags/aws/index.json",
        ]
    )


def test_caller_reference_depends_on_content_not_order() -> None:
    assert caller_reference(["/a", "/b"], "x") == caller_reference(["/b", "/a"], "x")
    assert caller_reference(["/a"], "x") != caller_reference(["/a"], "y")
    assert caller_reference(["/a"], "x") != caller_reference(["/a", "/b"], "x")


def _client() -> object:
    return boto3.client("cloudfront", region_name="us-east-1")


def _ok(reference: str, items: list[str]) -> tuple[dict[str, object], dict[str, object]]:
    response = {
        "Location": "https://cloudfront.amazonaws.com/2020-05-31/distribution/E1/invalidation/I1",
        "Invalidation": {
            "Id": "I1",
            "Status": "InProgress",
            "CreateTime": "2026-02-12T00:00:00Z",
            "InvalidationBatch": {
                "Paths": {"Quantity": len(items), "Items": items},
                "CallerReference": reference,
            },
        },
    }
    expected = {
        "DistributionId": "E1",
        "InvalidationBatch": {
            "Paths": {"Quantity": len(items), "Items": items},
            "CallerReference": reference,
        },
    }
    return response, expected


def test_too_many_invalidations_in_progress_is_retried_with_backoff() -> None:
    client = _client()
    sleeps: list[float] = []
    with Stubber(client) as stub:
        for _ in range(2):
            stub.add_client_error(
                "create_invalidation",
                service_error_code="TooManyInvalidationsInProgress",
                http_status_code=400,
            )
        response, expected = _ok("ref", ["/a"])
        stub.add_response("create_invalidation", response, expected)
        invalidation_id = Invalidator(client, "E1", sleep=sleeps.append).invalidate(["/a"], "ref")
        stub.assert_no_pending_responses()
    assert invalidation_id == "I1"
    assert sleeps == [1.0, 2.0]


def test_giving_up_raises_a_transient_error_so_the_event_is_retried() -> None:
    client = _client()
    with Stubber(client) as stub:
        for _ in range(3):
            stub.add_client_error(
                "create_invalidation", service_error_code="TooManyInvalidationsInProgress"
            )
        with pytest.raises(TransientError, match="TooManyInvalidationsInProgress"):
            Invalidator(client, "E1", attempts=3, sleep=lambda _s: None).invalidate(["/a"], "ref")
        stub.assert_no_pending_responses()  # it gave up after all three attempts, not before


def test_other_errors_are_not_retried() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_client_error(
            "create_invalidation", service_error_code="AccessDenied", http_status_code=403
        )
        with pytest.raises(Exception, match="AccessDenied"):
            Invalidator(client, "E1", sleep=lambda _s: None).invalidate(["/a"], "ref")
        stub.assert_no_pending_responses()


def test_many_paths_collapse_to_one_wildcard() -> None:
    client = _client()
    paths = [f"/p{i}" for i in range(WILDCARD_THRESHOLD + 1)]
    with Stubber(client) as stub:
        response, expected = _ok("ref", ["/*"])
        stub.add_response("create_invalidation", response, expected)
        assert Invalidator(client, "E1").invalidate(paths, "ref") == "I1"
        stub.assert_no_pending_responses()


def test_nothing_to_do_makes_no_call() -> None:
    client = _client()
    with Stubber(client):
        assert Invalidator(client, "E1").invalidate([], "ref") is None
        assert Invalidator(client, None).invalidate(["/a"], "ref") is None


class _TimingOut:
    """A CloudFront client whose first ``failures`` calls time out (after botocore's own
    retries, which is how the exception reaches us)."""

    def __init__(self, failures: int):
        self.failures = failures
        self.references: list[str] = []

    def create_invalidation(self, **kwargs: object) -> dict[str, object]:
        from botocore.exceptions import ReadTimeoutError

        batch = kwargs["InvalidationBatch"]
        assert isinstance(batch, dict)
        self.references.append(batch["CallerReference"])
        if len(self.references) <= self.failures:
            raise ReadTimeoutError(endpoint_url="https://cloudfront.amazonaws.com")
        return {"Invalidation": {"Id": "I2"}}


def test_a_timeout_is_retried_with_the_same_caller_reference() -> None:
    client, delays = _TimingOut(failures=2), []
    invalidator = Invalidator(client, "E1", sleep=delays.append)
    assert invalidator.invalidate(["/a"], "tsuzuri-ref") == "I2"
    assert client.references == ["tsuzuri-ref"] * 3  # idempotent: a landed one is returned
    assert delays == [1.0, 2.0]


def test_timing_out_on_every_attempt_is_a_transient_error_that_says_so() -> None:
    client = _TimingOut(failures=99)
    invalidator = Invalidator(client, "E1", attempts=3, sleep=lambda _s: None)
    with pytest.raises(
        TransientError, match=r"CloudFront did not answer \(ReadTimeoutError\) on 3"
    ):
        invalidator.invalidate(["/a"], "tsuzuri-ref")
    assert len(client.references) == 3


def test_store_and_bucket_timeouts_become_transient_errors() -> None:
    from botocore.exceptions import EndpointConnectionError
    from tsuzuri.aws.calls import call

    def unreachable(**_kwargs: object) -> None:
        raise EndpointConnectionError(endpoint_url="https://dynamodb.ap-northeast-1.amazonaws.com")

    with pytest.raises(TransientError, match=r"DynamoDB unreachable: no answer \(EndpointConn"):
        call("DynamoDB", unreachable, set())
