"""The local preview answers requests exactly like the CloudFront viewer-request function."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from tsuzuri_local.preview import rewrite

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "events" / "viewer_request_cases.json").read_text(
        encoding="utf-8"
    )
)["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_preview_matches_the_cloudfront_function(case: dict[str, Any]) -> None:
    parts = urlsplit(case["request"])
    # urlsplit would read "//evil/path" as a host; the server sees the raw path.
    path = case["request"].split("?", 1)[0]
    uri, location = rewrite(path, parts.query)
    expect = case["expect"]
    if "status" in expect:
        assert expect["status"] == 301
        assert location == expect["location"]
    else:
        assert location is None
        assert uri == expect["uri"]
