"""What ``tsuzuri publish`` and ``tsuzuri rebuild`` do, kept apart from argument parsing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from tsuzuri.aws.buckets import report_key
from tsuzuri.domain.keys import POST_EXTENSIONS
from tsuzuri.errors import ConfigError

from tsuzuri_local.devstack.mirror import content_files


@dataclass(frozen=True, slots=True)
class StackOutputs:
    source_bucket: str
    table_name: str | None = None
    site_bucket: str | None = None
    queue_url: str | None = None
    dead_letter_url: str | None = None


def stack_outputs(cloudformation: Any, stack: str) -> StackOutputs:
    try:
        response = cloudformation.describe_stacks(StackName=stack)
    except ClientError as exc:
        raise ConfigError(f"stack {stack!r}: {exc.response['Error'].get('Message', exc)}") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in response["Stacks"][0].get("Outputs", [])}
    if "SourceBucketName" not in outputs:
        raise ConfigError(f"stack {stack!r} has no SourceBucketName output: is it a tsuzuri stack?")
    return StackOutputs(
        source_bucket=outputs["SourceBucketName"],
        table_name=outputs.get("TableName"),
        site_bucket=outputs.get("SiteBucketName"),
        queue_url=outputs.get("RenderQueueUrl"),
        dead_letter_url=outputs.get("RenderDeadLetterQueueUrl"),
    )


# Any of these makes a folder a site folder (mirrored as is), not a folder of posts.
SITE_FOLDER_MARKERS = ("_posts", "posts", "pages", "_pages", "assets", "theme", "_config.yml")


def upload_plan(paths: Iterable[Path]) -> Iterator[tuple[Path, str]]:
    """(file, key): a Jekyll site folder as is, a posts folder, or single files."""
    for path in paths:
        if path.is_dir():
            if any((path / name).exists() for name in SITE_FOLDER_MARKERS):
                yield from content_files(path)
            else:
                for file in sorted(path.rglob("*")):
                    if file.is_file() and file.suffix in POST_EXTENSIONS:
                        yield file, f"posts/{file.name}"
        elif not path.is_file():
            raise ConfigError(f"{path}: no such file or folder")
        elif path.suffix in POST_EXTENSIONS:
            yield path, f"posts/{path.name}"
        elif path.name in ("_config.yml", "_config.yaml", "_config.json"):
            yield path, path.name
        else:
            yield path, f"assets/{path.name}"


def upload(
    s3: Any, bucket: str, files: list[tuple[Path, str]], progress: Callable[[int, int, str], None]
) -> datetime:
    started = datetime.now(UTC)
    for number, (path, key) in enumerate(files, start=1):
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        progress(number, len(files), key)
    return started


def wait_for_reports(
    s3: Any,
    bucket: str,
    keys: list[str],
    since: datetime,
    *,
    timeout_s: float = 120,
    poll_s: float = 1.0,
) -> dict[str, dict[str, Any] | None]:
    """The render function's report for each key written after ``since`` (None: none came)."""
    reports: dict[str, dict[str, Any] | None] = dict.fromkeys(keys)
    deadline = time.monotonic() + timeout_s
    # S3 timestamps have one-second resolution.
    threshold = since.replace(microsecond=0)
    while time.monotonic() < deadline and any(v is None for v in reports.values()):
        for key in [k for k, v in reports.items() if v is None]:
            try:
                obj = s3.get_object(Bucket=bucket, Key=report_key(key))
            except ClientError:
                continue
            if obj["LastModified"] >= threshold:
                reports[key] = json.loads(obj["Body"].read())
        if any(v is None for v in reports.values()):
            time.sleep(poll_s)
    return reports
