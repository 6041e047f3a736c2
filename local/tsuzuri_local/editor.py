"""What ``tsuzuri publish`` and ``tsuzuri rebuild`` do, kept apart from argument parsing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from tsuzuri.aws.buckets import report_key
from tsuzuri.domain.keys import CONFIG_NAMES, POST_EXTENSIONS
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
# A single file's site folder is the nearest folder above it that holds one of these, as
# git finds the folder that holds .git: the file keeps its path relative to that folder.
SITE_ROOT_MARKERS = ("_config.yml", "_config.yaml", "_config.json", "_posts", "posts")
# Folders whose files are all meant for the bucket: one that is not is named, not skipped.
_CONTENT_FOLDERS = ("_posts", "posts", "pages", "_pages", "assets", "theme")
_PLACED = (
    "only _config.yml, posts/ or _posts/, pages/ or _pages/, Markdown pages with front"
    " matter next to _config.yml, assets/ and theme/*.j2 are uploaded"
)


@dataclass(frozen=True, slots=True)
class Unplaced:
    """A file given (or found in a content folder) that has no key in the bucket."""

    path: Path
    reason: str


@dataclass(slots=True)
class UploadPlan:
    files: list[tuple[Path, str]] = field(default_factory=list)
    unplaced: list[Unplaced] = field(default_factory=list)


def site_root(start: Path) -> Path | None:
    """The site folder of a file in ``start``: the nearest folder (``start`` itself or
    above) holding ``_config.yml``, ``_posts/`` or ``posts/``; failing that, the parent
    of the nearest ``assets/``, ``pages/``, ``_pages/`` or ``theme/`` folder."""
    folders = [start, *start.parents]
    for folder in folders:
        if any((folder / marker).exists() for marker in SITE_ROOT_MARKERS):
            return folder
    for folder in folders:
        if folder.name in _CONTENT_FOLDERS and folder.parent != folder:
            return folder.parent
    return None


def plan_upload(paths: Iterable[Path]) -> UploadPlan:
    """(file, key) for each file: a Jekyll site folder as is, a posts folder, or single
    files at their path relative to their site folder; and each file that has no key."""
    plan = UploadPlan()
    keys_by_root: dict[Path, dict[Path, str]] = {}
    for path in paths:
        if path.is_dir():
            if any((path / name).exists() for name in SITE_FOLDER_MARKERS):
                files = list(content_files(path))
                plan.files += files
                plan.unplaced += _left_out(path, {p.resolve() for p, _ in files})
            else:
                for file in sorted(path.rglob("*")):
                    if not file.is_file() or file.name.startswith("."):
                        continue
                    if file.suffix in POST_EXTENSIONS:
                        plan.files.append((file, f"posts/{file.name}"))
                    else:
                        plan.unplaced.append(Unplaced(file, "not a post (.md or .markdown)"))
        elif not path.is_file():
            raise ConfigError(f"{path}: no such file or folder")
        else:
            key, reason = _place(path, keys_by_root)
            if key is None:
                plan.unplaced.append(Unplaced(path, reason))
            else:
                plan.files.append((path, key))
    return plan


def _place(path: Path, keys_by_root: dict[Path, dict[Path, str]]) -> tuple[str | None, str]:
    """The key of a single file, or None and why it has none."""
    resolved = path.resolve()
    root = site_root(resolved.parent)
    if root is not None:
        if root not in keys_by_root:
            # The site folder's own mapping, so that a file goes where `tsuzuri dev` and
            # a publish of the whole folder put it.
            keys_by_root[root] = {p.resolve(): key for p, key in content_files(root)}
        key = keys_by_root[root].get(resolved)
        if key is not None:
            return key, ""
        relative = resolved.relative_to(root).as_posix()
        return None, f"{relative} in the site folder {root} has no place in the bucket: {_PLACED}"
    if path.suffix in POST_EXTENSIONS:
        return f"posts/{path.name}", ""  # a loose post, as `aws s3 cp FILE s3://B/posts/`
    if path.name in CONFIG_NAMES:
        return path.name, ""
    return None, (
        "not in a site folder (no _config.yml, _posts/ or posts/ above it), so its key is"
        " unknown: put it under the site's assets/, or copy it with `aws s3 cp` to the key"
        " you want"
    )


def _left_out(root: Path, placed: set[Path]) -> list[Unplaced]:
    """Files in a site folder's content folders that no key was found for (a .txt in
    _posts/, a template outside theme/*.j2): named, so that nothing is skipped silently."""
    left = []
    for name in _CONTENT_FOLDERS:
        folder = root / name
        if folder.is_dir():
            for file in sorted(folder.rglob("*")):
                if (
                    file.is_file()
                    and not file.name.startswith(".")
                    and file.resolve() not in placed
                ):
                    reason = (
                        f"{file.relative_to(root).as_posix()} has no place in the bucket: {_PLACED}"
                    )
                    left.append(Unplaced(file, reason))
    return left


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
