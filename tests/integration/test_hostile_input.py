"""The hostile input corpus (tests/hostile/) through the real render handler.

Each file of ``tests/hostile/manifest.yaml`` is uploaded under its key to a stack on
moto's server, announced with an SQS-wrapped S3 event exactly as AWS delivers it, and
handled by ``functions/render/app.py``. For every file: the handler returns normally with
no ``batchItemFailures`` (so SQS never retries it), a report names the outcome, and the
site bucket is byte-for-byte unchanged unless the manifest says the file is a valid post,
in which case its page must show it.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from tsuzuri.aws.buckets import report_key
from tsuzuri.aws.clients import Clients
from tsuzuri.domain.model import page_key
from tsuzuri.settings import Settings
from tsuzuri_local.devstack.runtime import LambdaContext, load_handler

from tests.support.events import s3_record, sqs_event
from tests.support.site import post_text

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "tests" / "hostile"
MANIFEST: list[dict[str, Any]] = yaml.safe_load((HOSTILE / "manifest.yaml").read_text("utf-8"))
BASELINE_KEY = "posts/2026-02-11-baseline.md"
BASELINE_URL = "/2026/02/12/baseline/"  # 20:59 UTC on the 11th is the 12th in Tokyo
MAX_POST_BYTES = 1_000_000  # SiteConfig's default
REJECTED_CODES = {
    "bad-key", "bad-encoding", "too-large", "bad-front-matter", "bad-field", "bad-date",
    "bad-permalink", "url-collision",
}  # fmt: skip
# Nothing in a report may point into the code: no traceback, no path of the package.
LEAKS = ("Traceback", "tsuzuri/", ".py", 'File "', "site-packages")


def generated(name: str) -> bytes:
    """Large inputs are built here rather than committed."""
    post = post_text("大きな記事").encode()
    if name == "oversize":
        return post + b"x" * (MAX_POST_BYTES + 1 - len(post))
    if name == "oversize-5mb":
        return post + ("あ" * (5 * 1024 * 1024 // 3)).encode()
    if name == "huge-scalar":
        return b"---\ntitle: " + b"a" * 100_000 + b"\n---\n\nx\n"
    raise KeyError(name)


def content(entry: dict[str, Any]) -> bytes:
    if "generate" in entry:
        return generated(entry["generate"])
    return (HOSTILE / "files" / entry["file"]).read_bytes()


@dataclass
class Harness:
    clients: Clients
    settings: Settings
    handler: ModuleType

    def put(self, key: str, body: bytes) -> None:
        self.clients.s3.put_object(Bucket=self.settings.source_bucket, Key=key, Body=body)

    def deliver(self, key: str) -> dict[str, Any]:
        event = sqs_event([s3_record(self.settings.source_bucket, key)])
        return self.handler.lambda_handler(event, LambdaContext("tsuzuri-render"))  # type: ignore[no-any-return]

    def site(self) -> dict[str, str]:
        """Every object of the site bucket and its ETag."""
        pages = self.clients.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.settings.site_bucket
        )
        return {o["Key"]: o["ETag"] for p in pages for o in p.get("Contents", [])}

    def text(self, bucket: str, key: str) -> str:
        body = self.clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return str(body.decode("utf-8"))


@pytest.fixture(scope="module")
def harness(moto_endpoint: str) -> Iterator[Harness]:
    from tsuzuri.aws.clients import make_clients
    from tsuzuri_local.provision import provision

    clients = make_clients(endpoint_url=moto_endpoint, region="ap-northeast-1")
    settings = provision(clients, prefix=f"h{uuid.uuid4().hex[:12]}").settings
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SOURCE_BUCKET", settings.source_bucket)
        env.setenv("SITE_BUCKET", settings.site_bucket)
        env.setenv("TABLE_NAME", settings.table_name)
        env.setenv("DISTRIBUTION_ID", settings.distribution_id or "")
        env.setenv("TSUZURI_SITE_URL", "https://blog.example.com")
        env.setenv("TSUZURI_AWS_ENDPOINT_URL", moto_endpoint)
        env.setenv("POWERTOOLS_METRICS_NAMESPACE", "tsuzuri")
        handler = load_handler()
        h = Harness(clients, settings, handler)
        h.put(BASELINE_KEY, post_text("基準の記事", tags="[AWS]").encode())
        assert h.deliver(BASELINE_KEY) == {"batchItemFailures": []}
        assert "基準の記事" in h.text(settings.site_bucket, page_key(BASELINE_URL))
        yield h
        handler.service.cache_clear()
        sys.modules.pop("render_app", None)


def test_the_corpus_is_complete() -> None:
    files = {p.name for p in (HOSTILE / "files").iterdir()}
    listed = {e["file"] for e in MANIFEST if "file" in e}
    assert listed == files, "every file is in the manifest and every entry has its file"
    assert len(MANIFEST) >= 60
    keys = [e["key"] for e in MANIFEST]
    assert len(keys) == len(set(keys)), "one key per entry"
    for entry in MANIFEST:
        assert entry["expect"] in REJECTED_CODES | {"published", "hidden"}, entry
        assert ("url" in entry) == (entry["expect"] == "published"), entry


@pytest.mark.parametrize("entry", MANIFEST, ids=[e.get("file") or e["generate"] for e in MANIFEST])
def test_hostile_file(harness: Harness, entry: dict[str, Any]) -> None:
    key, expect = entry["key"], entry["expect"]
    before = harness.site()
    harness.put(key, content(entry))

    assert harness.deliver(key) == {"batchItemFailures": []}, "must not be retried"

    raw = harness.text(harness.settings.source_bucket, report_key(key))
    report = json.loads(raw)
    assert not [leak for leak in LEAKS if leak in raw], raw
    if expect == "published":
        assert report["status"] == "published", report
        assert report["url"] == entry["url"]
        page = harness.text(harness.settings.site_bucket, page_key(entry["url"]))
        assert entry.get("contains", "") in page
        assert report["problem"] is None
        return
    assert harness.site() == before, "the site must stay as it was"
    if expect == "hidden":
        assert report["status"] == "hidden", report
        return
    assert report["status"] == "rejected", report
    assert report["code"] == expect, report
    assert report["problem"], "the report names the problem"
