"""Stream records of the table, read only as far as telling what work they ask for.

A sync never trusts a record's images (it reads the post as it is now), so what is
read here is just enough to route the record, and to skip the ones that cannot change
any list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tsuzuri.domain.site_config import RecordedFingerprint

SITE_CONFIG = ("SITE", "CONFIG")
CONTINUATION = ("RWORK", "CONTINUE")
# What a related list shows of a post, and what its score reads: a MODIFY that changes
# none of these needs no work.
RELEVANT_FIELDS = (
    "url", "title", "date", "sort_key", "excerpt", "image", "tags", "categories",
    "last_modified_at", "sitemap", "robots", "public", "signature",
)  # fmt: skip


def record_needs_sync(record: Mapping[str, Any]) -> bool:
    """Whether a stream record can change any related list (images in DynamoDB JSON).

    INSERT and REMOVE always can; a MODIFY only when a field that scores or shows a
    post changed (a re-publish of the same text bumps ``revision`` and nothing else).
    """
    if record.get("eventName") != "MODIFY":
        return True
    change = record.get("dynamodb", {})
    old, new = change.get("OldImage"), change.get("NewImage")
    if old is None or new is None:
        return True
    return any(old.get(name) != new.get(name) for name in RELEVANT_FIELDS)


def keys_of_record(record: Mapping[str, Any]) -> tuple[str, str]:
    keys = record["dynamodb"]["Keys"]
    return str(keys["pk"]["S"]), str(keys["sk"]["S"])


def _related_part(image: Mapping[str, Any] | None) -> str | None:
    recorded = (image or {}).get("fingerprint", {}).get("S", "")
    return RecordedFingerprint.parse(recorded).related or None


def related_settings_changed(record: Mapping[str, Any], before: str) -> bool:
    """Whether a stream record of the site config item moved its ``related:`` part;
    ``before`` is the part the lists were computed with when the item is new."""
    if record.get("eventName") == "REMOVE":
        return False
    change = record.get("dynamodb", {})
    old = change.get("OldImage")
    return _related_part(change.get("NewImage")) != (_related_part(old) if old else before)


def url_of_record(record: Mapping[str, Any]) -> str:
    pk, sk = keys_of_record(record)
    if not pk.startswith("POST#") or sk != "POST":
        raise ValueError(f"not a post record: {pk} / {sk}")
    return str(pk[len("POST#") :])
