"""CloudFront invalidation: paths, idempotent references and backoff (moto never throttles)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from tsuzuri.cdn import WILDCARD_THRESHOLD, Invalidator, caller_reference, paths_for_keys
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


def test_other_errors_are_not_retried() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_client_error(
            "create_invalidation", service_error_code="AccessDenied", http_status_code=403
        )
        with pytest.raises(Exception, match="AccessDenied"):
            Invalidator(client, "E1", sleep=lambda _s: None).invalidate(["/a"], "ref")


def test_many_paths_collapse_to_one_wildcard() -> None:
    client = _client()
    paths = [f"/p{i}" for i in range(WILDCARD_THRESHOLD + 1)]
    with Stubber(client) as stub:
        response, expected = _ok("ref", ["/*"])
        stub.add_response("create_invalidation", response, expected)
        Invalidator(client, "E1").invalidate(paths, "ref")


def test_nothing_to_do_makes_no_call() -> None:
    client = _client()
    with Stubber(client):
        assert Invalidator(client, "E1").invalidate([], "ref") is None
        assert Invalidator(client, None).invalidate(["/a"], "ref") is None
