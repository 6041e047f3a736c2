"""What ``tsuzuri dev`` prints: a line per processed file, progress during the initial
load, and the two ready messages, which scripts and the e2e tests wait for."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any
from urllib.parse import quote

from tsuzuri.aws.buckets import report_key


class Console:
    """One line per processed file: key -> URL and ms, or the editor's report."""

    def __init__(self, s3: Any, source_bucket: str, site_url: str):
        self._s3, self._bucket, self._site = s3, source_bucket, site_url.rstrip("/")
        self.pending: set[str] = set()
        self.total = 0
        self.started = time.perf_counter()
        self.ready = threading.Event()
        self._lock = threading.Lock()
        self._last_progress = 0.0
        self._related_ready = False

    def expect(self, keys: list[str]) -> None:
        with self._lock:
            self.pending |= set(keys)
            self.total += len(keys)

    def batch(self, records: list[dict[str, Any]], failed: set[str], ms: float) -> None:
        from urllib.parse import unquote_plus

        for record in records:
            body = json.loads(record["body"])
            for s3_record in body.get("Records", []):
                key = unquote_plus(s3_record["s3"]["object"]["key"])
                if record["messageId"] in failed:
                    print(f"{key}: failed, will retry ({ms:.0f} ms)", flush=True)
                    continue
                print(self._line(key, ms), flush=True)
                with self._lock:
                    self.pending.discard(key)
        self._progress()

    def _line(self, key: str, ms: float) -> str:
        if key.startswith("assets/"):
            return f"{key} -> {self._site}/{key} ({ms:.0f} ms)"
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=report_key(key))["Body"].read()
            report = json.loads(body)
        except Exception:
            return f"{key}: processed ({ms:.0f} ms)"
        status = report.get("status")
        if status == "rejected":
            line = f":{report['line']}" if report.get("line") else ""
            hint = f" ({report['hint']})" if report.get("hint") else ""
            return f"{key}{line}: {report.get('problem')}{hint}"
        url = report.get("url") or ""
        detail = f" [{status}]" if status != "published" else ""
        note = f" {report['problem']}" if report.get("problem") else ""
        return f"{key} -> {self._site}{quote(url)}{detail}{note} ({ms:.0f} ms)"

    def related_quiet(self, delivered: int) -> None:
        """The related function caught up with the table stream: said once, after the
        initial load, because only then are the sample site's lists complete."""
        if self.ready.is_set() and not self._related_ready:
            self._related_ready = True
            elapsed = time.perf_counter() - self.started
            print(
                f"related lists ready: {delivered} stream records in {elapsed:.1f} s",
                file=sys.stderr, flush=True,
            )  # fmt: skip

    def _progress(self) -> None:
        with self._lock:
            remaining, total = len(self.pending), self.total
        if self.ready.is_set():
            return
        now = time.perf_counter()
        if remaining == 0:
            print(f"ready: {total} files published in {now - self.started:.1f} s", flush=True)
            self.ready.set()
        elif now - self._last_progress > 5:
            self._last_progress = now
            done = total - remaining
            print(f"[{done}/{total}] {now - self.started:.0f} s", file=sys.stderr, flush=True)
