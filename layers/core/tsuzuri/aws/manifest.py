"""What the site bucket holds, as the table remembers it: one hash per object.

A publish builds a few dozen candidate pages and writes only those whose bytes
changed. Asking S3 (a HEAD per candidate) costs a call each; the manifest answers for
a hundred candidates in one ``BatchGetItem`` and is brought up to date with
``BatchWriteItem`` after the writes.

Why after: a crash between a PUT and its manifest entry leaves the old hash in the
table, so the next render sees a difference and writes the page again. The other
order could record bytes that never reached the bucket, and skip them for good.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from tsuzuri.aws.buckets import SiteFile
from tsuzuri.aws.table import Table, dump_item


def digest(file: SiteFile) -> str:
    """The object's MD5 (its S3 ETag) with the headers that a write would also change."""
    md5 = hashlib.md5(file.body).hexdigest()  # noqa: S324 - S3's ETag is an MD5
    return f"{md5}|{file.content_type}|{file.cache_control}"


class ObjectManifest:
    def __init__(self, table: Table):
        self.table = table

    def recorded(self, keys: Iterable[str]) -> dict[str, str]:
        """key -> recorded digest, for the keys the manifest knows."""
        wanted = sorted(set(keys))
        found: dict[str, str] = {}
        items = self.table.batch_get([(f"OBJ#{k}", "OBJ") for k in wanted], projection="pk, h")
        for item in items:
            found[str(item["pk"]).removeprefix("OBJ#")] = str(item.get("h", ""))
        return found

    def changed(self, files: Sequence[SiteFile]) -> list[SiteFile]:
        """The files whose bytes (or headers) differ from what was last written."""
        latest = {f.key: f for f in files}
        recorded = self.recorded(latest)
        return [f for key, f in latest.items() if recorded.get(key) != digest(f)]

    def present(self, keys: Iterable[str]) -> list[str]:
        return sorted(self.recorded(keys))

    def record(self, files: Iterable[SiteFile], deleted: Iterable[str] = ()) -> None:
        requests = [
            {"PutRequest": {"Item": dump_item({"pk": f"OBJ#{f.key}", "sk": "OBJ", "h": digest(f)})}}
            for f in files
        ]
        requests += [
            {"DeleteRequest": {"Key": {"pk": {"S": f"OBJ#{key}"}, "sk": {"S": "OBJ"}}}}
            for key in deleted
        ]
        self.table.batch_write(requests)

    def record_listing(self, objects: Iterable[tuple[str, str]]) -> int:
        """Backfill from a bucket listing, (key, ETag): the objects count as present (so
        a delete reaches them), and a listing has no headers to compare, so each is
        written again the first time a render builds it."""
        requests = [
            {"PutRequest": {"Item": dump_item({"pk": f"OBJ#{key}", "sk": "OBJ", "h": etag})}}
            for key, etag in objects
        ]
        self.table.batch_write(requests)
        return len(requests)
