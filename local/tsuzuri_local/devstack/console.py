"""What ``tsuzuri dev`` prints: a line per processed file, progress during the initial
load, the two ready messages (which scripts and the e2e tests wait for), and what went
to a dead-letter queue with the command that brings it back."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any
from urllib.parse import unquote_plus

from tsuzuri.aws.buckets import report_key

from tsuzuri_local.progress import Progress, duration

# A report's status, as one plain phrase after the file's name.
_STATUS_PHRASES = {
    "unpublished": "unpublished",
    "hidden": "not public",
    "unchanged": "unchanged",
    "stale": "skipped",
}
# The render function's messages for a config or theme upload that changes nothing.
_NOTHING_CHANGED = frozenset({"site config unchanged", "theme unchanged"})


class Console:
    """One line per processed file: key -> URL (with its time when it is known), or what
    the editor's report says, in plain words."""

    def __init__(self, s3: Any, source_bucket: str, site_url: str, *, max_receives: int = 5):
        self._s3, self._bucket, self._site = s3, source_bucket, site_url.rstrip("/")
        self._max_receives = max_receives
        self.pending: set[str] = set()
        self.total = 0
        self.started = time.perf_counter()
        self.ready = _Moment()
        self._lock = threading.Lock()
        self._bar: Progress | None = None
        self._related_ready = False
        self._rejected = 0  # during the initial load

    def expect(self, keys: list[str]) -> None:
        """The files of the initial load: progress is counted against them."""
        with self._lock:
            self.pending |= set(keys)
            self.total += len(keys)
            if self._bar is None and keys and not self.ready.is_set():
                self._bar = Progress(self.total, "processed", every_s=5)
            elif self._bar is not None:
                self._bar.expect(len(keys))

    def batch(self, records: list[dict[str, Any]], failed: set[str], ms: float) -> None:
        """After each invocation of the render function (the pump's ``on_batch``)."""
        keyed = []
        for record in records:
            body = json.loads(record["body"])
            for s3_record in body.get("Records", []) if isinstance(body, dict) else []:
                keyed.append((record, unquote_plus(s3_record["s3"]["object"]["key"])))
        # The invocation's time is one file's time only when it had one file; a batch of
        # ten does not take ten times as long as each of them.
        alone = ms if len(keyed) == 1 else None
        for record, key in keyed:
            if record["messageId"] in failed:
                self.say(self._failed(key, record), err=True)
                continue
            self.say(self._line(key, alone))
            with self._lock:
                self.pending.discard(key)
        self._progress()

    def say(self, line: str, *, err: bool = False) -> None:
        """Print a line (above the progress bar while there is one)."""
        stream = sys.stderr if err else sys.stdout
        bar = self._bar
        if bar is not None:
            bar.write(line, file=stream)
        else:
            print(line, file=stream, flush=True)

    def _failed(self, key: str, record: dict[str, Any]) -> str:
        attempt = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        if attempt >= self._max_receives:
            return (
                f"{key}: failed {attempt} times; the message goes to the dead-letter queue "
                "(tsuzuri dev says how to bring it back)"
            )
        return f"{key}: failed (attempt {attempt} of {self._max_receives}), tried again soon"

    def _line(self, key: str, ms: float | None) -> str:
        if key.startswith("assets/"):
            return f"{key} -> {self._site}/{key}{_ms(ms)}"
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=report_key(key))["Body"].read()
            report = json.loads(body)
        except Exception:
            return f"{key}: processed, but its report could not be read{_ms(ms)}"
        if isinstance(report.get("ms"), int | float):
            ms = float(report["ms"])  # the render function's own figure for this file
        status = report.get("status")
        problem = report.get("problem") or ""
        if status == "rejected":
            line = f":{report['line']}" if report.get("line") else ""
            hint = f" ({report['hint']})" if report.get("hint") else ""
            if not self.ready.is_set():
                self._rejected += 1
            # A refused edit of a live file: the last accepted version stays (its URL).
            what = "this version not published" if report.get("url") else "not published"
            return f"{key}{line}: {what}: {problem}{hint}"
        if status == "config":
            if problem in _NOTHING_CHANGED:
                problem = "in use" if not self.ready.is_set() else "accepted, nothing to re-render"
            return f"{key}: {problem or 'accepted'}{_ms(ms)}"
        # Report URLs are paths as the site has them (Japanese slugs as they are): the
        # browser's address bar shows them so too.
        url = f"{self._site}{report.get('url') or ''}"
        if status == "published":
            note = f" ({problem})" if problem else ""
            return f"{key} -> {url}{note}{_ms(ms)}"
        phrase = _STATUS_PHRASES.get(str(status), str(status))
        detail = problem.removeprefix("not public: ") if status == "hidden" else problem
        return f"{key}: {phrase}{f' ({detail})' if detail else ''}, {url}{_ms(ms)}"

    def related_quiet(self, delivered: int, polled_at: float | None = None) -> None:
        """The related function caught up with the table stream: said once, after the
        initial load, because only then are the sample site's lists complete. Only a
        quiet poll that began after ``ready:`` counts: one that began before may have
        missed the load's last writes, and pages would still show old lists.
        (``delivered``, the stream records it read, says nothing to a reader.)"""
        began = time.perf_counter() if polled_at is None else polled_at
        ready_at = self.ready.at
        if ready_at is not None and ready_at <= began and not self._related_ready:
            self._related_ready = True
            elapsed = time.perf_counter() - self.started
            self.say(
                f"related lists ready: every post shows its related posts "
                f"({duration(elapsed)} after the start)",
                err=True,
            )

    def dead_lettered(self, new: int, waiting: int, queue: str, redrive: str) -> None:
        """Messages the render queue gave up on: what happened and the command that
        brings them back once the cause is fixed."""
        self.say(
            f"{new} message(s) failed {self._max_receives} times and went to the dead-letter "
            f"queue {queue} ({waiting} waiting there). Fix what the lines above report, "
            f"then send them back to the render queue with:\n  {redrive}",
            err=True,
        )

    def _progress(self) -> None:
        with self._lock:
            remaining, total = len(self.pending), self.total
            bar = self._bar
        if self.ready.is_set():
            return
        if bar is not None:
            bar.update_to(total - remaining)
        if remaining == 0:
            if bar is not None:
                bar.close()
                self._bar = None
            elapsed = time.perf_counter() - self.started
            refused = f"; {self._rejected} not published, see above" if self._rejected else ""
            print(f"ready: {total} files processed in {elapsed:.1f} s{refused}", flush=True)
            self.ready.set()


class _Moment(threading.Event):
    """An event that remembers when (time.perf_counter) it was first set."""

    def __init__(self) -> None:
        super().__init__()
        self.at: float | None = None

    def set(self) -> None:
        if self.at is None:
            self.at = time.perf_counter()
        super().set()


def _ms(ms: float | None) -> str:
    return "" if ms is None else f" ({ms:.0f} ms)"
