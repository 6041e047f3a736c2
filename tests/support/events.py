"""Real AWS event shapes from ``tests/events/``, filled in for a test."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote_plus

EVENTS = Path(__file__).resolve().parents[1] / "events"


def load_event(name: str, **values: str) -> dict[str, Any]:
    """Load ``tests/events/<name>.json`` with ``${NAME}`` placeholders substituted."""
    text = (EVENTS / f"{name}.json").read_text(encoding="utf-8")
    return json.loads(Template(text).safe_substitute(values))  # type: ignore[no-any-return]


def s3_record(
    bucket: str, key: str, *, removed: bool = False, sequencer: str = ""
) -> dict[str, Any]:
    """One S3 notification record; the key is URL-encoded exactly as S3 encodes it."""
    template = "s3_delete_marker" if removed else "s3_put"
    event = load_event(
        template, SOURCE_BUCKET=bucket, KEY=quote_plus(key, safe="/"), SEQUENCER=sequencer
    )
    record = event["Records"][0]
    if not sequencer:
        del record["s3"]["object"]["sequencer"]
    return record  # type: ignore[no-any-return]


def sqs_event(*messages: list[dict[str, Any]]) -> dict[str, Any]:
    """An SQS batch: each message carries one S3 notification with one or more records."""
    template = load_event("sqs_s3_put", SOURCE_BUCKET="x", KEY="x", SEQUENCER="0")["Records"][0]
    records = []
    for s3_records in messages:
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = json.dumps({"Records": s3_records})
        records.append(record)
    return {"Records": records}
