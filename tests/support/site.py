"""A small harness: upload a post, let the publisher handle the event, read the site."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from tsuzuri.aws.clients import Clients
from tsuzuri.domain.model import page_key
from tsuzuri.publishing.publisher import BatchResult, Change, Publisher
from tsuzuri.settings import Settings


def post_text(title: str, date: str = "2026-02-11 20:59:09 +0000", *, body: str = "本文です。",
              tags: str = "", categories: str = "", extra: str = "") -> str:  # fmt: skip
    lines = ["---", f'title: "{title}"', f"date: {date}"]
    if tags:
        lines.append(f"tags: {tags}")
    if categories:
        lines.append(f"categories: {categories}")
    if extra:
        lines.append(extra.strip())
    lines += ["---", "", body, ""]
    return "\n".join(lines)


class Site:
    def __init__(self, clients: Clients, settings: Settings, publisher: Publisher):
        self.clients = clients
        self.settings = settings
        self.publisher = publisher
        self._sequence = 0

    def upload(self, key: str, text: str | bytes) -> None:
        body = text.encode("utf-8") if isinstance(text, str) else text
        self.clients.s3.put_object(Bucket=self.settings.source_bucket, Key=key, Body=body)

    def remove(self, key: str) -> None:
        self.clients.s3.delete_object(Bucket=self.settings.source_bucket, Key=key)

    def change(self, key: str, *, removed: bool = False) -> Change:
        self._sequence += 1
        return Change(key=key, removed=removed, sequencer=f"{self._sequence:016X}", token=key)

    def publish(self, key: str, text: str | bytes) -> BatchResult:
        self.upload(key, text)
        return self.publisher.process([self.change(key)])

    def unpublish(self, key: str) -> BatchResult:
        self.remove(key)
        return self.publisher.process([self.change(key, removed=True)])

    def object(self, key: str) -> dict[str, Any] | None:
        try:
            response = self.clients.s3.get_object(Bucket=self.settings.site_bucket, Key=key)
        except ClientError:
            return None
        body = response["Body"].read()
        response["Bytes"] = body
        response["Text"] = body.decode("utf-8", errors="replace")
        return response  # type: ignore[no-any-return]

    def page(self, url: str) -> str | None:
        obj = self.object(page_key(url))
        return None if obj is None else str(obj["Text"])

    def json(self, url: str) -> Any:
        text = self.page(url)
        return None if text is None else json.loads(text)

    def tag_posts(self, url: str) -> list[str]:
        """Every post URL of a tag's JSON, following its ``older`` files from
        ``url`` (``/tags/<slug>/index.json``); the newest file and the newest older
        one may share posts, as the tag's HTML pages do. Each file lists a post once."""
        urls: list[str] = []
        next_url: str | None = url
        while next_url:
            data = self.json(next_url)
            assert data is not None, f"{next_url} is missing"
            listed = [p["url"] for p in data["posts"]]
            assert len(listed) == len(set(listed)), f"a post listed twice in {next_url}"
            urls += [u for u in listed if u not in urls]
            next_url = data.get("older")
        return urls

    def keys(self) -> set[str]:
        paginator = self.clients.s3.get_paginator("list_objects_v2")
        return {
            o["Key"]
            for p in paginator.paginate(Bucket=self.settings.site_bucket)
            for o in p.get("Contents", [])
        }

    def report(self, source_key: str) -> Any:
        response = self.clients.s3.get_object(
            Bucket=self.settings.source_bucket, Key=f"reports/{source_key}.json"
        )
        return json.loads(response["Body"].read())

    def invalidations(self) -> list[list[str]]:
        distribution = self.settings.distribution_id
        listing = self.clients.cloudfront.list_invalidations(DistributionId=distribution)
        result = []
        for item in listing["InvalidationList"].get("Items", []):
            detail = self.clients.cloudfront.get_invalidation(
                DistributionId=distribution, Id=item["Id"]
            )
            result.append(detail["Invalidation"]["InvalidationBatch"]["Paths"]["Items"])
        return result
