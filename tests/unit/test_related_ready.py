"""``related lists ready`` is said only after a quiet poll that began once the load was
done: a poll that began before may have missed the load's last writes, and half the pages
would still show old lists when the line appears (issue: "Related lists lag")."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from tsuzuri_local.devstack import pumps
from tsuzuri_local.devstack.console import Console
from tsuzuri_local.devstack.pumps import StreamPump


class _Stream:
    """One quiet shard. The first read is where the render function's last batch ends:
    it finishes (``ready:``) while the pump's poll is in flight, after the read."""

    def __init__(self, console: Console, stop: threading.Event):
        self.console, self.stop = console, stop
        self.reads = 0

    def describe_stream(self, **_: Any) -> dict[str, Any]:
        return {"StreamDescription": {"Shards": [{"ShardId": "s1"}]}}

    def get_shard_iterator(self, **_: Any) -> dict[str, Any]:
        return {"ShardIterator": "it"}

    def get_records(self, **_: Any) -> dict[str, Any]:
        self.reads += 1
        if self.reads == 1:
            self.console.ready.set()
        if self.reads == 3:
            self.stop.set()
        return {"Records": [], "NextShardIterator": "it"}


def test_the_line_waits_for_a_poll_that_began_after_ready(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(pumps, "POLL_SECONDS", 0.01)
    console = Console(None, "source", "http://127.0.0.1:8080/")
    stop = threading.Event()
    stream = _Stream(console, stop)
    said_at_read: list[int] = []
    say = console.say
    monkeypatch.setattr(
        console, "say", lambda *a, **k: (said_at_read.append(stream.reads), say(*a, **k))
    )
    pump = StreamPump(
        streams=stream, stream_arn="arn", handler=lambda _e, _c: {}, stop_event=stop,
        on_quiet=console.related_quiet,
    )  # fmt: skip

    pump.run()

    # Not after the first poll, which began before ready: after the second.
    assert said_at_read == [2]
    assert capsys.readouterr().err.count("related lists ready") == 1


def test_a_quiet_poll_before_the_load_is_done_says_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    console = Console(None, "source", "http://127.0.0.1:8080/")
    console.related_quiet(0, 0.0)
    assert "related lists ready" not in capsys.readouterr().err
