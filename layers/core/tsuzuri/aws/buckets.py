"""S3 access: reading sources, writing reports, and writing the site only where bytes change."""

from __future__ import annotations

import hashlib
import json
import mimetypes
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from tsuzuri.aws.calls import call, error_code

HTML_CACHE = "public, max-age=0, s-maxage=300, must-revalidate"
FEED_CACHE = "public, max-age=300"
ASSET_CACHE = "public, max-age=31536000, immutable"
UPLOADED_ASSET_CACHE = "public, max-age=86400"
_TEXT_TYPES = frozenset(
    {
        "text/html", "text/css", "text/plain", "text/javascript", "application/javascript",
        "application/xml", "application/json", "application/atom+xml", "image/svg+xml",
    }
)  # fmt: skip
# A deleted key in a versioned bucket answers GET with NoSuchKey and HEAD with 404
# (or 405 when the version asked for is a delete marker).
_MISSING = frozenset({"NoSuchKey", "404", "NotFound", "405", "MethodNotAllowed"})
_RETRYABLE = {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "503", "500"}


@dataclass(frozen=True, slots=True)
class SourceObject:
    key: str
    body: bytes
    version_id: str | None
    etag: str
    size: int | None = None  # the object's length: the body may be cut at the limit


@dataclass(frozen=True, slots=True)
class SiteFile:
    """One object to put in the site bucket."""

    key: str
    body: bytes
    content_type: str
    cache_control: str


def content_type_for(key: str) -> str:
    if key.endswith(".html"):
        base = "text/html"
    elif key.endswith("feed.xml") or key.endswith(".atom"):
        base = "application/atom+xml"
    elif key.endswith(".xml"):
        base = "application/xml"
    elif key.endswith(".json"):
        base = "application/json"
    elif key.endswith(".txt"):
        base = "text/plain"
    else:
        base = mimetypes.guess_type(key)[0] or "application/octet-stream"
    return f"{base}; charset=utf-8" if base in _TEXT_TYPES else base


def page_file(key: str, text: str, cache_control: str = HTML_CACHE) -> SiteFile:
    return SiteFile(key, text.encode("utf-8"), content_type_for(key), cache_control)


class SourceBucket:
    def __init__(self, client: Any, bucket: str):
        self._s3 = client
        self.name = bucket

    def get(self, key: str, *, max_bytes: int | None = None) -> SourceObject | None:
        """The current version of ``key``, or None if it is gone (deleted or delete-marked)."""
        try:
            response = _call(self._s3.get_object, Bucket=self.name, Key=key)
        except ClientError as exc:
            if error_code(exc) in _MISSING:
                return None
            raise
        body_stream = response["Body"]
        # Read one byte more than allowed so that an oversize file is detected
        # without pulling gigabytes into memory.
        body = body_stream.read(max_bytes + 1) if max_bytes else body_stream.read()
        body_stream.close()
        return SourceObject(
            key=key,
            body=body,
            version_id=response.get("VersionId"),
            etag=str(response.get("ETag", "")).strip('"'),
            size=response.get("ContentLength"),
        )

    def list_names(self, prefix: str) -> set[str]:
        response = _call(self._s3.list_objects_v2, Bucket=self.name, Prefix=prefix, MaxKeys=50)
        return {str(o["Key"]) for o in response.get("Contents", [])}

    def list_keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` (paginated), for a re-index after a config change."""
        keys: list[str] = []
        kwargs: dict[str, Any] = {"Bucket": self.name, "Prefix": prefix}
        while True:
            response = _call(self._s3.list_objects_v2, **kwargs)
            keys += [str(o["Key"]) for o in response.get("Contents", [])]
            if not response.get("IsTruncated"):
                return keys
            kwargs["ContinuationToken"] = response["NextContinuationToken"]

    def etag(self, key: str) -> str | None:
        """The current version's ETag, or None if ``key`` is gone."""
        return _head_etag(self._s3, self.name, key)

    def exists(self, key: str) -> bool:
        try:
            _call(self._s3.head_object, Bucket=self.name, Key=key)
        except ClientError as exc:
            if error_code(exc) in _MISSING:
                return False
            raise
        return True

    def put_report(self, source_key: str, report: Mapping[str, Any]) -> str:
        key = report_key(source_key)
        _call(
            self._s3.put_object,
            Bucket=self.name,
            Key=key,
            Body=json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8"),
            ContentType="application/json; charset=utf-8",
        )
        return key


class SiteBucket:
    """Writes and deletes site objects, several at a time. Which ones changed is the
    manifest's to say (:mod:`tsuzuri.aws.manifest`), not a HEAD per object."""

    def __init__(self, client: Any, bucket: str, *, workers: int = 16):
        self._s3 = client
        self.name = bucket
        self._workers = workers

    def put(self, files: Iterable[SiteFile]) -> list[str]:
        files = list(files)
        with ThreadPoolExecutor(self._workers) as pool:
            list(pool.map(self._put, files))
        return sorted(f.key for f in files)

    def copy_asset(self, source_bucket: str, source: str, key: str) -> bool:
        """Server-side copy of an uploaded asset. Returns False when it was already there."""
        head = _call(self._s3.head_object, Bucket=source_bucket, Key=source)
        if self._etag(key) == str(head.get("ETag", "")).strip('"'):
            return False
        _call(
            self._s3.copy_object,
            CopySource={"Bucket": source_bucket, "Key": source},
            Bucket=self.name,
            Key=safe_site_key(key),
            ContentType=content_type_for(key),
            CacheControl=UPLOADED_ASSET_CACHE,
            MetadataDirective="REPLACE",
        )
        return True

    def delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            _call(
                self._s3.delete_objects,
                Bucket=self.name,
                Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True},
            )

    def _etag(self, key: str) -> str | None:
        return _head_etag(self._s3, self.name, key)

    def _put(self, file: SiteFile) -> None:
        _call(
            self._s3.put_object,
            Bucket=self.name,
            Key=file.key,
            Body=file.body,
            ContentType=file.content_type,
            CacheControl=file.cache_control,
        )


def report_key(source_key: str) -> str:
    """Where an editor finds the outcome of ``source_key``: ``reports/<key>.json``.

    A key that is not a clean relative path (``posts/../x.md``) is reported under a
    digest instead, so a hostile name cannot choose where its report lands.
    """
    parts = source_key.split("/")
    clean = source_key and not source_key.startswith("/") and "" not in parts
    if clean and not any(p in (".", "..") for p in parts) and source_key.isprintable():
        return f"reports/{source_key}.json"
    digest = hashlib.sha256(source_key.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return f"reports/invalid-keys/{digest}.json"


def safe_site_key(key: str) -> str:
    """Refuse keys that would escape the site root (Pelican's writers do the same)."""
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in key.split("/")):
        raise ValueError(f"refusing to write outside the site root: {key!r}")
    return key


def _call(method: Any, **kwargs: Any) -> Any:
    return call("S3", method, _RETRYABLE, **kwargs)


def _head_etag(s3: Any, bucket: str, key: str) -> str | None:
    """An object's ETag (quotes removed), or None if it does not exist."""
    try:
        response = _call(s3.head_object, Bucket=bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) in _MISSING:
            return None
        raise
    return str(response.get("ETag", "")).strip('"')
