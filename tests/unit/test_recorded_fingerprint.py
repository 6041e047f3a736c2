"""The recorded config fingerprint: the string existing tables hold must read, and what
is written must not change, or every warm instance would think the config moved."""

from __future__ import annotations

from typing import Any

from tsuzuri.aws.store import PostStore
from tsuzuri.domain.site_config import REINDEX_KEYS, RecordedFingerprint, SiteConfig

SITE = SiteConfig(url="https://blog.example.com", title="テスト", related={"count": 3})


class _OneItemTable:
    """Just enough of a DynamoDB client to keep the SITE/CONFIG item."""

    def __init__(self) -> None:
        self.item: dict[str, Any] | None = None

    def put_item(self, **kwargs: Any) -> dict[str, Any]:
        self.item = kwargs["Item"]
        return {}

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        return {} if self.item is None else {"Item": self.item}


def test_the_stored_string_is_the_three_digests_joined_by_colons() -> None:
    recorded = RecordedFingerprint.of(SITE)
    expected = (
        f"{SITE.fingerprint()}:{SITE.fingerprint(REINDEX_KEYS)}:{SITE.fingerprint(('related',))}"
    )
    assert recorded.encode() == expected
    assert str(recorded) == expected
    assert RecordedFingerprint.parse(expected) == recorded


def test_a_fingerprint_recorded_before_the_related_part_reads_with_it_empty() -> None:
    assert RecordedFingerprint.parse("aaaa:bbbb") == RecordedFingerprint("aaaa", "bbbb", "")
    assert RecordedFingerprint.parse("") == RecordedFingerprint("", "", "")


def test_the_store_writes_and_reads_the_same_string() -> None:
    client = _OneItemTable()
    store = PostStore(client, "table")
    recorded = RecordedFingerprint.of(SITE)
    store.put_site_config("_config.yml", b"title: x\n", recorded)
    assert client.item is not None
    assert client.item["fingerprint"] == {"S": recorded.encode()}
    assert store.get_site_config() == ("_config.yml", b"title: x\n", recorded)


def test_the_store_reads_a_fingerprint_an_older_version_wrote() -> None:
    client = _OneItemTable()
    client.item = {
        "pk": {"S": "SITE"},
        "sk": {"S": "CONFIG"},
        "name": {"S": "_config.yml"},
        "body": {"B": b""},
        "fingerprint": {"S": "aaaa:bbbb"},
    }
    stored = PostStore(client, "table").get_site_config()
    assert stored is not None
    assert stored[2] == RecordedFingerprint("aaaa", "bbbb", "")
